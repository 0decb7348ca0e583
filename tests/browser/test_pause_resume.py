"""Pause and Resume, as an operator does them: a workflow from its card's
header, one job from the job table; the paused state in the badge, the
source chips and the table, in the paused grey-blue
(docs/decisions/0011-paused-aggregate-and-action-support.md).

Frozen clock: a command is received by the simulated backend one step after
it was sent, and its jobs heartbeat their new state at once. The simulated
workers report that they accept pause and resume for every source, so the
buttons are offered.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from harness import JobdashServer
from playwright.sync_api import Locator, Page, expect
from scenario_helpers import (
    STATE_TIMEOUT,
    badge,
    job_rows,
    job_state,
    notification_log,
    start_workflow,
    step_clock,
    workflow_card,
)

pytestmark = pytest.mark.browser

AssertScreenshot = Callable[..., None]

WORKFLOW = "monitor_histogram"
SOURCES = ("monitor_bunker", "monitor_cave")
#: The paused grey-blue of ``.jd-state-paused`` (``--jd-paused``).
PAUSED_COLOUR = "rgb(74, 90, 120)"


@pytest.fixture
def dashboard_server(serve_jobdash: Callable[..., JobdashServer]) -> JobdashServer:
    return serve_jobdash(frozen_clock=True)


def hold_button(page: Page, name: str, role: str) -> Locator:
    """The card header's Pause (``role="pause"``) or Resume button."""
    return workflow_card(page, name).locator(f".jd-head-hold.jd-{role} button")


def start_and_wait_active(page: Page) -> None:
    start_workflow(page, WORKFLOW)
    step_clock(page, 1)
    step_clock(page, 1)
    expect(badge(page, WORKFLOW)).to_have_text(
        re.compile(r"^ACTIVE 2/2"), timeout=STATE_TIMEOUT
    )


def chip_state(page: Page, source: str) -> Locator:
    chip = workflow_card(page, WORKFLOW).locator(".jd-source-chip", has_text=source)
    return chip.locator(".jd-chip-state")


def test_pause_a_workflow_from_its_card_then_resume_it(
    dashboard: Page, assert_screenshot: AssertScreenshot
) -> None:
    page = dashboard
    expect(hold_button(page, WORKFLOW, "pause")).to_have_count(0)  # nothing runs
    start_and_wait_active(page)

    pause = hold_button(page, WORKFLOW, "pause")
    expect(pause).to_be_enabled(timeout=STATE_TIMEOUT)
    pause.click()
    step_clock(page, 1)
    expect(badge(page, WORKFLOW)).to_have_text(
        re.compile(r"^PAUSED 2/2"), timeout=STATE_TIMEOUT
    )
    expect(notification_log(page)).to_contain_text(
        "Paused 2/2 jobs for Beam monitors", timeout=STATE_TIMEOUT
    )
    expect(badge(page, WORKFLOW)).to_have_css("color", PAUSED_COLOUR)
    for source in SOURCES:
        expect(chip_state(page, source)).to_have_text("paused", timeout=STATE_TIMEOUT)
        state = job_state(job_rows(page, source))
        expect(state).to_have_text("paused", timeout=STATE_TIMEOUT)
        expect(state).to_have_css("color", PAUSED_COLOUR)
    resume = hold_button(page, WORKFLOW, "resume")
    expect(resume).to_have_text("Resume", timeout=STATE_TIMEOUT)
    # The header still offers Stop: a paused workflow is not stopped.
    expect(
        workflow_card(page, WORKFLOW).locator(".jd-head-action.jd-stop")
    ).to_be_visible()
    assert_screenshot(workflow_card(page, WORKFLOW), "workflow-card-paused")

    resume.click()
    step_clock(page, 1)
    expect(badge(page, WORKFLOW)).to_have_text(
        re.compile(r"^ACTIVE 2/2"), timeout=STATE_TIMEOUT
    )
    expect(notification_log(page)).to_contain_text(
        "Resumed 2/2 jobs for Beam monitors", timeout=STATE_TIMEOUT
    )
    for source in SOURCES:
        expect(job_state(job_rows(page, source))).to_have_text(
            "active", timeout=STATE_TIMEOUT
        )
    expect(hold_button(page, WORKFLOW, "pause")).to_be_visible(timeout=STATE_TIMEOUT)


def test_pause_one_job_from_the_job_table_then_resume_it(dashboard: Page) -> None:
    page = dashboard
    toolbar = page.locator(".jd-job-status-widget .jd-job-toolbar")
    start_and_wait_active(page)

    cave = job_rows(page, "monitor_cave")
    # click, not check(): Tabulator redraws the row once the server has the
    # selection, so the box a check() would verify may already be replaced.
    cave.locator('input[type="checkbox"]').click()
    pause = toolbar.locator(".jd-pause button")
    expect(pause).to_have_text("Pause (1)", timeout=STATE_TIMEOUT)
    expect(toolbar.locator(".jd-resume button")).to_be_disabled()
    pause.click()
    expect(page.locator(".jd-job-feedback")).to_have_text(
        "Pause sent for 1 job.", timeout=STATE_TIMEOUT
    )
    step_clock(page, 1)
    expect(job_state(cave)).to_have_text("paused", timeout=STATE_TIMEOUT)
    expect(job_state(job_rows(page, "monitor_bunker"))).to_have_text("active")
    expect(badge(page, WORKFLOW)).to_have_text(
        re.compile(r"^PAUSED 1/2"), timeout=STATE_TIMEOUT
    )
    expect(chip_state(page, "monitor_cave")).to_have_text("paused")

    # The selection stays: the paused job can be resumed, not paused again.
    resume = toolbar.locator(".jd-resume button")
    expect(resume).to_have_text("Resume (1)", timeout=STATE_TIMEOUT)
    expect(pause).to_be_disabled()
    resume.click()
    step_clock(page, 1)
    expect(job_state(cave)).to_have_text("active", timeout=STATE_TIMEOUT)
    expect(badge(page, WORKFLOW)).to_have_text(
        re.compile(r"^ACTIVE 2/2"), timeout=STATE_TIMEOUT
    )
