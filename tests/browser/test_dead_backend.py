"""A backend that dies: its jobs go STALE (never silently green), the header
says nothing arrives, and everything recovers when the backend comes back.

Real time here, as in production, with a short heartbeat interval (1 s, so
a job is stale after 3 s of silence). The backend is killed from the
Simulator card: no heartbeats, acks or data until it is revived.
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
)

pytestmark = pytest.mark.browser

WORKFLOW = "monitor_histogram"
WORKFLOW_ID = "dream/monitor_histogram/1"
SOURCES = ("monitor_bunker", "monitor_cave")


@pytest.fixture
def dashboard_server(serve_jobdash: Callable[..., JobdashServer]) -> JobdashServer:
    return serve_jobdash(heartbeat_interval=1.0)


def test_jobs_of_a_dead_backend_turn_stale_and_recover_when_it_returns(
    dashboard: Page,
) -> None:
    page = dashboard
    start_workflow(page, WORKFLOW)
    expect(badge(page, WORKFLOW)).to_have_text(
        re.compile(r"^ACTIVE 2/2"), timeout=STATE_TIMEOUT
    )

    inject_fault(page, "Kill backend")

    expect(badge(page, WORKFLOW)).to_have_text(
        re.compile(r"^STALE 2/2"), timeout=STATE_TIMEOUT
    )
    expect(badge(page, WORKFLOW)).to_have_class(re.compile(r"\bjd-state-stale\b"))
    for source in SOURCES:
        row = job_rows(page, source, WORKFLOW_ID)
        state = job_state(row)
        expect(state).to_have_text("active · stale", timeout=STATE_TIMEOUT)
        expect(state).to_have_class(re.compile(r"\bjd-state-stale\b"))
        # The age cell's template reads the row's stale flag: re-rendered too.
        beat = row.locator('[tabulator-field="heartbeat"] span')
        expect(beat).to_have_class(re.compile(r"\bjd-age-stale\b"))
    # The header warns that nothing arrives at all, not only for these jobs.
    expect(page.locator(".jd-chip-ingestion")).to_have_class(
        re.compile(r"\bjd-chip-warn\b"), timeout=STATE_TIMEOUT
    )

    inject_fault(page, "Revive backend")

    expect(badge(page, WORKFLOW)).to_have_text(
        re.compile(r"^ACTIVE 2/2"), timeout=STATE_TIMEOUT
    )
    for source in SOURCES:
        row = job_rows(page, source, WORKFLOW_ID)
        expect(job_state(row)).to_have_text("active", timeout=STATE_TIMEOUT)
        beat = row.locator('[tabulator-field="heartbeat"] span')
        expect(beat).not_to_have_class(re.compile(r"\bjd-age-stale\b"))
    expect(page.locator(".jd-chip-ingestion")).to_have_class(
        re.compile(r"\bjd-chip-ok\b"), timeout=STATE_TIMEOUT
    )
