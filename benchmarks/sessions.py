"""Sessions benchmark: many browsers on one server, and sessions that come and go.

jobdash is served in this process over 1,000 running jobs (250 workflows of
4 sources, heartbeats every 2 s: 500 a second; with ``--results``, also one
result a second per active job from the simulated backend).

1. Steady load: 20 Chromium sessions stay open for ``--duration`` seconds
   (default 180, as the issue asks). Measured: the server's CPU as a
   percentage of one core (CPU seconds of every thread of this process but
   the main one, which only runs Playwright's client and sleeps, over wall
   time; from ``/proc/self/task/*/stat``), split into the simulated
   backend's share (its time inside ``get_messages``, which a real backend
   spends elsewhere) and the dashboard's (the rest: ingestion, routing,
   services, every session's refresh and the Bokeh server); the server's
   RSS; and each page's long tasks (> 50 ms of main-thread work, from a
   ``PerformanceObserver({type: "longtask"})``) per minute and the longest;
   and the long animation frames (Long Animation Frames API: > 50 ms), all
   of them and those over 200 ms, their time split by the script file that
   ran it (Bokeh, Panel, Tabulator, jobdash's own ES modules) and what no
   script ran (style, layout and paint), so that "no long task from our
   code" can be read off: the longest script of ours in any long frame. A
   script is its entry point: Bokeh applying a patch our server sent counts
   as Bokeh's.
2. Churn: the 20 sessions close; once the server has destroyed them, the
   baseline is taken (RSS, live session refreshers, open Bokeh sessions and
   their callbacks); then ``--churn`` (default 200) times a session opens
   (until the page root is visible) and closes; then, once the server has
   destroyed those sessions (Bokeh's defaults: a closed session is dropped
   15 to 32 s later), the same figures again.

Targets: server CPU ≤ 50 % of a core; no long task > 200 ms; after the churn,
live refreshers back to the baseline and RSS within 20 MB of it.

Usage: ``python benchmarks/sessions.py [--duration S] [--sessions N]
[--churn N] [--workflows N] [--sources N]``. Figures are printed last, one
per line, as ``name: value``, with the load average (the machine is shared).
"""

from __future__ import annotations

import argparse
import gc
import sys
import threading
import time

from playwright.sync_api import Browser, sync_playwright

from _process_stats import CpuSample, cpu_sample, load_text, rss_mb
from jobdash.testing.browser import LongFrame, Session, launch, open_session
from jobdash.testing.served_app import ServedDashboard, serve_dashboard
from jobdash.testing.waiting import wait_until
from jobdash.ui.session_refresh import live_refreshers

TARGET_CPU_PCT = 50.0
TARGET_LONGEST_TASK_MS = 200.0
TARGET_RSS_GROWTH_MB = 20.0
#: Seconds the server may take to destroy closed sessions (Bokeh checks for
#: unused sessions every 17 s and drops those unused for 15 s).
CLEANUP_TIMEOUT = 120.0
FIRST_PAGE_WORKFLOWS = 12


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=180.0, help="seconds")
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument(
        "--churn", type=int, default=200, help="open/close cycles (0: none)"
    )
    parser.add_argument("--workflows", type=int, default=250)
    parser.add_argument("--sources", type=int, default=4)
    parser.add_argument(
        "--results",
        action="store_true",
        help="the simulated backend also publishes a result per job per second",
    )
    args = parser.parse_args()

    figures: dict[str, object] = {}
    problems: list[str] = []
    with (
        serve_dashboard(args.workflows, args.sources, results=args.results) as app,
        sync_playwright() as playwright,
    ):
        browser = launch(playwright)
        figures |= steady_load(app, browser, args, problems)
        if args.churn > 0:
            figures |= churn(app, browser, args.churn, problems)
        browser.close()

    for problem in problems:
        print(f"PROBLEM: {problem}")
    figures["problems"] = len(problems)
    for name, value in figures.items():
        print(f"{name}: {value}")
    return 1 if problems else 0


def steady_load(
    app: ServedDashboard,
    browser: Browser,
    args: argparse.Namespace,
    problems: list[str],
) -> dict[str, object]:
    """``args.sessions`` open pages for ``args.duration`` s; CPU, RSS, long tasks."""
    began = time.monotonic()
    sessions = [open_session(browser, app.url) for _ in range(args.sessions)]
    cards = min(FIRST_PAGE_WORKFLOWS, args.workflows)
    for session in sessions:
        session.expect("ready", kind="ready", cards=cards)
        session.wait_for_hit("ready", 300_000)
    opened_s = time.monotonic() - began
    load_before = load_text()
    refreshers = live_refreshers()
    main = threading.main_thread().name

    rss: list[float] = []
    counts_before = sum(app.recorder.counts.values())
    backend_before = app.recorder.source_cpu_s
    start_wall = time.time()
    start = cpu_sample()
    deadline = time.monotonic() + args.duration
    while time.monotonic() < deadline:
        rss.append(rss_mb())
        time.sleep(min(5.0, max(0.0, deadline - time.monotonic())))
    end = cpu_sample()
    end_wall = time.time()
    rss.append(rss_mb())
    wall = end.wall - start.wall
    backend_s = app.recorder.source_cpu_s - backend_before
    rate = (sum(app.recorder.counts.values()) - counts_before) / wall
    load_after = load_text()

    per_thread = _server_threads(start, end, main)
    server_pct = 100 * sum(per_thread.values()) / wall
    backend_pct = 100 * backend_s / wall
    print("== server CPU per thread (% of one core)")
    for name, seconds in sorted(per_thread.items(), key=lambda kv: -kv[1]):
        if seconds > 0.005 * wall:
            print(f"{name:40s} {100 * seconds / wall:6.1f}")

    long_tasks = [
        (start_at, duration)
        for session in sessions
        for start_at, duration in session.long_tasks()
        if start_wall <= start_at <= end_wall
    ]
    long_frames = [
        frame
        for session in sessions
        for frame in session.long_frames()
        if start_wall <= frame.start <= end_wall
    ]
    frames_over = [f for f in long_frames if f.duration_ms > TARGET_LONGEST_TASK_MS]
    for title, frames in (
        ("long animation frames (> 50 ms)", long_frames),
        ("long animation frames over 200 ms", frames_over),
    ):
        attributed = long_frame_attribution(frames)
        if attributed:
            print(f"== {title}: where their time went")
            for owner, ms in attributed.items():
                print(f"{owner[:70]:70s} {ms:9.0f} ms")
    ours_ms = max(
        (
            script.duration_ms
            for frame in long_frames
            for script in frame.scripts
            if _is_ours(script.source)
        ),
        default=0.0,
    )
    minutes = wall / 60
    longest = max((d for _, d in long_tasks), default=0.0)
    over_200 = sum(1 for _, d in long_tasks if d > TARGET_LONGEST_TASK_MS)
    for session in sessions:
        session.close()
    if refreshers != args.sessions:
        problems.append(f"{refreshers} live refreshers for {args.sessions} sessions")

    dashboard_pct = server_pct - backend_pct
    return {
        "jobs": len(app.jobs),
        "sessions": args.sessions,
        "open_sessions_seconds": f"{opened_s:.1f}",
        "duration_s": f"{wall:.0f}",
        "messages_per_s": f"{rate:.0f}",
        "server_cpu_pct_of_core": f"{server_pct:.1f}",
        "backend_sim_cpu_pct_of_core": f"{backend_pct:.1f}",
        "dashboard_cpu_pct_of_core": f"{dashboard_pct:.1f}",
        "target_cpu_pct": TARGET_CPU_PCT,
        "cpu_target_met": "yes" if dashboard_pct <= TARGET_CPU_PCT else "no",
        "server_rss_start_mb": f"{rss[0]:.0f}",
        "server_rss_end_mb": f"{rss[-1]:.0f}",
        "server_rss_max_mb": f"{max(rss):.0f}",
        "long_tasks_per_session_minute": f"{len(long_tasks) / args.sessions / minutes:.2f}",
        "long_tasks_total": len(long_tasks),
        "long_task_max_ms": f"{longest:.0f}",
        "long_tasks_over_200ms": over_200,
        "long_task_target_met": "yes" if longest <= TARGET_LONGEST_TASK_MS else "no",
        "long_frames_total": len(long_frames),
        "long_frame_max_ms": f"{max((f.duration_ms for f in long_frames), default=0.0):.0f}",
        "long_frames_over_200ms": len(frames_over),
        "long_frame_max_script_of_ours_ms": f"{ours_ms:.0f}",
        "long_frame_ours_target_met": "yes"
        if ours_ms <= TARGET_LONGEST_TASK_MS
        else "no",
        "steady_load_avg_before": load_before,
        "steady_load_avg_after": load_after,
    }


def long_frame_attribution(frames: list[LongFrame]) -> dict[str, float]:
    """Milliseconds of long frames per script file and invoker, and the rest.

    A script is named by its file (``bokeh-3.9.2.min.js``); ``blob:`` URLs
    are the ES modules Panel builds from jobdash's own ``.js`` files
    (``TabulatorRowUpdates``, ``ToastArea``). What a frame spent outside any
    script is style, layout and paint ("rendering"). The invoker says what
    ran the script: ``WebSocket.onmessage`` is Bokeh applying what the
    server sent, a timer or ``requestAnimationFrame`` its own scheduling.
    """
    owners: dict[str, float] = {}
    for frame in frames:
        in_scripts = 0.0
        for script in frame.scripts:
            owner = f"{_script_owner(script.source)} <- {script.invoker or '?'}"
            owners[owner] = owners.get(owner, 0.0) + script.duration_ms
            in_scripts += script.duration_ms
        rest = max(0.0, frame.duration_ms - in_scripts)
        owners["(rendering: style, layout, paint)"] = (
            owners.get("(rendering: style, layout, paint)", 0.0) + rest
        )
    return dict(sorted(owners.items(), key=lambda kv: -kv[1]))


def _script_owner(source: str) -> str:
    if _is_ours(source):
        return "jobdash ES modules (blob:)"
    if not source:
        return "(no script URL)"
    return source.split("?", 1)[0].rsplit("/", 1)[-1] or source


def _is_ours(source: str) -> bool:
    return source.startswith("blob:")


def _server_threads(start: CpuSample, end: CpuSample, main: str) -> dict[str, float]:
    """CPU seconds per thread, the main thread (Playwright's client) left out."""
    return {name: s for name, s in end.since(start).items() if name != main}


def _wait_for_cleanup(app: ServedDashboard, refreshers: int) -> float:
    """Seconds until the server destroyed every closed session."""
    began = time.monotonic()
    wait_until(
        lambda: live_refreshers() <= refreshers and app.session_callbacks()[0] == 0,
        timeout=CLEANUP_TIMEOUT,
        interval=0.5,
        message="closed sessions to be destroyed",
    )
    return time.monotonic() - began


def churn(
    app: ServedDashboard, browser: Browser, cycles: int, problems: list[str]
) -> dict[str, object]:
    """Open and close a session ``cycles`` times; what is left behind."""
    _wait_for_cleanup(app, 0)
    gc.collect()
    base_rss = rss_mb()
    base_refreshers = live_refreshers()
    base_sessions, base_callbacks = app.session_callbacks()
    load_before = load_text()
    began = time.monotonic()
    cycle_times = []
    for _ in range(cycles):
        opened = time.monotonic()
        session: Session = open_session(browser, app.url)
        session.close()
        cycle_times.append(time.monotonic() - opened)
    churn_s = time.monotonic() - began
    peak_refreshers = live_refreshers()
    cleanup_s = _wait_for_cleanup(app, base_refreshers)
    gc.collect()
    after_rss = rss_mb()
    after_refreshers = live_refreshers()
    after_sessions, after_callbacks = app.session_callbacks()
    growth = after_rss - base_rss
    if after_refreshers != base_refreshers:
        problems.append(
            f"{after_refreshers} live refreshers after churn, {base_refreshers} before"
        )
    if growth > TARGET_RSS_GROWTH_MB:
        problems.append(f"RSS grew by {growth:.1f} MB over {cycles} sessions")
    cycle_times.sort()
    return {
        "churn_cycles": cycles,
        "churn_seconds": f"{churn_s:.0f}",
        "churn_cycle_median_s": f"{cycle_times[len(cycle_times) // 2]:.2f}",
        "churn_live_refreshers_at_end_of_churn": peak_refreshers,
        "churn_cleanup_seconds": f"{cleanup_s:.0f}",
        "churn_rss_before_mb": f"{base_rss:.1f}",
        "churn_rss_after_mb": f"{after_rss:.1f}",
        "churn_rss_growth_mb": f"{growth:+.1f}",
        "target_rss_growth_mb": TARGET_RSS_GROWTH_MB,
        "churn_refreshers_before": base_refreshers,
        "churn_refreshers_after": after_refreshers,
        "churn_bokeh_sessions_before": base_sessions,
        "churn_bokeh_sessions_after": after_sessions,
        "churn_session_callbacks_before": base_callbacks,
        "churn_session_callbacks_after": after_callbacks,
        "churn_target_met": (
            "yes"
            if after_refreshers == base_refreshers and growth <= TARGET_RSS_GROWTH_MB
            else "no"
        ),
        "churn_load_avg_before": load_before,
        "churn_load_avg_after": load_text(),
    }


if __name__ == "__main__":
    sys.exit(main())
