import uuid

from jobdash.domain import JobId, JobState, JobStatus, WorkflowId
from jobdash.services.workflow_state import (
    MAX_COMMITS_REMEMBERED,
    JobConfig,
    JobSet,
    WorkflowState,
)

WORKFLOW = WorkflowId("dream", "detector_view", 1)
NUMBER = uuid.UUID(int=7)
SECOND = 1_000_000_000
STALE_NS = 6 * SECOND


def heard(state=JobState.active, *, at=0, start=None, source="mantle_detector"):
    status = JobStatus(JobId(source, NUMBER), WORKFLOW, state, start_time=start)
    return JobConfig({"resolution": 128}, {}, status=status, last_seen=at)


def test_job_that_never_reported_is_not_stale():
    assert not JobConfig({}, {}).is_stale(10**20, STALE_NS)


def test_job_is_stale_only_after_more_than_the_threshold():
    job = heard(at=0)
    assert not job.is_stale(STALE_NS, STALE_NS)
    assert job.is_stale(STALE_NS + 1, STALE_NS)


def test_stopped_job_is_never_stale():
    assert not heard(JobState.stopped, at=0).is_stale(10**20, STALE_NS)


def test_jobset_started_at_is_the_earliest_reported_start_time():
    job_set = JobSet(
        NUMBER,
        {
            "a": heard(start=5 * SECOND, source="a"),
            "b": heard(start=3 * SECOND, source="b"),
            "c": JobConfig({}, {}),
        },
    )
    assert job_set.started_at == 3 * SECOND
    assert JobSet(NUMBER, {"c": JobConfig({}, {})}).started_at is None


def test_all_stopped_needs_every_job_to_have_reported_stopped():
    stopped = heard(JobState.stopped)
    assert JobSet(NUMBER, {"a": stopped, "b": stopped}).all_stopped
    assert not JobSet(NUMBER, {"a": stopped, "b": JobConfig({}, {})}).all_stopped
    assert not JobSet(NUMBER, {"a": stopped, "b": heard()}).all_stopped


def test_jobset_lists_its_full_job_ids_in_source_order():
    job_set = JobSet(NUMBER, {"b": JobConfig({}, {}), "a": JobConfig({}, {})})
    assert job_set.job_ids() == [JobId("b", NUMBER), JobId("a", NUMBER)]


def test_config_known_when_any_job_config_is_known():
    unknown = JobConfig({}, {}, config_known=False)
    assert not JobSet(NUMBER, {"a": unknown}).config_known
    assert JobSet(NUMBER, {"a": unknown, "b": JobConfig({}, {})}).config_known


def test_workflow_state_copy_shares_nothing_mutable():
    job_set = JobSet(NUMBER, {"a": heard()}, committed_at=1, stop_requested=True)
    state = WorkflowState(
        current=job_set,
        previous=None,
        staged_jobs={"a": JobConfig({"x": 1}, {"monitor": "m"})},
        orphans={uuid.UUID(int=9): JobSet(uuid.UUID(int=9), {"a": heard()})},
    )
    copy = state.copy()
    assert copy == state
    copy.current.jobs["a"].params["resolution"] = 1
    copy.current.jobs["b"] = JobConfig({}, {})
    copy.staged_jobs["a"].aux_source_names["monitor"] = "other"
    copy.orphans.clear()
    assert state.current.jobs["a"].params == {"resolution": 128}
    assert list(state.current.jobs) == ["a"]
    assert state.staged_jobs["a"].aux_source_names == {"monitor": "m"}
    assert len(state.orphans) == 1
    # Statuses are immutable and shared on purpose.
    assert copy.current.jobs["a"].status is state.current.jobs["a"].status


def test_a_copy_has_its_own_memory_of_commits():
    state = WorkflowState()
    state.remember_commit(NUMBER)
    copy = state.copy()
    copy.remember_commit(uuid.UUID(int=8))
    assert list(state.committed_here) == [NUMBER]


def test_commits_are_remembered_once_and_the_oldest_forgotten_first():
    state = WorkflowState()
    numbers = [uuid.UUID(int=n) for n in range(MAX_COMMITS_REMEMBERED + 1)]
    for number in numbers:
        state.remember_commit(number)
    state.remember_commit(numbers[-1])
    assert list(state.committed_here) == numbers[1:]


def test_an_orphan_is_started_here_only_under_a_job_number_committed_here():
    ours, theirs = uuid.UUID(int=1), uuid.UUID(int=2)
    state = WorkflowState(
        orphans={n: JobSet(n, {"a": heard()}) for n in (ours, theirs)}
    )
    state.remember_commit(ours)
    assert state.orphan_started_here(ours)
    assert not state.orphan_started_here(theirs)
    assert not state.orphan_started_here(uuid.UUID(int=3))  # not an orphan


def test_stopping_orphans_skips_stopped_jobs_and_ids_that_are_no_orphan():
    number = uuid.UUID(int=1)
    orphan = JobSet(number, {"a": heard(), "b": heard(JobState.stopped)})
    state = WorkflowState(orphans={number: orphan})

    commands = state.stop_orphans(
        [JobId("a", number), JobId("b", number), JobId("a", uuid.UUID(int=5))]
    )

    assert [c.job_id.to_domain() for c in commands] == [JobId("a", number)]
    assert orphan.stop_requested
