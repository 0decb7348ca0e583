"""Where a card's draft starts from, and how it is compared with what runs."""

from __future__ import annotations

import uuid

import pytest
from workflow_rig import BANKS, DETECTOR, POWDER, Rig

from jobdash.domain.ids import JobId
from jobdash.domain.job_state import JobState
from jobdash.domain.job_status import JobStatus
from jobdash.services.workflow_state import SourceConfig
from jobdash.testing.actors import OPERATOR
from jobdash.ui.workflows.staging_draft import (
    StagingDraft,
    draft_differences,
    initial_draft,
)


@pytest.fixture
def rig() -> Rig:
    return Rig()


def test_without_staged_or_running_config_the_draft_is_every_source_with_defaults(rig):
    snapshot = rig.orchestrator.snapshot(POWDER)

    draft = initial_draft(snapshot)

    assert draft.sources == tuple(snapshot.spec.source_names)
    assert draft.params == snapshot.spec.default_params()
    assert draft.aux_source_names == {"monitor": "monitor_cave"}


def test_staged_configs_win_over_the_running_ones(rig):
    rig.commit(resolution=256)
    rig.orchestrator.clear_staged_configs(DETECTOR, actor=OPERATOR)
    for source in (BANKS[3], BANKS[0]):
        rig.orchestrator.stage_config(
            DETECTOR, source, {"resolution": 512}, actor=OPERATOR
        )

    draft = initial_draft(rig.orchestrator.snapshot(DETECTOR))

    assert draft.sources == (BANKS[0], BANKS[3])  # catalogue order
    assert draft.params["resolution"] == 512
    assert draft.params["window"] == 10.0  # filled with its default


def test_without_staged_configs_the_running_config_is_the_starting_point(rig):
    rig.commit(sources=BANKS[:2], resolution=256)
    rig.orchestrator.clear_staged_configs(DETECTOR, actor=OPERATOR)

    draft = initial_draft(rig.orchestrator.snapshot(DETECTOR))

    assert draft.sources == BANKS[:2]
    assert draft.params["resolution"] == 256


def test_an_adopted_job_with_unknown_config_does_not_shape_the_draft(rig):
    job_id = JobId("mantle_detector", uuid.uuid4())
    rig.heartbeat(JobStatus(job_id, DETECTOR, JobState.active))

    draft = initial_draft(rig.orchestrator.snapshot(DETECTOR))

    assert draft.sources == BANKS
    assert draft.params["resolution"] == 128


def test_nothing_differs_when_nothing_runs_or_the_running_set_is_stopping(rig):
    draft = initial_draft(rig.orchestrator.snapshot(DETECTOR))
    assert not draft_differences(draft, None)

    rig.commit(resolution=256)
    rig.orchestrator.stop_workflow(DETECTOR, actor=OPERATOR)
    stopping = rig.orchestrator.snapshot(DETECTOR).current

    assert not draft_differences(draft, stopping)


def test_differences_name_changed_parameters_and_added_and_dropped_sources(rig):
    rig.commit(sources=BANKS[:2])
    running = rig.orchestrator.snapshot(DETECTOR).current
    draft = StagingDraft(
        (BANKS[1], BANKS[2]),
        {},
        {**rig.catalogue[DETECTOR].default_params(), "resolution": 256},
    )

    differences = draft_differences(draft, running, {"resolution": "Pixels per axis"})

    assert differences.changed_params == {"resolution"}
    assert differences.notes == (
        "adds endcap_forward_detector",
        "drops mantle_detector",
        "Pixels per axis 128 → 256",
    )


def test_equal_values_of_different_numeric_types_do_not_differ(rig):
    rig.commit(sources=BANKS[:1], toa_min=0.0)
    running = rig.orchestrator.snapshot(DETECTOR).current
    params = {
        **rig.catalogue[DETECTOR].default_params(),
        "toa_min": 0,
        "resolution": 128.0,
    }

    assert not draft_differences(StagingDraft(BANKS[:1], {}, params), running)


def test_a_changed_aux_source_differs(rig):
    rig.orchestrator.stage_config(
        POWDER, "mantle_detector", {}, {"monitor": "monitor_cave"}, actor=OPERATOR
    )
    rig.orchestrator.commit_workflow(POWDER, actor=OPERATOR)
    running = rig.orchestrator.snapshot(POWDER).current
    draft = StagingDraft(
        ("mantle_detector",),
        {"monitor": "monitor_bunker"},
        rig.catalogue[POWDER].default_params(),
    )

    assert draft_differences(draft, running).notes == ("monitor → monitor_bunker",)


def test_a_running_set_of_unknown_config_differs_as_a_whole(rig):
    job_id = JobId("mantle_detector", uuid.uuid4())
    rig.heartbeat(JobStatus(job_id, DETECTOR, JobState.active))
    snapshot = rig.orchestrator.snapshot(DETECTOR)

    differences = draft_differences(initial_draft(snapshot), snapshot.current)

    assert differences.notes == ("running config unknown",)
    assert differences.changed_params == frozenset()


def test_a_draft_commits_as_one_config_per_chosen_source():
    draft = StagingDraft(
        (BANKS[0], BANKS[2]), {"monitor": "monitor_cave"}, {"resolution": 128}
    )

    configs = draft.source_configs()

    assert list(configs) == [BANKS[0], BANKS[2]]
    for config in configs.values():
        assert config == SourceConfig({"resolution": 128}, {"monitor": "monitor_cave"})
