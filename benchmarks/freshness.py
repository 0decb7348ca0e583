"""Freshness benchmark: how long until a state change shows in every browser.

jobdash is served in this process over 1,000 running jobs (250 workflows of
4 sources, each job heartbeating every 2 s: 500 heartbeats a second; with
``--results``, also one 50-bin result a second per active job), and
five Chromium sessions watch it. Twenty state changes are injected about a
second apart: a job goes to ``error``, back to ``active``, to ``warning``,
back, and then its whole workflow is stopped (as the Stop button does), on
four workflows in turn. For each change and each session, the job's row in
the job table and the workflow's badge are timed from the moment the
backend *emitted* the heartbeat carrying the change until the page's DOM
shows it (a MutationObserver in the page; see ``jobdash.testing.freshness``
and ``jobdash/testing/probe.js`` for the method).

Targets (issue "Performance: freshness in the browser"): p95 ≤ 250 ms and
max ≤ 1 s, per widget.

Where the time goes: a ``FrameLog`` (``jobdash.testing.frame_log``) stamps
every websocket frame the server writes, so each sample splits into the
server's share (emission → the frame carrying the change written to that
session) and the browser's (that frame → DOM); both are printed per session
and over all sessions (``server_*`` and ``browser_*``).

Usage: ``python benchmarks/freshness.py [--sessions N] [--changes N]
[--workflows N] [--sources N] [--spacing S]``. Figures are printed last,
one per line, as ``name: value``; the load average is printed with them
(the machine is shared). Exits non-zero if a change never showed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence

from playwright.sync_api import sync_playwright

from _process_stats import load_text
from jobdash.testing.browser import launch, open_session
from jobdash.testing.frame_log import FrameLog
from jobdash.testing.freshness import Sample, inject_changes, plan_changes
from jobdash.testing.served_app import serve_dashboard

TARGET_P95_MS = 250.0
TARGET_MAX_MS = 1000.0
#: Cards and rows of the first page of both views (the targets must be there).
FIRST_PAGE_WORKFLOWS = 12
#: Milliseconds a page may take to open on a loaded machine.
TIMEOUT_MS = 600_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=5)
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--workflows", type=int, default=250)
    parser.add_argument("--sources", type=int, default=4)
    parser.add_argument("--heartbeat", type=float, default=2.0, help="seconds")
    parser.add_argument("--spacing", type=float, default=1.0, help="s between changes")
    parser.add_argument(
        "--deadline", type=float, default=20.0, help="s to wait for the last change"
    )
    parser.add_argument(
        "--results",
        action="store_true",
        help="the simulated backend also publishes a result per job per second",
    )
    args = parser.parse_args()

    began = time.monotonic()
    frame_log = FrameLog()
    with (
        frame_log.installed(),
        serve_dashboard(
            args.workflows,
            args.sources,
            heartbeat_interval=args.heartbeat,
            results=args.results,
        ) as app,
        sync_playwright() as playwright,
    ):
        browser = launch(playwright)
        progress(f"serving {len(app.jobs)} jobs; load {load_text()}")
        cards = min(FIRST_PAGE_WORKFLOWS, args.workflows)
        sessions = []
        for n in range(args.sessions):
            session = open_session(browser, app.url, timeout_ms=TIMEOUT_MS)
            session.expect("ready", kind="ready", cards=cards)
            session.wait_for_hit("ready", TIMEOUT_MS)
            sessions.append(session)
            progress(f"session {n + 1}/{args.sessions} open; load {load_text()}")
        changes = plan_changes(
            app, args.changes, min(FIRST_PAGE_WORKFLOWS, args.workflows)
        )
        load_before = load_text()
        counts_before = sum(app.recorder.counts.values())
        started = time.monotonic()
        samples = inject_changes(
            app,
            sessions,
            changes,
            spacing=args.spacing,
            deadline=args.deadline,
            frame_log=frame_log,
        )
        elapsed = time.monotonic() - started
        progress(f"changes made and seen; load {load_text()}")
        rate = (sum(app.recorder.counts.values()) - counts_before) / elapsed
        load_after = load_text()
        browser.close()

    problems = []
    for sample in samples:
        if sample.latency is None:
            what = "shown before it was injected" if sample.already else "never shown"
            problems.append(f"{sample.change} {sample.widget} session {sample.session}")
            problems[-1] += f": {what}"
    for problem in problems:
        print(f"PROBLEM: {problem}")

    print("== per change (ms, emission → DOM, median over sessions)")
    for change in changes:
        row = sorted(
            s.latency
            for s in samples
            if s.change == change.name and s.widget == "row" and s.latency is not None
        )
        badge = sorted(
            s.latency
            for s in samples
            if s.change == change.name and s.widget == "badge" and s.latency is not None
        )
        applied = next(
            (s.applied for s in samples if s.change == change.name and s.applied),
            None,
        )
        print(
            f"{change.name:28s} row {_ms(row)}  badge {_ms(badge)}"
            f"  applied {_ms([applied] if applied is not None else [])}"
        )

    print(
        "== per session (ms): emission → DOM | server: emission → frame sent"
        " | browser: frame → DOM; p50/p95/max"
    )
    for session in range(args.sessions):
        for widget in ("row", "badge"):
            chosen = [s for s in samples if s.session == session and s.widget == widget]
            print(
                f"session {session} {widget:5s} "
                + "  |  ".join(
                    f"{name} {_triple(values)}"
                    for name, values in _shares(chosen).items()
                )
            )

    row, badge = summarise(samples, "row"), summarise(samples, "badge")
    shares = {
        widget: _shares([s for s in samples if s.widget == widget])
        for widget in ("row", "badge")
    }
    applied_all = sorted(s.applied for s in samples if s.applied is not None)
    figures: dict[str, object] = {
        "jobs": len(app.jobs),
        "workflows": args.workflows,
        "sessions": args.sessions,
        "changes": len(changes),
        "messages_per_s": f"{rate:.0f}",
        "row_samples": row["samples"],
        "row_missed": row["missed"],
        "row_p50_ms": _fmt(row.get("p50_ms")),
        "row_p95_ms": _fmt(row.get("p95_ms")),
        "row_max_ms": _fmt(row.get("max_ms")),
        "badge_samples": badge["samples"],
        "badge_missed": badge["missed"],
        "badge_p50_ms": _fmt(badge.get("p50_ms")),
        "badge_p95_ms": _fmt(badge.get("p95_ms")),
        "badge_max_ms": _fmt(badge.get("max_ms")),
        "applied_p50_ms": _ms(applied_all),
        **{
            f"{widget}_{name}_{stat}_ms": value
            for widget, by_share in shares.items()
            for name, values in by_share.items()
            if name != "dom"
            for stat, value in zip(("p50", "p95", "max"), _stats(values), strict=True)
        },
        "frames_unmatched": sum(
            1 for s in samples if s.latency is not None and s.sent is None
        ),
        "target_p95_ms": TARGET_P95_MS,
        "target_max_ms": TARGET_MAX_MS,
        "target_met": "yes" if _met(row) and _met(badge) else "no",
        "load_avg_before": load_before,
        "load_avg_after": load_after,
        "seconds": f"{time.monotonic() - began:.0f}",
        "problems": len(problems),
    }
    for name, value in figures.items():
        print(f"{name}: {value}")
    return 1 if problems else 0


def progress(text: str) -> None:
    """A progress line on stderr (stdout ends with the figures)."""
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0 to 100), linear between closest ranks."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[
        min(98, max(0, round(q) - 1))
    ]


def summarise(samples: Sequence[Sample], widget: str) -> dict[str, float | int]:
    """p50, p95 and max latency (ms) of one widget, and how many were missed."""
    chosen = [s for s in samples if s.widget == widget]
    seen = [s.latency for s in chosen if s.latency is not None]
    summary: dict[str, float | int] = {
        "samples": len(chosen),
        "missed": len(chosen) - len(seen),
    }
    if seen:
        summary["p50_ms"] = 1000 * statistics.median(seen)
        summary["p95_ms"] = 1000 * percentile(seen, 95)
        summary["max_ms"] = 1000 * max(seen)
    return summary


def _shares(samples: Sequence[Sample]) -> dict[str, list[float]]:
    """Emission → DOM, its server share and its browser share (s), of samples
    that were seen (the shares only where the carrying frame was found)."""
    seen = [s for s in samples if s.latency is not None]
    split = [s for s in seen if s.sent is not None]
    return {
        "dom": [s.latency for s in seen if s.latency is not None],
        "server": [s.sent for s in split if s.sent is not None],
        "browser": [
            s.latency - s.sent
            for s in split
            if s.latency is not None and s.sent is not None
        ],
    }


def _stats(values: Sequence[float]) -> tuple[str, str, str]:
    """p50, p95 and max in ms, as text (``n/a`` for no values)."""
    if not values:
        return ("n/a", "n/a", "n/a")
    return (
        f"{1000 * statistics.median(values):.0f}",
        f"{1000 * percentile(values, 95):.0f}",
        f"{1000 * max(values):.0f}",
    )


def _triple(values: Sequence[float]) -> str:
    return "/".join(_stats(values))


def _met(summary: dict[str, float | int]) -> bool:
    return (
        summary["missed"] == 0
        and summary.get("p95_ms", float("inf")) <= TARGET_P95_MS
        and summary.get("max_ms", float("inf")) <= TARGET_MAX_MS
    )


def _fmt(value: float | int | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"


def _ms(values: list[float]) -> str:
    if not values:
        return "   n/a"
    return f"{1000 * values[len(values) // 2]:6.0f}"


if __name__ == "__main__":
    sys.exit(main())
