"""The parameter form generated from a workflow's catalogue schema."""

from __future__ import annotations

import panel as pn
import pytest

from jobdash.catalogue_file import shipped_catalogue
from jobdash.domain.workflow_catalogue import (
    ParameterError,
    ParameterSpec,
)
from jobdash.ui.workflows.parameter_form import ParameterForm

CATALOGUE = shipped_catalogue("dream")
DETECTOR = CATALOGUE.workflows[0]  # choice, int, float, float, float
MONITORS = CATALOGUE.workflows[1]  # int, float, bool
POWDER = CATALOGUE.workflows[2]  # float, float, int, choice, str, bool


def spec(**fields) -> ParameterSpec:
    return ParameterSpec.model_validate(fields)


def test_each_parameter_type_gets_its_input_with_label_and_bounds():
    form = ParameterForm(DETECTOR.parameters + POWDER.parameters[3:])
    widgets = form.widgets

    assert isinstance(widgets["projection"], pn.widgets.Select)
    assert widgets["projection"].options == ["xy_plane", "cylinder_mantle_z"]
    resolution = widgets["resolution"]
    assert isinstance(resolution, pn.widgets.IntInput)
    assert (resolution.label, resolution.start, resolution.end) == (
        "Pixels per axis",
        16,
        1024,
    )
    toa_max = widgets["toa_max"]
    assert isinstance(toa_max, pn.widgets.FloatInput)
    assert (toa_max.label, toa_max.start, toa_max.end) == (
        "Time of arrival to [µs]",
        0.0,
        71000.0,
    )
    assert isinstance(widgets["vanadium_run"], pn.widgets.TextInput)
    assert isinstance(widgets["pulse_skipping"], pn.widgets.Checkbox)


def test_inputs_start_at_the_given_values_and_defaults_fill_the_rest():
    form = ParameterForm(MONITORS.parameters, {"toa_bins": 2000, "cumulative": True})

    assert form.values == {"toa_bins": 2000, "toa_max": 71000.0, "cumulative": True}
    assert form.validate() == {"toa_bins": 2000, "toa_max": 71000.0, "cumulative": True}


def test_a_refused_value_shows_its_message_next_to_the_field_at_once():
    form = ParameterForm(DETECTOR.parameters)

    form.widgets["resolution"].value = 8

    assert form.errors == {"resolution": "must be ≥ 16, got 8"}

    form.widgets["resolution"].value = 64

    assert form.errors == {}


def test_an_empty_number_field_is_refused_with_a_message():
    form = ParameterForm(MONITORS.parameters)

    form.widgets["toa_max"].value = None

    assert form.errors == {"toa_max": "must be a number, got None"}


def test_validate_shows_every_refusal_and_raises_the_first():
    form = ParameterForm(DETECTOR.parameters)
    form.widgets["resolution"].value = 2000
    form.widgets["window"].value = 0.5

    with pytest.raises(ParameterError) as raised:
        form.validate()

    assert raised.value.parameter == "resolution"
    assert form.errors == {
        "resolution": "must be ≤ 1024, got 2000",
        "window": "must be ≥ 1, got 0.5",
    }


def test_validate_coerces_values_to_their_types():
    form = ParameterForm(DETECTOR.parameters, {"toa_min": 5})

    assert form.validate()["toa_min"] == 5.0
    assert isinstance(form.validate()["toa_min"], float)


def test_an_orchestrator_refusal_is_shown_next_to_the_field_it_names():
    form = ParameterForm(DETECTOR.parameters)

    form.show_error(ParameterError("window", "must be ≤ 600, got 601"))

    assert form.errors == {"window": "must be ≤ 600, got 601"}
    assert form.form_error is None


def test_a_refusal_naming_no_field_is_shown_under_the_form_until_something_changes():
    form = ParameterForm(DETECTOR.parameters)

    form.show_error(ParameterError(None, "'x' is not a source of 'Detector view'"))

    assert form.form_error == "'x' is not a source of 'Detector view'"

    form.widgets["resolution"].value = 256

    assert form.form_error is None


def test_messages_are_escaped_in_the_markup():
    form = ParameterForm(DETECTOR.parameters)

    form.show_error(ParameterError(None, "<img src=x onerror=alert(1)>"))

    pane = form.__panel__().objects[-1]
    assert pane.object == "&lt;img src=x onerror=alert(1)&gt;"
    assert pane.visible


def test_help_text_from_the_catalogue_is_escaped():
    hostile = spec(name="n", type="int", default=1, min=0, help="<b onclick=x>hi</b>")
    checkbox = spec(name="b", type="bool", default=False, help="<i>on</i>")

    form = ParameterForm([hostile, checkbox])

    assert "<b" not in form.widgets["n"].description
    assert "&lt;b onclick=x&gt;hi&lt;/b&gt;" in form.widgets["n"].description
    assert "Allowed: 0 … ∞" in form.widgets["n"].description
    helps = [
        obj.object
        for obj in form.__panel__().objects
        if isinstance(obj, pn.pane.HTML) and "jd-help" in obj.object
    ]
    assert helps == ['<span class="jd-help">&lt;i&gt;on&lt;/i&gt;</span>']


def test_values_an_input_cannot_hold_show_as_refusals_instead_of_failing():
    form = ParameterForm(
        DETECTOR.parameters,
        {"resolution": "lots", "projection": "sphere", "toa_min": 1.5},
    )

    assert form.values["resolution"] is None
    assert form.values["projection"] == "xy_plane"  # the default choice
    assert form.errors == {"resolution": "must be a number, got None"}


def test_a_fractional_value_for_an_int_parameter_is_refused():
    form = ParameterForm(DETECTOR.parameters, {"resolution": 100.5})

    assert form.errors == {"resolution": "must be a number, got None"}


def test_changed_parameters_are_marked_on_their_labels_and_unmarked_again():
    form = ParameterForm(DETECTOR.parameters)

    form.mark_changed({"resolution", "window"})

    assert form.widgets["resolution"].label == "Pixels per axis (changed)"
    assert "jd-param-changed" in form.widgets["window"].css_classes
    assert form.widgets["projection"].label == "Projection"

    form.mark_changed({"window"})

    assert form.widgets["resolution"].label == "Pixels per axis"
    assert "jd-param-changed" not in form.widgets["resolution"].css_classes
    assert form.changed == {"window"}


def test_disabled_form_disables_every_input():
    form = ParameterForm(POWDER.parameters, disabled=True)

    assert all(widget.disabled for widget in form.widgets.values())

    form.set_disabled(False)

    assert not any(widget.disabled for widget in form.widgets.values())


def test_listeners_hear_which_parameter_changed():
    form = ParameterForm(MONITORS.parameters)
    heard: list[str] = []
    form.on_change(heard.append)

    form.widgets["cumulative"].value = True
    form.set_values({"toa_bins": 20, "unknown": 1})

    assert heard == ["cumulative", "toa_bins"]


def test_the_form_renders_into_a_bokeh_model():
    form = ParameterForm(POWDER.parameters)

    model = form.__panel__().get_root()

    assert "jd-parameter-form" in model.css_classes
