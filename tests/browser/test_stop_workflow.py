"""Stopping a running workflow: Stop asks first, then STOPPING until the jobs
report ``stopped``, then STOPPED.

Frozen clock: the stop is sent at once (the badge says STOPPING), the backend
receives it one step later and its jobs report ``stopped`` a second after.
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
    stop_workflow,
)

pytestmark = pytest.mark.browser

WORKFLOW = "monitor_histogram"
WORKFLOW_ID = "dream/monitor_histogram/1"
SOURCES = ("monitor_bunker", "monitor_cave")


@pytest.fixture
def dashboard_server(serve_jobdash: Callable[..., JobdashServer]) -> JobdashServer:
    return serve_jobdash(frozen_clock=True)


def test_stop_asks_first_then_shows_stopping_until_the_jobs_report_stopped(
    dashboard: Page,
) -> None:
    page = dashboard
    start_workflow(page, WORKFLOW)
    step_clock(page, 1)
    step_clock(page, 1)
    expect(badge(page, WORKFLOW)).to_have_text(
        re.compile(r"^ACTIVE 2/2"), timeout=STATE_TIMEOUT
    )

    card = stop_workflow(page, WORKFLOW)
    expect(badge(page, WORKFLOW)).to_have_text(
        re.compile(r"^STOPPING"), timeout=STATE_TIMEOUT
    )
    # The backend acknowledges the stop, but its jobs take a second to wind down.
    step_clock(page, 1)
    expect(notification_log(page)).to_contain_text(
        "Stopped 2/2 jobs for Beam monitors", timeout=STATE_TIMEOUT
    )
    expect(badge(page, WORKFLOW)).to_have_text(re.compile(r"^STOPPING"))

    step_clock(page, 1)
    expect(badge(page, WORKFLOW)).to_have_text(
        re.compile(r"^STOPPED 2/2"), timeout=STATE_TIMEOUT
    )
    for source in SOURCES:
        expect(job_state(job_rows(page, source, WORKFLOW_ID))).to_have_text(
            "stopped", timeout=STATE_TIMEOUT
        )
    # Nothing left to stop; the header offers Start again.
    expect(card.locator(".jd-stop")).to_have_count(0, timeout=STATE_TIMEOUT)
    expect(card.locator(".jd-head-action.jd-start button")).to_have_text("Start")
