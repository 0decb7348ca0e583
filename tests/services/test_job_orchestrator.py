from __future__ import annotations

import threading
import uuid

import pytest

from jobdash.catalogue_file import shipped_catalogue
from jobdash.domain import (
    JobId,
    JobState,
    JobStatus,
    ManualClock,
    WorkflowAggregate,
    WorkflowId,
)
from jobdash.domain.access import AccessPolicy, ReadOnlyError
from jobdash.domain.commands import (
    JobAction,
    JobCommand,
    WorkflowConfigCommand,
    WorkflowIdentifier,
)
from jobdash.domain.workflow_catalogue import ParameterError
from jobdash.services.command_dispatcher import CommandDispatcher
from jobdash.services.config_store import (
    ConfigStore,
    PersistedJobConfig,
    PersistedState,
    PersistedWorkflow,
)
from jobdash.services.heartbeat_tracking import MAX_JOBS_PER_SET
from jobdash.services.job_index import FINISHED_CAPACITY
from jobdash.services.job_orchestrator import JobOrchestrator
from jobdash.services.workflow_state import MAX_ORPHAN_SETS
from jobdash.testing.actors import OPERATOR
from jobdash.testing.sinks import RefusingSink
from jobdash.transport.in_memory_sink import InMemoryCommandSink

DETECTOR = WorkflowId("dream", "detector_view", 1)
MONITORS = WorkflowId("dream", "monitor_histogram", 1)
POWDER = WorkflowId("dream", "focussed_dspacing", 2, "powder")
UNCATALOGUED = WorkflowId("dream", "no_such_workflow", 1)
BANKS = (
    "mantle_detector",
    "endcap_backward_detector",
    "endcap_forward_detector",
    "high_resolution_detector",
)
MANTLE, BACKWARD, FORWARD, HIGH_RES = BANKS
SECOND = 1_000_000_000
A = WorkflowAggregate


class FakeTracker:
    """Records what the orchestrator asks of a PendingCommandTracker."""

    def __init__(self) -> None:
        self.groups: list[tuple[str, str, list]] = []
        self.failed: list[tuple[object, str]] = []

    def track(self, commands, *, verb, subject):
        self.groups.append((verb, subject, list(commands)))
        return len(self.groups)

    def command_failed(self, command, reason):
        self.failed.append((command, reason))


@pytest.fixture
def tracker() -> FakeTracker:
    return FakeTracker()


@pytest.fixture
def orch(make) -> JobOrchestrator:
    return make()


def stage(orch, workflow_id=DETECTOR, sources=BANKS, **params):
    for source in sources:
        orch.stage_config(workflow_id, source, params, actor=OPERATOR)


def commit(orch, workflow_id=DETECTOR, sources=BANKS, **params) -> uuid.UUID:
    stage(orch, workflow_id, sources, **params)
    return orch.commit_workflow(workflow_id, actor=OPERATOR)


def status(
    source,
    number,
    state=JobState.active,
    *,
    workflow_id=DETECTOR,
    timestamp=None,
    clock=None,
    start=None,
    warning=None,
    error=None,
) -> JobStatus:
    if timestamp is None:
        timestamp = clock.now_ns() if clock is not None else 0
    return JobStatus(
        JobId(source, number),
        workflow_id,
        state,
        error_message=error,
        warning_message=warning,
        start_time=start,
        timestamp=timestamp,
    )


def beat(orch, clock, source, number, state=JobState.active, **kwargs) -> None:
    """Deliver one heartbeat stamped with the current time."""
    orch.status_updated(status(source, number, state, clock=clock, **kwargs))


def beat_all(orch, clock, number, state=JobState.active, sources=BANKS, **kwargs):
    for source in sources:
        beat(orch, clock, source, number, state, **kwargs)


def job_status(orch, workflow_id, source, which="current"):
    job_set = getattr(orch.get_workflow_state(workflow_id), which)
    return job_set.jobs[source].status


def internal_sizes(orch) -> dict[str, int]:
    """Every map the orchestrator keeps, by size (white-box, for bounds)."""
    states = orch._states.values()
    return {
        "states": len(orch._states),
        "versions": len(orch._versions),
        "index": len(orch._index),
        "stale": len(orch._index.stale),
        "finished": len(orch._index.finished),
        "stop_retries": len(orch._stop_retries),
        "persisted": len(orch._persistence._persisted),
        "dirty_workflows": len(orch._dirty_workflows),
        "previous_sets": sum(s.previous is not None for s in states),
        "orphan_sets": sum(len(s.orphans) for s in states),
        "jobs_held": sum(
            len(js.jobs)
            for s in states
            for js in (s.current, s.previous, *s.orphans.values())
            if js is not None
        ),
        "staged": sum(len(s.staged_jobs) for s in states),
    }


# --- staging -----------------------------------------------------------------


def test_stage_config_validates_and_fills_defaults(orch, catalogue):
    orch.stage_config(DETECTOR, MANTLE, {"resolution": 256}, actor=OPERATOR)
    staged = orch.get_workflow_state(DETECTOR).staged_jobs
    expected = catalogue[DETECTOR].default_params() | {"resolution": 256}
    assert list(staged) == [MANTLE]
    assert staged[MANTLE].params == expected
    assert staged[MANTLE].aux_source_names == {}
    assert staged[MANTLE].status is None


def test_stage_config_of_unknown_workflow_raises_key_error(orch):
    with pytest.raises(KeyError, match="no_such_workflow"):
        orch.stage_config(UNCATALOGUED, MANTLE, {}, actor=OPERATOR)


def test_stage_config_of_unknown_source_names_the_source(orch):
    with pytest.raises(ParameterError, match="'sans_detector'"):
        orch.stage_config(DETECTOR, "sans_detector", {}, actor=OPERATOR)
    assert orch.get_workflow_state(DETECTOR).staged_jobs == {}


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"resolution": 4}, "resolution"),
        ({"projection": "sphere"}, "projection"),
        ({"colour": "red"}, "colour"),
        ({"window": "long"}, "window"),
    ],
)
def test_stage_config_refuses_bad_values_naming_the_parameter(orch, params, parameter):
    with pytest.raises(ParameterError) as raised:
        orch.stage_config(DETECTOR, MANTLE, params, actor=OPERATOR)
    assert raised.value.parameter == parameter
    assert orch.get_workflow_state(DETECTOR).staged_jobs == {}
    assert orch.workflow_version(DETECTOR) == 0


def test_stage_config_validates_and_defaults_aux_sources(orch):
    orch.stage_config(POWDER, MANTLE, {}, actor=OPERATOR)
    assert orch.get_workflow_state(POWDER).staged_jobs[MANTLE].aux_source_names == {
        "monitor": "monitor_cave"
    }
    orch.stage_config(POWDER, MANTLE, {}, {"monitor": "monitor_bunker"}, actor=OPERATOR)
    assert orch.get_workflow_state(POWDER).staged_jobs[MANTLE].aux_source_names == {
        "monitor": "monitor_bunker"
    }
    with pytest.raises(ParameterError, match="monitor"):
        orch.stage_config(
            POWDER, MANTLE, {}, {"monitor": "mantle_detector"}, actor=OPERATOR
        )


def test_staged_configs_are_kept_in_catalogue_source_order(orch):
    stage(orch, sources=(HIGH_RES, MANTLE, FORWARD))
    assert list(orch.get_workflow_state(DETECTOR).staged_jobs) == [
        MANTLE,
        FORWARD,
        HIGH_RES,
    ]


def test_restaging_a_source_replaces_its_config(orch):
    orch.stage_config(DETECTOR, MANTLE, {"resolution": 256}, actor=OPERATOR)
    orch.stage_config(DETECTOR, MANTLE, {"resolution": 512}, actor=OPERATOR)
    staged = orch.get_workflow_state(DETECTOR).staged_jobs
    assert staged[MANTLE].params["resolution"] == 512


def test_unstage_and_clear_remove_staged_configs(orch):
    stage(orch)
    orch.unstage_config(DETECTOR, BACKWARD, actor=OPERATOR)
    assert list(orch.get_workflow_state(DETECTOR).staged_jobs) == [
        MANTLE,
        FORWARD,
        HIGH_RES,
    ]
    orch.clear_staged_configs(DETECTOR, actor=OPERATOR)
    assert orch.get_workflow_state(DETECTOR).staged_jobs == {}


# --- commit ------------------------------------------------------------------


def test_commit_sends_one_workflow_config_per_staged_source_and_stops_running_jobs(
    orch, sink, clock
):
    first = commit(orch, resolution=256)
    beat_all(orch, clock, first)
    sink.clear()

    orch.unstage_config(DETECTOR, HIGH_RES, actor=OPERATOR)
    second = orch.commit_workflow(DETECTOR, actor=OPERATOR)

    sent = sink.sent
    stops = [c for c in sent if isinstance(c, JobCommand)]
    starts = [c for c in sent if isinstance(c, WorkflowConfigCommand)]
    assert len(sent) == 7
    assert sent[:4] == stops  # the old jobs are stopped before the new start
    assert {c.job_id.to_domain() for c in stops} == {JobId(s, first) for s in BANKS}
    assert all(c.action is JobAction.stop for c in stops)
    assert all(c.workflow_id is None for c in stops)  # one job each, not all
    assert [c.job_id.to_domain() for c in starts] == [
        JobId(s, second) for s in (MANTLE, BACKWARD, FORWARD)
    ]
    assert all(c.identifier == WorkflowIdentifier.from_domain(DETECTOR) for c in starts)
    assert all(c.params["resolution"] == 256 for c in starts)
    assert second != first
    state = orch.get_workflow_state(DETECTOR)
    assert state.current.job_number == second
    assert state.current.committed_at == clock.now_ns()
    assert not state.current.adopted
    assert state.previous.job_number == first
    assert state.previous.stop_requested


def test_commit_sends_aux_source_names_and_a_fresh_uuid4_job_number(orch, sink):
    orch.stage_config(POWDER, MANTLE, {}, {"monitor": "monitor_bunker"}, actor=OPERATOR)
    number = orch.commit_workflow(POWDER, actor=OPERATOR)
    (command,) = sink.sent
    assert number.version == 4
    assert command.aux_source_names == {"monitor": "monitor_bunker"}
    assert command.identifier.namespace == "powder"


def test_commit_with_nothing_staged_raises_and_sends_nothing(orch, sink):
    with pytest.raises(ValueError, match="nothing is staged"):
        orch.commit_workflow(DETECTOR, actor=OPERATOR)
    assert sink.sent == []
    assert orch.get_workflow_state(DETECTOR).current is None


def test_commit_tracks_stops_and_starts_under_the_workflow_title(orch, tracker, clock):
    first = commit(orch)
    beat_all(orch, clock, first)
    orch.commit_workflow(DETECTOR, actor=OPERATOR)
    (verb1, subject1, starts1), (verb2, subject2, stops), (verb3, _, starts2) = (
        tracker.groups
    )
    assert (verb1, subject1, len(starts1)) == ("Started", "Detector view", 4)
    assert (verb2, subject2, len(stops)) == ("Stopped", "Detector view", 4)
    assert (verb3, len(starts2)) == ("Started", 4)


def test_staged_configs_stay_staged_so_commit_and_restart_reuses_them(orch, sink):
    commit(orch, resolution=512)
    staged = orch.get_workflow_state(DETECTOR).staged_jobs
    assert set(staged) == set(BANKS)
    sink.clear()
    orch.commit_workflow(
        DETECTOR, actor=OPERATOR
    )  # "Commit & Restart" with the same config
    starts = [c for c in sink.sent if isinstance(c, WorkflowConfigCommand)]
    assert len(starts) == 4
    assert all(c.params["resolution"] == 512 for c in starts)


def test_commit_sends_no_stop_to_jobs_that_already_stopped(orch, sink, clock):
    first = commit(orch)
    beat_all(orch, clock, first, sources=(MANTLE, BACKWARD))
    beat_all(orch, clock, first, JobState.stopped, sources=(FORWARD, HIGH_RES))
    sink.clear()
    orch.commit_workflow(DETECTOR, actor=OPERATOR)
    stopped = {c.job_id.source_name for c in sink.sent if isinstance(c, JobCommand)}
    assert stopped == {MANTLE, BACKWARD}


def test_commit_over_a_fully_stopped_jobset_drops_it_instead_of_winding_it_down(
    orch, sink, clock
):
    first = commit(orch)
    beat_all(orch, clock, first, JobState.stopped)
    sink.clear()
    orch.commit_workflow(DETECTOR, actor=OPERATOR)
    assert not any(isinstance(c, JobCommand) for c in sink.sent)
    assert orch.get_workflow_state(DETECTOR).previous is None
    assert internal_sizes(orch)["index"] == 4


def test_refused_command_is_reported_to_the_tracker_and_the_rest_still_go(
    make, tracker
):
    sink = RefusingSink(FORWARD)
    orch = make(sink=sink)
    commit(orch)
    assert [c.job_id.source_name for c in sink.sent] == [MANTLE, BACKWARD, HIGH_RES]
    ((command, reason),) = tracker.failed
    assert command.job_id.source_name == FORWARD
    assert reason == "broker unreachable"
    # The refused command was tracked first, so the tracker can count it.
    assert command in tracker.groups[0][2]


def test_commit_of_one_workflow_leaves_the_others_alone(orch, clock):
    detector = commit(orch)
    beat_all(orch, clock, detector)
    commit(orch, MONITORS, ("monitor_cave",))
    assert orch.get_workflow_state(DETECTOR).current.job_number == detector
    assert orch.get_workflow_state(DETECTOR).previous is None
    assert orch.get_workflow_status(DETECTOR).aggregate is A.ACTIVE


# --- matching heartbeats -----------------------------------------------------


def test_heartbeat_updates_the_matching_job_and_records_its_receipt_time(orch, clock):
    number = commit(orch)
    clock.advance(1)
    beat(orch, clock, MANTLE, number, warning="slow")
    state = orch.get_workflow_state(DETECTOR)
    mantle = state.current.jobs[MANTLE]
    assert mantle.status.warning_message == "slow"
    assert mantle.last_seen == clock.now_ns()
    assert all(state.current.jobs[s].status is None for s in BANKS[1:])


def test_late_heartbeat_from_previous_job_does_not_overwrite_current(orch, clock):
    first = commit(orch)
    beat_all(orch, clock, first)
    clock.advance(1)
    second = orch.commit_workflow(DETECTOR, actor=OPERATOR)
    beat(orch, clock, MANTLE, second, JobState.scheduled)
    clock.advance(1)

    # Same source, previous job number, newer timestamp: must go to `previous`.
    beat(orch, clock, MANTLE, first, JobState.error, error="late and loud")

    state = orch.get_workflow_state(DETECTOR)
    assert state.current.jobs[MANTLE].status.job_id == JobId(MANTLE, second)
    assert state.current.jobs[MANTLE].status.state is JobState.scheduled
    assert state.previous.jobs[MANTLE].status.state is JobState.error
    assert orch.get_workflow_status(DETECTOR).aggregate is A.PENDING


def test_older_status_never_overwrites_newer(orch, clock):
    number = commit(orch)
    t = clock.now_ns()
    orch.status_updated(status(MANTLE, number, JobState.active, timestamp=t + 2))
    orch.status_updated(status(MANTLE, number, JobState.scheduled, timestamp=t + 1))
    assert job_status(orch, DETECTOR, MANTLE).state is JobState.active
    assert orch.counters()["out_of_order"] == 1
    # An equal timestamp is not older: it applies.
    orch.status_updated(status(MANTLE, number, JobState.warning, timestamp=t + 2))
    assert job_status(orch, DETECTOR, MANTLE).state is JobState.warning


def test_older_stopped_status_of_a_previous_job_does_not_drop_it(orch, clock):
    first = commit(orch, sources=(MANTLE,))
    t = clock.now_ns()
    orch.status_updated(status(MANTLE, first, timestamp=t + 10))
    orch.commit_workflow(DETECTOR, actor=OPERATOR)
    orch.status_updated(status(MANTLE, first, JobState.stopped, timestamp=t + 5))
    assert orch.get_workflow_state(DETECTOR).previous is not None


def test_heartbeat_of_a_workflow_outside_the_catalogue_is_ignored_and_counted(
    orch, clock
):
    version = orch.version
    beat(orch, clock, MANTLE, uuid.uuid4(), workflow_id=UNCATALOGUED)
    assert orch.counters()["unknown_workflow"] == 1
    assert orch.version == version
    assert internal_sizes(orch)["index"] == 0


def test_previous_jobset_kept_until_its_jobs_stop_then_dropped(orch, clock):
    first = commit(orch)
    beat_all(orch, clock, first)
    second = orch.commit_workflow(DETECTOR, actor=OPERATOR)
    beat_all(orch, clock, second)

    snapshot = orch.snapshot(DETECTOR)
    assert snapshot.previous.job_number == first
    assert snapshot.previous.aggregate.aggregate is A.STOPPING
    for source in BANKS[:3]:
        beat(orch, clock, source, first, JobState.stopped)
        previous = orch.snapshot(DETECTOR).previous
        assert previous is not None  # still winding down
    assert previous.aggregate.label == "STOPPING 1/4"

    beat(orch, clock, HIGH_RES, first, JobState.stopped)

    assert orch.get_workflow_state(DETECTOR).previous is None
    assert orch.snapshot(DETECTOR).previous is None
    assert not any(job_id.job_number == first for job_id in orch._index.entries)
    assert orch.get_workflow_status(DETECTOR).aggregate is A.ACTIVE


def test_previous_jobset_dropped_by_tick_once_its_remaining_jobs_go_stale(make, clock):
    orch = make(stale_after=6.0)
    first = commit(orch)
    beat_all(orch, clock, first)
    second = orch.commit_workflow(DETECTOR, actor=OPERATOR)
    beat_all(orch, clock, first, JobState.stopped, sources=BANKS[:3])
    clock.advance(5)
    beat_all(orch, clock, second)
    orch.tick()
    assert orch.get_workflow_state(DETECTOR).previous is not None
    clock.advance(2)  # high_resolution_detector of `first` silent for 7 s
    assert orch.is_job_stale(JobId(HIGH_RES, first))
    orch.tick()
    assert orch.get_workflow_state(DETECTOR).previous is None
    assert internal_sizes(orch)["index"] == 4


def test_previous_jobs_that_never_reported_get_stale_after_to_report(make, clock):
    orch = make(stale_after=6.0)
    first = commit(orch)
    orch.commit_workflow(DETECTOR, actor=OPERATOR)
    clock.advance(3)
    beat(orch, clock, MANTLE, first)  # a late starter is still followed
    orch.tick()
    assert orch.get_workflow_state(DETECTOR).previous.jobs[MANTLE].status is not None
    clock.advance(3.5)  # the silent three had their 6 s; mantle is heard 3.5 s ago
    orch.tick()
    assert orch.get_workflow_state(DETECTOR).previous is not None
    beat(orch, clock, MANTLE, first, JobState.stopped)
    assert orch.get_workflow_state(DETECTOR).previous is None


def test_recommit_while_previous_winds_down_keeps_its_live_jobs_as_orphans(
    orch, clock, sink
):
    first = commit(orch)
    beat_all(orch, clock, first, sources=(MANTLE, BACKWARD))
    beat(orch, clock, FORWARD, first, JobState.stopped)  # HIGH_RES never reported
    second = orch.commit_workflow(DETECTOR, actor=OPERATOR)
    sink.clear()
    third = orch.commit_workflow(DETECTOR, actor=OPERATOR)

    state = orch.get_workflow_state(DETECTOR)
    assert state.current.job_number == third
    assert state.previous.job_number == second
    assert list(state.orphans) == [first]
    assert list(state.orphans[first].jobs) == [MANTLE, BACKWARD]
    assert state.orphans[first].stop_requested
    assert orch.snapshot(DETECTOR).orphans == (
        JobId(MANTLE, first),
        JobId(BACKWARD, first),
    )
    # They were already told to stop when `second` was committed.
    stopped = {c.job_id.to_domain() for c in sink.sent if isinstance(c, JobCommand)}
    assert stopped == {JobId(s, second) for s in BANKS}
    # Their heartbeats still land on them; a stop removes them.
    beat(orch, clock, MANTLE, first, JobState.stopped)
    beat(orch, clock, BACKWARD, first, JobState.stopped)
    assert orch.get_workflow_state(DETECTOR).orphans == {}
    assert internal_sizes(orch)["index"] == 8


# --- adoption ----------------------------------------------------------------


def test_unknown_job_of_a_known_workflow_is_adopted_with_config_unknown(orch, clock):
    number = uuid.uuid4()
    beat(orch, clock, MANTLE, number, start=clock.now_ns())
    state = orch.get_workflow_state(DETECTOR)
    assert state.current.job_number == number
    assert state.current.adopted
    assert state.current.committed_at is None
    job = state.current.jobs[MANTLE]
    assert not job.config_known
    assert job.params == {}
    assert job.status.state is JobState.active
    snapshot = orch.snapshot(DETECTOR)
    assert snapshot.aggregate.label == "ACTIVE 1/1"
    assert not snapshot.current.job(MANTLE).config_known
    assert orch.counters()["adopted_sets"] == 1


def test_other_sources_of_an_adopted_job_number_join_its_jobset(orch, clock):
    number = uuid.uuid4()
    beat(orch, clock, HIGH_RES, number)
    beat(orch, clock, MANTLE, number)
    beat(orch, clock, "a_source_the_catalogue_lacks", number)
    state = orch.get_workflow_state(DETECTOR)
    assert list(state.current.jobs) == [
        MANTLE,
        HIGH_RES,
        "a_source_the_catalogue_lacks",
    ]
    assert state.orphans == {}
    assert orch.counters()["adopted_sets"] == 1


def test_adopted_jobset_stops_growing_at_its_capacity(orch, clock):
    number = uuid.uuid4()
    for i in range(MAX_JOBS_PER_SET + 5):
        beat(orch, clock, f"source_{i:04d}", number)
    assert len(orch.get_workflow_state(DETECTOR).current.jobs) == MAX_JOBS_PER_SET
    assert orch.counters()["over_capacity"] == 5


def test_adoption_picks_the_latest_start_time(orch, clock):
    t = clock.now_ns()
    older, newest, middle = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    beat(orch, clock, MANTLE, older, start=t - 30 * SECOND)
    assert orch.get_workflow_state(DETECTOR).current.job_number == older
    beat(orch, clock, MANTLE, newest, start=t - 10 * SECOND)
    beat(orch, clock, MANTLE, middle, start=t - 20 * SECOND)

    state = orch.get_workflow_state(DETECTOR)
    assert state.current.job_number == newest
    assert set(state.orphans) == {older, middle}
    assert set(orch.snapshot(DETECTOR).orphans) == {
        JobId(MANTLE, older),
        JobId(MANTLE, middle),
    }
    # Every one of them stays matched by its full id.
    beat(orch, clock, MANTLE, older, JobState.warning)
    assert orch.get_workflow_state(DETECTOR).orphans[older].jobs[
        MANTLE
    ].status.state is (JobState.warning)
    assert orch.get_workflow_status(DETECTOR).aggregate is A.ACTIVE


def test_unknown_job_while_a_committed_jobset_runs_is_an_orphan(orch, clock):
    number = commit(orch)
    beat_all(orch, clock, number)
    stranger = uuid.uuid4()
    beat(orch, clock, MANTLE, stranger, start=clock.now_ns() + SECOND)
    state = orch.get_workflow_state(DETECTOR)
    assert state.current.job_number == number
    assert list(state.orphans) == [stranger]
    snapshot = orch.snapshot(DETECTOR)
    assert snapshot.orphans == (JobId(MANTLE, stranger),)
    assert snapshot.orphan_jobs[0].status.state is JobState.active


def test_unknown_running_job_replaces_a_fully_stopped_current(orch, clock):
    number = commit(orch)
    beat_all(orch, clock, number, JobState.stopped)
    stranger = uuid.uuid4()
    beat(orch, clock, MANTLE, stranger)
    state = orch.get_workflow_state(DETECTOR)
    assert state.current.job_number == stranger
    assert state.orphans == {}
    assert internal_sizes(orch)["index"] == 1


def test_stopped_heartbeat_of_an_untracked_job_is_not_adopted(orch, clock):
    beat(orch, clock, MANTLE, uuid.uuid4(), JobState.stopped)
    assert orch.get_workflow_state(DETECTOR).current is None
    assert orch.counters()["stopped_unknown_job"] == 1
    assert internal_sizes(orch)["index"] == 0


def test_stopped_heartbeat_removes_an_orphan(orch, clock):
    commit(orch)
    stranger = uuid.uuid4()
    beat(orch, clock, MANTLE, stranger)
    beat(orch, clock, BACKWARD, stranger)
    beat(orch, clock, MANTLE, stranger, JobState.stopped)
    assert list(orch.get_workflow_state(DETECTOR).orphans[stranger].jobs) == [BACKWARD]
    beat(orch, clock, BACKWARD, stranger, JobState.stopped)
    assert orch.get_workflow_state(DETECTOR).orphans == {}
    assert orch.snapshot(DETECTOR).orphans == ()
    assert internal_sizes(orch)["index"] == 4


def test_heartbeat_overtaken_by_its_stopped_one_does_not_resurrect_the_job(orch, clock):
    commit(orch)
    stranger = uuid.uuid4()
    t = clock.now_ns()
    orch.status_updated(status(MANTLE, stranger, timestamp=t))
    orch.status_updated(status(MANTLE, stranger, JobState.stopped, timestamp=t + 2))
    orch.status_updated(status(MANTLE, stranger, timestamp=t + 1))  # in flight
    assert orch.get_workflow_state(DETECTOR).orphans == {}
    assert orch.counters()["late_after_stop"] == 1


def test_stop_job_stops_an_orphan(orch, clock, sink, tracker):
    commit(orch)
    stranger = uuid.uuid4()
    beat(orch, clock, MANTLE, stranger)
    sink.clear()
    orch.stop_job(JobId(MANTLE, stranger), actor=OPERATOR)
    (command,) = sink.sent
    assert command.job_id.to_domain() == JobId(MANTLE, stranger)
    assert command.action is JobAction.stop
    assert tracker.groups[-1][:2] == ("Stopped", "Detector view")
    assert orch.get_workflow_state(DETECTOR).orphans[stranger].stop_requested


def test_stop_job_of_an_untracked_job_raises_and_sends_nothing(orch, sink):
    with pytest.raises(KeyError):
        orch.stop_job(JobId(MANTLE, uuid.uuid4()), actor=OPERATOR)
    assert sink.sent == []


def test_orphans_silent_for_forget_after_are_pruned(make, clock):
    orch = make(stale_after=6.0, forget_after=30.0)
    commit(orch)
    stranger = uuid.uuid4()
    beat(orch, clock, MANTLE, stranger)
    clock.advance(7)
    orch.tick()
    assert orch.snapshot(DETECTOR).orphan_jobs[0].stale
    clock.advance(24)
    orch.tick()
    assert orch.get_workflow_state(DETECTOR).orphans == {}
    assert internal_sizes(orch)["index"] == 4
    # Should it come back, it is adopted again.
    beat(orch, clock, MANTLE, stranger)
    assert list(orch.get_workflow_state(DETECTOR).orphans) == [stranger]


def test_orphan_jobsets_are_capped_per_workflow(orch, clock):
    commit(orch)
    strangers = []
    for _ in range(MAX_ORPHAN_SETS + 3):
        strangers.append(uuid.uuid4())
        clock.advance(0.01)
        beat(orch, clock, MANTLE, strangers[-1])
    orphans = orch.get_workflow_state(DETECTOR).orphans
    assert len(orphans) == MAX_ORPHAN_SETS
    assert set(orphans) == set(strangers[3:])  # the least recently heard went
    assert internal_sizes(orch)["index"] == 4 + MAX_ORPHAN_SETS


# --- stop and reset ------------------------------------------------------------


def test_stop_marks_stopping_until_all_jobs_report_stopped(orch, clock, sink, tracker):
    number = commit(orch)
    beat_all(orch, clock, number)
    sink.clear()

    assert orch.stop_workflow(DETECTOR, actor=OPERATOR) == 4

    assert {c.job_id.to_domain() for c in sink.sent} == {
        JobId(s, number) for s in BANKS
    }
    assert all(c.action is JobAction.stop for c in sink.sent)
    assert tracker.groups[-1][:2] == ("Stopped", "Detector view")
    assert orch.get_workflow_status(DETECTOR).label == "STOPPING 4/4"
    for i, source in enumerate(BANKS[:3], start=1):
        beat(orch, clock, source, number, JobState.stopped)
        assert orch.get_workflow_status(DETECTOR).label == f"STOPPING {4 - i}/4"
    beat(orch, clock, HIGH_RES, number, JobState.stopped)
    assert orch.get_workflow_status(DETECTOR).label == "STOPPED 4/4"
    # The stopped JobSet stays current (the card shows what ran) until the next commit.
    assert orch.get_workflow_state(DETECTOR).current.job_number == number


def test_stop_workflow_also_stops_orphans(orch, clock, sink):
    number = commit(orch)
    beat_all(orch, clock, number)
    stranger = uuid.uuid4()
    beat(orch, clock, MANTLE, stranger)
    sink.clear()
    assert orch.stop_workflow(DETECTOR, actor=OPERATOR) == 5
    assert JobId(MANTLE, stranger) in {c.job_id.to_domain() for c in sink.sent}


def test_stop_workflow_skips_stopped_jobs_and_sends_nothing_without_jobs(
    orch, clock, sink
):
    assert orch.stop_workflow(DETECTOR, actor=OPERATOR) == 0
    assert sink.sent == []
    number = commit(orch)
    beat(orch, clock, MANTLE, number, JobState.stopped)
    sink.clear()
    assert orch.stop_workflow(DETECTOR, actor=OPERATOR) == 3
    assert MANTLE not in {c.job_id.source_name for c in sink.sent}


def test_reset_sends_a_reset_to_every_current_job_not_stopped(
    orch, clock, sink, tracker
):
    assert orch.reset_workflow(DETECTOR, actor=OPERATOR) == 0
    number = commit(orch)
    beat(orch, clock, MANTLE, number, JobState.stopped)
    sink.clear()
    assert orch.reset_workflow(DETECTOR, actor=OPERATOR) == 3
    assert {c.job_id.to_domain() for c in sink.sent} == {
        JobId(s, number) for s in BANKS[1:]
    }
    assert all(c.action is JobAction.reset for c in sink.sent)
    assert tracker.groups[-1][:2] == ("Reset", "Detector view")


# --- staleness ---------------------------------------------------------------


def test_job_goes_stale_after_stale_after_without_heartbeat(make, clock):
    orch = make(stale_after=6.0)
    number = commit(orch)
    job = JobId(MANTLE, number)
    assert not orch.is_job_stale(job)  # never heard from: pending, not stale
    beat(orch, clock, MANTLE, number)
    clock.advance(6)
    assert not orch.is_job_stale(job)  # exactly at the threshold
    clock.advance(0.001)
    assert orch.is_job_stale(job)
    beat(orch, clock, MANTLE, number)
    assert not orch.is_job_stale(job)


def test_stopped_job_is_never_stale(orch, clock):
    number = commit(orch)
    beat(orch, clock, MANTLE, number, JobState.stopped)
    clock.advance(3600)
    assert not orch.is_job_stale(JobId(MANTLE, number))


def test_untracked_job_is_not_stale(orch):
    assert not orch.is_job_stale(JobId(MANTLE, uuid.uuid4()))


def test_workflow_is_stale_while_a_current_job_is_stale(make, clock):
    orch = make(stale_after=6.0)
    number = commit(orch)
    beat_all(orch, clock, number)
    clock.advance(4)
    beat_all(orch, clock, number, sources=BANKS[1:])
    clock.advance(4)  # mantle silent for 8 s, the others for 4 s
    assert orch.get_workflow_status(DETECTOR).label == "STALE 1/4"
    snapshot = orch.snapshot(DETECTOR)
    assert [job.stale for job in snapshot.current.jobs] == [True, False, False, False]
    beat(orch, clock, MANTLE, number)
    assert orch.get_workflow_status(DETECTOR).label == "ACTIVE 4/4"


def test_tick_bumps_only_the_workflows_whose_stale_set_changed(make, clock):
    orch = make(stale_after=6.0)
    detector = commit(orch)
    monitors = commit(orch, MONITORS, ("monitor_cave",))
    beat_all(orch, clock, detector)
    clock.advance(5)
    beat(orch, clock, "monitor_cave", monitors, workflow_id=MONITORS)
    orch.tick()
    before = (
        orch.version,
        orch.workflow_version(DETECTOR),
        orch.workflow_version(MONITORS),
    )

    clock.advance(2)  # detector jobs silent 7 s, the monitor 2 s
    orch.tick()
    assert orch.version == before[0] + 1
    assert orch.workflow_version(DETECTOR) == before[1] + 1
    assert orch.workflow_version(MONITORS) == before[2]

    orch.tick()  # nothing flipped
    assert orch.version == before[0] + 1

    beat(orch, clock, MANTLE, detector)  # comes back: visible at once
    assert orch.workflow_version(DETECTOR) == before[1] + 2


# --- aggregate rules through real heartbeats ------------------------------------


def _scenario_error(orch, clock, number):
    beat_all(orch, clock, number)
    beat(orch, clock, FORWARD, number, JobState.error, error="out of memory")


def _scenario_stale(orch, clock, number):
    beat_all(orch, clock, number)
    clock.advance(4)
    beat_all(orch, clock, number, sources=BANKS[2:], warning="slow")
    clock.advance(4)


def _scenario_warning_state(orch, clock, number):
    beat_all(orch, clock, number)
    beat(orch, clock, MANTLE, number, JobState.warning)


def _scenario_warning_message(orch, clock, number):
    beat_all(orch, clock, number)
    beat(orch, clock, MANTLE, number, warning="falling behind")
    beat(orch, clock, BACKWARD, number, JobState.scheduled)


def _scenario_not_heard(orch, clock, number):
    beat_all(orch, clock, number, sources=BANKS[:3])


def _scenario_scheduled(orch, clock, number):
    beat_all(orch, clock, number)
    beat(orch, clock, MANTLE, number, JobState.scheduled)
    beat(orch, clock, BACKWARD, number, JobState.pending_context)


def _scenario_stopping(orch, clock, number):
    beat_all(orch, clock, number)
    orch.stop_workflow(DETECTOR, actor=OPERATOR)
    beat(orch, clock, MANTLE, number, JobState.stopped)


def _scenario_active(orch, clock, number):
    beat_all(orch, clock, number)
    beat(orch, clock, HIGH_RES, number, JobState.finishing)


def _scenario_all_stopped(orch, clock, number):
    beat_all(orch, clock, number, JobState.stopped)


def _scenario_paused(orch, clock, number):
    beat_all(orch, clock, number)
    beat(orch, clock, MANTLE, number, JobState.paused)


def _scenario_unknown_state(orch, clock, number):
    beat_all(orch, clock, number)
    beat(orch, clock, MANTLE, number, JobState.unknown)


@pytest.mark.parametrize(
    ("scenario", "label"),
    [
        (_scenario_error, "ERROR 1/4"),
        (_scenario_stale, "STALE 2/4"),
        (_scenario_warning_state, "WARNING 1/4"),
        (_scenario_warning_message, "WARNING 1/4"),
        (_scenario_not_heard, "PENDING 1/4"),
        (_scenario_scheduled, "PENDING 2/4"),
        (_scenario_stopping, "STOPPING 3/4"),
        (_scenario_active, "ACTIVE 4/4"),
        (_scenario_all_stopped, "STOPPED 4/4"),
        (_scenario_paused, "PAUSED 1/4"),
        (_scenario_unknown_state, "UNKNOWN 1/4"),
    ],
    ids=lambda value: getattr(value, "__name__", value),
)
def test_aggregate_through_heartbeats(make, clock, scenario, label):
    orch = make(stale_after=6.0)
    number = commit(orch)
    scenario(orch, clock, number)
    assert orch.get_workflow_status(DETECTOR).label == label
    assert orch.snapshot(DETECTOR).aggregate.label == label


def test_workflow_without_a_jobset_is_stopped(orch):
    assert orch.get_workflow_status(DETECTOR).label == "STOPPED"
    assert orch.snapshot(DETECTOR).aggregate.aggregate is A.STOPPED


# --- persistence ---------------------------------------------------------------


def test_staged_configs_and_current_job_number_survive_a_restart_but_status_does_not(
    make, clock, tmp_path
):
    path = tmp_path / "dream.json"
    orch = make(config_store=ConfigStore(path, clock=clock))
    number = commit(orch, resolution=512)
    orch.stage_config(
        POWDER,
        MANTLE,
        {"dspacing_bins": 300},
        {"monitor": "monitor_bunker"},
        actor=OPERATOR,
    )
    orch.stage_config(
        DETECTOR, MANTLE, {"resolution": 64}, actor=OPERATOR
    )  # staged ≠ running now
    beat_all(orch, clock, number, JobState.error, error="boom")

    again = make(config_store=ConfigStore(path, clock=clock))

    detector = again.get_workflow_state(DETECTOR)
    assert detector.staged_jobs[MANTLE].params["resolution"] == 64
    assert detector.staged_jobs[BACKWARD].params["resolution"] == 512
    powder = again.get_workflow_state(POWDER).staged_jobs[MANTLE]
    assert powder.params["dspacing_bins"] == 300
    assert powder.aux_source_names == {"monitor": "monitor_bunker"}
    assert detector.current is None  # status is not persisted: it must come back
    assert again.get_workflow_status(DETECTOR).label == "STOPPED"
    assert again._persistence._persisted[str(DETECTOR)].current.job_number == number
    assert again.warnings == []


def test_restart_adopts_running_jobs_with_their_persisted_config(make, clock, tmp_path):
    path = tmp_path / "dream.json"
    number = commit(make(config_store=ConfigStore(path, clock=clock)), resolution=512)

    again = make(config_store=ConfigStore(path, clock=clock))
    beat(again, clock, BACKWARD, number)

    current = again.get_workflow_state(DETECTOR).current
    assert current.job_number == number
    assert current.adopted
    assert list(current.jobs) == list(BANKS)  # the whole persisted JobSet
    assert all(job.config_known for job in current.jobs.values())
    assert current.jobs[MANTLE].params["resolution"] == 512
    assert again.get_workflow_status(DETECTOR).label == "PENDING 3/4"
    beat_all(again, clock, number)
    assert again.get_workflow_status(DETECTOR).label == "ACTIVE 4/4"
    # A stranger started later does not displace our own jobs.
    beat(again, clock, MANTLE, uuid.uuid4(), start=clock.now_ns())
    assert again.get_workflow_state(DETECTOR).current.job_number == number


def test_restart_prefers_its_own_job_number_over_a_stranger_adopted_first(
    make, clock, tmp_path
):
    path = tmp_path / "dream.json"
    number = commit(make(config_store=ConfigStore(path, clock=clock)))
    again = make(config_store=ConfigStore(path, clock=clock))
    stranger = uuid.uuid4()
    beat(again, clock, MANTLE, stranger, start=clock.now_ns())
    beat(again, clock, MANTLE, number, start=clock.now_ns() - SECOND)
    state = again.get_workflow_state(DETECTOR)
    assert state.current.job_number == number
    assert list(state.orphans) == [stranger]


def test_restart_adopts_other_job_numbers_with_config_unknown(make, clock, tmp_path):
    path = tmp_path / "dream.json"
    commit(make(config_store=ConfigStore(path, clock=clock)))
    again = make(config_store=ConfigStore(path, clock=clock))
    stranger = uuid.uuid4()
    beat(again, clock, MANTLE, stranger)
    current = again.get_workflow_state(DETECTOR).current
    assert current.job_number == stranger
    assert not current.jobs[MANTLE].config_known


def test_corrupt_config_file_is_set_aside_and_the_orchestrator_starts_empty(
    make, clock, tmp_path
):
    path = tmp_path / "dream.json"
    path.write_text('{"version": 1, "workflows": {"dream/detector_view/1": [', "utf-8")
    orch = make(config_store=ConfigStore(path, clock=clock))
    assert orch.get_workflow_state(DETECTOR).staged_jobs == {}
    (warning,) = orch.warnings
    assert "corrupt" in warning
    assert path.with_name("dream.json.corrupt-20251129T000000Z").exists()
    stage(orch)  # and it saves a fresh file
    assert ConfigStore(path).load().workflows[str(DETECTOR)].staged.keys() == set(BANKS)


def test_saved_configs_the_catalogue_refuses_now_are_dropped_with_a_warning(
    make, clock, tmp_path
):
    path = tmp_path / "dream.json"
    ConfigStore(path).save(
        PersistedState(
            workflows={
                str(DETECTOR): PersistedWorkflow(
                    staged={
                        MANTLE: PersistedJobConfig(params={"resolution": 2}),
                        BACKWARD: PersistedJobConfig(params={"resolution": 32}),
                        "retired_detector": PersistedJobConfig(),
                    }
                ),
                "dream/an_old_workflow/1": PersistedWorkflow(
                    staged={MANTLE: PersistedJobConfig(params={"x": 1})}
                ),
            }
        )
    )
    orch = make(config_store=ConfigStore(path, clock=clock))
    assert list(orch.get_workflow_state(DETECTOR).staged_jobs) == [BACKWARD]
    assert len(orch.warnings) == 2
    assert any("resolution" in w for w in orch.warnings)
    assert any("retired_detector" in w for w in orch.warnings)
    # Workflows outside this catalogue are carried through, untouched.
    orch.stage_config(DETECTOR, MANTLE, {}, actor=OPERATOR)
    saved = ConfigStore(path).load().workflows
    assert saved["dream/an_old_workflow/1"].staged[MANTLE].params == {"x": 1}
    assert set(saved[str(DETECTOR)].staged) == {MANTLE, BACKWARD}


def test_nothing_is_written_without_a_change(make, clock, tmp_path):
    path = tmp_path / "dream.json"
    make(config_store=ConfigStore(path, clock=clock))
    assert not path.exists()


# --- read-only -----------------------------------------------------------------


def test_read_only_refuses_every_action_and_sends_nothing(make, clock, sink, tmp_path):
    path = tmp_path / "dream.json"
    writable = make(config_store=ConfigStore(path, clock=clock))
    number = commit(writable)
    saved = path.read_bytes()
    sink.clear()

    orch = make(
        config_store=ConfigStore(path, clock=clock),
        policy=AccessPolicy(read_only=True),
    )
    beat_all(orch, clock, number)  # viewing still works, adoption included
    version = orch.version
    actions = [
        lambda: orch.stage_config(DETECTOR, MANTLE, {}, actor=OPERATOR),
        lambda: orch.unstage_config(DETECTOR, MANTLE, actor=OPERATOR),
        lambda: orch.clear_staged_configs(DETECTOR, actor=OPERATOR),
        lambda: orch.commit_workflow(DETECTOR, actor=OPERATOR),
        lambda: orch.stop_workflow(DETECTOR, actor=OPERATOR),
        lambda: orch.reset_workflow(DETECTOR, actor=OPERATOR),
        lambda: orch.stop_job(JobId(MANTLE, number), actor=OPERATOR),
    ]
    for action in actions:
        with pytest.raises(ReadOnlyError, match="read-only"):
            action()
    assert sink.sent == []
    assert path.read_bytes() == saved
    assert orch.version == version
    assert orch.get_workflow_status(DETECTOR).label == "ACTIVE 4/4"


# --- versions ------------------------------------------------------------------


def test_an_action_bumps_the_touched_workflow_and_the_global_version_only(orch):
    assert orch.version == 0
    orch.stage_config(DETECTOR, MANTLE, {}, actor=OPERATOR)
    assert orch.version == 1
    assert orch.workflow_version(DETECTOR) == 1
    assert all(
        orch.workflow_version(w) == 0 for w in orch.workflow_ids if w != DETECTOR
    )
    assert dict(orch.workflow_versions) == {
        w: orch.workflow_version(w) for w in orch.workflow_ids
    }


def test_heartbeat_bumps_only_its_own_workflow(orch, clock):
    detector = commit(orch)
    monitors = commit(orch, MONITORS, ("monitor_cave",))
    before = dict(orch.workflow_versions)
    beat(orch, clock, "monitor_cave", monitors, workflow_id=MONITORS)
    assert orch.workflow_version(MONITORS) == before[MONITORS] + 1
    assert orch.workflow_version(DETECTOR) == before[DETECTOR]
    beat(orch, clock, MANTLE, detector)
    assert orch.workflow_version(DETECTOR) == before[DETECTOR] + 1


def test_batch_bumps_once_at_the_outermost_exit(orch, clock):
    number = commit(orch)
    commit(orch, MONITORS, ("monitor_cave",))
    version, detector = orch.version, orch.workflow_version(DETECTOR)
    monitors = orch.workflow_version(MONITORS)
    with orch.batch_updates():
        beat_all(orch, clock, number)
        with orch.batch_updates():
            beat(orch, clock, MANTLE, number, JobState.warning)
        assert (orch.version, orch.workflow_version(DETECTOR)) == (version, detector)
        beat(orch, clock, BACKWARD, number, JobState.error)
    assert orch.version == version + 1
    assert orch.workflow_version(DETECTOR) == detector + 1
    assert orch.workflow_version(MONITORS) == monitors


def test_batch_without_changes_bumps_nothing(orch):
    with orch.batch_updates():
        pass
    assert orch.version == 0


def test_repeated_heartbeat_with_nothing_new_does_not_bump(orch, clock):
    number = commit(orch)
    beat(orch, clock, MANTLE, number)
    version = orch.version
    clock.advance(2)
    beat(orch, clock, MANTLE, number)  # later receipt time, same content
    assert orch.version == version
    assert orch.get_workflow_state(DETECTOR).current.jobs[MANTLE].last_seen == (
        clock.now_ns()
    )
    beat(orch, clock, MANTLE, number, warning="now slow")
    assert orch.version == version + 1


def test_snapshot_carries_the_workflow_version(orch, clock):
    number = commit(orch)
    beat(orch, clock, MANTLE, number)
    assert orch.snapshot(DETECTOR).version == orch.workflow_version(DETECTOR)


# --- readers -------------------------------------------------------------------


def test_get_workflow_state_returns_a_deep_copy(orch, clock):
    number = commit(orch)
    beat(orch, clock, MANTLE, number)
    copy = orch.get_workflow_state(DETECTOR)
    copy.current.jobs[MANTLE].params["resolution"] = 1
    copy.current.jobs.clear()
    copy.staged_jobs.clear()
    fresh = orch.get_workflow_state(DETECTOR)
    assert len(fresh.current.jobs) == 4
    assert fresh.current.jobs[MANTLE].params["resolution"] == 128
    assert len(fresh.staged_jobs) == 4


def test_snapshot_does_not_change_when_the_model_moves_on(orch, clock):
    number = commit(orch)
    snapshot = orch.snapshot(DETECTOR)
    beat_all(orch, clock, number)
    orch.stage_config(DETECTOR, MANTLE, {"resolution": 1024}, actor=OPERATOR)
    orch.commit_workflow(DETECTOR, actor=OPERATOR)
    assert snapshot.current.job_number == number
    assert snapshot.current.job(MANTLE).status is None
    assert snapshot.staged[MANTLE].params["resolution"] == 128
    assert snapshot.previous is None


def test_snapshots_cover_every_workflow_in_catalogue_order(orch, catalogue):
    snapshots = orch.snapshots()
    assert [s.workflow_id for s in snapshots] == catalogue.workflow_ids
    assert [s.title for s in snapshots] == [spec.title for spec in catalogue.workflows]


def test_snapshot_marks_staged_differences_from_what_runs(orch, clock):
    commit(orch)
    assert orch.snapshot(DETECTOR).staged_differences() == frozenset()
    orch.stage_config(DETECTOR, MANTLE, {"resolution": 1024}, actor=OPERATOR)
    orch.unstage_config(DETECTOR, HIGH_RES, actor=OPERATOR)
    assert orch.snapshot(DETECTOR).staged_differences() == {MANTLE, HIGH_RES}


def test_spec_and_workflow_ids_come_from_the_catalogue(orch, catalogue):
    assert orch.workflow_ids == catalogue.workflow_ids
    assert orch.get_spec(DETECTOR).title == "Detector view"
    with pytest.raises(KeyError):
        orch.get_spec(UNCATALOGUED)


def test_constructor_refuses_nonsense_durations(make):
    with pytest.raises(ValueError, match="stale_after"):
        make(stale_after=0)
    with pytest.raises(ValueError, match="forget_after"):
        make(stale_after=6, forget_after=5)


# --- bounds ----------------------------------------------------------------------


def _assert_bounded(orch, *, held_jobs):
    sizes = internal_sizes(orch)
    workflows = len(orch.workflow_ids)
    assert sizes["states"] == sizes["versions"] == workflows
    assert sizes["persisted"] <= workflows
    assert sizes["dirty_workflows"] == 0
    assert sizes["index"] == sizes["jobs_held"] <= held_jobs
    assert sizes["stale"] <= sizes["index"]
    assert sizes["stop_retries"] <= sizes["index"]
    assert sizes["previous_sets"] <= workflows
    assert sizes["finished"] <= FINISHED_CAPACITY
    return sizes


def test_maps_stay_bounded_over_1000_recommits(make, clock):
    orch = make(stale_after=6.0, forget_after=12.0)
    number = commit(orch)
    most = dict.fromkeys(internal_sizes(orch), 0)
    for i in range(1000):
        clock.advance(1)
        beat_all(orch, clock, number)
        previous = orch.get_workflow_state(DETECTOR).previous
        if previous is not None and i % 3:
            # Most old jobs stop as asked; every third JobSet ignores the stop
            # and falls silent: an orphan until forgotten 12 s later.
            beat_all(orch, clock, previous.job_number, JobState.stopped)
        number = orch.commit_workflow(DETECTOR, actor=OPERATOR)
        orch.tick()
        sizes = _assert_bounded(orch, held_jobs=4 + 4 + 4 * 5)
        most = {key: max(most[key], value) for key, value in sizes.items()}
    assert most["orphan_sets"] == 4  # one per 3 s, forgotten 12 s after falling silent
    assert most["finished"] <= 4 * 12  # stopped ids are remembered 12 s
    clock.advance(13)
    orch.tick()
    sizes = _assert_bounded(orch, held_jobs=8)
    assert sizes["orphan_sets"] == 0
    assert sizes["previous_sets"] == 0  # the last previous never reported: dropped
    assert sizes["finished"] == 0


def test_maps_stay_bounded_over_1000_recommits_without_time_or_heartbeats(orch):
    stage(orch)
    for _ in range(1000):
        orch.commit_workflow(DETECTOR, actor=OPERATOR)
    sizes = _assert_bounded(orch, held_jobs=8)
    assert sizes["orphan_sets"] == 0


def test_maps_stay_bounded_when_no_job_ever_stops(orch, clock):
    stage(orch)
    for _ in range(1000):
        number = orch.commit_workflow(DETECTOR, actor=OPERATOR)
        beat_all(orch, clock, number)
    sizes = _assert_bounded(orch, held_jobs=4 * (2 + MAX_ORPHAN_SETS))
    assert sizes["orphan_sets"] == MAX_ORPHAN_SETS


# --- threads -------------------------------------------------------------------


def test_readers_on_other_threads_see_consistent_snapshots_while_heartbeats_arrive(
    orch, clock
):
    numbers = [commit(orch)]
    errors: list[BaseException] = []
    done = threading.Event()

    def read():
        try:
            while not done.is_set():
                for snapshot in orch.snapshots():
                    if snapshot.current is not None:
                        assert len(snapshot.current.jobs) == 4
                        total = snapshot.aggregate.total
                        assert total == 4
                    for job in snapshot.orphan_jobs:
                        assert job.job_id in snapshot.orphans
                orch.get_workflow_state(DETECTOR)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    reader = threading.Thread(target=read, name="test-reader")
    reader.start()
    try:
        for i in range(300):
            with orch.batch_updates():
                beat_all(orch, clock, numbers[-1], warning=f"tick {i}")
                beat(orch, clock, MANTLE, uuid.uuid4())
            if i % 50 == 0:
                numbers.append(orch.commit_workflow(DETECTOR, actor=OPERATOR))
            orch.tick()
    finally:
        done.set()
        reader.join(timeout=10)
    assert not reader.is_alive()
    assert errors == []


class _NoScanDict(dict):
    """A dict that fails any whole-map walk: proves lookups are by key only."""

    def _refuse(self, *args, **kwargs):
        raise AssertionError("status_updated walked a whole map")

    __iter__ = items = values = keys = _refuse


def test_status_updated_looks_jobs_up_by_full_id_and_never_scans(orch, clock):
    current = commit(orch)
    beat_all(orch, clock, current)
    previous, current = current, orch.commit_workflow(DETECTOR, actor=OPERATOR)
    stranger = uuid.uuid4()
    beat(orch, clock, MANTLE, stranger)
    orch._states = orch._heartbeats._states = _NoScanDict(orch._states)
    orch._index.entries = _NoScanDict(orch._index.entries)

    beat(orch, clock, MANTLE, current, JobState.scheduled)
    beat(orch, clock, MANTLE, previous, JobState.stopped)
    beat(orch, clock, MANTLE, stranger, JobState.warning)
    beat(orch, clock, MANTLE, uuid.uuid4(), workflow_id=MONITORS)  # adoption
    beat(orch, clock, MANTLE, uuid.uuid4(), workflow_id=UNCATALOGUED)

    state = dict.__getitem__(orch._states, DETECTOR)
    assert state.current.jobs[MANTLE].status.state is JobState.scheduled
    assert state.previous.jobs[MANTLE].status.state is JobState.stopped
    assert state.orphans[stranger].jobs[MANTLE].status.state is JobState.warning


def test_workflow_versions_param_is_a_read_only_mapping(orch):
    orch.stage_config(DETECTOR, MANTLE, {}, actor=OPERATOR)
    versions = orch.workflow_versions
    with pytest.raises(TypeError):
        versions[DETECTOR] = 0
    orch.stage_config(DETECTOR, BACKWARD, {}, actor=OPERATOR)
    assert versions[DETECTOR] == 1  # the old mapping was replaced, not mutated
    assert orch.workflow_versions[DETECTOR] == 2


def test_commit_takes_job_numbers_from_the_injected_factory():
    numbers = iter([uuid.UUID(int=1), uuid.UUID(int=2)])
    catalogue = shipped_catalogue("dream")
    spec = catalogue.workflows[0]
    orchestrator = JobOrchestrator(
        catalogue,
        CommandDispatcher(InMemoryCommandSink()),
        ManualClock(),
        new_job_number=lambda: next(numbers),
    )
    orchestrator.stage_config(
        spec.workflow_id, spec.source_names[0], {}, actor=OPERATOR
    )
    assert orchestrator.commit_workflow(spec.workflow_id, actor=OPERATOR) == uuid.UUID(
        int=1
    )
    assert orchestrator.commit_workflow(spec.workflow_id, actor=OPERATOR) == uuid.UUID(
        int=2
    )
