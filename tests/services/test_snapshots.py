import tracemalloc
import uuid

import pytest

from jobdash.catalogue_file import shipped_catalogue
from jobdash.domain import JobId, JobState, JobStatus, WorkflowAggregate, WorkflowId
from jobdash.domain.workflow_catalogue import WorkflowCatalogue
from jobdash.services.snapshots import (
    JobSetSnapshot,
    JobSnapshot,
    StagedConfig,
    WorkflowSnapshot,
    build_workflow_snapshot,
    jobset_aggregate,
)
from jobdash.services.workflow_state import JobConfig, JobSet, WorkflowState

DETECTOR = WorkflowId("dream", "detector_view", 1)
CURRENT, PREVIOUS, ORPHAN = uuid.UUID(int=1), uuid.UUID(int=2), uuid.UUID(int=3)
SECOND = 1_000_000_000
STALE_NS = 6 * SECOND
NOW = 100 * SECOND
A = WorkflowAggregate


@pytest.fixture(scope="module")
def spec():
    return shipped_catalogue("dream")[DETECTOR]


def job(number, state, *, source="mantle_detector", seen=NOW, params=None, **kw):
    status = JobStatus(JobId(source, number), DETECTOR, state, **kw)
    return JobConfig(
        {"resolution": 128} if params is None else params,
        {},
        status=status,
        last_seen=seen,
    )


def example_state():
    return WorkflowState(
        current=JobSet(
            CURRENT,
            {
                "mantle_detector": job(
                    CURRENT, JobState.active, start_time=10 * SECOND
                ),
                "endcap_backward_detector": job(
                    CURRENT,
                    JobState.active,
                    source="endcap_backward_detector",
                    seen=NOW - 7 * SECOND,
                    start_time=12 * SECOND,
                ),
            },
            committed_at=9 * SECOND,
        ),
        previous=JobSet(
            PREVIOUS,
            {"mantle_detector": job(PREVIOUS, JobState.stopped)},
            committed_at=1,
            stop_requested=True,
            retired_at=9 * SECOND,
        ),
        staged_jobs={
            "mantle_detector": JobConfig({"resolution": 128}, {}),
            "endcap_forward_detector": JobConfig({"resolution": 64}, {}),
        },
        orphans={
            ORPHAN: JobSet(
                ORPHAN,
                {
                    "mantle_detector": JobConfig(
                        {},
                        {},
                        status=JobStatus(
                            JobId("mantle_detector", ORPHAN), DETECTOR, JobState.active
                        ),
                        last_seen=NOW,
                        config_known=False,
                    )
                },
                adopted=True,
                retired_at=NOW,
            )
        },
    )


def test_snapshot_reflects_current_previous_staged_and_orphans(spec):
    snapshot = build_workflow_snapshot(spec, example_state(), 17, NOW, STALE_NS)

    assert snapshot.workflow_id == DETECTOR
    assert snapshot.title == "Detector view"
    assert snapshot.version == 17
    assert snapshot.aggregate.label == "STALE 1/2"
    current = snapshot.current
    assert current.job_number == CURRENT
    assert current.committed_at == 9 * SECOND
    assert current.started_at == 10 * SECOND
    assert [j.source_name for j in current.jobs] == [
        "mantle_detector",
        "endcap_backward_detector",
    ]
    assert [j.stale for j in current.jobs] == [False, True]
    assert current.job("endcap_backward_detector").last_seen == NOW - 7 * SECOND
    assert current.job("high_resolution_detector") is None
    assert current.job_ids == (
        JobId("mantle_detector", CURRENT),
        JobId("endcap_backward_detector", CURRENT),
    )
    assert snapshot.previous.aggregate.label == "STOPPED 1/1"
    assert snapshot.previous.stop_requested
    assert list(snapshot.staged) == ["mantle_detector", "endcap_forward_detector"]
    assert snapshot.staged["endcap_forward_detector"] == StagedConfig(
        {"resolution": 64}, {}
    )
    assert snapshot.orphans == (JobId("mantle_detector", ORPHAN),)
    (orphan,) = snapshot.orphan_jobs
    assert not orphan.config_known
    assert orphan.state is JobState.active


def test_snapshot_without_any_jobset_is_stopped(spec):
    snapshot = build_workflow_snapshot(spec, WorkflowState(), 0, NOW, STALE_NS)
    assert snapshot.aggregate.label == "STOPPED"
    assert (snapshot.current, snapshot.previous) == (None, None)
    assert (snapshot.staged, snapshot.orphans, snapshot.orphan_jobs) == ({}, (), ())


def test_snapshot_cannot_be_changed(spec):
    snapshot = build_workflow_snapshot(spec, example_state(), 1, NOW, STALE_NS)
    with pytest.raises(AttributeError):
        snapshot.version = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        snapshot.current.jobs[0].stale = True  # type: ignore[misc]
    with pytest.raises(TypeError):
        snapshot.current.jobs[0].params["resolution"] = 1  # type: ignore[index]
    with pytest.raises(TypeError):
        snapshot.staged["x"] = StagedConfig({}, {})  # type: ignore[index]
    with pytest.raises(TypeError):
        snapshot.staged["mantle_detector"].params["resolution"] = 1  # type: ignore[index]


def test_snapshot_is_unaffected_by_later_changes_to_the_state(spec):
    state = example_state()
    snapshot = build_workflow_snapshot(spec, state, 1, NOW, STALE_NS)
    # The orchestrator replaces config dicts and statuses, never mutates them.
    state.current.jobs["mantle_detector"].status = None
    state.current.jobs["mantle_detector"].params = {"resolution": 1}
    state.current.jobs.clear()
    state.staged_jobs = {}
    state.orphans.clear()
    assert snapshot.current.job("mantle_detector").state is JobState.active
    assert snapshot.current.job("mantle_detector").params == {"resolution": 128}
    assert len(snapshot.current.jobs) == 2
    assert len(snapshot.staged) == 2
    assert len(snapshot.orphans) == 1


def test_staged_differences_name_every_source_a_commit_would_change(spec):
    snapshot = build_workflow_snapshot(spec, example_state(), 1, NOW, STALE_NS)
    # mantle: same config; backward: running, not staged; forward: staged, not running
    assert snapshot.staged_differences() == {
        "endcap_backward_detector",
        "endcap_forward_detector",
    }


def test_staged_differences_include_changed_params_and_unknown_configs(spec):
    state = example_state()
    state.staged_jobs = {
        "mantle_detector": JobConfig({"resolution": 256}, {}),
        "endcap_backward_detector": JobConfig({"resolution": 128}, {}),
    }
    snapshot = build_workflow_snapshot(spec, state, 1, NOW, STALE_NS)
    assert snapshot.staged_differences() == {"mantle_detector"}
    state.current.jobs["endcap_backward_detector"].config_known = False
    snapshot = build_workflow_snapshot(spec, state, 1, NOW, STALE_NS)
    assert snapshot.staged_differences() == {
        "mantle_detector",
        "endcap_backward_detector",
    }


def test_no_differences_when_nothing_runs_and_nothing_is_staged(spec):
    snapshot = build_workflow_snapshot(spec, WorkflowState(), 1, NOW, STALE_NS)
    assert snapshot.staged_differences() == frozenset()


def test_jobset_aggregate_counts_warning_messages_and_pending_jobs():
    job_set = JobSet(
        CURRENT,
        {
            "a": job(CURRENT, JobState.active, source="a", warning_message="slow"),
            "b": JobConfig({}, {}),
        },
    )
    assert jobset_aggregate(job_set, NOW, STALE_NS).label == "WARNING 1/2"
    assert jobset_aggregate(None, NOW, STALE_NS).aggregate is A.STOPPED


def test_snapshots_of_a_thousand_workflows_copy_no_parameter_dicts():
    """A refresh may snapshot every workflow of a large catalogue.

    Measured by allocation, not by wall time (deterministic on a loaded
    machine): about 450 bytes per job today; copying each job's ten parameters
    would add about 280 bytes per job and per copy.
    """
    catalogue = WorkflowCatalogue.model_validate(
        {
            "instrument": "x",
            "workflows": [
                {
                    "id": f"x/w{i}/1",
                    "title": f"W{i}",
                    "source_names": [f"s{j}" for j in range(4)],
                    "parameters": [
                        {"name": f"p{k}", "type": "int", "default": k}
                        for k in range(10)
                    ],
                }
                for i in range(1000)
            ],
        }
    )
    states = []
    for spec in catalogue.workflows:
        number = uuid.uuid4()
        jobs = {
            s: JobConfig(
                spec.default_params(),
                {},
                status=JobStatus(JobId(s, number), spec.workflow_id, JobState.active),
                last_seen=NOW,
            )
            for s in spec.source_names
        }
        staged = {s: JobConfig(spec.default_params(), {}) for s in spec.source_names}
        states.append((spec, WorkflowState(JobSet(number, jobs), None, staged)))
    tracemalloc.start()
    try:
        snapshots = [
            build_workflow_snapshot(sp, st, 0, NOW, STALE_NS) for sp, st in states
        ]
        allocated, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(snapshots) == 1000
    assert all(s.aggregate.label == "ACTIVE 4/4" for s in snapshots)
    assert allocated / 4000 < 600


def test_snapshot_types_are_immutable_tuples():
    # NamedTuples: cheap to build by the thousand, and immutable.
    for kind in (StagedConfig, JobSnapshot, JobSetSnapshot, WorkflowSnapshot):
        assert issubclass(kind, tuple)
