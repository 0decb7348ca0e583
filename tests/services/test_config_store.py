import json
import os
import uuid

import pytest

from jobdash.domain.clock import ManualClock
from jobdash.services.config_store import (
    ConfigStore,
    PersistedJobConfig,
    PersistedJobSet,
    PersistedState,
    PersistedWorkflow,
)

NUMBER = uuid.UUID(int=42)


@pytest.fixture
def clock():
    return ManualClock()  # 2025-11-29T00:00:00Z


@pytest.fixture
def path(tmp_path):
    return tmp_path / "config" / "dream.json"


def example_state():
    return PersistedState(
        workflows={
            "dream/detector_view/1": PersistedWorkflow(
                staged={
                    "mantle_detector": PersistedJobConfig(
                        params={
                            "resolution": 256,
                            "window": 5.5,
                            "projection": "xy_plane",
                        }
                    )
                },
                current=PersistedJobSet(
                    job_number=NUMBER,
                    jobs={
                        "mantle_detector": PersistedJobConfig(
                            params={"resolution": 128},
                            aux_source_names={"monitor": "monitor_cave"},
                        )
                    },
                ),
            )
        }
    )


def test_missing_file_loads_an_empty_state_without_warning(path, clock):
    store = ConfigStore(path, clock=clock)
    assert store.load() == PersistedState()
    assert store.warnings == []


def test_save_then_load_round_trips_and_creates_the_directory(path, clock):
    store = ConfigStore(path, clock=clock)
    assert store.save(example_state()) is True
    loaded = ConfigStore(path, clock=clock).load()
    assert loaded == example_state()
    current = loaded.workflows["dream/detector_view/1"].current
    assert current is not None
    assert current.job_number == NUMBER
    assert isinstance(
        loaded.workflows["dream/detector_view/1"]
        .staged["mantle_detector"]
        .params["resolution"],
        int,
    )


def test_file_is_json_with_a_format_version(path, clock):
    ConfigStore(path, clock=clock).save(example_state())
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["version"] == 1
    assert document["workflows"]["dream/detector_view/1"]["current"]["job_number"] == (
        str(NUMBER)
    )


def test_save_leaves_no_temporary_files_behind(path, clock):
    store = ConfigStore(path, clock=clock)
    store.save(example_state())
    store.save(PersistedState())
    assert sorted(p.name for p in path.parent.iterdir()) == ["dream.json"]
    assert store.load() == PersistedState()


def test_failed_write_keeps_the_old_file_and_warns(path, clock, monkeypatch):
    store = ConfigStore(path, clock=clock)
    store.save(example_state())

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    assert store.save(PersistedState()) is False
    monkeypatch.undo()
    assert store.load() == example_state()
    assert len(store.warnings) == 1
    assert "No space left on device" in store.warnings[0]
    assert sorted(p.name for p in path.parent.iterdir()) == ["dream.json"]


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"{not json", id="not json"),
        pytest.param(b"", id="empty"),
        pytest.param(b"\xff\xfe\x00garbage", id="not utf-8"),
        pytest.param(b"[1, 2, 3]", id="wrong shape"),
        pytest.param(b'{"version": 2, "workflows": {}}', id="newer format version"),
        pytest.param(
            b'{"version": 1, "workflows": {"w": {"current": {"job_number": "x"}}}}',
            id="bad job number",
        ),
    ],
)
def test_corrupt_or_incompatible_file_is_set_aside_with_a_warning(
    path, clock, content, caplog
):
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    store = ConfigStore(path, clock=clock)

    assert store.load() == PersistedState()

    aside = path.with_name("dream.json.corrupt-20251129T000000Z")
    assert aside.read_bytes() == content
    assert not path.exists()
    (warning,) = store.warnings
    assert "dream.json.corrupt-20251129T000000Z" in warning
    assert str(path) in warning
    assert warning in caplog.text


def test_second_corrupt_file_in_the_same_second_does_not_overwrite_the_first(
    path, clock
):
    path.parent.mkdir(parents=True)
    store = ConfigStore(path, clock=clock)
    path.write_bytes(b"first")
    store.load()
    path.write_bytes(b"second")
    store.load()
    base = "dream.json.corrupt-20251129T000000Z"
    assert path.with_name(base).read_bytes() == b"first"
    assert path.with_name(f"{base}.2").read_bytes() == b"second"
    assert len(store.warnings) == 2


def test_unreadable_path_is_set_aside_and_loading_continues(path, clock):
    path.mkdir(parents=True)  # a directory where the file should be
    store = ConfigStore(path, clock=clock)
    assert store.load() == PersistedState()
    assert path.with_name("dream.json.corrupt-20251129T000000Z").is_dir()
    assert "cannot read" in store.warnings[0]
    assert store.save(example_state()) is True
    assert store.load() == example_state()


def test_unknown_fields_of_the_same_version_are_ignored(path, clock):
    path.parent.mkdir(parents=True)
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "written_by": "a later jobdash",
                "workflows": {
                    "dream/detector_view/1": {"staged": {}, "colour": "blue"}
                },
            }
        ),
        encoding="utf-8",
    )
    store = ConfigStore(path, clock=clock)
    assert store.load() == PersistedState(
        workflows={"dream/detector_view/1": PersistedWorkflow()}
    )
    assert store.warnings == []
