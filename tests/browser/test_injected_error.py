"""A job that fails: the card turns ERROR with the job's message, its table row
shows ``error`` in red, and the other job of the workflow carries on.

The fault comes from the Simulator card (as an operator demonstrating the
dashboard would inject it); the faulty job reports at once, so the frozen
clock need not move after the workflow is running.
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
    inject_fault,
    job_rows,
    job_state,
    start_workflow,
    step_clock,
    workflow_card,
)

pytestmark = pytest.mark.browser

WORKFLOW = "monitor_histogram"
WORKFLOW_ID = "dream/monitor_histogram/1"
MESSAGE = "Chopper phase lost: monitor events rejected since 12:00:02"
#: ``--jd-error`` of assets/css/jobdash.css.
ERROR_RED = "rgb(179, 38, 30)"


@pytest.fixture
def dashboard_server(serve_jobdash: Callable[..., JobdashServer]) -> JobdashServer:
    return serve_jobdash(frozen_clock=True)


def test_injected_error_shows_on_the_card_and_in_red_in_the_table(
    dashboard: Page,
) -> None:
    page = dashboard
    start_workflow(page, WORKFLOW)
    step_clock(page, 1)
    step_clock(page, 1)
    expect(badge(page, WORKFLOW)).to_have_text(
        re.compile(r"^ACTIVE 2/2"), timeout=STATE_TIMEOUT
    )

    # Mark the rows' elements: a patch must update them in place
    # (TabulatorRowUpdates), not rebuild the page as Panel's setData does.
    rows = page.locator(".jd-job-table .tabulator-row")
    expect(rows).to_have_count(2, timeout=STATE_TIMEOUT)
    rows.evaluate_all("rows => rows.forEach(row => row.dataset.jdMark = 'before')")

    inject_fault(page, "Error", "Beam monitors · monitor_bunker", MESSAGE)

    expect(badge(page, WORKFLOW)).to_have_text(
        re.compile(r"^ERROR 1/2"), timeout=STATE_TIMEOUT
    )
    expect(badge(page, WORKFLOW)).to_have_class(re.compile(r"\bjd-state-error\b"))
    message = workflow_card(page, WORKFLOW).locator(".jd-message")
    expect(message).to_have_text(f"monitor_bunker: {MESSAGE}")
    expect(message).to_have_class(re.compile(r"\bjd-message-error\b"))

    failed = job_rows(page, "monitor_bunker", WORKFLOW_ID)
    expect(job_state(failed)).to_have_text("error", timeout=STATE_TIMEOUT)
    expect(job_state(failed)).to_have_class(re.compile(r"\bjd-state-error\b"))
    expect(job_state(failed)).to_have_css("color", ERROR_RED)
    expect(failed.locator('[tabulator-field="message"]')).to_have_text(MESSAGE)
    expect(failed).to_have_attribute("data-jd-mark", "before")

    healthy = job_rows(page, "monitor_cave", WORKFLOW_ID)
    expect(job_state(healthy)).to_have_text("active")
    expect(healthy.locator('[tabulator-field="message"]')).to_have_text(
        re.compile(r"^\s*$")
    )
