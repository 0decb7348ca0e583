"""Two browser sessions on one dashboard see each other's actions.

Every session builds its own views over the shared services; what one
operator starts or stops reaches the other through the services alone (the
sessions never talk to each other). Real time, 1 s heartbeats.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from harness import ConsoleLog, JobdashServer, open_dashboard
from playwright.sync_api import BrowserContext, Page, expect
from scenario_helpers import (
    STATE_TIMEOUT,
    badge,
    job_rows,
    job_state,
    start_workflow,
    stop_workflow,
)

pytestmark = pytest.mark.browser

WORKFLOW = "monitor_histogram"
WORKFLOW_ID = "dream/monitor_histogram/1"
SOURCES = ("monitor_bunker", "monitor_cave")


@pytest.fixture
def dashboard_server(serve_jobdash: Callable[..., JobdashServer]) -> JobdashServer:
    return serve_jobdash(heartbeat_interval=1.0)


def test_a_start_in_one_session_and_a_stop_in_the_other_show_in_both(
    dashboard: Page,
    dashboard_server: JobdashServer,
    context: BrowserContext,
    console: ConsoleLog,
) -> None:
    first = dashboard
    second = context.new_page()
    console.attach(second)
    open_dashboard(second, dashboard_server)
    for page in (first, second):
        expect(badge(page, WORKFLOW)).to_have_text("STOPPED")

    start_workflow(first, WORKFLOW)

    expect(badge(second, WORKFLOW)).to_have_text(
        re.compile(r"^ACTIVE 2/2"), timeout=STATE_TIMEOUT
    )
    for source in SOURCES:
        expect(job_state(job_rows(second, source, WORKFLOW_ID))).to_have_text(
            "active", timeout=STATE_TIMEOUT
        )
    # The other session's card opened by itself when the workflow started.
    expect(second.locator(f".jd-wf-{WORKFLOW} .jd-stop button")).to_be_enabled(
        timeout=STATE_TIMEOUT
    )

    stop_workflow(second, WORKFLOW)

    for page in (first, second):
        expect(badge(page, WORKFLOW)).to_have_text(
            re.compile(r"^STOPPED"), timeout=STATE_TIMEOUT
        )
    for source in SOURCES:
        expect(job_state(job_rows(first, source, WORKFLOW_ID))).to_have_text(
            "stopped", timeout=STATE_TIMEOUT
        )
    assert console.errors() == []
