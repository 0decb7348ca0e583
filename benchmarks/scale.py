"""Scale benchmark: page loads at a normal instrument, then at a big one.

First, a **normal instrument** — 100 jobs in 25 workflows, what operators meet
every morning — is served in this process, and ``--normal-loads`` page loads
are timed (figures ``normal_*``, printed first). Then a **big instrument**,
10,000 jobs in 1,000 workflows of 10 sources (``--workflows``,
``--sources``), every job running and heartbeating every 2 s (5,000
heartbeats a second; with ``--results``, also one result a second per active
job). ``--normal-only`` stops after the first part. Measured:

* first paint: the page's ``first-contentful-paint`` (Paint Timing,
  ``performance.getEntriesByType('paint')``), from navigation start;
* page load to interactive, ``--loads`` times: from the page's navigation
  start (``performance.timeOrigin``) until both views show data — the job
  table has rows with a state, and every card of the workflow view's first
  page has a badge — as seen by a MutationObserver in the page;
* document sent: bytes the page received until it was interactive, from
  Chrome's Network events over CDP — the HTML document, and the websocket
  frames (Bokeh's document and its first patches); the static files
  (Bokeh's and Panel's JavaScript and CSS, cached by a browser after its
  first visit) are given apart;
* server memory per session: the growth of the process's RSS per session
  opened (each stays open until the last load), median;
* server memory per job: the process's RSS once every job is active, less
  its RSS before the services were built (so the catalogue, the services,
  the simulated backend's jobs and the ingestion are all in it), divided by
  the number of jobs;
* table filter: from the ``input`` event of typing a source name into the
  job table's search field (``fill``) until the table shows exactly that
  workflow's rows; and back (clearing it) until a full page shows again;
* table sort: from the ``click`` on the "Job" column header until the page
  shows the rows in the expected order (ascending, then descending on the
  second click).

"Until the DOM shows the expected result" is how "until the DOM settles" is
measured: the table may keep changing anyway (a stale job's age).

Targets: normal instrument first paint ≤ 1 s, interactive ≤ 1.5 s; big
instrument interactive ≤ 3 s, document ≤ 1 MB, server memory ≤ 10 MB per
session; filter and sort ≤ 200 ms.

Usage: ``python benchmarks/scale.py [--normal-loads N] [--normal-only]
[--workflows N] [--sources N] [--loads N] [--repeats N]``. Figures are
printed last, one per line, as ``name: value``, with the load average (the
machine is shared).
"""

from __future__ import annotations

import argparse
import base64
import gc
import itertools
import statistics
import sys
import time
from typing import Any

from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from _process_stats import load_text, rss_mb
from jobdash.testing.browser import Session, launch, open_session
from jobdash.testing.served_app import ServedDashboard, serve_dashboard

TARGET_INTERACTIVE_S = 3.0
TARGET_DOCUMENT_MB = 1.0
TARGET_SESSION_MB = 10.0
TARGET_TABLE_MS = 200.0
#: The normal instrument: 100 jobs in 25 workflows.
NORMAL_WORKFLOWS = 25
NORMAL_SOURCES = 4
TARGET_NORMAL_FIRST_PAINT_S = 1.0
TARGET_NORMAL_INTERACTIVE_S = 1.5
#: Cards on the workflow view's first page (``WorkflowWidget(page_size=24)``).
FIRST_PAGE_CARDS = 24
#: Rows on the job table's page (``JobStatusWidget(page_size=25)``).
TABLE_PAGE_ROWS = 25
TIMEOUT_MS = 300_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflows", type=int, default=1000)
    parser.add_argument("--sources", type=int, default=10)
    parser.add_argument("--loads", type=int, default=3, help="page loads to time")
    parser.add_argument(
        "--normal-loads", type=int, default=3, help="page loads, normal instrument"
    )
    parser.add_argument(
        "--normal-only", action="store_true", help="only the normal instrument"
    )
    parser.add_argument("--repeats", type=int, default=3, help="filters and sorts")
    parser.add_argument(
        "--results",
        action="store_true",
        help="the simulated backend also publishes a result per job per second",
    )
    args = parser.parse_args()

    figures: dict[str, object] = {}
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = launch(playwright)
        with serve_dashboard(NORMAL_WORKFLOWS, NORMAL_SOURCES) as app:
            figures |= page_loads(
                browser,
                app,
                args.normal_loads,
                min(FIRST_PAGE_CARDS, NORMAL_WORKFLOWS),
                prefix="normal_",
                targets={
                    "first_paint_s": TARGET_NORMAL_FIRST_PAINT_S,
                    "interactive_s": TARGET_NORMAL_INTERACTIVE_S,
                },
            )
        if not args.normal_only:
            figures |= big_instrument(browser, args, problems)
        browser.close()

    for problem in problems:
        print(f"PROBLEM: {problem}")
    figures["problems"] = len(problems)
    for name, value in figures.items():
        print(f"{name}: {value}")
    return 1 if problems else 0


def big_instrument(
    browser: Browser, args: argparse.Namespace, problems: list[str]
) -> dict[str, object]:
    """Serve ``args.workflows`` x ``args.sources`` jobs; time loads and the table."""
    gc.collect()
    rss_empty = rss_mb()
    began = time.monotonic()
    figures: dict[str, object] = {}
    with serve_dashboard(args.workflows, args.sources, results=args.results) as app:
        startup_s = time.monotonic() - began
        gc.collect()
        rss_jobs = rss_mb()
        jobs = len(app.jobs)
        figures |= {
            "jobs": jobs,
            "workflows": args.workflows,
            "startup_seconds": f"{startup_s:.0f}",
            "server_rss_before_services_mb": f"{rss_empty:.0f}",
            "server_rss_with_jobs_mb": f"{rss_jobs:.0f}",
            "server_kb_per_job": f"{1024 * (rss_jobs - rss_empty) / jobs:.1f}",
        }
        cards = min(FIRST_PAGE_CARDS, args.workflows)
        figures |= page_loads(
            browser,
            app,
            args.loads,
            cards,
            targets={
                "interactive_s": TARGET_INTERACTIVE_S,
                "document_mb": TARGET_DOCUMENT_MB,
                "server_rss_per_session_mb": TARGET_SESSION_MB,
            },
        )
        session = open_session(browser, app.url, timeout_ms=TIMEOUT_MS)
        session.expect("ready", kind="ready", cards=cards)
        session.wait_for_hit("ready", TIMEOUT_MS)
        figures |= table_actions(session, app, args.repeats, problems)
        session.close()
    return figures


class Traffic:
    """Bytes a page received, from Chrome's Network events (CDP).

    ``document``: the HTML page; ``websocket``: every websocket frame's
    payload (text frames as UTF-8, binary frames decoded from CDP's base64);
    ``files``: every other response (scripts, stylesheets, fonts).
    """

    def __init__(self) -> None:
        self.document = 0
        self.websocket = 0
        self.files = 0
        self._documents: set[str] = set()
        self._cdp: Any = None

    def attach(self, page: Page) -> None:
        """Listen to ``page``'s network (call before it navigates)."""
        cdp = page.context.new_cdp_session(page)
        cdp.on("Network.responseReceived", self._response)
        cdp.on("Network.loadingFinished", self._finished)
        cdp.on("Network.webSocketFrameReceived", self._frame)
        cdp.send("Network.enable")
        self._cdp = cdp

    def _response(self, event: dict[str, Any]) -> None:
        if event.get("type") == "Document":
            self._documents.add(event["requestId"])

    def _finished(self, event: dict[str, Any]) -> None:
        size = int(event.get("encodedDataLength", 0))
        if event["requestId"] in self._documents:
            self.document += size
        else:
            self.files += size

    def _frame(self, event: dict[str, Any]) -> None:
        response = event["response"]
        payload: str = response["payloadData"]
        if response.get("opcode") == 2:
            self.websocket += len(base64.b64decode(payload))
        else:
            self.websocket += len(payload.encode("utf-8"))


def page_loads(
    browser: Browser,
    app: ServedDashboard,
    loads: int,
    cards: int,
    *,
    prefix: str = "",
    targets: dict[str, float],
) -> dict[str, object]:
    """Open ``loads`` sessions one after another (each stays open); time each.

    Figures are named ``<prefix><name>``; ``targets`` (by figure name, without
    the prefix) adds a ``..._target_met`` line after the figure's.
    """
    interactive: list[float] = []
    first_paint: list[float] = []
    document_bytes: list[int] = []
    websocket_bytes: list[int] = []
    file_bytes: list[int] = []
    gc.collect()
    rss = [rss_mb()]
    sessions: list[Session] = []
    load_before = load_text()
    for _ in range(loads):
        traffic = Traffic()
        session = open_session(
            browser, app.url, timeout_ms=TIMEOUT_MS, before_navigation=traffic.attach
        )
        session.expect("ready", kind="ready", cards=cards)
        hit = session.wait_for_hit("ready", TIMEOUT_MS)
        interactive.append(hit.at - session.navigation_start())
        first_paint.append(_first_contentful_paint_s(session.page))
        document_bytes.append(traffic.document)
        websocket_bytes.append(traffic.websocket)
        file_bytes.append(traffic.files)
        gc.collect()
        rss.append(rss_mb())
        sessions.append(session)
    load_after = load_text()
    for session in sessions:
        session.close()
    growth = [b - a for a, b in itertools.pairwise(rss)]
    sent_mb = [
        (d + w) / 1e6 for d, w in zip(document_bytes, websocket_bytes, strict=True)
    ]
    medians = {
        "first_paint_s": statistics.median(first_paint),
        "interactive_s": statistics.median(interactive),
        "document_mb": statistics.median(sent_mb),
        "server_rss_per_session_mb": statistics.median(growth),
    }
    worst = {
        "first_paint_s": max(first_paint),
        "interactive_s": max(interactive),
        "document_mb": max(sent_mb),
        "server_rss_per_session_mb": statistics.median(growth),
    }
    figures: dict[str, object] = {
        "first_paint_s": " ".join(f"{t:.2f}" for t in first_paint),
        "first_paint_median_s": f"{medians['first_paint_s']:.2f}",
        "interactive_s": " ".join(f"{t:.2f}" for t in interactive),
        "interactive_median_s": f"{medians['interactive_s']:.2f}",
        "interactive_max_s": f"{max(interactive):.2f}",
        "document_mb": " ".join(f"{m:.2f}" for m in sent_mb),
        "document_html_kb": f"{statistics.median(document_bytes) / 1e3:.0f}",
        "document_websocket_kb": f"{statistics.median(websocket_bytes) / 1e3:.0f}",
        "static_files_mb": f"{statistics.median(file_bytes) / 1e6:.1f}",
        "server_rss_per_session_mb": " ".join(f"{g:.1f}" for g in growth),
        "server_rss_per_session_median_mb": (
            f"{medians['server_rss_per_session_mb']:.1f}"
        ),
    }
    for name, target in targets.items():
        figures[f"target_{name}"] = target
        figures[f"{name.removesuffix('_s').removesuffix('_mb')}_target_met"] = (
            "yes" if worst[name] <= target else "no"
        )
    figures["load_avg_page_loads"] = f"{load_before} → {load_after}"
    return {f"{prefix}{name}": value for name, value in figures.items()}


def _first_contentful_paint_s(page: Page) -> float:
    """The page's ``first-contentful-paint``, seconds after navigation start."""
    start_ms: float | None = page.evaluate(
        """() => {
            const paint = performance.getEntriesByType('paint')
                .find(e => e.name === 'first-contentful-paint');
            return paint ? paint.startTime : null;
        }"""
    )
    return float("nan") if start_ms is None else start_ms / 1000


def table_actions(
    session: Session, app: ServedDashboard, repeats: int, problems: list[str]
) -> dict[str, object]:
    """Filter and sort the job table ``repeats`` times each; time each."""
    page = session.page
    search = page.locator(".jd-job-text-filter input")
    header = page.locator('.jd-job-table .tabulator-col[tabulator-field="job"]')
    shorts = sorted(job_id.short for job_id, _ in app.jobs)
    total = len(app.jobs)
    full_page = min(TABLE_PAGE_ROWS, total)
    workflows = len({w for _, w in app.jobs})
    sources = total // workflows
    filters: list[float] = []
    unfilters: list[float] = []
    sorts: list[float] = []
    load_before = load_text()

    def timed(id: str, event: str, act: object, **expectation: object) -> float:
        session.expect(id, **expectation)
        assert callable(act)
        act()
        try:
            hit = session.wait_for_hit(id, 30_000)
        except PlaywrightTimeoutError:
            problems.append(f"{id}: the table did not show the result within 30 s")
            return float("nan")
        mark = session.mark(event)
        if mark is None or hit.already:
            problems.append(f"{id}: no {event} event before the DOM changed")
            return float("nan")
        return hit.at - mark

    for n in range(repeats):
        # Spread over the catalogue: the workflow's rows are not on page one.
        index = (n + 1) * workflows // (repeats + 1)
        needle = f"bank_{index:04d}_"
        filters.append(
            timed(
                f"filter-{n}",
                "input",
                lambda needle=needle: search.fill(needle),
                kind="filtered",
                field="source",
                needle=needle,
                count=min(sources, full_page),
            )
        )
        unfilters.append(
            timed(
                f"unfilter-{n}",
                "input",
                lambda: search.fill(""),
                kind="filtered",
                field="source",
                needle="bank_",
                count=full_page,
            )
        )
    for n in range(repeats * 2):
        ascending = n % 2 == 0
        expected = shorts[:full_page] if ascending else shorts[::-1][:full_page]
        sorts.append(
            timed(
                f"sort-{n}",
                "click",
                header.click,
                kind="ordered",
                field="job",
                values=expected,
            )
        )
    return {
        "filter_ms": _all_ms(filters),
        "filter_max_ms": f"{1000 * max(filters):.0f}",
        "unfilter_ms": _all_ms(unfilters),
        "sort_ms": _all_ms(sorts),
        "sort_max_ms": f"{1000 * max(sorts):.0f}",
        "target_table_ms": TARGET_TABLE_MS,
        "table_target_met": (
            "yes"
            if max(filters + unfilters + sorts) * 1000 <= TARGET_TABLE_MS
            else "no"
        ),
        "load_avg_table": f"{load_before} → {load_text()}",
    }


def _all_ms(values: list[float]) -> str:
    return " ".join(f"{1000 * v:.0f}" for v in values)


if __name__ == "__main__":
    sys.exit(main())
