"""The whole page against committed baselines (frozen clock, seeded simulator).

Regenerate the baselines with ``make screenshots`` after an intended change,
and look at the new PNGs before committing them.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from harness import JobdashServer, open_dashboard
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.browser

FROZEN_CLOCK_TEXT = "2025-11-29 12:00:00 UTC"


def dynamic_regions(page: Page) -> list[Locator]:
    """What differs between runs even with a frozen clock."""
    return [
        # Whether the workers' first heartbeat was ingested yet.
        page.locator(".jd-chip-ingestion"),
        # Panel's busy spinner turns while the server handles an event.
        page.locator(".pn-busy-container"),
    ]


def test_screenshot_of_the_idle_page(
    page: Page,
    serve_jobdash: Callable[..., JobdashServer],
    assert_screenshot: Callable[..., None],
) -> None:
    open_dashboard(page, serve_jobdash(frozen_clock=True))
    expect(page.locator(".jd-chip-clock")).to_have_text(FROZEN_CLOCK_TEXT)
    expect(page.locator(".jd-chip-workers")).to_have_text("2 workers")
    expect(page.locator(".jd-workflow-card")).to_have_count(6)
    expect(page.locator(".jd-status-badge").first).to_have_text("STOPPED")
    assert_screenshot(page, "page-idle", mask=dynamic_regions(page))


def test_screenshot_of_a_page_in_trouble(
    page: Page,
    serve_jobdash: Callable[..., JobdashServer],
    assert_screenshot: Callable[..., None],
) -> None:
    open_dashboard(page, serve_jobdash(frozen_clock=True, scenario="chaos", seed=3))
    expect(page.locator(".jd-chip-clock")).to_have_text(FROZEN_CLOCK_TEXT)
    expect(page.locator(".jd-chip-workers")).to_have_text("2 workers")
    badges = page.locator(".jd-status-badge")
    expect(badges.nth(0)).to_have_text("WARNING 1/4")
    expect(badges.nth(1)).to_have_text("ERROR 1/2")
    assert_screenshot(page, "page-chaos", mask=dynamic_regions(page))
