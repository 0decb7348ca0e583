"""A job's error message is untrusted text: every view shows it, none runs it.

Backends send arbitrary text (a traceback may quote user input). Here one
job's error message is HTML with a script, an ``onerror`` handler and bold
markup; wherever the dashboard shows it — the job table and its detail pane,
the workflow card, the notification log, the toasts, the timeline's hover —
the literal text must be visible and no ``img``, ``script`` or ``b`` element
may appear, nor ``window.__pwned`` be set.

One server (frozen clock) and one operator page, shared by the module: the
operator starts the Beam monitors and injects the error from the Simulator
card. The toast is checked on that page (toasts only go to sessions open
when something happens); every other view on a page opened afterwards, so
both the first rendering and the live update of a view are covered.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from harness import JobdashServer, open_dashboard
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from scenario_helpers import (
    STATE_TIMEOUT,
    badge,
    inject_fault,
    job_rows,
    notification_log,
    served,
    start_workflow,
    step_clock,
    timeline_tooltip,
    untrusted_elements,
    workflow_card,
)

pytestmark = pytest.mark.browser

WORKFLOW = "monitor_histogram"
WORKFLOW_ID = "dream/monitor_histogram/1"
PAYLOAD = (
    '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script><b>bold</b>'
)
NOTHING_INJECTED = {"img": 0, "script": 0, "b": 0}

# Keeps the text and the element count of every toast message as it appears:
# toasts vanish after a few seconds, the record stays.
_RECORD_TOASTS = """
() => {
  window.__toasts = [];
  new MutationObserver(records => {
    for (const record of records) {
      for (const node of record.addedNodes) {
        if (!(node instanceof Element)) continue;
        const messages = node.matches('.notyf__message')
          ? [node] : [...node.querySelectorAll('.notyf__message')];
        for (const message of messages) {
          window.__toasts.push({text: message.textContent,
                                elements: message.querySelectorAll('*').length});
        }
      }
    }
  }).observe(document.body, {childList: true, subtree: true});
}
"""


def assert_shown_as_text_only(page: Page) -> None:
    """No element of the payload exists in ``page``, and none of its code ran."""
    assert untrusted_elements(page) == NOTHING_INJECTED
    assert page.evaluate("() => window.__pwned") is None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JobdashServer]:
    with served(tmp_path_factory, "untrusted-text", frozen_clock=True) as server:
        yield server


@pytest.fixture(scope="module")
def operator_page(
    browser: Browser, browser_context_args: dict[str, Any], server: JobdashServer
) -> Iterator[Page]:
    """The page on which the workflow was started and the error injected."""
    context = browser.new_context(**browser_context_args)
    page = context.new_page()
    open_dashboard(page, server)
    page.evaluate(_RECORD_TOASTS)
    start_workflow(page, WORKFLOW)
    step_clock(page, 1)
    step_clock(page, 1)
    expect(badge(page, WORKFLOW)).to_have_text(
        re.compile(r"^ACTIVE 2/2"), timeout=STATE_TIMEOUT
    )
    inject_fault(page, "Error", "Beam monitors · monitor_bunker", PAYLOAD)
    expect(badge(page, WORKFLOW)).to_have_text(
        re.compile(r"^ERROR 1/2"), timeout=STATE_TIMEOUT
    )
    # The timeline takes the history's changes at most once per clock second;
    # 30 s make the error's bar wide enough (~30 px of 10 min) to hover.
    step_clock(page, 30)
    yield page
    context.close()


@pytest.fixture
def dashboard_server(server: JobdashServer, operator_page: Page) -> JobdashServer:
    """``dashboard`` opens a fresh page once the error has been injected."""
    return server


def test_the_job_table_and_its_detail_pane_show_the_message_as_text(
    dashboard: Page,
) -> None:
    row = job_rows(dashboard, "monitor_bunker", WORKFLOW_ID)
    expect(row.locator('[tabulator-field="message"]')).to_have_text(
        PAYLOAD, timeout=STATE_TIMEOUT
    )
    # click, not check(): Tabulator redraws the row once the server has the
    # selection, so the box a check() would verify may already be replaced.
    row.locator('input[type="checkbox"]').click()
    expect(dashboard.locator(".jd-job-details pre")).to_contain_text(
        f"Error:\n{PAYLOAD}", timeout=STATE_TIMEOUT
    )
    assert_shown_as_text_only(dashboard)


def test_the_workflow_card_shows_the_message_as_text(dashboard: Page) -> None:
    card = workflow_card(dashboard, WORKFLOW)
    expect(card.locator(".jd-message")).to_have_text(
        f"monitor_bunker: {PAYLOAD}", timeout=STATE_TIMEOUT
    )
    chip = card.locator(".jd-source-chip", has_text="monitor_bunker")
    expect(chip).to_have_attribute("title", re.compile(re.escape(f"error: {PAYLOAD}")))
    assert_shown_as_text_only(dashboard)


def test_the_notification_log_shows_the_message_as_text(dashboard: Page) -> None:
    expect(notification_log(dashboard)).to_contain_text(PAYLOAD, timeout=STATE_TIMEOUT)
    assert_shown_as_text_only(dashboard)


def test_the_timeline_hover_shows_the_message_as_text(dashboard: Page) -> None:
    tooltip = timeline_tooltip(dashboard, f"{WORKFLOW} · monitor_bunker")
    expect(tooltip).to_contain_text(PAYLOAD)
    assert_shown_as_text_only(dashboard)


def test_a_toast_shows_the_message_as_text(operator_page: Page) -> None:
    try:
        operator_page.wait_for_function(
            "(payload) => window.__toasts.some(t => t.text.includes(payload))",
            arg=PAYLOAD,
            timeout=STATE_TIMEOUT,
        )
    except PlaywrightTimeoutError:
        shown = [
            toast["text"] for toast in operator_page.evaluate("() => window.__toasts")
        ]
        pytest.fail(f"no toast carried the message; the toasts shown were {shown}")
    toasts = operator_page.evaluate("() => window.__toasts")
    carrying = [toast for toast in toasts if PAYLOAD in toast["text"]]
    assert all(toast["elements"] == 0 for toast in carrying), carrying


def test_the_page_that_received_the_message_live_shows_it_as_text_only(
    operator_page: Page,
) -> None:
    expect(job_rows(operator_page, "monitor_bunker", WORKFLOW_ID)).to_contain_text(
        PAYLOAD
    )
    expect(
        workflow_card(operator_page, WORKFLOW).locator(".jd-message")
    ).to_contain_text(PAYLOAD)
    assert_shown_as_text_only(operator_page)
