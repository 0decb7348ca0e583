# mypy: untyped-calls-exclude=panel
"""The notification log under the views, and the toasts for new entries.

Toasts vanish; an operator who looked away needs the history, so every
notification is also listed here, newest first, bounded. The log is shared by
all sessions; each view remembers the last ``seq`` it showed and toasts only
what arrived since (never the history it found when the page opened).

Texts come from backends (ack messages, errors) and are escaped everywhere:
in the list and in the toasts, whose front end renders markup.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

import panel as pn

from jobdash.services.notifications import Notification, NotificationLog
from jobdash.ui.live_html import LiveHTML

__all__ = ["NotificationLogView", "render_notifications"]

#: How long a toast stays, by level (ms); errors stay longest but still go,
#: the log keeps them.
_TOAST_MS = {"info": 3000, "success": 3000, "warning": 6000, "error": 10000}


def _clock_text(time_ns: int) -> str:
    return datetime.fromtimestamp(time_ns / 1e9, tz=UTC).strftime("%H:%M:%S")


def render_notifications(entries: list[Notification]) -> str:
    """HTML of the log, newest first; every text is escaped."""
    if not entries:
        return '<div class="jd-note-empty">No notifications yet.</div>'
    items = []
    for entry in reversed(entries):
        level = entry.level.value
        stamp = datetime.fromtimestamp(entry.time / 1e9, tz=UTC).isoformat(
            timespec="seconds"
        )
        items.append(
            f'<li class="jd-note jd-note-{level}" data-seq="{entry.seq}">'
            f'<time class="jd-note-time" datetime="{stamp}">'
            f"{_clock_text(entry.time)}</time>"
            f'<span class="jd-note-level">{level}</span>'
            f'<span class="jd-note-text">{html.escape(entry.text)}</span></li>'
        )
    return f'<ol class="jd-note-list" aria-live="polite">{"".join(items)}</ol>'


class NotificationLogView(pn.viewable.Viewer):
    """Newest-first list of the last ``limit`` notifications, plus toasts.

    Parameters
    ----------
    log
        The process-wide notification log.
    toasts
        The session's :class:`~jobdash.ui.toast_area.ToastArea` (or anything
        with its ``send``), or ``None`` for no toasts (tests).
    limit
        Most entries listed.
    max_toasts
        Most toasts raised by one refresh; a burst beyond it is summarised in
        one extra toast (the log lists them all).
    """

    def __init__(
        self,
        log: NotificationLog,
        *,
        toasts: Any = None,
        limit: int = 100,
        max_toasts: int = 3,
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        super().__init__()  # type: ignore[no-untyped-call]  # param is untyped
        self._log = log
        self._toasts = toasts
        self._limit = limit
        self._max_toasts = max_toasts
        # Read the version before the entries: a change in between is seen
        # again on the next refresh, never lost.
        self._version = log.version
        self._last_seq = log.last_seq
        self._pane = LiveHTML(
            render_notifications(log.recent(limit)),
            css_classes=["jd-notifications"],
            sizing_mode="stretch_width",
            margin=0,
        )

    def refresh(self) -> None:
        """Toast what is new and re-render the list; nothing if unchanged."""
        version = self._log.version
        if version == self._version:
            return
        self._version = version
        new = self._log.since(self._last_seq)
        if new:
            self._last_seq = new[-1].seq
            self._toast(new)
        self._pane.object = render_notifications(self._log.recent(self._limit))

    def _toast(self, entries: list[Notification]) -> None:
        if self._toasts is None:
            return
        shown = entries[-self._max_toasts :] if self._max_toasts > 0 else []
        hidden = len(entries) - len(shown)
        if hidden:
            self._toasts.send(
                html.escape(f"{hidden} more notifications; see the log below"),
                duration=_TOAST_MS["info"],
                type="info",
            )
        for entry in shown:
            level = entry.level.value
            self._toasts.send(
                html.escape(entry.text), duration=_TOAST_MS[level], type=level
            )

    def __panel__(self) -> pn.pane.HTML:
        return self._pane
