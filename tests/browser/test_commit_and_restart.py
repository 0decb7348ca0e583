"""Commit & Restart of a running workflow: the previous JobSet winds down on
the card, beside the new one, and then disappears.

Frozen clock: the restart stops the old jobs and starts new ones under a new
job number at once; one step later the backend has both commands, one more
and the old jobs report ``stopped`` (the card drops the previous JobSet)
while the new ones report ``active``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from harness import JobdashServer
from playwright.sync_api import Page, expect
from scenario_helpers import (
    STATE_TIMEOUT,
    badge,
    job_state,
    notification_log,
    start_workflow,
    step_clock,
)

pytestmark = pytest.mark.browser

WORKFLOW = "monitor_histogram"


@pytest.fixture
def dashboard_server(serve_jobdash: Callable[..., JobdashServer]) -> JobdashServer:
    return serve_jobdash(frozen_clock=True)


def test_restart_shows_the_previous_jobset_winding_down_then_drops_it(
    dashboard: Page,
) -> None:
    page = dashboard
    card = start_workflow(page, WORKFLOW)
    step_clock(page, 1)
    step_clock(page, 1)
    expect(badge(page, WORKFLOW)).to_have_text(
        re.compile(r"^ACTIVE 2/2"), timeout=STATE_TIMEOUT
    )
    job_number = card.locator(".jd-job-number")
    expect(job_number).to_have_attribute("title", re.compile(r"^[0-9a-f-]{36}$"))
    old = job_number.get_attribute("title") or ""
    expect(card.locator(".jd-commit button")).to_have_text("Commit & Restart")

    start_workflow(page, WORKFLOW, asks_first=True)
    previous = card.locator(".jd-previous")
    expect(previous).to_be_visible(timeout=STATE_TIMEOUT)
    expect(previous).to_have_attribute("title", old)
    expect(previous).to_contain_text(old[:8])
    expect(previous.locator(".jd-previous-state")).to_have_text(
        re.compile(r"^stopping")
    )
    expect(job_number).not_to_have_attribute("title", old, timeout=STATE_TIMEOUT)
    expect(badge(page, WORKFLOW)).to_have_text(re.compile(r"^PENDING 2/2"))

    # Both commands arrive; the old jobs take a second to wind down.
    step_clock(page, 1)
    expect(
        notification_log(page).locator(".jd-note", has_text="Started 2/2 jobs")
    ).to_have_count(2, timeout=STATE_TIMEOUT)
    expect(previous).to_be_visible()
    step_clock(page, 1)
    expect(previous).to_have_count(0, timeout=STATE_TIMEOUT)
    expect(badge(page, WORKFLOW)).to_have_text(
        re.compile(r"^ACTIVE 2/2"), timeout=STATE_TIMEOUT
    )

    # The job table keeps both generations: the old jobs stopped, the new active.
    rows = page.locator(".jd-job-table .tabulator-row")
    old_rows = rows.filter(has=page.locator(f'[tabulator-field="job"] [title="{old}"]'))
    expect(rows).to_have_count(4, timeout=STATE_TIMEOUT)
    expect(old_rows).to_have_count(2)
    for index in range(2):
        expect(job_state(old_rows.nth(index))).to_have_text("stopped")
