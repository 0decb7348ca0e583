"""The workflow card's actions as an operator meets them.

- Start and Stop are in the card's header row: a stopped card starts, and a
  running one stops, without its details ever being opened (Stop still asks,
  in a bar under the header).
- The catalogue's facts: Event rates has no reset (its place says why on
  hover) and asks before a restart even while it is stopping
  (``confirm_actions``); every card lists its outputs.
- A commit offers to stop the workflow's orphans in its confirmation, one
  checkbox each: ticked for a job number this dashboard committed (a stop
  that lags leaves one behind), unticked for someone else's (the
  ``adoption`` scenario's). The ticked ones are stopped, and the
  notification log says how many.

Frozen clocks: every state holds until the test steps it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from harness import JobdashServer, open_dashboard
from playwright.sync_api import Page, expect
from scenario_helpers import (
    STATE_TIMEOUT,
    badge,
    confirm,
    expand_card,
    header_action,
    notification_log,
    step_clock,
    toasts,
    workflow_card,
)

pytestmark = pytest.mark.browser

MONITORS = "monitor_histogram"
DETECTOR = "detector_view"
RATES = "event_rate"
NO_RESET = "A reset of a time-series workflow duplicates its points."

AssertScreenshot = Callable[..., None]


@pytest.fixture
def dashboard_server(serve_jobdash: Callable[..., JobdashServer]) -> JobdashServer:
    return serve_jobdash(frozen_clock=True, seed=0)


def _fold(page: Page, name: str) -> None:
    toggle = workflow_card(page, name).locator(".jd-expand button")
    expect(toggle).to_have_text("Hide details", timeout=STATE_TIMEOUT)
    toggle.click()
    expect(toggle).to_have_text("Show details", timeout=STATE_TIMEOUT)


def test_an_operator_starts_and_stops_a_workflow_from_its_card_header(
    dashboard: Page, assert_screenshot: AssertScreenshot
) -> None:
    page = dashboard
    card = workflow_card(page, MONITORS)
    action = header_action(page, MONITORS)
    expect(action).to_have_text("Start")
    expect(card.locator(".jd-wf-body")).to_have_count(0)  # details never opened

    action.click()
    expect(badge(page, MONITORS)).to_have_text(
        re.compile(r"^PENDING 2/2"), timeout=STATE_TIMEOUT
    )
    step_clock(page, 1)
    step_clock(page, 1)
    expect(badge(page, MONITORS)).to_have_text(
        re.compile(r"^ACTIVE 2/2"), timeout=STATE_TIMEOUT
    )
    expect(card.locator(".jd-head-action.jd-stop button")).to_have_text("Stop")

    # Folded, a running card still offers Stop; a stopped one Start.
    _fold(page, MONITORS)
    expect(toasts(page)).to_have_count(0, timeout=STATE_TIMEOUT)
    page.mouse.move(0, 0)
    assert_screenshot(page.locator(".jd-workflow-widget"), "workflow-header-actions")

    action.click()
    bar = card.locator(".jd-confirm-bar")
    expect(bar).to_be_visible(timeout=STATE_TIMEOUT)
    expect(bar.locator(".jd-question")).to_have_text(
        "Stop the 2 job(s) of Beam monitors?"
    )
    confirm(card)
    expect(badge(page, MONITORS)).to_have_text(
        re.compile(r"^STOPPING"), timeout=STATE_TIMEOUT
    )
    expect(card.locator(".jd-wf-body")).to_be_hidden()  # it stayed folded
    step_clock(page, 1)
    step_clock(page, 1)
    expect(badge(page, MONITORS)).to_have_text(
        re.compile(r"^STOPPED 2/2"), timeout=STATE_TIMEOUT
    )
    expect(action).to_have_text("Start")


def test_event_rates_have_no_reset_and_ask_before_a_restart_while_stopping(
    dashboard: Page,
) -> None:
    page = dashboard
    card = expand_card(page, RATES)
    no_reset = card.locator(".jd-no-reset")
    expect(no_reset).to_be_visible()
    expect(no_reset).to_have_attribute("title", NO_RESET)
    expect(no_reset).to_have_attribute("aria-disabled", "true")
    expect(card.locator(".jd-reset")).to_have_count(0)
    expect(card.locator(".jd-wf-outputs summary")).to_have_text(
        "Outputs: Event rate history, Current rate"
    )
    # Details on demand, in the page (no round trip).
    card.locator(".jd-wf-outputs summary").click()
    expect(card.locator(".jd-outputs")).to_contain_text(
        "Current rate: Events/s in the last interval"
    )

    header_action(page, RATES).click()  # Start: nothing runs, nothing to ask
    step_clock(page, 1)
    step_clock(page, 1)
    expect(badge(page, RATES)).to_have_text(
        re.compile(r"^ACTIVE 6/6"), timeout=STATE_TIMEOUT
    )
    header_action(page, RATES).click()  # Stop asks, as for every workflow
    confirm(card)
    expect(badge(page, RATES)).to_have_text(
        re.compile(r"^STOPPING"), timeout=STATE_TIMEOUT
    )

    # A plain workflow would start again at once; this one asks first.
    header_action(page, RATES).click()
    question = card.locator(".jd-confirm-bar .jd-question")
    expect(question).to_have_text(
        "Stop the 6 running job(s) of Event rates and start 6 new one(s)?",
        timeout=STATE_TIMEOUT,
    )
    card.locator(".jd-cancel button").click()
    expect(question).to_be_hidden(timeout=STATE_TIMEOUT)
    expect(
        notification_log(page).locator(".jd-note", has_text="Started 6/6")
    ).to_have_count(1, timeout=STATE_TIMEOUT)


def test_a_commit_offers_to_stop_the_orphans_this_dashboard_left_behind(
    serve_jobdash: Callable[..., JobdashServer],
    page: Page,
    assert_screenshot: AssertScreenshot,
) -> None:
    # Stops lag by 5 heartbeats (10 s): two quick restarts leave the first
    # job number running as an orphan.
    open_dashboard(page, serve_jobdash(frozen_clock=True, scenario="lagging-stop"))
    header_action(page, MONITORS).click()
    step_clock(page, 1)
    step_clock(page, 1)
    expect(badge(page, MONITORS)).to_have_text(
        re.compile(r"^ACTIVE 2/2"), timeout=STATE_TIMEOUT
    )
    card = workflow_card(page, MONITORS)
    first = card.locator(".jd-job-number").get_attribute("title") or ""
    for _ in range(2):
        card.locator(".jd-commit button").click()
        confirm(card)
        step_clock(page, 1)
    orphans = card.locator(".jd-orphan")
    expect(orphans).to_have_count(2, timeout=STATE_TIMEOUT)

    card.locator(".jd-commit button").click()
    choices = card.locator(".jd-orphan-choice")
    expect(choices).to_have_count(2, timeout=STATE_TIMEOUT)
    for source, index in (("monitor_bunker", 0), ("monitor_cave", 1)):
        choice = choices.nth(index)
        expect(choice).to_contain_text(
            f"{source} · job {first[:8]} · active · started here"
        )
        expect(choice.locator("input")).to_be_checked()
    expect(toasts(page)).to_have_count(0, timeout=STATE_TIMEOUT)
    page.mouse.move(0, 0)
    assert_screenshot(card, "workflow-commit-with-orphans")

    confirm(card)
    step_clock(page, 1)
    expect(notification_log(page)).to_contain_text(
        "Stopped 2/2 jobs for orphans of Beam monitors", timeout=STATE_TIMEOUT
    )


def test_someone_elses_orphans_are_offered_unticked_and_only_ticked_ones_stop(
    serve_jobdash: Callable[..., JobdashServer], page: Page
) -> None:
    # Adoption: two foreign job numbers of the Detector view run; the older
    # one is an orphan.
    open_dashboard(page, serve_jobdash(frozen_clock=True, scenario="adoption"))
    card = workflow_card(page, DETECTOR)
    expect(card.locator(".jd-orphan")).to_have_count(4, timeout=STATE_TIMEOUT)

    card.locator(".jd-commit button").click()
    choices = card.locator(".jd-orphan-choice")
    expect(choices).to_have_count(4, timeout=STATE_TIMEOUT)
    for index in range(4):
        expect(choices.nth(index)).to_contain_text("started elsewhere")
        expect(choices.nth(index).locator("input")).not_to_be_checked()
    choices.nth(0).locator("input").check()

    confirm(card)
    step_clock(page, 1)
    expect(notification_log(page)).to_contain_text(
        "Stopped 1/1 job for orphans of Detector view", timeout=STATE_TIMEOUT
    )
    step_clock(page, 1)  # the job winds down, reports stopped, and is gone
    expect(card.locator(".jd-orphan")).to_have_count(3, timeout=STATE_TIMEOUT)
