"""Groups of sources in the staging form: split, pick, merge, validate, mark."""

from __future__ import annotations

import pytest
from workflow_rig import BANKS, click

from jobdash.catalogue_file import shipped_catalogue
from jobdash.ui.workflows.parameter_groups import ParameterGroups
from jobdash.ui.workflows.source_groups import GroupParameterError, SourceGroup

DETECTOR = shipped_catalogue("dream").workflows[0]  # the four detector banks
DEFAULTS = DETECTOR.default_params()
MANTLE, BACKWARD, FORWARD, HIGH_RES = BANKS


def one_group(**options) -> ParameterGroups:
    return ParameterGroups(DETECTOR, (SourceGroup(BANKS, DEFAULTS),), BANKS, **options)


def endcaps_apart(groups: ParameterGroups, resolution: int = 256) -> None:
    """What the operator does: New group, the endcaps into it, a resolution."""
    click(groups.new_group_button)
    groups.pickers[BACKWARD].value = 1
    groups.pickers[FORWARD].value = 1
    groups.forms[1].widgets["resolution"].value = resolution


def test_one_group_shows_no_pickers_and_cannot_be_removed():
    groups = one_group()

    assert groups.titles == ("All sources",)
    assert not groups._picker_section.visible
    assert not groups.remove_buttons[0].visible


def test_a_new_group_starts_empty_with_the_last_groups_values():
    groups = one_group()
    groups.forms[0].widgets["window"].value = 30.0

    click(groups.new_group_button)

    assert groups.titles == (
        "Group 1: " + ", ".join(BANKS),
        "Group 2: no sources yet",
    )
    assert groups.forms[1].values == groups.forms[0].values
    assert groups._picker_section.visible
    assert all(picker.visible for picker in groups.pickers.values())
    assert groups.pickers[MANTLE].options == {"Group 1": 0, "Group 2": 1}


def test_picking_a_group_for_sources_splits_them_with_their_own_values():
    groups = one_group()

    endcaps_apart(groups)

    assert groups.groups() == (
        SourceGroup((MANTLE, HIGH_RES), DEFAULTS),
        SourceGroup((BACKWARD, FORWARD), {**DEFAULTS, "resolution": 256}),
    )
    assert groups.titles[1] == f"Group 2: {BACKWARD}, {FORWARD}"


def test_removing_a_group_merges_its_sources_into_the_first_and_renumbers():
    groups = one_group()
    endcaps_apart(groups)
    click(groups.new_group_button)
    groups.pickers[HIGH_RES].value = 2

    click(groups.remove_buttons[1])

    assert [group.sources for group in groups.groups()] == [
        (MANTLE, BACKWARD, FORWARD),
        (HIGH_RES,),
    ]
    assert groups.pickers[HIGH_RES].value == 1
    assert groups.pickers[HIGH_RES].options == {"Group 1": 0, "Group 2": 1}
    assert groups.forms[1].values["resolution"] == 256  # the third group's copy

    click(groups.remove_buttons[0])

    assert groups.titles == ("All sources",)
    assert groups.groups()[0].sources == BANKS
    assert groups.forms[0].values["resolution"] == 256


def test_an_unchosen_source_keeps_its_group_and_counts_in_none():
    groups = one_group()
    endcaps_apart(groups)

    groups.set_chosen((MANTLE, FORWARD))

    assert [group.sources for group in groups.groups()] == [(MANTLE,), (FORWARD,)]
    assert not groups.pickers[BACKWARD].visible

    groups.set_chosen(BANKS)

    assert groups.groups()[1].sources == (BACKWARD, FORWARD)


def test_a_refused_value_is_shown_in_its_group_and_names_it():
    groups = one_group()
    endcaps_apart(groups, resolution=4)

    with pytest.raises(GroupParameterError, match=r"^Group 2 \(endcap_backward"):
        groups.validate()

    assert groups.forms[1].errors == {"resolution": "must be ≥ 16, got 4"}
    assert groups.forms[0].errors == {}


def test_a_group_without_a_chosen_source_is_refused_under_its_form():
    groups = one_group()
    click(groups.new_group_button)

    with pytest.raises(GroupParameterError, match=r"^Group 2: no source is in"):
        groups.validate()

    assert groups.forms[1].form_error == (
        "no source is in this group; choose it for one, or remove it"
    )


def test_changed_parameters_are_marked_per_group():
    groups = one_group()
    endcaps_apart(groups)

    groups.mark_changed((frozenset(), frozenset({"resolution"})))

    assert groups.forms[0].changed == frozenset()
    assert groups.forms[1].changed == {"resolution"}


def test_every_change_of_values_or_groups_is_heard():
    groups = one_group()
    heard: list[str] = []
    groups.on_change(lambda: heard.append("changed"))

    endcaps_apart(groups)  # new group, two picks, one value
    click(groups.remove_buttons[1])

    assert heard == ["changed"] * 5


def test_a_disabled_view_disables_pickers_buttons_and_inputs():
    groups = ParameterGroups(
        DETECTOR,
        (SourceGroup((MANTLE,), DEFAULTS), SourceGroup((FORWARD,), DEFAULTS)),
        (MANTLE, FORWARD),
        disabled=True,
    )

    assert groups.new_group_button.disabled
    assert all(button.disabled for button in groups.remove_buttons)
    assert all(picker.disabled for picker in groups.pickers.values())
    assert all(
        widget.disabled for form in groups.forms for widget in form.widgets.values()
    )


def test_a_workflow_of_one_source_offers_no_new_group():
    spec = DETECTOR.model_copy(update={"source_names": [MANTLE]})

    groups = ParameterGroups(spec, (SourceGroup((MANTLE,), DEFAULTS),), (MANTLE,))

    assert not groups.new_group_button.visible
    assert one_group().new_group_button.visible
