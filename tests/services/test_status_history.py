from __future__ import annotations

import subprocess
import sys
import threading
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobdash.domain import JobId, JobState, JobStatus, ManualClock, WorkflowId
from jobdash.services.status_history import Segment, StatusHistory

WORKFLOW = WorkflowId("dream", "detector_view", 1)
SECOND = 1_000_000_000


def job(source: str = "mantle_detector", number: int = 1) -> JobId:
    return JobId(source, uuid.UUID(int=number))


def heartbeat(
    job_id: JobId,
    state: JobState = JobState.active,
    *,
    timestamp: int = 0,
    error: str | None = None,
    warning: str | None = None,
) -> JobStatus:
    return JobStatus(
        job_id,
        WORKFLOW,
        state,
        error_message=error,
        warning_message=warning,
        timestamp=timestamp,
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def history(clock: ManualClock) -> StatusHistory:
    return StatusHistory(clock, window=600.0, stale_after=6.0)


def test_first_heartbeat_opens_a_current_segment_at_its_receipt_time(history, clock):
    history.status_updated(heartbeat(job(), warning="slow disk"))
    (segment,) = history.snapshot().segments
    assert segment == Segment(
        segment.seq,
        job(),
        WORKFLOW,
        JobState.active,
        "slow disk",
        clock.now_ns(),
        None,
    )


def test_repeated_heartbeats_with_the_same_state_add_no_segment_and_no_version(
    history, clock
):
    history.status_updated(heartbeat(job(), timestamp=1))
    version = history.version
    for t in range(2, 50):
        clock.advance(2)
        history.status_updated(heartbeat(job(), timestamp=t))
    assert len(history) == 1
    assert history.version == version
    assert history.last_seen(job()) == clock.now_ns()


def test_state_change_closes_the_current_segment_and_opens_a_new_one(history, clock):
    start = clock.now_ns()
    history.status_updated(heartbeat(job(), timestamp=1))
    clock.advance(5)
    history.status_updated(heartbeat(job(), JobState.error, timestamp=2, error="boom"))
    first, second = history.snapshot().segments
    assert (first.state, first.start, first.end) == (
        JobState.active,
        start,
        start + 5 * SECOND,
    )
    assert (second.state, second.message, second.start, second.end) == (
        JobState.error,
        "boom",
        start + 5 * SECOND,
        None,
    )
    assert second.seq > first.seq


def test_message_change_alone_starts_a_new_segment(history, clock):
    history.status_updated(heartbeat(job(), JobState.warning, warning="a"))
    clock.advance(1)
    history.status_updated(heartbeat(job(), JobState.warning, warning="b"))
    assert [s.message for s in history.snapshot().segments] == ["a", "b"]


def test_error_message_wins_over_warning_message(history):
    history.status_updated(heartbeat(job(), JobState.error, error="e", warning="w"))
    assert history.snapshot().segments[0].message == "e"


def test_late_heartbeat_does_not_reopen_an_older_state(history, clock):
    history.status_updated(heartbeat(job(), JobState.stopped, timestamp=10))
    clock.advance(1)
    history.status_updated(heartbeat(job(), JobState.active, timestamp=5))
    assert [s.state for s in history.snapshot().segments] == [JobState.stopped]


def test_jobs_are_recorded_independently(history):
    history.status_updated(heartbeat(job("a")))
    history.status_updated(heartbeat(job("b"), JobState.error))
    assert {(s.job_id.source_name, s.state) for s in history.snapshot().segments} == {
        ("a", JobState.active),
        ("b", JobState.error),
    }


def test_silent_job_has_its_segment_closed_at_its_last_heartbeat(history, clock):
    history.status_updated(heartbeat(job(), timestamp=1))
    last = clock.now_ns()
    clock.advance(6)
    history.tick()
    assert history.snapshot().segments[0].end is None  # not yet beyond 6 s
    clock.advance(0.5)
    version = history.version
    history.tick()
    assert history.snapshot().segments[0].end == last
    assert history.version == version + 1


def test_heartbeat_after_silence_opens_a_new_segment_in_the_same_state(history, clock):
    history.status_updated(heartbeat(job(), timestamp=1))
    clock.advance(10)
    history.tick()
    history.status_updated(heartbeat(job(), timestamp=2))
    segments = history.snapshot().segments
    assert [(s.state, s.end is None) for s in segments] == [
        (JobState.active, False),
        (JobState.active, True),
    ]
    assert segments[1].start == clock.now_ns()


def test_tick_prunes_segments_that_ended_before_the_window(history, clock):
    history.status_updated(heartbeat(job(), timestamp=1))
    clock.advance(1)
    history.status_updated(heartbeat(job(), JobState.error, timestamp=2))
    ended_at = clock.now_ns()
    clock.set(ended_at + 600 * SECOND)
    history.status_updated(heartbeat(job(), JobState.error, timestamp=3))
    history.tick()
    assert len(history) == 2  # ended exactly at the window's edge: kept
    clock.advance(0.001)
    history.tick()
    (segment,) = history.snapshot().segments
    assert segment.state is JobState.error
    assert segment.end is None


def test_current_segment_of_a_live_job_is_never_pruned(history, clock):
    history.status_updated(heartbeat(job(), timestamp=0))
    for t in range(1, 400):
        clock.advance(2)
        history.status_updated(heartbeat(job(), timestamp=t))
        history.tick()
    (segment,) = history.snapshot().segments
    assert segment.end is None
    assert clock.now_ns() - segment.start > 600 * SECOND


def test_job_silent_longer_than_the_window_is_forgotten(history, clock):
    history.status_updated(heartbeat(job()))
    clock.advance(601)
    history.tick()  # closes the silent segment; it ended > window ago
    assert len(history) == 0
    assert history.last_seen(job()) is None


def test_segments_per_job_are_capped_oldest_first(clock):
    history = StatusHistory(clock, max_segments_per_job=3)
    states = [JobState.active, JobState.warning] * 3
    for t, state in enumerate(states):
        clock.advance(1)
        history.status_updated(heartbeat(job(), state, timestamp=t))
    segments = history.snapshot().segments
    assert len(segments) == 3
    assert [s.state for s in segments] == states[-3:]


def test_changes_since_a_snapshot_report_only_new_and_closed_segments(history, clock):
    history.status_updated(heartbeat(job("a"), timestamp=1))
    history.status_updated(heartbeat(job("b"), timestamp=1))
    snap = history.snapshot()
    assert history.changes_since(snap.cursor).empty

    clock.advance(3)
    history.status_updated(heartbeat(job("a"), JobState.error, timestamp=2))
    delta = history.changes_since(snap.cursor)
    assert not delta.reset
    assert [(s.job_id.source_name, s.state, s.end is None) for s in delta.segments] == [
        ("a", JobState.active, False),
        ("a", JobState.error, True),
    ]
    assert delta.removed == ()
    assert history.changes_since(delta.cursor).empty


def test_changes_since_report_each_segment_once_in_its_latest_form(history, clock):
    cursor = history.snapshot().cursor
    history.status_updated(heartbeat(job(), timestamp=1))
    clock.advance(1)
    history.status_updated(heartbeat(job(), JobState.stopped, timestamp=2))
    delta = history.changes_since(cursor)
    assert [(s.state, s.end) for s in delta.segments] == [
        (JobState.active, clock.now_ns()),
        (JobState.stopped, None),
    ]


def test_pruned_segments_are_reported_as_removed(history, clock):
    history.status_updated(heartbeat(job(), timestamp=1))
    clock.advance(1)
    history.status_updated(heartbeat(job(), JobState.error, timestamp=2))
    snap = history.snapshot()
    old_seq = snap.segments[0].seq
    clock.advance(601)
    history.tick()
    delta = history.changes_since(snap.cursor)
    assert delta.removed == (old_seq, snap.segments[1].seq)
    assert [s.seq for s in delta.segments] == []


def test_segment_added_and_pruned_between_reads_is_not_reported(history, clock):
    cursor = history.snapshot().cursor
    history.status_updated(heartbeat(job()))
    clock.advance(700)
    history.tick()
    delta = history.changes_since(cursor)
    assert delta.segments == ()
    assert delta.removed == ()


def test_reader_behind_the_log_gets_a_reset_with_every_segment(clock):
    history = StatusHistory(clock, log_capacity=4)
    cursor = history.snapshot().cursor
    for number in range(10):
        history.status_updated(heartbeat(job(number=number)))
    delta = history.changes_since(cursor)
    assert delta.reset
    assert {s.job_id for s in delta.segments} == {job(number=n) for n in range(10)}
    assert history.changes_since(delta.cursor).empty


def test_cursor_zero_reads_everything_while_the_log_holds_it(history):
    history.status_updated(heartbeat(job()))
    first = history.changes_since(0)
    assert not first.reset
    assert [s.job_id for s in first.segments] == [job()]


def test_cursor_from_the_future_resets(history):
    history.status_updated(heartbeat(job()))
    delta = history.changes_since(10_000)
    assert delta.reset
    assert len(delta.segments) == 1


def test_batch_bumps_version_once(history):
    version = history.version
    with history.batch_updates():
        for number in range(5):
            history.status_updated(heartbeat(job(number=number)))
        assert history.version == version
    assert history.version == version + 1


def test_segments_are_immutable(history):
    history.status_updated(heartbeat(job()))
    segment = history.snapshot().segments[0]
    with pytest.raises(AttributeError):
        segment.state = JobState.error  # type: ignore[misc]


def test_concurrent_writer_and_reader_see_consistent_segments(clock):
    history = StatusHistory(clock)
    stop = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        states = [JobState.active, JobState.warning, JobState.error]
        t = 0
        while not stop.is_set() and t < 20_000:
            t += 1
            history.status_updated(
                heartbeat(job(number=t % 50), states[t % 3], timestamp=t)
            )
            if t % 100 == 0:
                history.tick()

    writer = threading.Thread(target=write, name="history-writer")
    writer.start()
    try:
        cursor = 0
        seen: dict[int, Segment] = {}
        for _ in range(200):
            delta = history.changes_since(cursor)
            if delta.reset:
                seen.clear()
            for segment in delta.segments:
                seen[segment.seq] = segment
            for seq in delta.removed:
                seen.pop(seq, None)
            cursor = delta.cursor
    except BaseException as exc:  # pragma: no cover - reported below
        errors.append(exc)
    finally:
        stop.set()
        writer.join(timeout=10)
    assert not errors
    delta = history.changes_since(cursor)
    if delta.reset:
        seen.clear()
    for segment in delta.segments:
        seen[segment.seq] = segment
    for seq in delta.removed:
        seen.pop(seq, None)
    assert sorted(seen) == sorted(s.seq for s in history.snapshot().segments)


def test_constructor_rejects_non_positive_window(clock):
    with pytest.raises(ValueError, match="window"):
        StatusHistory(clock, window=0)


def test_module_imports_no_ui_library():
    code = (
        "import sys, jobdash.services.status_history; "
        "print(sorted(m for m in ('panel', 'bokeh', 'holoviews') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


# --- ticks walk the jobs only when something can be due -------------------------

_STATES = (JobState.active, JobState.warning, JobState.error, JobState.stopped)


@st.composite
def _history_steps(draw: st.DrawFn) -> list[tuple[str, int, int]]:
    """Heartbeats (job, state), clock moves (ms, some backwards) and ticks."""
    step = st.one_of(
        st.tuples(st.just("beat"), st.integers(0, 3), st.integers(0, 3)),
        st.tuples(st.just("wait"), st.integers(-3_000, 20_000), st.just(0)),
        st.tuples(st.just("tick"), st.just(0), st.just(0)),
    )
    return draw(st.lists(step, max_size=60))


@settings(max_examples=200, deadline=None)
@given(steps=_history_steps())
def test_a_tick_that_skips_the_walk_leaves_the_timeline_identical(steps):
    # Two histories take the same heartbeats; one walks every job at every
    # tick, as tick() did before it learned when a walk can find something.
    clock = ManualClock()
    lazy = StatusHistory(clock, window=30.0, stale_after=6.0, max_segments_per_job=3)
    eager = StatusHistory(clock, window=30.0, stale_after=6.0, max_segments_per_job=3)
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
            assert lazy.snapshot().segments == eager.snapshot().segments
            assert lazy.changes_since(0) == eager.changes_since(0)
            assert lazy.version == eager.version


def test_a_silent_job_is_closed_at_the_first_tick_past_the_threshold(history, clock):
    history.status_updated(heartbeat(job()))
    for _ in range(24):  # 6 s of ticks that find nothing to do
        clock.advance(0.25)
        history.tick()
    assert history.snapshot().segments[0].end is None
    clock.advance(0.25)
    history.tick()
    assert history.snapshot().segments[0].end is not None
