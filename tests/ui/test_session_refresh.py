"""The per-session refresher: one hold per tick, guarded widgets, live count."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import panel as pn
import param
import pytest
from bokeh.client import pull_session
from bokeh.document import Document
from panel.io.state import set_curdoc

from jobdash.testing.ports import LOOPBACK, free_port, is_listening
from jobdash.testing.waiting import wait_until
from jobdash.ui.session_refresh import (
    SessionRefresher,
    live_refreshers,
    wake_on_change,
    wake_sessions,
)


class RecordingWidget:
    """Records each refresh and whether the document was held at the time."""

    def __init__(self, name: str, calls: list[tuple[str, object]]) -> None:
        self.name = name
        self.calls = calls

    def refresh(self) -> None:
        document = pn.state.curdoc
        held = None if document is None else document.callbacks.hold_value
        self.calls.append((self.name, held))


class FailingWidget:
    def __init__(self) -> None:
        self.error: Exception | None = RuntimeError("snapshot exploded")
        self.calls = 0

    def refresh(self) -> None:
        self.calls += 1
        if self.error is not None:
            raise self.error


def test_tick_refreshes_every_widget_in_order_inside_one_hold() -> None:
    calls: list[tuple[str, object]] = []
    refresher = SessionRefresher(
        [RecordingWidget("a", calls), RecordingWidget("b", calls)], 0.25
    )
    document = Document()
    with set_curdoc(document):
        refresher.refresh_all()
    assert calls == [("a", "combine"), ("b", "combine")]
    assert document.callbacks.hold_value is None
    assert refresher.ticks == 1


def test_a_failing_widget_does_not_stop_the_others() -> None:
    calls: list[tuple[str, object]] = []
    failing = FailingWidget()
    refresher = SessionRefresher(
        [RecordingWidget("before", calls), failing, RecordingWidget("after", calls)],
        0.25,
    )
    refresher.refresh_all()
    refresher.refresh_all()
    assert [name for name, _ in calls] == ["before", "after", "before", "after"]
    assert failing.calls == 2


def test_a_repeated_failure_is_logged_once_until_it_recovers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failing = FailingWidget()
    refresher = SessionRefresher([failing], 0.25)
    with caplog.at_level(logging.INFO, logger="jobdash.ui.session_refresh"):
        refresher.refresh_all()
        refresher.refresh_all()
        refresher.refresh_all()
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1
        assert errors[0].exc_info is not None
        assert "FailingWidget" in errors[0].getMessage()

        failing.error = ValueError("a different problem")
        refresher.refresh_all()
        assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 2

        failing.error = None
        refresher.refresh_all()
        assert any("refreshes again" in r.getMessage() for r in caplog.records)


def test_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="interval"):
        SessionRefresher([], 0)


def test_interval_becomes_the_callback_period_in_milliseconds() -> None:
    assert SessionRefresher([], 0.25).period_ms == 250
    assert SessionRefresher([], 0.0001).period_ms == 1


def test_start_and_stop_are_counted_once_each() -> None:
    before = live_refreshers()
    refresher = SessionRefresher([], 0.25)
    refresher.start()
    refresher.start()
    assert refresher.running
    assert live_refreshers() == before + 1
    refresher.stop()
    refresher.stop()
    assert not refresher.running
    assert live_refreshers() == before


@pytest.fixture
def served_refreshers() -> Iterator[tuple[str, list[RecordingWidget]]]:
    """A Panel server in a thread whose page starts one refresher per session.

    Unused sessions are destroyed after 100 ms, so closing a client session
    shows up quickly.
    """
    widgets: list[RecordingWidget] = []
    lock = threading.Lock()

    def page() -> pn.pane.Str:
        widget = RecordingWidget("w", [])
        with lock:
            widgets.append(widget)
        SessionRefresher([widget], 0.02).start()
        return pn.pane.Str("refreshed")

    port = free_port()
    server = pn.serve(
        {"/": page},
        port=port,
        address=LOOPBACK,
        show=False,
        threaded=True,
        verbose=False,
        check_unused_sessions_milliseconds=100,
        unused_session_lifetime_milliseconds=100,
    )
    url = f"http://{LOOPBACK}:{port}/"
    try:
        wait_until(lambda: is_listening(port), message=f"a server on port {port}")
        yield url, widgets
    finally:
        server.stop()


@pytest.mark.slow
def test_each_session_gets_one_ticking_refresher_removed_when_it_closes(
    served_refreshers: tuple[str, list[RecordingWidget]],
) -> None:
    url, widgets = served_refreshers
    before = live_refreshers()
    first = pull_session(url=url)
    second = pull_session(url=url)
    try:
        assert live_refreshers() == before + 2
        wait_until(
            lambda: len(widgets) == 2 and all(len(w.calls) >= 3 for w in widgets)
        )
        # Each tick ran with its own session's document held.
        assert all(held == "combine" for w in widgets for _, held in w.calls)
    finally:
        first.close()
        second.close()
    wait_until(lambda: live_refreshers() == before)
    ticks = [len(w.calls) for w in widgets]
    # A stopped callback never runs again: wait for a live one to tick twice.
    third = pull_session(url=url)
    try:
        wait_until(lambda: len(widgets) == 3 and len(widgets[2].calls) >= 2)
    finally:
        third.close()
    assert [len(w.calls) for w in widgets[:2]] == ticks


class Model(param.Parameterized):
    """Stands for a service model: only its ``version`` matters here."""

    version = param.Integer(default=0)


@pytest.fixture
def slow_ticking_page() -> Iterator[tuple[str, list[RecordingWidget], Model]]:
    """A served page whose refresher ticks once a minute, woken by ``Model``."""
    widgets: list[RecordingWidget] = []
    refreshers: list[SessionRefresher] = []
    model = Model()
    wake_on_change(model)
    wake_on_change(model)  # idempotent: still one watcher

    def page() -> pn.pane.Str:
        widget = RecordingWidget("w", [])
        refresher = SessionRefresher([widget], 60.0)
        refresher.start()
        widgets.append(widget)
        refreshers.append(refresher)
        return pn.pane.Str("woken")

    port = free_port()
    server = pn.serve(
        {"/": page}, port=port, address=LOOPBACK, show=False, threaded=True
    )
    try:
        wait_until(lambda: is_listening(port), message=f"a server on port {port}")
        yield f"http://{LOOPBACK}:{port}/", widgets, model
    finally:
        for refresher in refreshers:
            refresher.stop()
        server.stop()


@pytest.mark.slow
def test_a_version_change_wakes_each_session_long_before_its_next_tick(
    slow_ticking_page: tuple[str, list[RecordingWidget], Model],
) -> None:
    url, widgets, model = slow_ticking_page
    first, second = pull_session(url=url), pull_session(url=url)
    try:
        wait_until(lambda: len(widgets) == 2)
        assert all(w.calls == [] for w in widgets)  # no tick for a minute
        # As the ingestion thread does: bump versions from another thread.
        writer = threading.Thread(target=lambda: model.param.update(version=1))
        writer.start()
        writer.join()
        wait_until(lambda: all(len(w.calls) == 1 for w in widgets), timeout=5)
        # Each wake-up ran with its own session's document held.
        assert all(held == "combine" for w in widgets for _, held in w.calls)
    finally:
        first.close()
        second.close()


def test_a_burst_of_versions_leaves_one_wake_up_pending() -> None:
    scheduled: list[object] = []

    class RecordingDocument(Document):
        def add_next_tick_callback(self, callback: object) -> None:  # type: ignore[override]
            scheduled.append(callback)

    refresher = SessionRefresher([], 0.25)
    refresher._document = RecordingDocument()  # as start() does in a session
    refresher._started = True
    for _ in range(5):
        refresher.wake()
    assert len(scheduled) == 1
    refresher._woken()
    assert refresher.wakes == 1
    refresher.wake()
    assert len(scheduled) == 2


def test_a_wake_up_that_never_ran_is_settled_by_the_next_tick() -> None:
    scheduled: list[object] = []

    class LosingDocument(Document):
        def add_next_tick_callback(self, callback: object) -> None:  # type: ignore[override]
            scheduled.append(callback)  # ... and never runs it

    refresher = SessionRefresher([], 0.25)
    refresher._document = LosingDocument()
    refresher._started = True
    refresher.wake()
    refresher.wake()
    assert len(scheduled) == 1  # pending
    with set_curdoc(refresher._document):
        refresher.refresh_all()  # the periodic tick
    refresher.wake()
    assert len(scheduled) == 2


def test_without_a_session_nothing_is_woken() -> None:
    refresher = SessionRefresher([], 0.25)
    refresher.start()  # no session document: nothing to schedule on
    try:
        refresher.wake()
        wake_sessions()
        assert refresher.wakes == 0
    finally:
        refresher.stop()
