"""The dashboard page loads: both views, the header, no console errors."""

from __future__ import annotations

import re

import pytest
from harness import ConsoleLog, JobdashServer
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.browser

SIDE_BY_SIDE = (
    "([a, b]) => a.getBoundingClientRect().right <= b.getBoundingClientRect().left"
)
STACKED = (
    "([a, b]) => a.getBoundingClientRect().bottom <= b.getBoundingClientRect().top"
)


@pytest.fixture
def dashboard_server(module_jobdash_server: JobdashServer) -> JobdashServer:
    """These tests only look: one server serves them all."""
    return module_jobdash_server


def wait_for_geometry(
    page: Page, first: Locator, second: Locator, predicate: str
) -> None:
    """Wait until ``predicate`` holds for the two elements' boxes (layout settles)."""
    page.wait_for_function(
        predicate, arg=[first.element_handle(), second.element_handle()]
    )


def test_page_shows_both_views_side_by_side_without_console_errors(
    dashboard: Page, console: ConsoleLog
) -> None:
    jobs = dashboard.locator(".jd-job-status-widget")
    workflows = dashboard.locator(".jd-workflow-widget")
    expect(jobs).to_be_visible()
    expect(workflows).to_be_visible()
    expect(dashboard.locator(".jd-timeline")).to_be_visible()
    expect(dashboard.locator(".jd-notifications")).to_be_visible()
    expect(dashboard).to_have_title(re.compile("jobdash · DREAM"))
    wait_for_geometry(dashboard, jobs, workflows, SIDE_BY_SIDE)
    assert console.errors() == []


def test_header_names_the_transport_and_shows_heartbeats_arriving(
    dashboard: Page,
) -> None:
    expect(dashboard.locator(".jd-chip-transport")).to_have_text("SIMULATED")
    # The simulated workers heartbeat at once: the rate becomes non-zero.
    expect(dashboard.locator(".jd-chip-ingestion")).to_have_text(
        re.compile(r"[1-9][0-9.]* msg/s|0\.[1-9][0-9]* msg/s")
    )
    expect(dashboard.locator(".jd-chip-clock")).to_have_text(re.compile(r"UTC$"))


def test_views_stack_on_a_narrow_screen(dashboard: Page) -> None:
    dashboard.set_viewport_size({"width": 800, "height": 900})
    jobs = dashboard.locator(".jd-job-status-widget")
    workflows = dashboard.locator(".jd-workflow-widget")
    expect(workflows).to_be_visible()
    wait_for_geometry(dashboard, jobs, workflows, STACKED)
