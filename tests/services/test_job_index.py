"""JobIndex: staleness of the tracked jobs, recomputed only when a flip can be due."""

from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from jobdash.domain import JobId, JobState, JobStatus, WorkflowId
from jobdash.services.job_index import JobIndex
from jobdash.services.workflow_state import JobConfig, JobSet

WORKFLOW = WorkflowId("dream", "detector_view", 1)
SECOND = 1_000_000_000
STALE_NS = 6 * SECOND
SOURCES = ("a", "b", "c")
_STATES = (JobState.active, JobState.error, JobState.stopped)


def indexed_set(index: JobIndex, number: int) -> JobSet:
    job_set = JobSet(uuid.UUID(int=number), {s: JobConfig({}, {}) for s in SOURCES})
    index.add_set(WORKFLOW, job_set)
    return job_set


def hear(job_set: JobSet, source: str, state: JobState, now: int) -> None:
    """What HeartbeatTracking does with a heartbeat of a tracked job."""
    job = job_set.jobs[source]
    job.status = JobStatus(JobId(source, job_set.job_number), WORKFLOW, state)
    job.last_seen = now


def test_a_job_is_stale_from_the_first_refresh_past_the_threshold():
    index = JobIndex()
    job_set = indexed_set(index, 1)
    hear(job_set, "a", JobState.active, 0)
    assert index.refresh_stale(0, STALE_NS) == set()
    for step in range(1, 25):  # 6 s of refreshes with nothing to find
        assert index.refresh_stale(step * SECOND // 4, STALE_NS) == set()
    assert index.refresh_stale(STALE_NS + 1, STALE_NS) == {WORKFLOW}
    assert index.stale == {JobId("a", job_set.job_number)}


def test_jobs_indexed_with_an_old_last_seen_are_found_stale_at_once():
    # A copied JobConfig keeps its last_seen: a set indexed after the last
    # walk must be walked although nothing was due before it came.
    index = JobIndex()
    first = indexed_set(index, 1)
    hear(first, "a", JobState.active, 10 * SECOND)
    index.refresh_stale(10 * SECOND, STALE_NS)
    late = JobSet(uuid.UUID(int=2), {"a": JobConfig({}, {})})
    hear(late, "a", JobState.active, 0)
    index.add_set(WORKFLOW, late)
    assert index.refresh_stale(10 * SECOND + 1, STALE_NS) == {WORKFLOW}


@st.composite
def _steps(draw: st.DrawFn) -> list[tuple[str, int, int]]:
    step = st.one_of(
        st.tuples(st.just("beat"), st.integers(0, 2), st.integers(0, 2)),
        st.tuples(st.just("wait"), st.integers(-2_000, 10_000), st.just(0)),
        st.tuples(st.just("refresh"), st.just(0), st.just(0)),
    )
    return draw(st.lists(step, max_size=50))


@settings(max_examples=200, deadline=None)
@given(steps=_steps())
def test_a_refresh_that_skips_the_walk_finds_the_same_stale_jobs(steps):
    lazy, eager = JobIndex(), JobIndex()
    sets = (indexed_set(lazy, 1), indexed_set(eager, 1))
    now = 100 * SECOND
    for kind, a, b in steps:
        if kind == "beat":
            for index, job_set in zip((lazy, eager), sets, strict=True):
                hear(job_set, SOURCES[a], _STATES[b], now)
                index.stale.discard(JobId(SOURCES[a], job_set.job_number))
                if now < index.last_scan:
                    index.rescan()
        elif kind == "wait":
            now += a * 1_000_000
        else:
            eager.rescan()
            assert lazy.refresh_stale(now, STALE_NS) == eager.refresh_stale(
                now, STALE_NS
            )
            assert lazy.stale == eager.stale
