"""The composition root: wiring from settings, one instance per process, start-up errors."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobdash.app import (
    FROZEN_START_NS,
    Services,
    StartupError,
    build_services,
    get_services,
    make_clock,
    reset_services_for_tests,
)
from jobdash.catalogue_file import CatalogueError, shipped_catalogue_path
from jobdash.domain.access import ReadOnlyError
from jobdash.domain.clock import ManualClock, ScaledClock, SystemClock
from jobdash.domain.ids import JobId, WorkflowId
from jobdash.domain.job_state import JobState
from jobdash.domain.job_status import JobStatus
from jobdash.domain.streams import StreamId
from jobdash.services.workflow_state import SourceConfig
from jobdash.settings import Settings
from jobdash.testing.actors import OPERATOR
from jobdash.testing.waiting import wait_until
from jobdash.transport.simulated import SimulatedBackend

DETECTOR_VIEW = WorkflowId("dream", "detector_view", 1)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(config_dir=tmp_path / "config", frozen_clock=True)


@pytest.fixture
def no_process_services() -> Iterator[None]:
    """No process-wide services before and after the test."""
    reset_services_for_tests()
    yield
    reset_services_for_tests()


def heartbeat(source: str = "mantle_detector") -> JobStatus:
    return JobStatus(
        JobId(source, uuid.UUID(int=7)),
        DETECTOR_VIEW,
        JobState.active,
        start_time=FROZEN_START_NS,
        timestamp=FROZEN_START_NS,
    )


def test_clock_follows_the_settings() -> None:
    frozen = make_clock(Settings(frozen_clock=True, clock_speed=5))
    assert isinstance(frozen, ManualClock)
    assert frozen.now_ns() == FROZEN_START_NS
    assert isinstance(make_clock(Settings(clock_speed=5)), ScaledClock)
    assert isinstance(make_clock(Settings()), SystemClock)


def test_simulated_transport_is_source_and_sink(settings: Settings) -> None:
    services = build_services(settings)
    assert isinstance(services.simulator, SimulatedBackend)
    assert services.source is services.simulator
    assert services.sink is services.simulator
    assert services.kafka_health is None
    assert services.manual_clock is services.clock
    assert services.catalogue.instrument == "dream"
    assert services.config_store.path == settings.config_dir / "dream.json"


def test_a_heartbeat_reaches_both_views_and_the_timeline_in_phase_one(
    settings: Settings,
) -> None:
    services = build_services(settings)
    services.router.forward(StreamId.status, heartbeat())
    assert services.job_service is not None
    assert heartbeat().job_id in services.job_service.job_statuses
    current = services.job_orchestrator.snapshot(DETECTOR_VIEW).current
    assert current is not None
    assert [job.source_name for job in current.jobs] == ["mantle_detector"]
    (segment,) = services.status_history.snapshot().segments
    assert (segment.job_id, segment.state) == (heartbeat().job_id, JobState.active)


def test_phase_two_wiring_has_no_job_service(settings: Settings) -> None:
    services = build_services(settings, legacy_job_view=False)
    assert services.job_service is None
    services.router.forward(StreamId.status, heartbeat())
    assert services.job_orchestrator.snapshot(DETECTOR_VIEW).current is not None
    assert len(services.status_history.snapshot().segments) == 1


def test_read_only_reaches_the_action_services(tmp_path: Path) -> None:
    services = build_services(Settings(config_dir=tmp_path, read_only=True))
    assert services.policy.read_only
    assert services.commands.policy is services.policy
    with pytest.raises(ReadOnlyError):
        services.job_orchestrator.commit_workflow(DETECTOR_VIEW, actor=OPERATOR)
    with pytest.raises(ReadOnlyError):
        services.job_controller.stop_job(
            JobId("mantle_detector", uuid.uuid4()), actor=OPERATOR
        )


def test_audit_none_disables_the_audit_trail(tmp_path: Path) -> None:
    services = build_services(Settings(config_dir=tmp_path, audit_file="none"))
    assert services.audit is None


def test_operators_decide_who_may_act(tmp_path: Path) -> None:
    services = build_services(Settings(config_dir=tmp_path, operators=["olga"]))
    assert services.policy.actor_for("olga").is_operator
    assert not services.policy.actor_for("victor").is_operator


def test_actions_are_audited_in_the_config_dir(settings: Settings) -> None:
    services = build_services(settings)
    assert services.audit is not None
    assert services.audit.path == settings.config_dir / "dream-audit.jsonl"
    actor = services.policy.actor_for(None)
    assert actor.is_operator
    services.job_orchestrator.commit_workflow(
        DETECTOR_VIEW, actor=actor, draft={"mantle_detector": SourceConfig()}
    )
    (line,) = services.audit.path.read_text(encoding="utf-8").splitlines()
    record = json.loads(line)
    assert (record["user"], record["action"], record["outcome"]) == (
        "local",
        "commit_workflow",
        "sent",
    )


def test_kafka_transport_is_built_without_connecting(tmp_path: Path) -> None:
    services = build_services(
        Settings(
            config_dir=tmp_path, transport="kafka", bootstrap_servers="127.0.0.1:1"
        )
    )
    assert services.simulator is None
    assert services.source is not services.sink
    assert services.kafka_health is not None
    assert services.kafka_health.snapshot().bootstrap_servers == "127.0.0.1:1"


def test_a_catalogue_of_another_instrument_is_refused(tmp_path: Path) -> None:
    dream = shipped_catalogue_path("dream")
    with pytest.raises(StartupError, match=r"is for instrument 'dream'.*'loki'"):
        build_services(
            Settings(config_dir=tmp_path, instrument="loki", catalogue=dream)
        )


def test_an_unknown_scenario_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown simulator scenario 'bogus'"):
        build_services(Settings(config_dir=tmp_path, scenario="bogus"))


@pytest.mark.usefixtures("no_process_services")
def test_concurrent_first_sessions_share_one_started_instance(
    settings: Settings,
) -> None:
    results: list[Services] = []
    barrier = threading.Barrier(8)

    def open_session() -> None:
        barrier.wait()
        results.append(get_services(settings))

    threads = [threading.Thread(target=open_session) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8
    assert all(services is results[0] for services in results)
    assert results[0].ingestion.stats().running
    assert get_services(Settings(instrument="other")) is results[0]


@pytest.mark.usefixtures("no_process_services")
def test_started_services_ingest_the_simulated_backend(tmp_path: Path) -> None:
    services = get_services(Settings(config_dir=tmp_path, heartbeat_interval=0.1))
    # The simulated workers heartbeat at once; the registry hears them.
    wait_until(
        lambda: len(services.worker_registry.workers()) == 2,
        message="two workers to register",
    )
    assert services.ingestion.stats().messages > 0
    reset_services_for_tests()
    assert not services.ingestion.stats().running


@pytest.mark.usefixtures("no_process_services")
def test_a_failed_build_leaves_nothing_behind(
    settings: Settings, tmp_path: Path
) -> None:
    bad = Settings(config_dir=tmp_path, catalogue=tmp_path / "missing.yaml")
    with pytest.raises(CatalogueError, match=r"missing\.yaml"):
        get_services(bad)
    assert get_services(settings).settings is settings


def test_simulated_deployment_replays_job_numbers_from_its_seed(tmp_path):
    def first_job_number(seed: int) -> object:
        services = build_services(
            Settings(config_dir=tmp_path / uuid.uuid4().hex, seed=seed)
        )
        spec = services.catalogue.workflows[0]
        orchestrator = services.job_orchestrator
        orchestrator.stage_config(
            spec.workflow_id, spec.source_names[0], {}, actor=OPERATOR
        )
        return orchestrator.commit_workflow(spec.workflow_id, actor=OPERATOR)

    assert first_job_number(3) == first_job_number(3)
    assert first_job_number(3) != first_job_number(4)
