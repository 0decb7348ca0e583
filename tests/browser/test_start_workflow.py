"""Starting a workflow from its card: PENDING, then ACTIVE, its jobs in the table.

The clock is frozen, so each stage holds until the test steps it: the commit
alone gives PENDING (no job has reported), one second later the backend has
received the commands and its jobs report ``scheduled``, one more and they
are ``active``.
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
    job_rows,
    job_state,
    notification_log,
    start_workflow,
    step_clock,
    workflow_card,
)

pytestmark = pytest.mark.browser

WORKFLOW = "monitor_histogram"
WORKFLOW_ID = "dream/monitor_histogram/1"
SOURCES = ("monitor_bunker", "monitor_cave")


@pytest.fixture
def dashboard_server(serve_jobdash: Callable[..., JobdashServer]) -> JobdashServer:
    return serve_jobdash(frozen_clock=True)


def test_starting_a_workflow_shows_pending_then_active_and_its_jobs_in_the_table(
    dashboard: Page,
) -> None:
    page = dashboard
    expect(badge(page, WORKFLOW)).to_have_text("STOPPED")
    expect(page.locator(".jd-job-table .tabulator-row")).to_have_count(0)

    start_workflow(page, WORKFLOW)
    expect(badge(page, WORKFLOW)).to_have_text(
        re.compile(r"^PENDING 2/2"), timeout=STATE_TIMEOUT
    )

    step_clock(page, 1)
    for source in SOURCES:
        expect(job_state(job_rows(page, source, WORKFLOW_ID))).to_have_text(
            "scheduled", timeout=STATE_TIMEOUT
        )
    expect(badge(page, WORKFLOW)).to_have_text(re.compile(r"^PENDING 2/2"))

    step_clock(page, 1)
    expect(badge(page, WORKFLOW)).to_have_text(
        re.compile(r"^ACTIVE 2/2"), timeout=STATE_TIMEOUT
    )
    for source in SOURCES:
        row = job_rows(page, source, WORKFLOW_ID)
        expect(row).to_have_count(1)
        expect(job_state(row)).to_have_text("active", timeout=STATE_TIMEOUT)
        expect(job_state(row)).to_have_class(re.compile(r"\bjd-state-active\b"))
    # The card names the job it started, and the backend acknowledged it.
    job_number = workflow_card(page, WORKFLOW).locator(".jd-job-number")
    expect(job_number).to_have_text(re.compile(r"^[0-9a-f]{8}$"))
    expect(notification_log(page)).to_contain_text(
        "Started 2/2 jobs for Beam monitors", timeout=STATE_TIMEOUT
    )
