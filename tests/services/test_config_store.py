import fcntl
import json
import logging
import os
import tempfile
import uuid
from pathlib import Path

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


# --- temporary files of saves that never finished --------------------------------


def leftover_of(path):
    """A temporary file named as save() names them, as a crashed save leaves it."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.write(fd, b'{"version": 1, "workfl')  # cut short by the crash
    os.close(fd)
    return Path(name)


def test_load_removes_temporary_files_of_crashed_saves_and_nothing_else(
    path, clock, caplog
):
    caplog.set_level(logging.INFO, logger="jobdash.services.config_store")
    ConfigStore(path, clock=clock).save(example_state())
    leftovers = [leftover_of(path) for _ in range(3)]
    directory = path.parent
    others = {
        "dream.json.corrupt-20251129T000000Z": b"set aside",
        ".loki.json.abcd1234.tmp": b"another store's",
        ".dream.json.bak.abcd1234.tmp": b"the store dream.json.bak's",
        ".dream.json.abcd1234.tmp.keep": b"not a temporary file",
        "x.dream.json.abcd1234.tmp": b"not a temporary file",
        "notes.txt": b"an operator's",
    }
    for name, content in others.items():
        (directory / name).write_bytes(content)

    store = ConfigStore(path, clock=clock)
    assert store.load() == example_state()

    assert not any(leftover.exists() for leftover in leftovers)
    assert {p.name: p.read_bytes() for p in directory.iterdir() if p != path} == (
        others
    )
    assert store.warnings == []
    assert all(leftover.name in caplog.text for leftover in leftovers)


def test_leftovers_are_removed_even_when_the_crash_came_before_the_first_save(
    path, clock
):
    path.parent.mkdir(parents=True)
    leftover = leftover_of(path)
    assert ConfigStore(path, clock=clock).load() == PersistedState()
    assert list(path.parent.iterdir()) == []
    assert not leftover.exists()


def test_a_temporary_file_held_by_a_save_in_progress_is_left_alone(path, clock):
    path.parent.mkdir(parents=True)
    in_progress = leftover_of(path)
    # What save() holds until its rename; flock is per open file, so this
    # stands for another process's save.
    with open(in_progress, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        ConfigStore(path, clock=clock).load()
        assert in_progress.exists()
    ConfigStore(path, clock=clock).load()
    assert not in_progress.exists()


def test_a_save_whose_temporary_file_is_removed_before_it_is_locked_takes_another(
    path, clock, monkeypatch
):
    # Another process's load() may remove a temporary file between its
    # creation and the lock that protects it.
    real_mkstemp = tempfile.mkstemp
    created = []

    def mkstemp(**kwargs):
        fd, name = real_mkstemp(**kwargs)
        created.append(name)
        if len(created) == 1:
            os.unlink(name)
        return fd, name

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    store = ConfigStore(path, clock=clock)
    assert store.save(example_state()) is True
    monkeypatch.undo()
    assert len(created) == 2
    assert sorted(p.name for p in path.parent.iterdir()) == ["dream.json"]
    assert ConfigStore(path, clock=clock).load() == example_state()


def test_a_save_whose_temporary_files_keep_disappearing_fails_with_a_warning(
    path, clock, monkeypatch
):
    real_mkstemp = tempfile.mkstemp

    def mkstemp(**kwargs):
        fd, name = real_mkstemp(**kwargs)
        os.unlink(name)
        return fd, name

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    store = ConfigStore(path, clock=clock)
    assert store.save(example_state()) is False
    assert "keep disappearing" in store.warnings[0]
    assert not path.exists()
