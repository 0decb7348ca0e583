"""Different parameters per group of sources: the endcap banks of the Detector
view get their own resolution.

The operator opens the idle card (its configuration opens with it), makes a
new group, moves both endcap banks into it and gives it 256 pixels per
axis, and starts. The jobs really carry different parameters: the committed
JobSet in the config file has 128 for mantle and high-resolution, 256 for
the endcaps. A second session's Configure shows the two groups again (a
draft rebuilt from per-source configs groups equal parameters), and a change
in one group is reported, before any commit, as that group's difference
from what runs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from harness import JobdashServer, open_dashboard
from playwright.sync_api import BrowserContext, Locator, Page, expect
from scenario_helpers import (
    STATE_TIMEOUT,
    badge,
    expand_card,
    start_workflow,
    step_clock,
    workflow_card,
)

from jobdash.testing.waiting import wait_until

pytestmark = pytest.mark.browser

DETECTOR = "detector_view"
WORKFLOW_ID = "dream/detector_view/1"
ENDCAPS = ("endcap_backward_detector", "endcap_forward_detector")
INNER = ("mantle_detector", "high_resolution_detector")

AssertScreenshot = Callable[..., None]


@pytest.fixture
def dashboard_server(serve_jobdash: Callable[..., JobdashServer]) -> JobdashServer:
    return serve_jobdash(frozen_clock=True, seed=0)


def resolution_field(card: Locator, group: int) -> Locator:
    """The "Pixels per axis" input of group ``group`` (1-based) of the card's form."""
    return card.locator(f".jd-param-group-{group} .jd-param-resolution input")


def set_resolution(card: Locator, group: int, value: int) -> None:
    field = resolution_field(card, group)
    field.fill(str(value))
    field.press("Enter")


def committed_resolutions(server: JobdashServer) -> dict[str, Any]:
    """Each source's ``resolution`` in the committed JobSet of the config file."""
    path = server.config_dir / "dream.json"
    if not path.exists():
        return {}
    state = json.loads(path.read_text(encoding="utf-8"))
    current = state["workflows"].get(WORKFLOW_ID, {}).get("current") or {}
    return {
        source: config["params"]["resolution"]
        for source, config in current.get("jobs", {}).items()
    }


def test_an_operator_gives_the_endcap_banks_their_own_resolution(
    dashboard: Page,
    dashboard_server: JobdashServer,
    context: BrowserContext,
    assert_screenshot: AssertScreenshot,
) -> None:
    page = dashboard
    card = expand_card(page, DETECTOR)
    new_group = card.locator(".jd-new-group button")
    expect(new_group).to_be_visible(timeout=STATE_TIMEOUT)
    expect(card.locator(".jd-param-group-1 .jd-group-name")).to_have_text("All sources")
    expect(card.locator(".jd-group-pickers")).to_be_hidden()

    new_group.click()
    for source in ENDCAPS:
        card.locator(f".jd-group-of-{source} select").select_option(label="Group 2")
    expect(card.locator(".jd-param-group-2 .jd-group-sources")).to_have_text(
        ", ".join(ENDCAPS), timeout=STATE_TIMEOUT
    )
    expect(card.locator(".jd-param-group-1 .jd-group-sources")).to_have_text(
        ", ".join(INNER)
    )
    set_resolution(card, 2, 256)
    expect(resolution_field(card, 1)).to_have_value("128")

    resolution_field(card, 2).blur()
    page.mouse.move(0, 0)
    # Tall enough for the whole form: the template scrolls its main area.
    page.set_viewport_size({"width": 1400, "height": 1600})
    assert_screenshot(card.locator(".jd-staging"), "parameter-groups-form")
    page.set_viewport_size({"width": 1400, "height": 900})

    start_workflow(page, DETECTOR)
    expect(badge(page, DETECTOR)).to_have_text(
        re.compile(r"^PENDING 4/4"), timeout=STATE_TIMEOUT
    )
    # What the start commands carried, as the dashboard committed them.
    wait_until(
        lambda: (
            committed_resolutions(dashboard_server)
            == {**dict.fromkeys(INNER, 128), **dict.fromkeys(ENDCAPS, 256)}
        ),
        timeout=STATE_TIMEOUT / 1000,
        message=lambda: f"committed: {committed_resolutions(dashboard_server)}",
    )
    step_clock(page, 1)
    step_clock(page, 1)
    expect(badge(page, DETECTOR)).to_have_text(
        re.compile(r"^ACTIVE 4/4"), timeout=STATE_TIMEOUT
    )

    # Another session opens the running, split configuration as its groups.
    other = context.new_page()
    open_dashboard(other, dashboard_server)
    # A running card shows its body by itself; its configuration stays folded.
    other_card = workflow_card(other, DETECTOR)
    configure = other_card.locator(".jd-configure button")
    expect(configure).to_be_visible(timeout=STATE_TIMEOUT)
    configure.click()
    expect(other_card.locator(".jd-param-group-2 .jd-group-sources")).to_have_text(
        ", ".join(ENDCAPS), timeout=STATE_TIMEOUT
    )
    expect(resolution_field(other_card, 1)).to_have_value("128")
    expect(resolution_field(other_card, 2)).to_have_value("256")
    notes = other_card.locator(".jd-wf-notes")
    expect(notes.locator(".jd-diff")).to_have_count(0)

    # A change in one group: the difference from running names that group.
    set_resolution(other_card, 2, 512)
    expect(notes.locator(".jd-diff")).to_have_text(
        "configuration differs from running: Group 2 (endcap_backward_detector, "
        "endcap_forward_detector): Pixels per axis 256 → 512",
        timeout=STATE_TIMEOUT,
    )
    expect(
        other_card.locator(".jd-param-group-2 .jd-param-changed.jd-param-resolution")
    ).to_be_visible()
    expect(
        other_card.locator(".jd-param-group-1 .jd-param-changed.jd-param-resolution")
    ).to_have_count(0)


def test_a_group_left_without_sources_is_refused_by_name_and_nothing_starts(
    dashboard: Page,
) -> None:
    page = dashboard
    card = expand_card(page, DETECTOR)
    card.locator(".jd-new-group button").click()
    expect(card.locator(".jd-param-group-2 .jd-group-sources")).to_have_text(
        "no sources yet", timeout=STATE_TIMEOUT
    )

    start_workflow(page, DETECTOR)

    expect(card.locator(".jd-feedback-error")).to_have_text(
        "Group 2: no source is in this group; choose it for one, or remove it",
        timeout=STATE_TIMEOUT,
    )
    expect(card.locator(".jd-param-group-2 .jd-field-error").last).to_have_text(
        "no source is in this group; choose it for one, or remove it"
    )
    expect(badge(page, DETECTOR)).to_have_text("STOPPED")

    # Removing the group merges back: one group of every source, and it starts.
    card.locator(".jd-param-group-2 .jd-remove-group button").click()
    expect(card.locator(".jd-param-group-1 .jd-group-name")).to_have_text(
        "All sources", timeout=STATE_TIMEOUT
    )
    start_workflow(page, DETECTOR)
    expect(badge(page, DETECTOR)).to_have_text(
        re.compile(r"^PENDING 4/4"), timeout=STATE_TIMEOUT
    )
