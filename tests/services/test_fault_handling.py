"""Backend faults, end to end through the real pipeline.

``SimulatedBackend`` → ``IngestionThread.run_once`` → ``MessagePump`` →
``JobService`` + ``JobOrchestrator`` + ``PendingCommandTracker`` +
``NotificationLog``, with a ``ManualClock`` advanced in 0.1 s steps. The
backend sits behind a :class:`Wire`, which plays the transport: it lets a test
replace the backend (a restart) or lose one source's heartbeats.
"""

from __future__ import annotations

import pytest

from jobdash.domain.clock import ManualClock
from jobdash.domain.commands import Command
from jobdash.domain.ids import JobId, SourceName, WorkflowId
from jobdash.domain.job_state import JobState
from jobdash.domain.job_status import JobStatus
from jobdash.domain.streams import StreamId
from jobdash.domain.workflow_catalogue import WorkflowCatalogue
from jobdash.domain.workflow_status import WorkflowAggregate
from jobdash.services.command_dispatcher import CommandDispatcher
from jobdash.services.command_tracker import PendingCommandTracker
from jobdash.services.config_store import ConfigStore
from jobdash.services.job_orchestrator import JobOrchestrator
from jobdash.services.job_service import JobService
from jobdash.services.message_pump import MessagePump
from jobdash.services.notifications import NotificationLog
from jobdash.testing.actors import OPERATOR
from jobdash.transport.codec import decode_status
from jobdash.transport.ingestion import IngestionThread
from jobdash.transport.message_source import Message
from jobdash.transport.simulated import SimulatedBackend

DETECTOR = WorkflowId("dream", "detector_view", 1)
MONITORS = WorkflowId("dream", "monitors", 1)
SOURCES = ("mantle", "endcap", "high_res")
CATALOGUE = WorkflowCatalogue.model_validate(
    {
        "instrument": "dream",
        "workflows": [
            {
                "id": str(DETECTOR),
                "title": "Detector view",
                "source_names": list(SOURCES),
            },
            {"id": str(MONITORS), "title": "Monitors", "source_names": ["monitor_a"]},
        ],
    }
)
A = WorkflowAggregate


class Wire:
    """The transport between dashboard and backend, as a test controls it.

    Delivers what the current backend emits, minus the heartbeats of the
    sources in ``silenced``; sends commands to the current backend.
    """

    def __init__(self, backend: SimulatedBackend) -> None:
        self.backend = backend
        self.silenced: set[SourceName] = set()

    def start(self) -> None:
        self.backend.start()

    def stop(self) -> None:
        self.backend.stop()

    def get_messages(self, timeout: float) -> list[Message]:
        return [m for m in self.backend.get_messages(timeout) if self._passes(m)]

    def send(self, command: Command) -> None:
        self.backend.send(command)

    def _passes(self, message: Message) -> bool:
        if not self.silenced or message.stream is not StreamId.status:
            return True
        status = decode_status(message.payload)
        return not (
            isinstance(status, JobStatus) and status.job_id.source_name in self.silenced
        )


class Dashboard:
    """One dashboard process's services, over ``wire``."""

    def __init__(self, clock: ManualClock, wire: Wire, config_path=None) -> None:
        self.clock = clock
        self.notifications = NotificationLog(clock)
        self.tracker = PendingCommandTracker(clock, self.notifications)
        self.jobs = JobService(clock)
        self.workflows = JobOrchestrator(
            CATALOGUE,
            CommandDispatcher(wire, tracker=self.tracker),
            clock,
            config_store=None if config_path is None else ConfigStore(config_path),
            notifications=self.notifications,
        )
        router = MessagePump(
            job_service=self.jobs,
            job_orchestrator=self.workflows,
            command_tracker=self.tracker,
        )
        self.ingestion = IngestionThread(wire, router, clock)

    def run(self, seconds: float) -> None:
        for _ in range(round(seconds / 0.1)):
            self.clock.advance(0.1)
            self.ingestion.run_once()

    def label(self, workflow_id: WorkflowId = DETECTOR) -> str:
        return self.workflows.get_workflow_status(workflow_id).label

    def texts(self) -> list[str]:
        return [n.text for n in self.notifications.recent(100)]

    def commit(self, workflow_id: WorkflowId = DETECTOR, sources=SOURCES):
        for source in sources:
            self.workflows.stage_config(workflow_id, source, {}, actor=OPERATOR)
        return self.workflows.commit_workflow(workflow_id, actor=OPERATOR)

    def assert_nothing_lost(self) -> None:
        stats = self.ingestion.stats()
        assert stats.messages == stats.applied > 0
        assert (stats.decode_errors, stats.route_errors, stats.transport_errors) == (
            0,
            0,
            0,
        )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def wire(clock) -> Wire:
    wire = Wire(SimulatedBackend(CATALOGUE, clock, seed=1))
    wire.start()
    return wire


@pytest.fixture
def dashboard(clock, wire) -> Dashboard:
    return Dashboard(clock, wire)


def test_dead_backend_makes_the_workflow_and_every_job_row_stale(dashboard, wire):
    number = dashboard.commit()
    dashboard.run(3.0)
    assert dashboard.label() == "ACTIVE 3/3"
    wire.backend.kill()
    dashboard.run(7.0)
    assert dashboard.label() == "STALE 3/3"
    job_ids = [JobId(source, number) for source in SOURCES]
    assert set(dashboard.jobs.get_stale_jobs()) == set(job_ids)
    assert all(dashboard.workflows.is_job_stale(job_id) for job_id in job_ids)
    dashboard.assert_nothing_lost()


def test_backend_restarted_with_jobs_of_its_own_shows_them_adopted_and_orphaned(
    dashboard, wire, clock
):
    committed = dashboard.commit()
    dashboard.run(3.0)
    wire.backend.kill()
    dashboard.run(7.0)
    assert dashboard.label() == "STALE 3/3"
    restarted = SimulatedBackend(CATALOGUE, clock, seed=2)
    restarted.adopt_on_start()
    wire.backend = restarted
    restarted.start()
    dashboard.run(1.0)

    detector = dashboard.workflows.snapshot(DETECTOR)
    assert detector.current is not None
    # Ours stays current (and stale: nothing runs it any more); the backend's
    # two job numbers are orphans for the operator to stop.
    assert detector.current.job_number == committed
    assert detector.aggregate.label == "STALE 3/3"
    running = {job.job_id for job in restarted.status().jobs}
    orphans = set(detector.orphans)
    assert len({job_id.job_number for job_id in orphans}) == 2
    assert orphans == {j for j in running if j.job_number != committed} - {
        j for j in running if j.source_name == "monitor_a"
    }
    monitors = dashboard.workflows.snapshot(MONITORS)
    assert monitors.current is not None
    assert monitors.current.adopted
    assert not monitors.current.config_known
    assert monitors.aggregate.label == "ACTIVE 1/1"

    orphan = next(iter(orphans))
    dashboard.workflows.stop_job(orphan, actor=OPERATOR)
    dashboard.run(2.0)
    assert orphan not in {job.job_id for job in restarted.status().jobs}
    assert orphan not in dashboard.workflows.snapshot(DETECTOR).orphans
    dashboard.assert_nothing_lost()


def test_unacknowledged_stop_is_reported_and_re_sent_while_jobs_still_run(
    dashboard, wire
):
    dashboard.commit()
    dashboard.run(3.0)
    wire.backend.drop_acks(1.0)
    wire.backend.lag_stops(45.0)
    dashboard.workflows.stop_workflow(DETECTOR, actor=OPERATOR)
    dashboard.run(29.0)
    assert dashboard.label() == "STOPPING 3/3"
    assert dashboard.workflows.counters()["stop_retries"] == 0
    dashboard.run(1.5)
    assert "No response after 30 s to Stop of 3 jobs for Detector view" in (
        dashboard.texts()
    )
    assert dashboard.workflows.counters()["stop_retries"] == 3
    dashboard.run(20.0)  # the lag ends: the jobs report stopped
    assert dashboard.label() == "STOPPED 3/3"
    dashboard.run(60.0)
    assert dashboard.workflows.counters()["stop_retries"] == 3
    dashboard.assert_nothing_lost()


def test_one_silent_source_goes_stale_alone(dashboard, wire):
    number = dashboard.commit()
    dashboard.run(3.0)
    wire.silenced.add("endcap")
    dashboard.run(7.0)
    assert dashboard.label() == "STALE 1/3"
    stale = JobId("endcap", number)
    assert dashboard.jobs.get_stale_jobs() == [stale]
    for source in ("mantle", "high_res"):
        assert not dashboard.workflows.is_job_stale(JobId(source, number))
    wire.silenced.clear()
    dashboard.run(2.5)
    assert dashboard.label() == "ACTIVE 3/3"
    dashboard.assert_nothing_lost()


def test_restarted_dashboard_adopts_running_jobs_with_their_configs_and_stops_them(
    clock, wire, tmp_path
):
    config_path = tmp_path / "dream.json"
    first = Dashboard(clock, wire, config_path)
    number = first.commit()
    first.run(3.0)
    assert first.label() == "ACTIVE 3/3"
    first.assert_nothing_lost()

    second = Dashboard(clock, wire, config_path)  # the first is gone
    second.run(2.5)
    snapshot = second.workflows.snapshot(DETECTOR)
    assert snapshot.current is not None
    assert snapshot.current.job_number == number
    assert snapshot.current.adopted
    assert snapshot.current.config_known
    assert [job.source_name for job in snapshot.current.jobs] == list(SOURCES)
    assert snapshot.orphans == ()
    assert second.label() == "ACTIVE 3/3"

    assert second.workflows.stop_workflow(DETECTOR, actor=OPERATOR) == 3
    second.run(2.0)
    assert second.label() == "STOPPED 3/3"
    assert wire.backend.status().jobs == ()
    assert "Stopped 3/3 jobs for Detector view" in second.texts()
    second.assert_nothing_lost()


def test_wire_filter_drops_only_the_silenced_sources_heartbeats(clock, wire):
    # The test double itself: a silenced source must not take others with it.
    dashboard = Dashboard(clock, wire)
    wire.silenced.add("mantle")
    dashboard.commit(sources=("mantle", "endcap"))
    dashboard.run(3.0)
    statuses = dashboard.jobs.job_statuses
    assert {job_id.source_name for job_id in statuses} == {"endcap"}
    assert all(s.state is JobState.active for s in statuses.values())
