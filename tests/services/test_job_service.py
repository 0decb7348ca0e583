from __future__ import annotations

import inspect
import json
import threading
import uuid
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobdash.domain import (
    DataResult,
    JobId,
    JobState,
    JobStatus,
    ManualClock,
    WorkflowId,
)
from jobdash.domain.access import AccessPolicy, PermissionDeniedError, ReadOnlyError
from jobdash.services.action_guard import ActionGuard
from jobdash.services.audit_log import AuditLog
from jobdash.services.data_service import DataService
from jobdash.services.job_service import JobRow, JobService
from jobdash.testing.actors import OPERATOR, VIEWER

WORKFLOW = WorkflowId("dream", "detector_view", 1)
SECOND = 1_000_000_000


def job(source: str = "mantle_detector", number: int = 1) -> JobId:
    return JobId(source, uuid.UUID(int=number))


def heartbeat(
    job_id: JobId,
    state: JobState = JobState.active,
    *,
    timestamp: int = 0,
    warning: str | None = None,
) -> JobStatus:
    return JobStatus(
        job_id, WORKFLOW, state, warning_message=warning, timestamp=timestamp
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def service(clock: ManualClock) -> JobService:
    return JobService(clock, stale_after=6.0)


def test_status_is_stored_by_job_id_with_its_receipt_time(service, clock):
    status = heartbeat(job())
    service.status_updated(status)
    assert service.get_job_status(job()) == status
    assert service.get_last_status_update_time(job()) == clock.now_ns()
    assert service.job_statuses == {job(): status}


def test_unknown_job_has_no_status_and_no_update_time(service):
    assert service.get_job_status(job()) is None
    assert service.get_last_status_update_time(job()) is None


def test_newer_status_replaces_stored(service, clock):
    service.status_updated(heartbeat(job(), timestamp=1))
    clock.advance(2)
    service.status_updated(heartbeat(job(), JobState.warning, timestamp=2))
    assert service.get_job_status(job()).state is JobState.warning
    assert service.get_last_status_update_time(job()) == clock.now_ns()


def test_status_older_than_stored_is_ignored(service, clock):
    service.status_updated(heartbeat(job(), JobState.stopped, timestamp=20))
    received = service.get_last_status_update_time(job())
    clock.advance(1)
    service.status_updated(heartbeat(job(), JobState.active, timestamp=10))
    assert service.get_job_status(job()).state is JobState.stopped
    assert service.get_last_status_update_time(job()) == received


def test_status_with_equal_timestamp_is_applied(service):
    service.status_updated(heartbeat(job(), JobState.active, timestamp=10))
    service.status_updated(heartbeat(job(), JobState.error, timestamp=10))
    assert service.get_job_status(job()).state is JobState.error


def test_late_heartbeat_from_previous_job_does_not_overwrite_current(service):
    previous, current = job(number=1), job(number=2)
    service.status_updated(heartbeat(current, JobState.active, timestamp=20))
    service.status_updated(heartbeat(previous, JobState.stopped, timestamp=10))
    assert service.get_job_status(current).state is JobState.active
    assert service.get_job_status(previous).state is JobState.stopped


def test_job_statuses_returns_a_copy(service):
    service.status_updated(heartbeat(job()))
    statuses = service.job_statuses
    statuses.clear()
    service.status_updated(heartbeat(job(number=2)))
    assert statuses == {}
    assert set(service.job_statuses) == {job(), job(number=2)}


def test_job_goes_stale_only_after_the_threshold_passes(service, clock):
    service.status_updated(heartbeat(job()))
    clock.advance(6.0)
    assert not service.is_job_status_stale(job())
    clock.advance(0.001)
    assert service.is_job_status_stale(job())


def test_stopped_job_never_goes_stale(service, clock):
    service.status_updated(heartbeat(job(), JobState.stopped))
    clock.advance(3600)
    assert not service.is_job_status_stale(job())
    assert service.get_stale_jobs() == []


@pytest.mark.parametrize(
    "state", [JobState.error, JobState.unknown, JobState.scheduled]
)
def test_job_in_any_state_but_stopped_can_go_stale(service, clock, state):
    service.status_updated(heartbeat(job(), state))
    clock.advance(7)
    assert service.is_job_status_stale(job())


def test_fresh_heartbeat_clears_staleness(service, clock):
    service.status_updated(heartbeat(job()))
    clock.advance(10)
    service.status_updated(heartbeat(job()))
    assert not service.is_job_status_stale(job())


def test_unknown_job_is_not_stale(service):
    assert not service.is_job_status_stale(job())


def test_get_stale_jobs_lists_only_the_stale_jobs(service, clock):
    service.status_updated(heartbeat(job(number=1)))
    service.status_updated(heartbeat(job(number=2), JobState.stopped))
    clock.advance(4)
    service.status_updated(heartbeat(job(number=3)))
    clock.advance(4)
    assert service.get_stale_jobs() == [job(number=1)]


def test_remove_job_forgets_it(service):
    service.status_updated(heartbeat(job()))
    service.remove_job(job(), actor=OPERATOR)
    assert service.get_job_status(job()) is None
    assert service.job_statuses == {}
    assert service.snapshot().rows == ()


def test_removed_job_does_not_come_back_on_late_heartbeat(service, clock):
    service.status_updated(heartbeat(job(), timestamp=1))
    service.remove_job(job(), actor=OPERATOR)
    clock.advance(1)
    service.status_updated(heartbeat(job(), timestamp=2))
    assert service.get_job_status(job()) is None
    assert service.is_removed(job())


def test_removing_a_job_not_yet_heard_from_still_filters_it(service):
    service.remove_job(job(), actor=OPERATOR)
    service.status_updated(heartbeat(job()))
    assert service.job_statuses == {}


def test_removal_does_not_affect_other_jobs_of_the_same_source(service):
    service.remove_job(job(number=1), actor=OPERATOR)
    service.status_updated(heartbeat(job(number=2)))
    assert set(service.job_statuses) == {job(number=2)}


def test_removed_filter_is_bounded(clock):
    service = JobService(clock, removed_capacity=3)
    for number in range(1, 5):
        service.remove_job(job(number=number), actor=OPERATOR)
    # The oldest removal was evicted: its heartbeats are accepted again.
    assert not service.is_removed(job(number=1))
    assert all(service.is_removed(job(number=n)) for n in (2, 3, 4))
    service.status_updated(heartbeat(job(number=1)))
    service.status_updated(heartbeat(job(number=2)))
    assert set(service.job_statuses) == {job(number=1)}


def test_removing_again_refreshes_a_removal_in_the_filter(clock):
    service = JobService(clock, removed_capacity=2)
    service.remove_job(job(number=1), actor=OPERATOR)
    service.remove_job(job(number=2), actor=OPERATOR)
    service.remove_job(job(number=1), actor=OPERATOR)
    service.remove_job(job(number=3), actor=OPERATOR)
    assert service.is_removed(job(number=1))
    assert not service.is_removed(job(number=2))


def test_remove_bumps_version_only_if_the_job_was_shown(service):
    service.remove_job(job(), actor=OPERATOR)
    assert service.version == 0
    service.status_updated(heartbeat(job(number=2)))
    service.remove_job(job(number=2), actor=OPERATOR)
    assert service.version == 2


def test_job_data_comes_from_the_data_service(clock):
    data = DataService(clock)
    service = JobService(clock, data_service=data)
    assert not service.job_has_data(job())
    assert service.get_last_data_time(job()) is None
    clock.advance(1)
    data.result_received(DataResult(job(), WORKFLOW, "histogram", timestamp=5))
    assert service.job_has_data(job())
    assert service.get_last_data_time(job()) == clock.now_ns()


def test_without_data_service_no_job_has_data(service):
    service.status_updated(heartbeat(job()))
    assert not service.job_has_data(job())
    assert service.get_last_data_time(job()) is None


def test_snapshot_rows_are_in_first_heard_order_and_carry_times(clock):
    data = DataService(clock)
    service = JobService(clock, stale_after=6.0, data_service=data)
    first_seen = clock.now_ns()
    service.status_updated(heartbeat(job("b")))
    clock.advance(5)
    service.status_updated(heartbeat(job("a")))
    data.result_received(DataResult(job("a"), WORKFLOW, "histogram", timestamp=1))
    clock.advance(2)
    snapshot = service.snapshot()
    assert snapshot.version == service.version
    assert [row.job_id for row in snapshot.rows] == [job("b"), job("a")]
    assert snapshot.rows[0] == JobRow(
        job("b"), heartbeat(job("b")), first_seen, stale=True, last_data=None
    )
    assert snapshot.rows[1].stale is False
    assert snapshot.rows[1].last_data == first_seen + 5 * SECOND


def test_snapshot_is_immutable_and_unaffected_by_later_updates(service):
    service.status_updated(heartbeat(job(), timestamp=1))
    snapshot = service.snapshot()
    service.status_updated(heartbeat(job(), JobState.error, timestamp=2))
    service.status_updated(heartbeat(job(number=2)))
    assert len(snapshot.rows) == 1
    assert snapshot.rows[0].status.state is JobState.active
    with pytest.raises(FrozenInstanceError):
        snapshot.rows = ()  # type: ignore[misc]


def test_version_bumps_on_each_update_outside_a_batch(service):
    service.status_updated(heartbeat(job(number=1)))
    service.status_updated(heartbeat(job(number=2)))
    assert service.version == 2


def test_version_bumps_once_per_batch(service):
    seen: list[int] = []
    service.param.watch(lambda event: seen.append(event.new), "version")
    with service.batch_updates():
        for number in range(100):
            service.status_updated(heartbeat(job(number=number)))
        assert service.version == 0
    assert seen == [1]
    assert len(service.job_statuses) == 100


def test_nested_batches_bump_once_at_the_outermost_exit(service):
    with service.batch_updates():
        with service.batch_updates():
            service.status_updated(heartbeat(job()))
        assert service.version == 0
        service.remove_job(job(), actor=OPERATOR)
    assert service.version == 1


def test_batch_without_changes_does_not_bump(service):
    service.remove_job(job(), actor=OPERATOR)
    with service.batch_updates():
        service.status_updated(heartbeat(job()))  # removed: ignored
    assert service.version == 0


def test_batch_publishes_changes_made_before_an_exception(service):
    def failing_batch() -> None:
        with service.batch_updates():
            service.status_updated(heartbeat(job()))
            raise RuntimeError("bad message")

    with pytest.raises(RuntimeError, match="bad message"):
        failing_batch()
    assert service.version == 1
    service.status_updated(heartbeat(job(number=2)))
    assert service.version == 2  # the batch was closed


def test_ignored_status_does_not_bump_version(service):
    service.status_updated(heartbeat(job(), timestamp=5))
    service.status_updated(heartbeat(job(), timestamp=4))
    assert service.version == 1


def test_tick_bumps_version_when_a_job_goes_stale_and_when_it_recovers(service, clock):
    service.status_updated(heartbeat(job()))
    service.tick()
    assert service.version == 1
    clock.advance(7)
    service.tick()
    assert service.version == 2
    service.tick()
    assert service.version == 2
    service.status_updated(heartbeat(job()))
    service.tick()
    assert service.version == 3  # recovery was published by the heartbeat only


def test_display_version_moves_only_when_a_table_would_show_something_new(
    service, clock
):
    versions = []

    def step(action):
        action()
        versions.append(service.display_version)

    step(lambda: service.status_updated(heartbeat(job())))  # new job
    step(lambda: service.status_updated(heartbeat(job())))  # same again
    step(lambda: service.status_updated(heartbeat(job(), warning="slow")))
    step(lambda: service.status_updated(heartbeat(job(), warning="slow")))
    step(lambda: service.status_updated(heartbeat(job(), JobState.error)))
    step(lambda: clock.advance(7) or service.tick())  # goes stale
    step(service.tick)  # still stale
    step(lambda: service.status_updated(heartbeat(job(), JobState.error)))  # back
    step(lambda: service.remove_job(job(), actor=OPERATOR))
    assert versions == [1, 1, 2, 2, 3, 4, 4, 5, 6]
    assert service.version > versions[-1]  # every change, heartbeats included
    assert service.snapshot().display_version == 6


def test_tick_inside_a_batch_defers_its_bump(service, clock):
    service.status_updated(heartbeat(job()))
    clock.advance(7)
    with service.batch_updates():
        service.tick()
        assert service.version == 1
    assert service.version == 2


def test_retention_forgets_silent_jobs(clock):
    service = JobService(clock, stale_after=6.0, retention=60.0)
    service.status_updated(heartbeat(job(number=1)))
    clock.advance(30)
    service.status_updated(heartbeat(job(number=2)))
    clock.advance(31)
    service.tick()
    assert set(service.job_statuses) == {job(number=2)}
    # Forgotten, not removed: it reappears if heard from again.
    service.status_updated(heartbeat(job(number=1)))
    assert set(service.job_statuses) == {job(number=1), job(number=2)}


def test_without_retention_jobs_are_kept_until_removed(service, clock):
    service.status_updated(heartbeat(job()))
    clock.advance(10 * 24 * 3600)
    service.tick()
    assert service.is_job_status_stale(job())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"stale_after": 0},
        {"removed_capacity": 0},
        {"stale_after": 6.0, "retention": 6.0},
    ],
)
def test_invalid_settings_are_rejected(clock, kwargs):
    with pytest.raises(ValueError, match="must"):
        JobService(clock, **kwargs)


def test_readers_never_fail_while_the_writer_adds_and_removes_jobs(service):
    stop = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            number = 0
            while not stop.is_set():
                number = number % 500 + 1
                with service.batch_updates():
                    service.status_updated(
                        heartbeat(job(number=number), timestamp=number)
                    )
                    if number % 7 == 0:
                        service.remove_job(job(number=number - 3), actor=OPERATOR)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    writer = threading.Thread(target=write, name="test-writer")
    writer.start()
    try:
        for _ in range(100):
            snapshot = service.snapshot()
            ids = [row.job_id for row in snapshot.rows]
            assert len(ids) == len(set(ids))
            assert snapshot.version <= service.version
            assert len(service.job_statuses) <= 500
            service.get_stale_jobs()
    finally:
        stop.set()
        writer.join(timeout=10)
    assert not writer.is_alive()
    assert errors == []


# --- removal is an operator action ------------------------------------------------


@pytest.fixture
def audited(clock, tmp_path) -> tuple[JobService, Path]:
    path = tmp_path / "audit.jsonl"
    guard = ActionGuard(AccessPolicy(), AuditLog(path, clock))
    return JobService(clock, stale_after=6.0, guard=guard), path


def audit_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_viewer_may_not_remove_a_job_and_the_refusal_is_audited(audited):
    service, path = audited
    service.status_updated(heartbeat(job(), JobState.stopped))
    with pytest.raises(PermissionDeniedError, match="viewer 'test-viewer'"):
        service.remove_job(job(), actor=VIEWER)
    assert service.get_job_status(job()) is not None
    assert not service.is_removed(job())
    (line,) = audit_lines(path)
    assert {k: line[k] for k in ("user", "action", "workflow", "job", "outcome")} == {
        "user": "test-viewer",
        "action": "remove_job",
        "workflow": str(WORKFLOW),
        "job": str(job()),
        "outcome": "refused",
    }


def test_a_read_only_policy_refuses_a_removal_by_an_operator(clock):
    service = JobService(clock, guard=ActionGuard(AccessPolicy(read_only=True)))
    service.status_updated(heartbeat(job(), JobState.stopped))
    with pytest.raises(ReadOnlyError):
        service.remove_job(job(), actor=OPERATOR)
    assert service.get_job_status(job()) is not None


def test_an_operators_removal_is_audited_as_done(audited):
    service, path = audited
    service.status_updated(heartbeat(job(), JobState.stopped))
    service.remove_job(job(), actor=OPERATOR)
    (line,) = audit_lines(path)
    assert (line["user"], line["action"], line["outcome"], line["message_id"]) == (
        "test-operator",
        "remove_job",
        "done",
        None,
    )


def test_removal_names_its_actor():
    assert (
        inspect.signature(JobService.remove_job).parameters["actor"].default
        is inspect.Parameter.empty
    )


# --- ticks walk the jobs only when a flip can be due -------------------------------

_STATES = (JobState.active, JobState.warning, JobState.stopped)


@st.composite
def _service_steps(draw: st.DrawFn) -> list[tuple[str, int, int]]:
    """Heartbeats (job, state), clock moves (ms, some backwards) and ticks."""
    step = st.one_of(
        st.tuples(st.just("beat"), st.integers(0, 3), st.integers(0, 2)),
        st.tuples(st.just("wait"), st.integers(-3_000, 12_000), st.just(0)),
        st.tuples(st.just("tick"), st.just(0), st.just(0)),
    )
    return draw(st.lists(step, max_size=60))


@settings(max_examples=200, deadline=None)
@given(steps=_service_steps(), retention=st.sampled_from([None, 20.0]))
def test_a_tick_that_skips_the_walk_publishes_the_same_flips(steps, retention):
    # Two services take the same heartbeats; one walks every job at every
    # tick, as tick() did before it learned when a walk can find something.
    clock = ManualClock()
    lazy = JobService(clock, stale_after=6.0, retention=retention)
    eager = JobService(clock, stale_after=6.0, retention=retention)
    stamp = 0
    for kind, a, b in steps:
        if kind == "beat":
            stamp += 1
            status = heartbeat(job(number=a), _STATES[b], timestamp=stamp)
            lazy.status_updated(status)
            eager.status_updated(status)
        elif kind == "wait":
            clock.advance(a / 1000)
        else:
            lazy.tick()
            eager._next_scan = 0
            eager.tick()
            assert lazy.snapshot().rows == eager.snapshot().rows
            assert (lazy.version, lazy.display_version) == (
                eager.version,
                eager.display_version,
            )


def test_a_tick_flags_a_job_stale_at_the_first_tick_past_the_threshold(service, clock):
    service.status_updated(heartbeat(job()))
    service.tick()
    shown = service.display_version
    for _ in range(24):  # 6 s of ticks that find nothing to do
        clock.advance(0.25)
        service.tick()
    assert service.display_version == shown
    clock.advance(0.25)
    service.tick()
    assert service.display_version == shown + 1
    assert service.get_stale_jobs() == [job()]


def test_a_repeated_heartbeat_does_not_move_the_display_version(service):
    # The decoder shares the objects of repeated heartbeats; equal values
    # built apart must not count as a change either.
    service.status_updated(heartbeat(job(), timestamp=1))
    shown = service.display_version
    again = heartbeat(job(), timestamp=2)._replace(
        workflow_id=WorkflowId("dream", "detector_view", 1)
    )
    service.status_updated(again)
    assert service.display_version == shown
    service.status_updated(
        again._replace(timestamp=3, workflow_id=WorkflowId("dream", "other", 1))
    )
    assert service.display_version == shown + 1
