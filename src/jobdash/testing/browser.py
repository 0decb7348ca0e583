"""Chromium sessions on a served jobdash, each with the in-page probe.

Debian's Chromium (:data:`CHROMIUM`) driven by Playwright, with the flags
the browser tests launch it with too (:data:`CHROMIUM_ARGS`). Every session
is a page in its own browser context (no shared cache or storage, as
separate operators), with ``probe.js`` (a data file next to this module)
installed before the page's own scripts run: it times DOM changes and
records long tasks (see that file).

Used by the browser benchmarks and the freshness smoke test; needs
Playwright, which only the ``test`` extra installs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, Playwright

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "FrameScript",
    "Hit",
    "LongFrame",
    "Session",
    "launch",
    "open_session",
]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1400, "height": 900}
_PROBE = Path(__file__).with_name("probe.js").read_text(encoding="utf-8")


def launch(playwright: Playwright) -> Browser:
    """Headless Debian Chromium with the harness's flags."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@dataclass(frozen=True)
class FrameScript:
    """One script a long animation frame ran (Long Animation Frames API).

    ``source`` is the script's URL (``blob:`` for the ES modules Panel
    builds from our components' ``.js`` files), ``func`` the entry
    function's name when the browser knows it, ``invoker`` what called it
    (``WebSocket.onmessage``, a timer, an event listener).
    """

    source: str
    func: str
    invoker: str
    duration_ms: float


@dataclass(frozen=True)
class LongFrame:
    """An animation frame whose work took over 50 ms (epoch seconds)."""

    start: float
    duration_ms: float
    scripts: tuple[FrameScript, ...]


@dataclass(frozen=True)
class Hit:
    """When the DOM of a page first met an expectation (epoch seconds)."""

    id: str
    at: float
    already: bool


class Session:
    """One browser session of the dashboard: a page with the probe."""

    def __init__(self, page: Page) -> None:
        self.page = page

    def expect(self, id: str, **expectation: Any) -> bool:
        """Register an expectation (see ``probe.js``); ``True`` if it holds now."""
        held: bool = self.page.evaluate(
            "([id, e]) => window.__jdProbe.expect(id, e)", [id, expectation]
        )
        return held

    def watch(self, key: str, **spec: Any) -> None:
        """Record every text ``spec`` shows from now on (see ``probe.js``).

        ``spec``: ``kind="row", short=<job number's 8 digits>`` (the row's
        state cell) or ``kind="badge", card=<jd-wf-... class>``.
        """
        self.page.evaluate(
            "([key, spec]) => window.__jdProbe.watch(key, spec)", [key, spec]
        )

    def histories(self) -> dict[str, list[tuple[float, str]]]:
        """Per watched key: (epoch seconds, text) of each distinct text shown."""
        raw = self.page.evaluate("() => window.__jdProbe.histories()")
        return {
            key: [(at / 1000, text) for at, text in history]
            for key, history in raw.items()
        }

    def hits(self) -> dict[str, Hit]:
        """Every expectation met so far, by id."""
        raw = self.page.evaluate("() => window.__jdProbe.hits")
        return {
            h["id"]: Hit(h["id"], h["at"] / 1000, bool(h.get("already"))) for h in raw
        }

    def pending(self) -> list[str]:
        """Ids of expectations not met yet."""
        ids: list[str] = self.page.evaluate(
            "() => Array.from(window.__jdProbe.pending.keys())"
        )
        return ids

    def wait_for_hit(self, id: str, timeout_ms: float) -> Hit:
        """Wait until expectation ``id`` is met; Playwright's TimeoutError if not."""
        self.page.wait_for_function(
            "id => window.__jdProbe.hits.some(h => h.id === id)",
            arg=id,
            timeout=timeout_ms,
            polling=50,
        )
        return self.hits()[id]

    def long_tasks(self) -> list[tuple[float, float]]:
        """(start epoch seconds, duration ms) of every long task so far."""
        raw = self.page.evaluate("() => window.__jdProbe.longTasks")
        return [(start / 1000, duration) for start, duration in raw]

    def long_frames(self) -> list[LongFrame]:
        """Every long animation frame so far (> 50 ms), with the scripts it ran."""
        raw = self.page.evaluate("() => window.__jdProbe.longFrames")
        return [
            LongFrame(
                start=entry["start"] / 1000,
                duration_ms=entry["duration"],
                scripts=tuple(
                    FrameScript(
                        script["source"],
                        script["func"],
                        script["invoker"],
                        script["duration"],
                    )
                    for script in entry["scripts"]
                ),
            )
            for entry in raw
        ]

    def mark(self, event_type: str) -> float | None:
        """Epoch seconds of the latest ``click``/``input``/``keydown`` event."""
        value = self.page.evaluate("t => window.__jdProbe.marks[t] ?? null", event_type)
        return None if value is None else value / 1000

    def navigation_start(self) -> float:
        """Epoch seconds at which the page's navigation started."""
        origin: float = self.page.evaluate("() => performance.timeOrigin")
        return origin / 1000

    def close(self) -> None:
        self.page.context.close()


def open_session(
    browser: Browser,
    url: str,
    *,
    timeout_ms: float = 120_000,
    before_navigation: Callable[[Page], object] | None = None,
) -> Session:
    """A new context and page on ``url``, the page root visible.

    ``before_navigation`` is called with the new page before it navigates
    (to attach a CDP session that sees the page's first bytes, say).
    """
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)  # type: ignore[arg-type]
    context.add_init_script(_PROBE)
    page = context.new_page()
    if before_navigation is not None:
        before_navigation(page)
    page.goto(url, wait_until="commit", timeout=timeout_ms)
    page.locator(".jd-app").wait_for(timeout=timeout_ms)
    return Session(page)
