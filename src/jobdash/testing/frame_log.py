"""When the server wrote each websocket frame, per browser connection.

For ``benchmarks/freshness.py``: splitting emission → DOM into the server's
share (emission → the websocket frame carrying the change is written) and
the browser's (frame → DOM). :class:`FrameLog` wraps Tornado's
``WebSocketHandler.write_message`` for as long as it is installed, in the
benchmark's own process (the served app runs there): both Bokeh's session
messages and Panel's batched document patches are written through it, one
call per frame (header, metadata, content, buffers). Nothing in ``jobdash``
itself refers to it, so the product pays nothing when it is not installed.

A frame is stamped when ``write_message`` is called: Tornado writes it to the
socket at once unless the socket's buffer is full, so this is when the
server let go of the change. Connections are numbered in the order their
first frame was written; the benchmark opens its sessions one after the
other, each once the previous one is ready, so connection ``n`` is session
``n``. Only text frames of document patches are kept (``PATCH-DOC`` content,
which carries the events), and only while :attr:`recording`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tornado.websocket import WebSocketHandler

__all__ = ["Frame", "FrameLog", "patch_events"]


@dataclass(frozen=True)
class Frame:
    """One text frame written to one connection; ``at`` in epoch seconds."""

    connection: int
    at: float
    text: str


class FrameLog:
    """The document-patch frames written to every websocket, with their times."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connections: dict[int, int] = {}
        self._frames: list[Frame] = []
        self._original: Callable[..., Any] | None = None
        self.recording = False
        """Whether frames are kept (connections are numbered regardless)."""

    @contextmanager
    def installed(self) -> Iterator[FrameLog]:
        """Wrap ``WebSocketHandler.write_message`` for the block."""
        if self._original is not None:
            raise RuntimeError("this FrameLog is already installed")
        original = WebSocketHandler.write_message
        self._original = original
        log = self

        def write_message(
            handler: WebSocketHandler, message: Any, binary: bool = False
        ) -> Any:
            log._seen(handler, message)
            return original(handler, message, binary)

        WebSocketHandler.write_message = write_message  # type: ignore[method-assign,assignment]
        try:
            yield self
        finally:
            WebSocketHandler.write_message = original  # type: ignore[method-assign]
            self._original = None

    @property
    def connections(self) -> int:
        """How many connections have been written to."""
        with self._lock:
            return len(self._connections)

    def frames(self, connection: int) -> list[Frame]:
        """The recorded frames of one connection, in the order written."""
        with self._lock:
            return [f for f in self._frames if f.connection == connection]

    def _seen(self, handler: WebSocketHandler, message: Any) -> None:
        at = time.time()
        key = id(handler)
        with self._lock:
            number = self._connections.get(key)
            if number is None:
                number = self._connections[key] = len(self._connections)
            if (
                self.recording
                and isinstance(message, str)
                and message.startswith('{"events"')
            ):
                self._frames.append(Frame(number, at, message))


def patch_events(frame: Frame) -> list[dict[str, Any]]:
    """The document events of a ``PATCH-DOC`` content frame (``[]`` if none)."""
    try:
        content = json.loads(frame.text)
    except ValueError:
        return []
    events = content.get("events") if isinstance(content, dict) else None
    return events if isinstance(events, list) else []
