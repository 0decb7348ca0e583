"""SessionPresence: a session registers, is seen while connected, and leaves."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import panel as pn
import pytest
from bokeh.client import pull_session
from bokeh.document import Document
from panel.io.state import set_curdoc

from jobdash.domain.clock import ManualClock
from jobdash.services.session_registry import SessionRegistry
from jobdash.testing.actors import OPERATOR, VIEWER
from jobdash.testing.ports import LOOPBACK, free_port, is_listening
from jobdash.testing.waiting import wait_until
from jobdash.ui.session_presence import SessionPresence
from jobdash.ui.session_refresh import SessionRefresher

S = 1_000_000_000


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def registry(clock: ManualClock) -> SessionRegistry:
    return SessionRegistry(clock)


def test_outside_a_session_nothing_is_registered(registry: SessionRegistry) -> None:
    presence = SessionPresence(registry, OPERATOR, update_every=1)
    with set_curdoc(Document()):
        presence.start()
        presence.refresh()

    assert presence.session_id is None
    assert registry.sessions() == ()


class _Session:
    def __init__(self, connections: int) -> None:
        self.connection_count = connections


class _Context:
    def __init__(self, session_id: str, connections: int) -> None:
        self.id = session_id
        self.session = _Session(connections)


class _SessionDocument(Document):
    """A document that says it has a session, as a served one does."""

    def __init__(self, session_id: str, connections: int = 1) -> None:
        super().__init__()
        self.context = _Context(session_id, connections)
        self._session_context = lambda: self.context  # type: ignore[assignment]
        self.destroyed_callbacks: list[object] = []

    def on_session_destroyed(self, *callbacks: Any) -> None:
        self.destroyed_callbacks.extend(callbacks)


def test_a_connected_session_is_seen_every_update_every_ticks(
    registry: SessionRegistry, clock: ManualClock
) -> None:
    presence = SessionPresence(registry, VIEWER, update_every=4)
    document = _SessionDocument("abc")
    with set_curdoc(document):
        presence.start()
    start = clock.now_ns()
    clock.advance(3)

    for _ in range(3):
        presence.refresh()
    assert registry.sessions()[0].last_seen == start
    presence.refresh()

    (info,) = registry.sessions()
    assert (info.session_id, info.user, info.since) == ("abc", VIEWER.name, start)
    assert info.last_seen == start + 3 * S


def test_a_session_without_a_connected_browser_is_not_seen(
    registry: SessionRegistry, clock: ManualClock
) -> None:
    presence = SessionPresence(registry, VIEWER, update_every=1)
    document = _SessionDocument("abc", connections=0)
    with set_curdoc(document):
        presence.start()
    start = clock.now_ns()
    clock.advance(10)

    presence.refresh()

    assert registry.sessions()[0].last_seen == start


def test_the_destroy_hook_unregisters_the_session_once(
    registry: SessionRegistry,
) -> None:
    presence = SessionPresence(registry, VIEWER, update_every=1)
    document = _SessionDocument("abc")
    with set_curdoc(document):
        presence.start()
        presence.start()  # idempotent: one registration, one hook
    (hook,) = document.destroyed_callbacks
    assert presence.session_id == "abc"

    hook(document.context)  # type: ignore[operator]
    presence.refresh()

    assert presence.session_id is None
    assert registry.sessions() == ()


@pytest.fixture
def served_presence(
    registry: SessionRegistry,
) -> Iterator[str]:
    """A Panel server whose page registers each session; sessions die in 100 ms."""

    def page() -> pn.pane.Str:
        presence = SessionPresence(registry, OPERATOR, update_every=1)
        presence.start()
        SessionRefresher([presence], 0.02).start()
        return pn.pane.Str("present")

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
    try:
        wait_until(lambda: is_listening(port), message=f"a server on port {port}")
        yield f"http://{LOOPBACK}:{port}/"
    finally:
        server.stop()


@pytest.mark.slow
def test_served_sessions_are_listed_while_open_and_seen_then_leave(
    served_presence: str, registry: SessionRegistry, clock: ManualClock
) -> None:
    first = pull_session(url=served_presence)
    second = pull_session(url=served_presence)
    try:
        wait_until(lambda: len(registry) == 2, message="two sessions registered")
        assert {s.session_id for s in registry.sessions()} == {first.id, second.id}
        assert {s.user for s in registry.sessions()} == {OPERATOR.name}
        clock.advance(5)
        wait_until(
            lambda: all(s.last_seen > s.since for s in registry.sessions()),
            message="both sessions seen on a later tick",
        )
    finally:
        first.close()
    wait_until(
        lambda: [s.session_id for s in registry.sessions()] == [second.id],
        message="the closed session unregistered",
    )
    second.close()
    wait_until(lambda: len(registry) == 0, message="the second unregistered too")
