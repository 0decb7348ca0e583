"""Where a card's draft starts from, and how it is compared with what runs."""

from __future__ import annotations

import uuid

import pytest
from workflow_rig import BANKS, DETECTOR, POWDER, Rig

from jobdash.domain.ids import JobId
from jobdash.domain.job_state import JobState
from jobdash.domain.job_status import JobStatus
from jobdash.domain.workflow_catalogue import ParameterError
from jobdash.services.workflow_state import SourceConfig
from jobdash.testing.actors import OPERATOR
from jobdash.ui.workflows.source_groups import GroupParameterError, SourceGroup
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
    assert len(draft.groups) == 1
    assert draft.groups[0].params == snapshot.spec.default_params()
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
    (group,) = draft.groups
    assert group.params["resolution"] == 512
    assert group.params["window"] == 10.0  # filled with its default


def test_without_staged_configs_the_running_config_is_the_starting_point(rig):
    rig.commit(sources=BANKS[:2], resolution=256)
    rig.orchestrator.clear_staged_configs(DETECTOR, actor=OPERATOR)

    draft = initial_draft(rig.orchestrator.snapshot(DETECTOR))

    assert draft.sources == BANKS[:2]
    (group,) = draft.groups
    assert group.params["resolution"] == 256


def test_an_adopted_job_with_unknown_config_does_not_shape_the_draft(rig):
    job_id = JobId("mantle_detector", uuid.uuid4())
    rig.heartbeat(JobStatus(job_id, DETECTOR, JobState.active))

    draft = initial_draft(rig.orchestrator.snapshot(DETECTOR))

    assert draft.sources == BANKS
    assert [group.params["resolution"] for group in draft.groups] == [128]


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
    draft = StagingDraft.uniform(
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

    assert not draft_differences(StagingDraft.uniform(BANKS[:1], {}, params), running)


def test_a_changed_aux_source_differs(rig):
    rig.orchestrator.stage_config(
        POWDER, "mantle_detector", {}, {"monitor": "monitor_cave"}, actor=OPERATOR
    )
    rig.orchestrator.commit_workflow(POWDER, actor=OPERATOR)
    running = rig.orchestrator.snapshot(POWDER).current
    draft = StagingDraft.uniform(
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
    draft = StagingDraft.uniform(
        (BANKS[0], BANKS[2]), {"monitor": "monitor_cave"}, {"resolution": 128}
    )

    configs = draft.source_configs()

    assert list(configs) == [BANKS[0], BANKS[2]]
    for config in configs.values():
        assert config == SourceConfig({"resolution": 128}, {"monitor": "monitor_cave"})


# --- groups of sources ---------------------------------------------------------------


def split(
    rig: Rig, *, inner: int = 128, endcaps: int = 256
) -> tuple[SourceGroup, SourceGroup]:
    """Draft groups: mantle and high-resolution at ``inner``, endcaps at ``endcaps``."""
    defaults = rig.catalogue[DETECTOR].default_params()
    return (
        SourceGroup((BANKS[0], BANKS[3]), {**defaults, "resolution": inner}),
        SourceGroup((BANKS[1], BANKS[2]), {**defaults, "resolution": endcaps}),
    )


def commit_split(rig: Rig, **resolutions: int) -> None:
    draft = StagingDraft(split(rig, **resolutions), {})
    rig.orchestrator.commit_workflow(
        DETECTOR, actor=OPERATOR, draft=draft.source_configs()
    )


def test_a_split_draft_commits_each_group_with_its_own_parameters(rig):
    commit_split(rig)

    resolution = {
        start.job_id.source_name: start.params["resolution"] for start in rig.starts()
    }
    assert resolution == {BANKS[0]: 128, BANKS[1]: 256, BANKS[2]: 256, BANKS[3]: 128}


def test_a_running_split_configuration_reopens_as_its_groups(rig):
    commit_split(rig)
    rig.orchestrator.clear_staged_configs(DETECTOR, actor=OPERATOR)

    draft = initial_draft(rig.orchestrator.snapshot(DETECTOR))

    assert [group.sources for group in draft.groups] == [
        (BANKS[0], BANKS[3]),
        (BANKS[1], BANKS[2]),
    ]
    assert [group.params["resolution"] for group in draft.groups] == [128, 256]


def test_staged_configs_form_groups_by_equal_parameters_in_catalogue_order(rig):
    for source, resolution in zip(BANKS, (64, 512, 64, 1024), strict=True):
        rig.orchestrator.stage_config(
            DETECTOR, source, {"resolution": resolution}, actor=OPERATOR
        )

    draft = initial_draft(rig.orchestrator.snapshot(DETECTOR))

    assert [(g.sources, g.params["resolution"]) for g in draft.groups] == [
        ((BANKS[0], BANKS[2]), 64),
        ((BANKS[1],), 512),
        ((BANKS[3],), 1024),
    ]


def test_a_job_of_unknown_config_joins_the_first_group(rig):
    rig.commit(sources=(BANKS[1],), resolution=256)
    rig.orchestrator.clear_staged_configs(DETECTOR, actor=OPERATOR)
    rig.heartbeat(
        JobStatus(
            JobId(BANKS[0], rig.orchestrator.snapshot(DETECTOR).current.job_number),
            DETECTOR,
            JobState.active,
        )
    )

    draft = initial_draft(rig.orchestrator.snapshot(DETECTOR))

    assert [(g.sources, g.params["resolution"]) for g in draft.groups] == [
        ((BANKS[0], BANKS[1]), 256)
    ]


def test_each_changed_group_is_one_note_naming_its_sources(rig):
    rig.commit(resolution=128)
    running = rig.orchestrator.snapshot(DETECTOR).current
    labels = {"resolution": "Pixels per axis", "window": "Sliding window"}
    inner, endcaps = split(rig, endcaps=256)
    endcaps = SourceGroup(endcaps.sources, {**endcaps.params, "window": 20.0})

    differences = draft_differences(StagingDraft((inner, endcaps), {}), running, labels)

    assert differences.notes == (
        "Group 2 (endcap_backward_detector, endcap_forward_detector): "
        "Pixels per axis 128 → 256, Sliding window 10.0 → 20.0",
    )
    assert differences.group_changes == (frozenset(), {"resolution", "window"})
    assert differences.changed_params == {"resolution", "window"}


def test_a_group_is_compared_with_the_running_jobs_of_its_own_sources(rig):
    commit_split(rig, inner=128, endcaps=256)
    running = rig.orchestrator.snapshot(DETECTOR).current

    same = draft_differences(StagingDraft(split(rig), {}), running)
    merged = draft_differences(
        StagingDraft.uniform(BANKS, {}, split(rig)[0].params), running
    )

    assert not same
    assert merged.notes == ("resolution mixed → 128",)
    assert merged.group_changes == ({"resolution"},)


def test_a_value_refused_in_one_of_several_groups_names_the_group_and_the_field(rig):
    spec = rig.catalogue[DETECTOR]
    draft = StagingDraft(split(rig, endcaps=4), {})

    with pytest.raises(GroupParameterError) as refused:
        draft.validated(spec)

    assert str(refused.value) == (
        "Group 2 (endcap_backward_detector, endcap_forward_detector): "
        "resolution: must be ≥ 16, got 4"
    )
    assert refused.value.group == 1
    assert refused.value.parameter == "resolution"
    assert str(refused.value.error) == "resolution: must be ≥ 16, got 4"


def test_a_group_without_sources_and_a_draft_without_sources_are_refused(rig):
    spec = rig.catalogue[DETECTOR]
    inner, endcaps = split(rig)
    empty = SourceGroup((), endcaps.params)

    with pytest.raises(GroupParameterError, match=r"^Group 2: no source is in"):
        StagingDraft((inner, empty), {}).validated(spec)
    with pytest.raises(ParameterError, match="choose at least one source"):
        StagingDraft((SourceGroup((), inner.params), empty), {}).validated(spec)


def test_a_validated_draft_keeps_its_groups_with_coerced_values(rig):
    spec = rig.catalogue[DETECTOR]
    inner, endcaps = split(rig)
    draft = StagingDraft(
        (inner, SourceGroup(endcaps.sources, {"resolution": 512.0})), {}
    )

    checked = draft.validated(spec)

    assert [group.sources for group in checked.groups] == [
        inner.sources,
        endcaps.sources,
    ]
    assert checked.groups[1].params == {**spec.default_params(), "resolution": 512}
    assert type(checked.groups[1].params["resolution"]) is int
