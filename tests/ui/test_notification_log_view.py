"""The notification log view: newest first, bounded, escaped, toasts for new ones."""

from __future__ import annotations

from typing import Any

from jobdash.domain.clock import ManualClock
from jobdash.services.notifications import NotificationLog
from jobdash.ui.notification_log_view import NotificationLogView

NOW = 1_764_417_600_000_000_000


class ToastRecorder:
    """Stands in for ``pn.state.notifications``."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, message: str, duration: int, type: str) -> None:
        self.sent.append({"message": message, "duration": duration, "type": type})


def make_log() -> tuple[NotificationLog, ManualClock]:
    clock = ManualClock(NOW)
    return NotificationLog(clock), clock


def test_entries_are_listed_newest_first_with_time_and_level() -> None:
    log, clock = make_log()
    log.add("info", "first")
    clock.advance(65)
    log.add("error", "second")
    markup = NotificationLogView(log).__panel__().object
    assert markup.index("second") < markup.index("first")
    assert "12:01:05" in markup
    assert 'class="jd-note jd-note-error"' in markup


def test_an_empty_log_says_so() -> None:
    log, _ = make_log()
    assert "No notifications yet." in NotificationLogView(log).__panel__().object


def test_the_list_is_bounded() -> None:
    log, _ = make_log()
    for n in range(30):
        log.add("info", f"note {n:02d}")
    markup = NotificationLogView(log, limit=10).__panel__().object
    assert markup.count("<li") == 10
    assert "note 29" in markup
    assert "note 19" not in markup


def test_untrusted_text_is_escaped_in_the_list_and_the_toast() -> None:
    log, _ = make_log()
    toasts = ToastRecorder()
    view = NotificationLogView(log, toasts=toasts)
    log.add("error", '<img src=x onerror="alert(1)">')
    view.refresh()
    markup = view.__panel__().object
    assert "<img" not in markup
    assert "&lt;img src=x" in markup
    assert toasts.sent[0]["message"].startswith("&lt;img")


def test_only_entries_added_after_the_page_opened_are_toasted() -> None:
    log, _ = make_log()
    log.add("info", "history")
    toasts = ToastRecorder()
    view = NotificationLogView(log, toasts=toasts)
    view.refresh()
    assert toasts.sent == []
    log.add("success", "Started 4/4 jobs for Detector view")
    log.add("warning", "1 with no response after 30 s")
    view.refresh()
    assert [(t["type"], t["message"]) for t in toasts.sent] == [
        ("success", "Started 4/4 jobs for Detector view"),
        ("warning", "1 with no response after 30 s"),
    ]
    view.refresh()
    assert len(toasts.sent) == 2


def test_errors_stay_longer_than_successes() -> None:
    log, _ = make_log()
    toasts = ToastRecorder()
    view = NotificationLogView(log, toasts=toasts)
    log.add("success", "ok")
    log.add("error", "bad")
    view.refresh()
    durations = {t["type"]: t["duration"] for t in toasts.sent}
    assert durations["error"] > durations["success"] > 0


def test_a_burst_is_summarised_in_one_extra_toast() -> None:
    log, _ = make_log()
    toasts = ToastRecorder()
    view = NotificationLogView(log, toasts=toasts, max_toasts=3)
    for n in range(8):
        log.add("info", f"note {n}")
    view.refresh()
    messages = [t["message"] for t in toasts.sent]
    assert messages == [
        "5 more notifications; see the log below",
        "note 5",
        "note 6",
        "note 7",
    ]
    assert view.__panel__().object.count("<li") == 8


def test_refresh_does_nothing_when_the_log_did_not_change() -> None:
    log, _ = make_log()
    view = NotificationLogView(log)
    pane = view.__panel__()
    rendered = pane.object
    pane.object = "sentinel"
    view.refresh()
    assert pane.object == "sentinel"
    log.add("info", "new")
    view.refresh()
    assert pane.object != rendered
    assert "new" in pane.object
