"""Reading catalogue files: the shipped one, and bad ones named by field."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobdash.catalogue_file import (
    CatalogueError,
    load_catalogue_file,
    shipped_catalogue,
)
from jobdash.domain.ids import WorkflowId

_GOOD = """\
instrument: dream
workflows:
  - id: dream/a/1
    title: A
    source_names: [s]
  - id: dream/rates/1
    title: Rates
    source_names: [s]
{extra}
"""


def write(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "catalogue.yaml"
    path.write_text(_GOOD.format(extra=extra), encoding="utf-8")
    return path


def test_the_shipped_catalogue_describes_every_output_and_guards_the_event_rates():
    catalogue = shipped_catalogue("dream")

    assert all(spec.outputs for spec in catalogue.workflows)
    assert all(o.description for spec in catalogue.workflows for o in spec.outputs)
    rates = catalogue[WorkflowId("dream", "event_rate", 1)]
    assert not rates.supports_reset
    assert rates.reset_refusal == (
        "A reset of a time-series workflow duplicates its points."
    )
    assert rates.confirm_actions


def test_workflow_facts_are_read_from_the_file(tmp_path):
    path = write(
        tmp_path,
        "    supports_reset: false\n"
        "    reset_note: Points would repeat.\n"
        "    confirm_actions: true\n"
        "    outputs:\n"
        "      - {name: rate, title: Rate, description: events/s}\n",
    )

    rates = load_catalogue_file(path).workflows[1]

    assert (rates.reset_refusal, rates.confirm_actions) == (
        "Points would repeat.",
        True,
    )
    assert [(o.name, o.label, o.description) for o in rates.outputs] == [
        ("rate", "Rate", "events/s")
    ]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ("    supports_reset: perhaps\n", "workflows.1.supports_reset"),
        ("    confirm_actions: [yes]\n", "workflows.1.confirm_actions"),
        (
            "    outputs:\n      - {name: rate, describe: x}\n",
            "workflows.1.outputs.0.describe",
        ),
        ("    outputs: {rate: x}\n", "workflows.1.outputs"),
        ("    supports_reset_: false\n", "workflows.1.supports_reset_"),
    ],
)
def test_a_bad_workflow_fact_stops_loading_naming_the_field_and_the_workflow(
    tmp_path, extra, field
):
    with pytest.raises(CatalogueError) as caught:
        load_catalogue_file(write(tmp_path, extra))

    message = str(caught.value)
    assert f"field '{field}' (workflow dream/rates/1)" in message
    assert str(tmp_path / "catalogue.yaml") in message
