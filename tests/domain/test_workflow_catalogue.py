"""Workflow facts of the catalogue: outputs, reset support, confirmation."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from jobdash.domain.workflow_catalogue import DEFAULT_RESET_NOTE, WorkflowSpec


def spec(**fields: Any) -> WorkflowSpec:
    return WorkflowSpec.model_validate(
        {"id": "dream/rates/1", "title": "Rates", "source_names": ["a"], **fields}
    )


def test_a_workflow_resets_asks_nothing_and_lists_no_outputs_by_default():
    plain = spec()

    assert plain.supports_reset
    assert plain.reset_refusal is None
    assert not plain.confirm_actions
    assert plain.outputs == []


def test_a_workflow_without_reset_says_why_in_the_catalogues_words_or_by_default():
    noted = spec(supports_reset=False, reset_note="A reset duplicates its points.")

    assert noted.reset_refusal == "A reset duplicates its points."
    assert spec(supports_reset=False).reset_refusal == DEFAULT_RESET_NOTE


def test_outputs_carry_a_description_and_a_label():
    outputs = spec(
        outputs=[
            {"name": "rate_history", "description": "events/s over time"},
            {"name": "rate", "title": "Current rate"},
        ]
    ).outputs

    assert [(o.label, o.description) for o in outputs] == [
        ("rate history", "events/s over time"),
        ("Current rate", ""),
    ]


@pytest.mark.parametrize(
    ("fields", "location"),
    [
        ({"supports_reset": "no"}, ("supports_reset",)),
        ({"confirm_actions": 1}, ("confirm_actions",)),
        (
            {"outputs": [{"name": "x", "descripton": "typo"}]},
            ("outputs", 0, "descripton"),
        ),
        ({"outputs": [{"name": "has space"}]}, ("outputs", 0, "name")),
        ({"outputs": "histogram"}, ("outputs",)),
        ({"supports_rest": False}, ("supports_rest",)),
    ],
)
def test_a_bad_fact_is_refused_naming_its_field(fields, location):
    with pytest.raises(ValidationError) as caught:
        spec(**fields)

    assert caught.value.errors()[0]["loc"] == location


def test_duplicate_outputs_and_a_reset_note_on_a_resettable_workflow_are_refused():
    with pytest.raises(ValidationError, match="'outputs' contains duplicate names"):
        spec(outputs=[{"name": "x"}, {"name": "x"}])
    with pytest.raises(ValidationError, match="'reset_note' is only allowed"):
        spec(reset_note="why not")
