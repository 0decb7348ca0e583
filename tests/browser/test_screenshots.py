"""The dashboard's look in four states, against committed baselines.

States: *initial* (nothing runs), *running* (Detector view and Beam monitors
active), *error* (one Beam-monitors job fails with a multi-line traceback),
*stale* (the backend died: no heartbeat for 10 s). One server with a frozen
clock and seed 0 goes through them in order, so each picture follows from the
same steps every time. The viewport has the usual width but is tall enough
for the whole page, so that each picture shows every view.

Job numbers come from the seed too (simulated deployments draw them from
it), and the header's figures from the clock. Only the table's age columns
vary between runs, and are blanked: a session may compute ages just before
the ingestion thread takes a clock step's heartbeats, and with a frozen clock
it never recomputes them.

Regenerate the baselines with ``make screenshots`` (or
``pytest tests/browser/test_screenshots.py --update-screenshots``) and look
at them before committing.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from harness import JobdashServer
from playwright.sync_api import Page, ViewportSize, expect
from scenario_helpers import (
    STATE_TIMEOUT,
    badge,
    inject_fault,
    job_rows,
    job_state,
    start_workflow,
    step_clock,
    toasts,
    workflow_card,
)
from screenshots import VIEWPORT

pytestmark = pytest.mark.browser

DETECTOR = "detector_view"
MONITORS = "monitor_histogram"

AssertScreenshot = Callable[..., None]
#: The usual width, tall enough for the whole page: one picture per state.
TALL: ViewportSize = {"width": VIEWPORT["width"], "height": 2000}


@pytest.fixture
def dashboard_server(serve_jobdash: Callable[..., JobdashServer]) -> JobdashServer:
    return serve_jobdash(frozen_clock=True, seed=0)


#: Table cells whose text varies between runs (see the module docstring). They
#: are blanked rather than masked: a mask is painted over an element's whole
#: box, even where the table's horizontal scrolling clips it (over the
#: workflow cards beside the table).
BLANKED = (
    '.tabulator-cell[tabulator-field="heartbeat"]',
    '.tabulator-cell[tabulator-field="data"]',
)

_BLANK = """
(selectors) => {
  const roots = [document];
  while (roots.length) {
    const root = roots.shift();
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) roots.push(el.shadowRoot);
    }
    for (const selector of selectors) {
      for (const el of root.querySelectorAll(selector)) {
        el.style.visibility = 'hidden';
      }
    }
  }
}
"""


def shoot(page: Page, assert_screenshot: AssertScreenshot, state: str) -> None:
    """Compare the page as an operator sees it: toasts gone, mouse away, top."""
    expect(toasts(page)).to_have_count(0, timeout=STATE_TIMEOUT)
    page.mouse.move(0, 0)
    # The template scrolls its main area, not the window.
    page.evaluate("() => document.querySelector('#main').scrollTo(0, 0)")
    page.evaluate(_BLANK, list(BLANKED))
    assert_screenshot(page, f"dashboard-{state}")


def test_initial_running_error_and_stale_states_match_their_baselines(
    dashboard: Page, assert_screenshot: AssertScreenshot
) -> None:
    page = dashboard
    page.set_viewport_size(TALL)
    expect(page.locator(".jd-timeline-empty")).to_be_visible()
    for name in (DETECTOR, MONITORS):
        expect(badge(page, name)).to_have_text("STOPPED")
    shoot(page, assert_screenshot, "initial")

    start_workflow(page, DETECTOR)
    start_workflow(page, MONITORS)
    step_clock(page, 1, received=True)
    step_clock(page, 1, received=True)
    expect(badge(page, DETECTOR)).to_have_text("ACTIVE 4/4", timeout=STATE_TIMEOUT)
    expect(badge(page, MONITORS)).to_have_text("ACTIVE 2/2", timeout=STATE_TIMEOUT)
    # Five more seconds of results; never more than the stale threshold (6 s)
    # at once, or a tick may see the jobs silent before their heartbeats.
    step_clock(page, 5, received=True)
    expect(page.locator(".jd-job-table .tabulator-row")).to_have_count(6)
    shoot(page, assert_screenshot, "running")

    inject_fault(page, "Error", "Beam monitors · monitor_bunker")
    expect(badge(page, MONITORS)).to_have_text("ERROR 1/2", timeout=STATE_TIMEOUT)
    expect(workflow_card(page, MONITORS).locator(".jd-message")).to_be_visible()
    expect(job_state(job_rows(page, "monitor_bunker"))).to_have_text("error")
    # The timeline takes changes once per clock second: step past the error.
    step_clock(page, 5, received=True)
    shoot(page, assert_screenshot, "error")

    inject_fault(page, "Kill backend")
    step_clock(page, 5)
    step_clock(page, 5)
    expect(badge(page, DETECTOR)).to_have_text("STALE 4/4", timeout=STATE_TIMEOUT)
    # An error outranks staleness: the failed job still shows ERROR.
    expect(badge(page, MONITORS)).to_have_text(
        re.compile(r"^ERROR 1/2"), timeout=STATE_TIMEOUT
    )
    expect(job_state(job_rows(page, "monitor_cave"))).to_have_text(
        "active · stale", timeout=STATE_TIMEOUT
    )
    step_clock(page, 1)
    shoot(page, assert_screenshot, "stale")
