"""What an operator does in the dashboard, as steps for the end-to-end tests.

The browser tests read like scenarios ("start the Beam monitors, step the
clock, expect ACTIVE"); the steps live here so that each test module stays a
story and the CSS hooks (``jd-*``) are spelled in one place. Everything waits
on a condition in the page, with a deadline (Playwright ``expect``), never on
time passing.

Clock steps: with ``frozen_clock=True`` only the Simulator card's step buttons
move time. :func:`step_clock` waits until the header shows the new time, i.e.
until the server has taken the step; the simulated backend then emits what
fell due within one poll of the ingestion thread (0.1 s).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from harness import JobdashServer, start_server
from playwright.sync_api import Locator, Page, expect

__all__ = [
    "STATE_TIMEOUT",
    "badge",
    "confirm",
    "dashboard_time",
    "expand_card",
    "header_action",
    "inject_fault",
    "job_rows",
    "job_state",
    "messages_received",
    "notification_log",
    "open_simulator",
    "served",
    "start_workflow",
    "step_clock",
    "stop_workflow",
    "timeline_tooltip",
    "toasts",
    "untrusted_elements",
    "wait_for_more_messages",
    "workflow_card",
]

#: Milliseconds a state change may take to reach the page (a loaded CI machine
#: with two cores runs several servers and browsers at once).
STATE_TIMEOUT = 20_000

_CLOCK_FORMAT = "%Y-%m-%d %H:%M:%S UTC"


# --- servers ------------------------------------------------------------------------


@contextmanager
def served(
    tmp_path_factory: pytest.TempPathFactory, name: str, **settings: object
) -> Iterator[JobdashServer]:
    """A server for a module-scoped fixture, stopped when the block ends.

    Keywords are ``Settings`` fields, as for ``serve_jobdash``. Pair it with
    an override of ``dashboard_server`` so that ``dashboard`` opens it and a
    failing test keeps its log.
    """
    workdir: Path = tmp_path_factory.mktemp(f"jobdash-{name}")
    server = start_server(workdir, settings)
    try:
        yield server
    finally:
        server.stop()


# --- workflow cards -------------------------------------------------------------------


def workflow_card(page: Page, name: str) -> Locator:
    """The card of the workflow whose ``WorkflowId.name`` is ``name``."""
    return page.locator(f".jd-workflow-card.jd-wf-{name}")


def badge(page: Page, name: str) -> Locator:
    """A card's aggregate badge (text ``ACTIVE 2/2``, ``STOPPED``, ...)."""
    return workflow_card(page, name).locator(".jd-status-badge")


def expand_card(page: Page, name: str) -> Locator:
    """Show a card's body (built on first opening) and return the card.

    A card opens by itself when its workflow starts running; an idle one shows
    only its header row (with Start) until the operator asks for details.
    """
    card = workflow_card(page, name)
    toggle = card.locator(".jd-expand button")
    expect(toggle).to_be_visible(timeout=STATE_TIMEOUT)
    if toggle.inner_text().strip() == "Show details":
        toggle.click()
    expect(card.locator(".jd-configure")).to_be_visible(timeout=STATE_TIMEOUT)
    return card


def header_action(page: Page, name: str) -> Locator:
    """The button in a card's header row: Start when stopped, Stop when running."""
    return workflow_card(page, name).locator(".jd-head-action button")


def confirm(card: Locator) -> None:
    """Answer the card's inline confirmation bar with Confirm."""
    button = card.locator(".jd-confirm button")
    expect(button).to_be_visible(timeout=STATE_TIMEOUT)
    button.click()
    expect(button).to_be_hidden(timeout=STATE_TIMEOUT)


def start_workflow(page: Page, name: str, *, asks_first: bool = False) -> Locator:
    """Press the Start in the card's header (the card stays folded), or, with
    ``asks_first``, Commit & Restart in its details, with its default or
    staged config.

    ``asks_first``: the workflow is running, so the card must ask before
    stopping it; the step confirms (and fails if the card does not ask).
    """
    if asks_first:
        card = expand_card(page, name)
        start = card.locator(".jd-commit button")
    else:
        card = workflow_card(page, name)
        start = card.locator(".jd-head-action.jd-start button")
    expect(start).to_be_enabled(timeout=STATE_TIMEOUT)
    start.click()
    if asks_first:
        confirm(card)
    return card


def stop_workflow(page: Page, name: str) -> Locator:
    """Press the Stop in the card's header and confirm."""
    card = workflow_card(page, name)
    stop = card.locator(".jd-head-action.jd-stop button")
    expect(stop).to_be_enabled(timeout=STATE_TIMEOUT)
    stop.click()
    confirm(card)
    return card


# --- the job table ---------------------------------------------------------------------


def job_rows(page: Page, source: str, workflow: str | None = None) -> Locator:
    """Rows of the legacy job table for ``source`` (and workflow id text).

    The workflow cell shows the workflow's name; its ``title`` is the id.
    """
    table = page.locator(".jd-job-table")
    rows = table.locator(".tabulator-row").filter(
        has=page.locator(
            '.tabulator-cell[tabulator-field="source"]',
            has_text=re.compile(rf"^\s*{re.escape(source)}\s*$"),
        )
    )
    if workflow is not None:
        rows = rows.filter(
            has=page.locator(
                f'.tabulator-cell[tabulator-field="workflow"] [title="{workflow}"]'
            )
        )
    return rows


def job_state(row: Locator) -> Locator:
    """The state pill of a table row (``<span class="jd-state jd-state-…">``)."""
    return row.locator('.tabulator-cell[tabulator-field="state"] .jd-state')


# --- the Simulator card and the clock ----------------------------------------------------


def open_simulator(page: Page) -> Locator:
    """Expand the (collapsed) Simulator card; return it."""
    panel = page.locator(".jd-sim-panel")
    inject = panel.locator(".jd-sim-inject button")
    if not inject.is_visible():
        panel.locator(".card-header").first.click()
    expect(inject).to_be_visible(timeout=STATE_TIMEOUT)
    return panel


def inject_fault(
    page: Page, action: str, target: str = "All targets", text: str | None = None
) -> None:
    """Use the Simulator card: ``action`` is a Fault option ("Error", "Kill
    backend", ...), ``target`` a Target option ("Beam monitors ·
    monitor_bunker"). Waits until the notification log records it."""
    open_simulator(page)
    recorded = notification_log(page).locator(".jd-note", has_text="Simulator:")
    before = recorded.count()
    page.locator(".jd-sim-target select").select_option(label=target)
    page.locator(".jd-sim-kind select").select_option(label=action)
    if text is not None:
        field = page.locator(".jd-sim-text input")
        field.fill(text)
        field.press("Enter")
    page.locator(".jd-sim-inject button").click()
    expect(recorded).to_have_count(before + 1, timeout=STATE_TIMEOUT)


def dashboard_time(page: Page) -> datetime:
    """The time the header's clock chip shows."""
    text = page.locator(".jd-chip-clock").inner_text().strip()
    return datetime.strptime(text, _CLOCK_FORMAT)


def step_clock(page: Page, seconds: int, *, received: bool = False) -> None:
    """Advance a frozen clock with the Simulator's step button (1, 5 or 30 s),
    and wait until the header shows the new time.

    ``received``: also wait until the ingestion thread has received messages
    stamped with the new time ("last 0.0 s ago"). The simulated backend runs
    what fell due when it is polled, at the time of the poll; a scenario that
    must replay exactly (a seeded random backend) therefore lets each step be
    polled before taking the next. Only when the step is known to produce
    messages (any step of 1 s while jobs are active: they publish data every
    second).
    """
    open_simulator(page)
    before = dashboard_time(page)
    # Known defect: a step button keeps its description tooltip up while it
    # has focus, and the tooltip covers the next button (clicks on "+5 s"
    # after "+1 s" hit it). Move the focus away first, as a user would have to.
    page.locator(".jd-sim-hint").click()
    page.locator(f".jd-sim-step-{seconds} button").click()
    after = (before + timedelta(seconds=seconds)).strftime(_CLOCK_FORMAT)
    expect(page.locator(".jd-chip-clock")).to_have_text(after, timeout=STATE_TIMEOUT)
    if received:
        # The header renders both chips at once: with the new time shown, a
        # zero age means a message came at the new time.
        expect(page.locator(".jd-chip-ingestion")).to_contain_text(
            "last 0.0 s ago", timeout=STATE_TIMEOUT
        )


# --- header, notifications, toasts --------------------------------------------------------

_MESSAGES = re.compile(r"messages (\d+)")

# Finds the first element matching a selector in the document or any (open)
# shadow root; Panel renders every component in its own shadow root.
_DEEP_QUERY = """
(selector) => {
  const roots = [document];
  while (roots.length) {
    const root = roots.shift();
    const hit = root.querySelector(selector);
    if (hit) return hit;
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) roots.push(el.shadowRoot);
    }
  }
  return null;
}
"""


def messages_received(page: Page) -> int:
    """The ingestion thread's message count, from the header chip's tooltip."""
    title = page.locator(".jd-chip-ingestion").get_attribute("title") or ""
    match = _MESSAGES.search(title)
    assert match is not None, f"no message count in the ingestion chip: {title!r}"
    return int(match.group(1))


def wait_for_more_messages(page: Page, than: int) -> int:
    """Wait until the header counts more than ``than`` messages; return the count."""
    page.wait_for_function(
        f"""([selector, count]) => {{
          const chip = ({_DEEP_QUERY})(selector);
          const match = chip && /messages (\\d+)/.exec(chip.title);
          return match !== null && Number(match[1]) > count;
        }}""",
        arg=[".jd-chip-ingestion", than],
        timeout=STATE_TIMEOUT,
        polling=200,
    )
    return messages_received(page)


def notification_log(page: Page) -> Locator:
    """The notification log under the views."""
    return page.locator(".jd-notifications")


def toasts(page: Page) -> Locator:
    """The messages of the toasts on screen."""
    return page.locator(".notyf__toast .notyf__message")


# --- the timeline ----------------------------------------------------------------------------

# Where, in page coordinates, the newest bar of a lane is drawn: the right
# edge of the plot frame ("now") at the lane's centre. The lane is found by
# its tick label ("monitor_histogram · monitor_bunker").
_LANE_POINT = """
(label) => {
  const view = Bokeh.index.query_one(v => v.model.type === 'Figure');
  if (!view) return null;
  const axis = view.model.left[0];
  const overrides = axis.major_label_overrides;
  const entries = overrides instanceof Map ? [...overrides.entries()]
                                           : Object.entries(overrides);
  const hit = entries.find(([, text]) => text === label);
  if (!hit) return null;
  const frame = view.frame.bbox;
  const box = view.el.getBoundingClientRect();
  return {x: box.left + frame.x1 - 4,
          y: box.top + view.frame.y_scale.compute(Number(hit[0]))};
}
"""


def timeline_tooltip(page: Page, lane: str) -> Locator:
    """Hover the newest bar of ``lane``; return the hover tooltip shown."""
    handle = page.wait_for_function(
        _LANE_POINT, arg=lane, timeout=STATE_TIMEOUT, polling=250
    )
    point: dict[str, Any] = handle.json_value()
    page.mouse.move(point["x"], point["y"])
    # Bokeh shows the tooltip as a popover of the plot (the only one with hover).
    tooltip = page.locator(".bk-Tooltip").filter(has_text="Message")
    expect(tooltip).to_be_visible(timeout=STATE_TIMEOUT)
    return tooltip


# --- untrusted text ------------------------------------------------------------------------


# The payload is <img src=x onerror=…><script>window.__pwned=2</script><b>bold</b>:
# an <img src="x">, a <script> with exactly that text, or a <b> reading
# "bold" can only exist if some view inserted it as markup. (The page's own
# Bokeh document JSON, in a <script type="application/json">, may quote the
# payload as data; it never equals the script text.)
_INJECTED = """
() => {
  const counts = {img: 0, script: 0, b: 0};
  const roots = [document];
  while (roots.length) {
    const root = roots.shift();
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) roots.push(el.shadowRoot);
      if (el.tagName === 'IMG' && el.getAttribute('src') === 'x') counts.img++;
      if (el.tagName === 'SCRIPT' && el.textContent.trim() === 'window.__pwned=2')
        counts.script++;
      if (el.tagName === 'B' && el.textContent === 'bold') counts.b++;
    }
  }
  return counts;
}
"""


def untrusted_elements(page: Page) -> dict[str, int]:
    """Count injected ``img``/``script``/``b`` elements in every shadow root."""
    counts: dict[str, int] = page.evaluate(_INJECTED)
    return counts
