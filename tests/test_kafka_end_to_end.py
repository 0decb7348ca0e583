"""End to end over Kafka: the dashboard's services in this process, the backend
(``jobdash simulate``) and the terminal commands in others, nothing shared but
librdkafka's mock cluster (through a cuttable proxy for the outage test).

The dashboard is the composition root's (``build_services`` with
``transport="kafka"``), started as ``jobdash serve`` would start it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from jobdash.app import Services, build_services
from jobdash.domain.ids import JobId, WorkflowId
from jobdash.domain.job_state import JobState
from jobdash.services.notifications import NotificationLevel
from jobdash.settings import Settings
from jobdash.testing.actors import OPERATOR
from jobdash.testing.kafka_cluster import MockKafkaCluster
from jobdash.testing.tcp_proxy import TcpProxy
from jobdash.testing.waiting import wait_until
from jobdash.transport.kafka_health import ConnectionState
from jobdash.transport.kafka_sink import KafkaCommandSink
from kafka_processes import SimulatorProcess, run_jobdash

pytestmark = pytest.mark.kafka

DETECTOR = WorkflowId("dream", "detector_view", 1)
MONITORS = WorkflowId("dream", "monitor_histogram", 1)
BANKS = (
    "mantle_detector",
    "endcap_backward_detector",
    "endcap_forward_detector",
    "high_resolution_detector",
)
MONITOR_SOURCES = ("monitor_bunker", "monitor_cave")
#: Seconds a state may take to show (processes on a loaded machine).
STATE_TIMEOUT = 30.0


def _settings(
    make_kafka_settings: Callable[..., Settings], bootstrap: str, config_dir: Path
) -> Settings:
    return make_kafka_settings(
        bootstrap,
        heartbeat_interval=0.2,
        command_timeout=5.0,
        config_dir=config_dir,
    )


@pytest.fixture
def settings(
    make_kafka_settings: Callable[..., Settings],
    kafka_cluster: MockKafkaCluster,
    tmp_path: Path,
) -> Settings:
    return _settings(
        make_kafka_settings, kafka_cluster.bootstrap_servers, tmp_path / "dashboard"
    )


def _serve(settings: Settings) -> Services:
    """The dashboard's services, started; returns once they read the backend."""
    services = build_services(settings)
    services.start()
    try:
        wait_until(
            lambda: len(services.worker_registry.workers()) == 2,
            timeout=STATE_TIMEOUT,
            message="the dashboard to hear the simulated workers",
        )
    except BaseException:
        services.stop()
        raise
    return services


@pytest.fixture
def dashboard(
    settings: Settings, jobdash_simulate: Callable[..., SimulatorProcess]
) -> Iterator[Services]:
    jobdash_simulate(settings)
    services = _serve(settings)
    yield services
    services.stop()


def _stage_all(
    services: Services, workflow: WorkflowId, sources: tuple[str, ...]
) -> None:
    for source in sources:
        services.job_orchestrator.stage_config(workflow, source, {}, actor=OPERATOR)


def _label(services: Services, workflow: WorkflowId) -> str:
    return services.job_orchestrator.snapshot(workflow).aggregate.label


def _wait_label(services: Services, workflow: WorkflowId, label: str) -> None:
    wait_until(
        lambda: _label(services, workflow) == label,
        timeout=STATE_TIMEOUT,
        message=lambda: f"{label}, still {_label(services, workflow)}",
    )


def _first_job(services: Services, workflow: WorkflowId) -> JobId:
    current = services.job_orchestrator.snapshot(workflow).current
    assert current is not None, f"nothing runs for {workflow}"
    return current.jobs[0].job_id


def _feedback(services: Services) -> list[str]:
    return [f"{n.level.value}: {n.text}" for n in services.notifications.since(0)]


def _wait_feedback(services: Services, line: str) -> None:
    wait_until(
        lambda: line in _feedback(services),
        timeout=STATE_TIMEOUT,
        message=lambda: f"{line!r} in {_feedback(services)}",
    )


def test_start_and_stop_from_the_dashboard_with_acknowledgements_as_feedback(
    dashboard: Services,
) -> None:
    _stage_all(dashboard, DETECTOR, BANKS)

    number = dashboard.job_orchestrator.commit_workflow(DETECTOR, actor=OPERATOR)

    _wait_label(dashboard, DETECTOR, "ACTIVE 4/4")
    _wait_feedback(dashboard, "success: Started 4/4 jobs for Detector view")
    current = dashboard.job_orchestrator.snapshot(DETECTOR).current
    assert current is not None
    assert current.job_number == number
    assert not current.adopted

    dashboard.job_orchestrator.stop_workflow(DETECTOR, actor=OPERATOR)

    _wait_label(dashboard, DETECTOR, "STOPPED 4/4")
    _wait_feedback(dashboard, "success: Stopped 4/4 jobs for Detector view")
    assert dashboard.tracker.pending_count() == 0
    assert dashboard.ingestion.stats().decode_errors == 0


@pytest.mark.slow
def test_terminal_commands_and_the_dashboard_see_the_same_jobs(
    dashboard: Services, settings: Settings, tmp_path: Path
) -> None:
    # The terminal has a config file of its own, as on another machine.
    terminal: dict[str, Any] = {"config_dir": tmp_path / "terminal"}

    started = run_jobdash(settings, "start", "monitor_histogram", **terminal)

    assert started.returncode == 0, started.stdout + started.stderr
    assert "success: Started 2/2 jobs for Beam monitors" in started.stdout
    _wait_label(dashboard, MONITORS, "ACTIVE 2/2")
    seen = dashboard.job_orchestrator.snapshot(MONITORS).current
    assert seen is not None
    assert seen.adopted  # the dashboard did not start them: it adopted them
    assert f"under job number {seen.job_number}" in started.stdout

    status = run_jobdash(settings, "status", "--json", **terminal)
    assert status.returncode == 0, status.stderr
    (monitors,) = [
        w for w in json.loads(status.stdout)["workflows"] if w["id"] == str(MONITORS)
    ]
    assert (monitors["label"], monitors["job_number"]) == (
        "ACTIVE 2/2",
        str(seen.job_number),
    )

    stopped = run_jobdash(settings, "stop", "monitor_histogram", **terminal)

    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert "success: Stopped 2/2 jobs for Beam monitors" in stopped.stdout
    _wait_label(dashboard, MONITORS, "STOPPED 2/2")


@pytest.mark.slow
def test_commands_during_an_outage_are_delivered_after_it_or_reported_never_lost(
    outage_cluster: MockKafkaCluster,
    make_kafka_settings: Callable[..., Settings],
    jobdash_simulate: Callable[..., SimulatorProcess],
    tmp_path: Path,
) -> None:
    with TcpProxy(("127.0.0.1", outage_cluster.port)) as proxy:
        # Every client, backend included, talks to the broker through the proxy.
        outage_cluster.advertise("127.0.0.1", proxy.port)
        settings = _settings(make_kafka_settings, proxy.address, tmp_path / "dashboard")
        jobdash_simulate(settings)
        services = _serve(settings)
        try:
            _outage_scenario(services, proxy)
        finally:
            services.stop()


def _outage_scenario(services: Services, proxy: TcpProxy) -> None:
    orchestrator = services.job_orchestrator
    sink = services.sink
    assert isinstance(sink, KafkaCommandSink)
    _stage_all(services, MONITORS, MONITOR_SOURCES)
    orchestrator.commit_workflow(MONITORS, actor=OPERATOR)
    _wait_label(services, MONITORS, "ACTIVE 2/2")
    _wait_feedback(services, "success: Started 2/2 jobs for Beam monitors")
    assert sink.counts == (2, 0)

    # A short cut: the commands wait in librdkafka's queue and go out after it.
    proxy.cut()
    _stage_all(services, DETECTOR, BANKS)
    orchestrator.commit_workflow(DETECTOR, actor=OPERATOR)
    assert sink.in_flight == 4
    health = services.kafka_health
    assert health is not None
    wait_until(
        lambda: health.snapshot().state is ConnectionState.disconnected,
        timeout=STATE_TIMEOUT,
        message="the header to show the outage",
    )
    proxy.restore()
    _wait_feedback(services, "success: Started 4/4 jobs for Detector view")
    _wait_label(services, DETECTOR, "ACTIVE 4/4")
    assert sink.counts == (6, 0)

    # A cut longer than the command timeout: the commands are reported failed.
    proxy.cut()
    orchestrator.stop_workflow(MONITORS, actor=OPERATOR)
    for source in MONITOR_SOURCES:
        _wait_feedback(
            services,
            f"error: Could not send Stop of {source}: Local: Message timed out",
        )
    assert sink.counts == (6, 2)
    assert sink.in_flight == 0
    # Meanwhile no heartbeat arrived: the dashboard says so.
    assert _label(services, MONITORS) == "STALE 2/2"
    assert orchestrator.is_job_stale(_first_job(services, DETECTOR))
    applied = services.ingestion.stats().applied
    proxy.restore()

    # After the restore the heartbeats are applied again: the stop never
    # reached the backend, so the monitors still run.
    wait_until(
        lambda: (
            services.ingestion.stats().applied > applied
            and not orchestrator.is_job_stale(_first_job(services, DETECTOR))
        ),
        timeout=STATE_TIMEOUT,
        message="fresh heartbeats after the restore",
    )
    _wait_label(services, DETECTOR, "ACTIVE 4/4")
    monitors = orchestrator.snapshot(MONITORS).current
    assert monitors is not None
    assert {job.state for job in monitors.jobs} == {JobState.active}
    # Every command is accounted for: delivered and answered, or reported.
    assert services.tracker.pending_count() == 0
    errors = [
        n.text
        for n in services.notifications.since(0)
        if n.level is NotificationLevel.error
    ]
    assert sorted(errors) == [
        "Could not send Stop of monitor_bunker: Local: Message timed out",
        "Could not send Stop of monitor_cave: Local: Message timed out",
        "Stopped 0/2 jobs for Beam monitors; 2 failed",
    ]
