"""``jobdash start`` / ``stop`` / ``pause`` / ``resume``: the dashboard's actions
from a terminal, with exit statuses a script can rely on."""

from __future__ import annotations

import getpass
import json
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from jobdash.assets import asset
from jobdash.catalogue_file import shipped_catalogue
from jobdash.cli import main
from jobdash.cli.command_outcomes import CommandOutcome
from jobdash.cli.control import (
    exit_status,
    parse_assignments,
    parse_value,
    resolve_workflow,
)
from jobdash.cli.kafka_options import UsageError
from jobdash.domain import JobId, JobState, JobStatus, ServiceStatus
from jobdash.settings import Settings
from jobdash.testing.kafka_cluster import MockKafkaCluster
from jobdash.transport.codec import encode_status
from kafka_processes import SimulatorProcess, run_jobdash

CATALOGUE = shipped_catalogue("dream")
DETECTOR = CATALOGUE.workflows[0]
BANKS = DETECTOR.source_names


# --- parsing and verdicts, without Kafka --------------------------------------------


def test_a_workflow_is_named_by_its_id_or_by_its_bare_name() -> None:
    assert resolve_workflow(CATALOGUE, "dream/detector_view/1") is DETECTOR
    assert resolve_workflow(CATALOGUE, "detector_view") is DETECTOR
    powder = resolve_workflow(CATALOGUE, "focussed_dspacing")
    assert powder.id == "dream/powder/focussed_dspacing/2"


def test_an_unknown_or_ambiguous_name_is_a_usage_error_listing_the_choices() -> None:
    twice = CATALOGUE.model_copy(
        update={
            "workflows": [
                DETECTOR,
                DETECTOR.model_copy(update={"id": "dream/detector_view/2"}),
            ]
        }
    )

    with pytest.raises(UsageError, match="workflows: detector_view, monitor_histogram"):
        resolve_workflow(CATALOGUE, "detector")
    with pytest.raises(
        UsageError, match="use one of dream/detector_view/1, dream/detector_view/2"
    ):
        resolve_workflow(twice, "detector_view")


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("resolution", "256", 256),
        ("projection", "xy_plane", "xy_plane"),
        ("projection", '"xy_plane"', "xy_plane"),
        ("toa_max", "5e4", 50000.0),
        ("window", "nan", "nan"),  # not JSON: text, which the schema then refuses
    ],
)
def test_values_are_json_where_they_parse_and_text_otherwise(
    name: str, text: str, value: object
) -> None:
    assert parse_value(DETECTOR, name, text) == value


def test_a_number_for_a_text_parameter_stays_text() -> None:
    powder = resolve_workflow(CATALOGUE, "focussed_dspacing")
    two_theta = resolve_workflow(CATALOGUE, "two_theta_map")

    assert parse_value(powder, "vanadium_run", "123") == "123"
    assert parse_value(powder, "pulse_skipping", "true") is True
    assert parse_value(two_theta, "wavelength_band", "0.8-4.6") == "0.8-4.6"


def test_assignments_need_a_name_and_an_equals_sign_once_per_name() -> None:
    assert parse_assignments(["a=1", "b=x=y", "c="], "--param") == {
        "a": "1",
        "b": "x=y",
        "c": "",
    }
    with pytest.raises(UsageError, match="--param 'resolution': expected NAME=VALUE"):
        parse_assignments(["resolution"], "--param")
    with pytest.raises(UsageError, match="--aux monitor given twice"):
        parse_assignments(["monitor=a", "monitor=b"], "--aux")


def test_the_exit_status_is_1_for_a_refusal_2_for_silence_0_when_all_acknowledged() -> (
    None
):
    ack, err = CommandOutcome.acknowledged, CommandOutcome.failed
    silent, lost = CommandOutcome.no_response, CommandOutcome.send_failed
    pending = CommandOutcome.pending

    assert exit_status({}) == 0
    assert exit_status({1: ack, 2: ack}) == 0
    assert exit_status({1: ack, 2: err, 3: silent}) == 1
    assert exit_status({1: ack, 2: silent}) == 2
    assert exit_status({1: ack, 2: lost}) == 2
    assert exit_status({1: pending}) == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["start", "nope"], "no workflow 'nope' in the dream catalogue"),
        (
            ["start", "detector_view", "--param", "resolution=5"],
            "resolution: must be ≥ 16",
        ),
        (
            ["start", "detector_view", "--param", "colour=red"],
            "colour: not a parameter",
        ),
        (
            ["start", "detector_view", "--source", "monitor_cave"],
            "--source monitor_cave",
        ),
        (
            ["start", "focussed_dspacing", "--aux", "monitor=nowhere"],
            "monitor: must be",
        ),
        (["start", "detector_view", "--read-only"], "read-only"),
        (["stop", "detector_view", "--read-only"], "refusing to stop"),
        (["pause", "detector_view", "--read-only"], "refusing to pause"),
        (["resume", "nope"], "no workflow 'nope' in the dream catalogue"),
        (
            ["stop", "detector_view", "--timeout", "-1"],
            "--timeout must not be negative",
        ),
    ],
)
def test_refused_requests_exit_64_before_connecting_and_name_the_problem(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # An address nobody listens on: reaching Kafka would fail differently.
    status = main([*argv, "--bootstrap", "127.0.0.1:9", "--config-dir", str(tmp_path)])

    assert status == 64
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # nothing persisted


def test_read_only_from_the_environment_refuses_too(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JOBDASH_READ_ONLY", "true")

    assert main(["start", "detector_view", "--bootstrap", "127.0.0.1:9"]) == 64
    assert "JOBDASH_READ_ONLY" in capsys.readouterr().err


# --- against jobdash simulate on the mock cluster -----------------------------------------


@pytest.fixture
def settings(
    make_kafka_settings: Callable[..., Settings],
    kafka_cluster: MockKafkaCluster,
    tmp_path: Path,
) -> Settings:
    return make_kafka_settings(
        kafka_cluster.bootstrap_servers,
        heartbeat_interval=0.2,
        command_timeout=10.0,
        config_dir=tmp_path / "config",
    )


@pytest.fixture
def simulator(
    settings: Settings, jobdash_simulate: Callable[..., SimulatorProcess]
) -> SimulatorProcess:
    return jobdash_simulate(settings)


def _job_number(stdout: str) -> uuid.UUID:
    for line in stdout.splitlines():
        if line.startswith("Starting "):
            return uuid.UUID(line.split(" under job number ")[1].split(";")[0])
    raise AssertionError(f"no job number in {stdout!r}")


def _status(settings: Settings, **env: object) -> dict[str, Any]:
    result = run_jobdash(settings, "status", "--json", **env)
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def _detector(report: dict[str, Any]) -> dict[str, Any]:
    detector: dict[str, Any] = report["workflows"][0]
    assert detector["name"] == "detector_view"
    return detector


@pytest.mark.kafka
def test_start_commits_persists_and_exits_0_when_every_job_is_acknowledged(
    settings: Settings, simulator: SimulatorProcess
) -> None:
    result = run_jobdash(
        settings,
        "start",
        "detector_view",
        "--param",
        "resolution=256",
        "--param",
        "projection=cylinder_mantle_z",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    number = _job_number(result.stdout)
    assert result.stdout.splitlines() == [
        f"Starting Detector view (dream/detector_view/1): 4 job(s) "
        f"({', '.join(BANKS)}) under job number {number}",
        "success: Started 4/4 jobs for Detector view",
    ]
    saved = json.loads(settings.config_file.read_text())["workflows"]
    entry = saved["dream/detector_view/1"]
    assert entry["current"]["job_number"] == str(number)
    assert {
        s: c["params"]["resolution"] for s, c in entry["staged"].items()
    } == dict.fromkeys(BANKS, 256)
    assert (
        entry["staged"]["mantle_detector"]["params"]["projection"]
        == "cylinder_mantle_z"
    )
    detector = _detector(_status(settings))
    assert (detector["job_number"], detector["config_known"]) == (str(number), True)
    assert detector["status"] in {"PENDING", "ACTIVE"}
    # In the dashboard's audit trail, under the terminal's user.
    audit = settings.config_dir / "dream-audit.jsonl"
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert {(r["user"], r["action"], r["workflow"]) for r in records} == {
        (getpass.getuser(), "commit_workflow", "dream/detector_view/1")
    }
    assert sorted(r["outcome"] for r in records) == ["acknowledged"] * 4 + ["sent"] * 4


@pytest.mark.kafka
def test_a_user_the_operators_list_does_not_name_is_refused_with_exit_64(
    settings: Settings, simulator: SimulatorProcess
) -> None:
    result = run_jobdash(
        settings, "stop", "detector_view", "--collect", "0", operators=["somebody"]
    )

    assert result.returncode == 64, result.stdout + result.stderr
    assert f"viewer '{getpass.getuser()}' may not stop workflows" in result.stderr
    assert "Traceback" not in result.stderr
    audit = settings.config_dir / "dream-audit.jsonl"
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [(r["user"], r["action"], r["outcome"]) for r in records] == [
        (getpass.getuser(), "stop_workflow", "refused")
    ]


@pytest.mark.kafka
@pytest.mark.slow
def test_a_restart_stops_the_running_jobs_and_stop_works_from_a_fresh_machine(
    settings: Settings, simulator: SimulatorProcess, tmp_path: Path
) -> None:
    first = run_jobdash(
        settings, "start", "detector_view", "--source", "mantle_detector"
    )
    assert first.returncode == 0, first.stdout + first.stderr
    old = _job_number(first.stdout)

    again = run_jobdash(
        settings,
        "start",
        "dream/detector_view/1",
        "--source",
        "mantle_detector",
        "--source",
        "high_resolution_detector",
    )

    assert again.returncode == 0, again.stdout + again.stderr
    assert f"; stopping job number {old}" in again.stdout
    assert "success: Stopped 1/1 job for Detector view" in again.stdout
    assert "success: Started 2/2 jobs for Detector view" in again.stdout
    new = _job_number(again.stdout)

    # Another machine: no config file, so it learns what runs from heartbeats.
    elsewhere = run_jobdash(
        settings, "stop", "detector_view", config_dir=tmp_path / "elsewhere"
    )

    assert elsewhere.returncode == 0, elsewhere.stdout + elsewhere.stderr
    assert elsewhere.stdout.splitlines() == [
        "Stopping Detector view (dream/detector_view/1): 2 job(s)",
        "success: Stopped 2/2 jobs for Detector view",
    ]
    detector = _detector(_status(settings))
    assert (detector["label"], detector["job_number"]) == ("STOPPED", None)
    again_stop = run_jobdash(settings, "stop", "detector_view")
    assert again_stop.returncode == 0
    assert again_stop.stdout.startswith("Nothing to stop: no job of Detector view")
    assert new != old


@pytest.mark.kafka
def test_a_refusal_by_the_backend_exits_1_with_its_reason(
    settings: Settings,
    jobdash_simulate: Callable[..., SimulatorProcess],
    tmp_path: Path,
) -> None:
    # The backend's catalogue allows less than the dashboard's.
    narrow = tmp_path / "backend.yaml"
    text = asset("catalogues", "dream.yaml").read_text(encoding="utf-8")
    narrow.write_text(text.replace("max: 1024", "max: 200"), encoding="utf-8")
    jobdash_simulate(settings, "--catalogue", str(narrow))

    result = run_jobdash(
        settings,
        "start",
        "detector_view",
        "--source",
        "mantle_detector",
        "--param",
        "resolution=256",
    )

    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        "error: Start of mantle_detector failed: resolution: must be ≤ 200, got 256"
        in result.stdout
    )


@pytest.mark.kafka
def test_silence_exits_2_after_the_command_timeout(
    settings: Settings, make_producer: Callable[[str], Producer]
) -> None:
    # The topics exist, but no backend reads the commands.
    producer = make_producer(settings.bootstrap_servers)
    for kind in ("heartbeat", "responses", "commands"):
        producer.list_topics(topic=settings.topic(kind), timeout=10)

    result = run_jobdash(
        settings,
        "start",
        "monitor_histogram",
        "--command-timeout",
        "1",
        "--collect",
        "0",
    )

    assert result.returncode == 2, result.stdout + result.stderr
    assert (
        "warning: No response after 1 s to Start of 2 jobs for Beam monitors"
        in result.stdout
    )


@pytest.mark.kafka
def test_an_unreachable_kafka_exits_2_and_nothing_is_sent(settings: Settings) -> None:
    result = run_jobdash(
        settings,
        "stop",
        "detector_view",
        "--bootstrap",
        "127.0.0.1:9",
        "--connect-timeout",
        "1",
    )

    assert result.returncode == 2
    assert "jobdash stop: error: Kafka at 127.0.0.1:9 did not assign" in result.stderr
    assert "Stopping" not in result.stdout


# --- pause and resume ----------------------------------------------------------------


@pytest.mark.kafka
def test_pause_then_resume_a_running_workflow_exits_0_and_its_status_follows(
    settings: Settings, simulator: SimulatorProcess
) -> None:
    started = run_jobdash(settings, "start", "detector_view")
    assert started.returncode == 0, started.stdout + started.stderr

    paused = run_jobdash(settings, "pause", "detector_view")

    assert paused.returncode == 0, paused.stdout + paused.stderr
    assert paused.stdout.splitlines() == [
        "Pausing Detector view (dream/detector_view/1): 4 job(s)",
        "success: Paused 4/4 jobs for Detector view",
    ]
    assert _detector(_status(settings))["label"] == "PAUSED 4/4"

    resumed = run_jobdash(settings, "resume", "detector_view")

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "success: Resumed 4/4 jobs for Detector view" in resumed.stdout
    assert _detector(_status(settings))["label"] == "ACTIVE 4/4"
    audit = settings.config_dir / "dream-audit.jsonl"
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert {r["action"] for r in records} == {
        "commit_workflow",
        "pause_workflow",
        "resume_workflow",
    }


@pytest.mark.kafka
def test_pausing_nothing_running_exits_0_and_says_so(
    settings: Settings, simulator: SimulatorProcess
) -> None:
    result = run_jobdash(settings, "pause", "monitor_histogram")

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Nothing to pause: no job of Beam monitors")


class _OldBackend:
    """A backend that runs one job and does not pause: its worker lists only
    stop and reset. Heartbeats every 0.1 s from a thread, until closed."""

    def __init__(self, settings: Settings, producer: Producer) -> None:
        self._settings = settings
        self._producer = producer
        for kind in ("heartbeat", "responses", "commands"):  # the topics exist
            producer.list_topics(topic=settings.topic(kind), timeout=10)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        job = JobStatus(
            JobId("mantle_detector", uuid.UUID(int=7)),
            DETECTOR.workflow_id,
            JobState.active,
            start_time=time.time_ns(),
        )
        worker = ServiceStatus(
            "dream",
            "data_reduction",
            "old-worker",
            "running",
            source_names=tuple(BANKS),
            supported_actions=frozenset({"stop", "reset"}),
        )
        topic = self._settings.topic("heartbeat")
        while not self._done.wait(0.1):
            for status in (job, worker):
                self._producer.produce(topic, encode_status(status))
            self._producer.poll(0)
        self._producer.flush(5)

    def close(self) -> None:
        self._done.set()
        self._thread.join(10)


@pytest.mark.kafka
def test_a_pause_no_backend_worker_accepts_exits_64_and_is_audited(
    settings: Settings, make_producer: Callable[[str], Producer]
) -> None:
    backend = _OldBackend(settings, make_producer(settings.bootstrap_servers))
    try:
        result = run_jobdash(settings, "pause", "detector_view")
    finally:
        backend.close()

    assert result.returncode == 64, result.stdout + result.stderr
    assert (
        "jobdash pause: error: Pause is not supported: no backend worker heard "
        "recently accepts pause for mantle_detector"
    ) in result.stderr
    assert "Traceback" not in result.stderr
    audit = settings.config_dir / "dream-audit.jsonl"
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [(r["action"], r["outcome"].split(":")[0]) for r in records] == [
        ("pause_workflow", "refused")
    ]
