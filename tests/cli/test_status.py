"""``jobdash status``: what runs, from the live heartbeats, as a table or JSON."""

from __future__ import annotations

import json
import signal
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from jobdash.domain.commands import (
    JobIdentifier,
    WorkflowConfigCommand,
    WorkflowIdentifier,
)
from jobdash.domain.ids import WorkflowId
from jobdash.settings import Settings
from jobdash.testing.kafka_cluster import MockKafkaCluster
from jobdash.testing.processes import JOBDASH
from jobdash.testing.waiting import wait_until
from jobdash.transport.kafka_sink import KafkaCommandSink
from kafka_processes import SimulatorProcess, kafka_env, run_jobdash

pytestmark = pytest.mark.kafka

MONITORS = WorkflowId("dream", "monitor_histogram", 1)


@pytest.fixture
def settings(
    make_kafka_settings: Callable[..., Settings],
    kafka_cluster: MockKafkaCluster,
    tmp_path: Path,
) -> Settings:
    return make_kafka_settings(
        kafka_cluster.bootstrap_servers,
        heartbeat_interval=0.2,
        config_dir=tmp_path / "config",
    )


@pytest.fixture
def simulator(
    settings: Settings, jobdash_simulate: Callable[..., SimulatorProcess]
) -> SimulatorProcess:
    return jobdash_simulate(settings)


@pytest.fixture
def sink(settings: Settings) -> Iterator[KafkaCommandSink]:
    sink = KafkaCommandSink(settings)
    sink.start()
    yield sink
    sink.stop()


def _start_monitors(sink: KafkaCommandSink) -> uuid.UUID:
    """Start both beam monitors under one job number, as another dashboard would."""
    number = uuid.uuid4()
    for source in ("monitor_bunker", "monitor_cave"):
        sink.send(
            WorkflowConfigCommand(
                identifier=WorkflowIdentifier.from_domain(MONITORS),
                job_id=JobIdentifier(source_name=source, job_number=number),
            )
        )
    return number


def _status_json(settings: Settings, *flags: str) -> dict[str, Any]:
    result = run_jobdash(settings, "status", "--json", *flags)
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def _workflow(report: dict[str, Any], name: str) -> dict[str, Any]:
    (workflow,) = [w for w in report["workflows"] if w["name"] == name]
    return workflow


def test_running_jobs_are_reported_as_json_with_their_job_number(
    settings: Settings, simulator: SimulatorProcess, sink: KafkaCommandSink
) -> None:
    number = _start_monitors(sink)
    report: dict[str, Any] = {}

    def both_active() -> bool:
        report.update(_status_json(settings))
        return _workflow(report, "monitor_histogram")["label"] == "ACTIVE 2/2"

    wait_until(both_active, timeout=60, message=lambda: f"ACTIVE 2/2 in {report}")

    monitors = _workflow(report, "monitor_histogram")
    assert monitors["job_number"] == str(number)
    assert [(j["source_name"], j["state"]) for j in monitors["jobs"]] == [
        ("monitor_bunker", "active"),
        ("monitor_cave", "active"),
    ]
    assert _workflow(report, "detector_view")["label"] == "STOPPED"
    assert report["bootstrap_servers"] == settings.bootstrap_servers
    assert report["listened_s"] == pytest.approx(0.6)  # one stale threshold
    assert {w["key"] for w in report["workers"]} == {
        "dream/data_reduction/worker-0",
        "dream/data_reduction/worker-1",
    }


def test_the_table_shows_the_badge_and_a_line_per_job(
    settings: Settings, simulator: SimulatorProcess, sink: KafkaCommandSink
) -> None:
    number = _start_monitors(sink)
    result = subprocess.CompletedProcess[str]([], 0)

    def shown_active() -> bool:
        nonlocal result
        result = run_jobdash(settings, "status", "--collect", "1")
        return "ACTIVE 2/2" in result.stdout

    wait_until(shown_active, timeout=60, message=lambda: result.stdout + result.stderr)

    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "WORKFLOW",
        "STATUS",
        "JOB",
        "SOURCE",
        "STATE",
        "MESSAGE",
    ]
    monitors = [line for line in lines if number.hex[:8] in line]
    assert [line.split()[-2:] for line in monitors] == [
        ["monitor_bunker", "active"],
        ["monitor_cave", "active"],
    ]
    assert "listened 1 s to the heartbeats" in result.stdout


def test_nothing_running_is_every_workflow_stopped_and_exit_0(
    settings: Settings, simulator: SimulatorProcess
) -> None:
    report = _status_json(settings)

    assert {w["label"] for w in report["workflows"]} == {"STOPPED"}
    assert report["other_jobs"] == []


def test_flags_work_without_the_environment(
    settings: Settings, simulator: SimulatorProcess
) -> None:
    result = run_jobdash(
        Settings(bootstrap_servers="127.0.0.1:9"),  # environment: a wrong address
        "status",
        "--json",
        "--bootstrap",
        settings.bootstrap_servers,
        "--topic-prefix",
        settings.topic_prefix,
        "--heartbeat-interval",
        "0.2",
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["bootstrap_servers"] == settings.bootstrap_servers


def test_watch_reports_again_until_interrupted_then_exits_0(
    settings: Settings, simulator: SimulatorProcess, tmp_path: Path
) -> None:
    output = tmp_path / "watch.jsonl"
    errors = tmp_path / "watch.log"
    with output.open("w") as stdout, errors.open("w") as stderr:
        process = subprocess.Popen(
            [JOBDASH, "status", "--json", "--watch", "--interval", "0.3"],
            env=kafka_env(settings),
            stdout=stdout,
            stderr=stderr,
        )
    try:
        wait_until(
            lambda: len(output.read_text().splitlines()) >= 3,
            timeout=60,
            message="three reports",
        )
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "Traceback" not in errors.read_text()
    reports = [json.loads(line) for line in output.read_text().splitlines()]
    listened = [report["listened_s"] for report in reports]
    assert listened[:3] == pytest.approx([0.6, 0.9, 1.2])


def test_topics_kafka_does_not_have_exit_2_naming_them(settings: Settings) -> None:
    result = run_jobdash(
        settings, "status", "--topic-prefix", "nobody_", "--connect-timeout", "2"
    )

    assert result.returncode == 2
    assert "did not assign nobody_dream_livedata_heartbeat within 2 s" in result.stderr
