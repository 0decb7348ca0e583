"""The staging section: sources, auxiliary sources and parameters as one draft."""

from __future__ import annotations

import pytest

from jobdash.catalogue_file import shipped_catalogue
from jobdash.domain.workflow_catalogue import ParameterError
from jobdash.ui.workflows.source_groups import GroupParameterError, SourceGroup
from jobdash.ui.workflows.staging_draft import DraftDifferences, StagingDraft
from jobdash.ui.workflows.staging_form import StagingForm

CATALOGUE = shipped_catalogue("dream")
POWDER = CATALOGUE.workflows[2]  # aux source "monitor"


def make_form(**options) -> StagingForm:
    draft = StagingDraft.uniform(
        ("endcap_forward_detector", "mantle_detector"),
        {"monitor": "monitor_bunker"},
        {**POWDER.default_params(), "dspacing_bins": 500},
    )
    return StagingForm(POWDER, draft, **options)


def test_the_form_starts_from_the_draft_it_is_given():
    form = make_form()

    assert set(form.source_selector.value) == {
        "endcap_forward_detector",
        "mantle_detector",
    }
    assert form.source_selector.options == POWDER.source_names
    assert form.aux_selectors["monitor"].value == "monitor_bunker"
    assert form.aux_selectors["monitor"].options == ["monitor_cave", "monitor_bunker"]
    assert form.parameter_form.values["dspacing_bins"] == 500


def test_the_draft_lists_chosen_sources_in_catalogue_order_whatever_the_click_order():
    form = make_form()

    form.source_selector.value = ["high_resolution_detector", "mantle_detector"]

    assert form.draft().sources == ("mantle_detector", "high_resolution_detector")


def test_validate_returns_the_checked_draft():
    form = make_form()

    draft = form.validate()

    assert draft.sources == ("mantle_detector", "endcap_forward_detector")
    assert draft.aux_source_names == {"monitor": "monitor_bunker"}
    (group,) = draft.groups
    assert group.params["dspacing_bins"] == 500
    assert group.params["dspacing_min"] == 0.4


def test_an_empty_choice_of_sources_is_refused_under_the_form():
    form = make_form()
    form.source_selector.value = []

    with pytest.raises(ParameterError, match="choose at least one source"):
        form.validate()

    assert form.parameter_form.form_error == "choose at least one source"


def test_an_auxiliary_source_refusal_is_shown_next_to_the_aux_selectors():
    form = make_form()

    form.show_error(ParameterError("monitor", "must be one of monitor_cave; got 'x'"))

    assert form._aux_message.visible
    assert (
        form._aux_message.object
        == "monitor: must be one of monitor_cave; got &#x27;x&#x27;"
    )
    assert form.parameter_form.form_error is None

    form.aux_selectors["monitor"].value = "monitor_cave"

    assert not form._aux_message.visible


def test_listeners_hear_every_kind_of_change():
    form = make_form()
    heard: list[str] = []
    form.on_change(lambda: heard.append("changed"))

    form.source_selector.value = ["mantle_detector"]
    form.aux_selectors["monitor"].value = "monitor_cave"
    form.parameter_form.widgets["pulse_skipping"].value = True

    assert heard == ["changed"] * 3


def test_a_disabled_form_disables_sources_aux_and_parameters():
    form = make_form(disabled=True)

    assert form.source_selector.disabled
    assert form.aux_selectors["monitor"].disabled
    assert all(w.disabled for w in form.parameter_form.widgets.values())

    form.set_disabled(False)

    assert not form.source_selector.disabled
    assert not form.aux_selectors["monitor"].disabled


# --- groups -----------------------------------------------------------------------

DETECTOR = CATALOGUE.workflows[0]
BANKS = tuple(DETECTOR.source_names)


def split_form() -> StagingForm:
    defaults = DETECTOR.default_params()
    draft = StagingDraft(
        (
            SourceGroup((BANKS[0], BANKS[3]), defaults),
            SourceGroup((BANKS[1], BANKS[2]), {**defaults, "resolution": 256}),
        ),
        {},
    )
    return StagingForm(DETECTOR, draft)


def test_a_split_draft_opens_as_its_groups_with_their_values():
    form = split_form()

    assert form.groups.titles == (
        "Group 1: mantle_detector, high_resolution_detector",
        "Group 2: endcap_backward_detector, endcap_forward_detector",
    )
    assert [f.values["resolution"] for f in form.groups.forms] == [128, 256]
    assert form.groups.pickers["endcap_forward_detector"].value == 1
    assert (
        form.draft().source_configs()["endcap_forward_detector"].params["resolution"]
        == 256
    )


def test_unticking_a_source_takes_it_out_of_its_group():
    form = split_form()

    form.source_selector.value = list(BANKS[:3])

    assert [group.sources for group in form.draft().groups] == [
        (BANKS[0],),
        (BANKS[1], BANKS[2]),
    ]
    assert form.groups.titles[0] == "Group 1: mantle_detector"


def test_validate_refuses_a_value_of_one_group_naming_it():
    form = split_form()
    form.groups.forms[1].widgets["resolution"].value = 2000

    with pytest.raises(GroupParameterError, match=r"^Group 2 \(endcap_backward"):
        form.validate()

    assert "resolution" in form.groups.forms[1].errors
    assert form.groups.forms[0].errors == {}


def test_differences_are_marked_in_the_group_they_concern():
    form = split_form()

    form.mark_differences(
        DraftDifferences(
            frozenset({"resolution"}),
            ("Group 2 (…): resolution 128 → 256",),
            (frozenset(), frozenset({"resolution"})),
        )
    )

    assert [f.changed for f in form.groups.forms] == [frozenset(), {"resolution"}]
    form.mark_differences(DraftDifferences())
    assert [f.changed for f in form.groups.forms] == [frozenset(), frozenset()]
