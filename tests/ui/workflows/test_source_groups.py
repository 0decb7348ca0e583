"""Sources with equal parameters form a group; what groups are called."""

from __future__ import annotations

from jobdash.domain.workflow_catalogue import ParameterError
from jobdash.ui.workflows.source_groups import (
    GroupParameterError,
    SourceGroup,
    group_by_params,
    group_caption,
    group_title,
)

ORDER = ("mantle", "endcap_backward", "endcap_forward", "high_resolution")


def test_sources_with_equal_parameters_form_one_group_in_source_order():
    groups = group_by_params(
        [
            ("high_resolution", {"resolution": 128}),
            ("endcap_forward", {"resolution": 256}),
            ("mantle", {"resolution": 128}),
            ("endcap_backward", {"resolution": 256}),
        ],
        ORDER,
    )

    assert groups == (
        SourceGroup(("mantle", "high_resolution"), {"resolution": 128}),
        SourceGroup(("endcap_backward", "endcap_forward"), {"resolution": 256}),
    )


def test_numbers_equal_in_value_are_equal_parameters():
    groups = group_by_params(
        [("mantle", {"toa_min": 0}), ("endcap_forward", {"toa_min": 0.0})], ORDER
    )

    assert [group.sources for group in groups] == [("mantle", "endcap_forward")]


def test_sources_outside_the_order_come_last_by_name():
    groups = group_by_params(
        [("zeta", {"a": 1}), ("alpha", {"a": 2}), ("mantle", {"a": 3})], ORDER
    )

    assert [group.sources for group in groups] == [("mantle",), ("alpha",), ("zeta",)]


def test_no_configs_give_no_groups():
    assert group_by_params([], ORDER) == ()


def test_one_group_is_all_sources_several_are_numbered_with_their_sources():
    one = (SourceGroup(ORDER, {}),)
    two = (SourceGroup(("mantle",), {}), SourceGroup((), {}))

    assert group_title(0, 1) == "All sources"
    assert group_caption(0, one) == "All sources"
    assert group_title(1, 2) == "Group 2"
    assert group_caption(0, two) == "Group 1 (mantle)"
    assert group_caption(1, two) == "Group 2 (no sources)"


def test_a_group_refusal_reads_group_first_and_keeps_the_field_refusal():
    field = ParameterError("resolution", "must be ≥ 16, got 4")

    error = GroupParameterError(1, "Group 2 (mantle)", field)

    assert str(error) == "Group 2 (mantle): resolution: must be ≥ 16, got 4"
    assert isinstance(error, ParameterError)
    assert (error.group, error.parameter, error.error) == (1, "resolution", field)
