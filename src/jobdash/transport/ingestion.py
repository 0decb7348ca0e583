"""The ingestion thread: the one writer of service state (docs/architecture.md, threading rules).

It drains a ``MessageSource`` in batches, decodes each message by its stream,
and hands it to the router inside one ``batch_updates()`` per batch, so every
service bumps its ``version`` once per batch rather than once per message.
Every ``tick_interval`` (by the injected clock) it ticks the router, which
re-evaluates staleness and timeouts.

Nothing that arrives may kill it: a message that fails to decode or route is
counted, logged (rate-limited: a flood of bad messages must not become a flood
of log lines) and skipped; a failing source is counted, recorded for the UI,
and retried after a growing back-off.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, NamedTuple, Protocol

from jobdash.domain.clock import Clock
from jobdash.domain.streams import StreamId
from jobdash.transport.codec import (
    DecodeError,
    decode_ack,
    decode_result,
    decode_status,
)
from jobdash.transport.message_source import Message, MessageSource

__all__ = [
    "DecodeErrorCount",
    "IngestionStats",
    "IngestionThread",
    "Router",
    "decode_error_kind",
]

logger = logging.getLogger(__name__)

#: Seconds over which ``rate_per_s`` is averaged.
RATE_WINDOW_S = 5.0
# Back-off after a transport error: doubles per consecutive failure.
_BACKOFF_FIRST_S = 0.1
_BACKOFF_MAX_S = 2.0
# At most one log line per kind of problem per this many seconds.
_LOG_INTERVAL_S = 1.0
#: Most distinct decode error kinds counted apart; further ones count as
#: :data:`OTHER_KIND` (the kinds come from a fixed set of codec texts, so
#: this only guards against a future reason that embeds its input).
MAX_DECODE_ERROR_KINDS = 32
#: The kind of a decode error past :data:`MAX_DECODE_ERROR_KINDS`.
OTHER_KIND = "other"
#: The kind of a message on a stream that has no decoder.
UNKNOWN_STREAM_KIND = "unknown stream"
#: The kind of a decoder that raised something else than ``DecodeError``.
DECODER_BUG_KIND = "decoder raised"


class Router(Protocol):
    """What the ingestion thread feeds: ``jobdash.services.message_pump.MessagePump``."""

    def forward(self, stream_id: StreamId, value: Any) -> None:
        """Hand one decoded value to its consumers."""
        ...

    def batch_updates(self) -> AbstractContextManager[object]:
        """Defer the consumers' version bumps to the end of the batch."""
        ...

    def tick(self) -> None:
        """Re-evaluate time-dependent state."""
        ...


class IngestionStats(NamedTuple):
    """A copy of the thread's counters, for the UI's health display.

    Attributes
    ----------
    messages
        Messages received from the source.
    applied
        Messages decoded and routed without error.
    decode_errors, route_errors, transport_errors
        Messages that failed to decode; messages (and ticks, and batches)
        the router raised on; polls of the source that raised.
    rate_per_s
        Messages received per second over the last ``RATE_WINDOW_S``.
    last_message_at
        Clock time (ns) of the last non-empty batch, or ``None``.
    last_error
        Text of the last transport error, or ``None``.
    running
        Whether the thread is running.
    transport_failing
        Whether the last poll of the source raised (cleared by a good poll).
    """

    messages: int
    applied: int
    decode_errors: int
    route_errors: int
    transport_errors: int
    rate_per_s: float
    last_message_at: int | None
    last_error: str | None
    running: bool
    transport_failing: bool = False


class DecodeErrorCount(NamedTuple):
    """How many messages failed to decode for one kind of reason.

    Attributes
    ----------
    kind
        What failed, from :func:`decode_error_kind` (``"x5f2"``,
        ``"status_json"``, ``"job heartbeat"``, ``"da00"``, ...).
    messages
        Messages skipped for it since the start.
    last_reason
        The full reason of the latest one (for the operator: which field).
    last_at
        Clock time (ns) of the latest one.
    """

    kind: str
    messages: int
    last_reason: str
    last_at: int


def decode_error_kind(reason: str) -> str:
    """The kind of a ``DecodeError`` reason: the part the codec names first.

    Every reason of :mod:`jobdash.transport.codec` starts with what failed
    (``"x5f2: corrupt flatbuffer ..."``, ``"status_json: not JSON ..."``,
    ``"job heartbeat: 'state' missing"``); a reason without that form is
    its own kind, cut to 40 characters.
    """
    head, colon, _rest = reason.partition(":")
    return head.strip() if colon and head.strip() else reason.strip()[:40]


_Decoder = Callable[[bytes, int], object]

_DECODERS: dict[StreamId, _Decoder] = {
    StreamId.status: decode_status,
    StreamId.responses: lambda payload, _timestamp: decode_ack(payload),
    StreamId.data: lambda payload, _timestamp: decode_result(payload),
}


class _Throttled:
    """Logs one kind of problem at most once per interval, counting the rest."""

    def __init__(self, what: str, level: int) -> None:
        self._what = what
        self._level = level
        self._last: float | None = None
        self._suppressed = 0

    def report(self, detail: str, *, exc_info: bool = False) -> None:
        # Real time, not the injected clock: this paces log output, and a
        # frozen test clock must not silence the log.
        now = time.monotonic()
        if self._last is not None and now - self._last < _LOG_INTERVAL_S:
            self._suppressed += 1
            return
        more = (
            f" ({self._suppressed} more since the last report)"
            if self._suppressed
            else ""
        )
        self._last, self._suppressed = now, 0
        logger.log(self._level, "%s: %s%s", self._what, detail, more, exc_info=exc_info)


class IngestionThread:
    """Drains a source into a router on a named daemon thread.

    Parameters
    ----------
    source
        Where messages come from; started by :meth:`start`, stopped by
        :meth:`stop`.
    router
        Where decoded messages go (the ``MessagePump``).
    clock
        Decides when to tick, and stamps ``last_message_at``.
    poll_timeout
        Seconds one poll of the source may wait for messages.
    tick_interval
        Clock seconds between ``router.tick()`` calls.
    max_batch
        Most messages routed inside one ``batch_updates()``; a larger poll
        result is routed in several batches, so readers see progress.
    name
        The thread's name (shown in stack dumps and profilers).
    """

    def __init__(
        self,
        source: MessageSource,
        router: Router,
        clock: Clock,
        *,
        poll_timeout: float = 0.1,
        tick_interval: float = 0.25,
        max_batch: int = 5000,
        name: str = "jobdash-ingestion",
    ) -> None:
        if poll_timeout < 0 or tick_interval <= 0 or max_batch < 1:
            raise ValueError(
                "need poll_timeout >= 0, tick_interval > 0 and max_batch >= 1"
            )
        self._source = source
        self._router = router
        self._clock = clock
        self._poll_timeout = poll_timeout
        self._tick_ns = round(tick_interval * 1e9)
        self._max_batch = max_batch
        self._name = name

        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._source_stopped = False
        self._next_tick = clock.now_ns() + self._tick_ns
        self._backoff = _BACKOFF_FIRST_S

        self._stats_lock = threading.Lock()
        self._messages = 0
        self._applied = 0
        self._decode_errors = 0
        self._decode_kinds: dict[str, DecodeErrorCount] = {}
        self._route_errors = 0
        self._transport_errors = 0
        self._last_message_at: int | None = None
        self._last_error: str | None = None
        self._transport_failing = False
        self._started_at = clock.now_ns()
        self._window: deque[tuple[int, int]] = deque()  # (receipt time, count)

        self._decode_log = _Throttled("undecodable message skipped", logging.WARNING)
        self._route_log = _Throttled("routing a message failed", logging.ERROR)
        self._tick_log = _Throttled("router tick failed", logging.ERROR)
        self._transport_log = _Throttled("message source failed", logging.ERROR)

    # --- lifecycle -------------------------------------------------------------

    def start(self) -> None:
        """Start the source, then the thread.

        Raises
        ------
        RuntimeError
            If already started. An exception from ``source.start()``
            propagates: the process cannot ingest at all.
        """
        if self._thread is not None:
            raise RuntimeError(f"{self._name} was already started")
        self._source.start()
        with self._stats_lock:
            self._started_at = self._clock.now_ns()
        self._next_tick = self._clock.now_ns() + self._tick_ns
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> bool:
        """Ask the thread to finish, join it, then stop the source.

        Idempotent. Returns whether the thread ended within ``timeout``; the
        source is stopped either way (a poll blocked in it is released).
        """
        self._stop_event.set()
        thread = self._thread
        ended = True
        if thread is not None:
            thread.join(timeout)
            ended = not thread.is_alive()
            if not ended:
                logger.error("%s did not end within %.1f s", self._name, timeout)
            if not self._source_stopped:
                self._source_stopped = True
                self._source.stop()
        return ended

    @property
    def name(self) -> str:
        return self._name

    def stats(self) -> IngestionStats:
        """A consistent copy of the counters; callable from any thread."""
        now = self._clock.now_ns()
        with self._stats_lock:
            self._prune_window(now)
            span = min(RATE_WINDOW_S, (now - self._started_at) / 1e9)
            received = sum(count for _, count in self._window)
            thread = self._thread
            return IngestionStats(
                messages=self._messages,
                applied=self._applied,
                decode_errors=self._decode_errors,
                route_errors=self._route_errors,
                transport_errors=self._transport_errors,
                rate_per_s=received / span if span > 0 else 0.0,
                last_message_at=self._last_message_at,
                last_error=self._last_error,
                running=thread is not None
                and thread.is_alive()
                and not self._stop_event.is_set(),
                transport_failing=self._transport_failing,
            )

    def decode_errors_by_kind(self) -> tuple[DecodeErrorCount, ...]:
        """Decode errors counted per kind, most frequent first; any thread.

        The counts add up to ``stats().decode_errors``.
        """
        with self._stats_lock:
            counts = list(self._decode_kinds.values())
        return tuple(sorted(counts, key=lambda entry: (-entry.messages, entry.kind)))

    # --- the loop ----------------------------------------------------------------

    def run_once(self, timeout: float = 0.0) -> int:
        """Poll the source once and route what came, in the caller's thread.

        For tests and benchmarks, instead of :meth:`start`; ticks the router
        if a tick is due. Returns the number of messages received (0 also when
        the poll failed, which is counted as a transport error).
        """
        if self._thread is not None:
            raise RuntimeError("run_once() cannot be used while the thread runs")
        batch = self._poll(timeout)
        if batch:
            self._route(batch)
        self._tick_if_due()
        return len(batch) if batch else 0

    def _run(self) -> None:
        logger.info("%s started", self._name)
        while not self._stop_event.is_set():
            try:
                batch = self._poll(self._poll_timeout)
                if batch is None:
                    # Back off without holding up stop().
                    self._stop_event.wait(self._backoff)
                    self._backoff = min(2 * self._backoff, _BACKOFF_MAX_S)
                else:
                    self._backoff = _BACKOFF_FIRST_S
                    if batch:
                        self._route(batch)
                self._tick_if_due()
            except Exception:
                # Unreachable by design (every step catches its own errors);
                # if a bug gets here, keep ingesting rather than go silent.
                self._count(route_errors=1)
                self._route_log.report("ingestion loop step failed", exc_info=True)
        logger.info("%s stopped", self._name)

    def _poll(self, timeout: float) -> Sequence[Message] | None:
        """One poll of the source; ``None`` if it raised (counted and recorded)."""
        try:
            batch = self._source.get_messages(timeout)
        except Exception as exc:
            text = f"{type(exc).__name__}: {exc}"
            with self._stats_lock:
                self._transport_errors += 1
                self._last_error = text
                self._transport_failing = True
            self._transport_log.report(text, exc_info=True)
            return None
        now = self._clock.now_ns()
        with self._stats_lock:
            self._transport_failing = False
            if batch:
                self._messages += len(batch)
                self._last_message_at = now
                self._window.append((now, len(batch)))
                self._prune_window(now)
        return batch

    def _route(self, batch: Sequence[Message]) -> None:
        size = self._max_batch
        for start in range(0, len(batch), size):
            chunk = batch if len(batch) <= size else batch[start : start + size]
            try:
                with self._router.batch_updates():
                    self._apply(chunk)
            except Exception:
                # batch_updates() itself failed (entering, or publishing the
                # versions on exit); per-message failures never get here.
                self._count(route_errors=1)
                self._route_log.report("closing a batch failed", exc_info=True)

    def _apply(self, chunk: Sequence[Message]) -> None:
        """Decode and forward each message; the hot path of the whole process."""
        decoders = _DECODERS
        forward = self._router.forward
        applied = route_errors = 0
        # (kind, reason) of each decode error, in order; rare, so a list.
        failures: list[tuple[str, str]] = []
        for message in chunk:
            stream = message.stream
            decoder = decoders.get(stream)
            try:
                if decoder is None:
                    raise DecodeError(f"no decoder for stream {stream!r}")
                value = decoder(message.payload, message.timestamp)
            except DecodeError as exc:
                kind = (
                    UNKNOWN_STREAM_KIND
                    if decoder is None
                    else decode_error_kind(exc.reason)
                )
                failures.append((kind, exc.reason))
                self._decode_log.report(f"{stream}: {exc.reason}")
                continue
            except Exception as exc:
                # A decoder bug, not bad input; count it with the bad input.
                failures.append(
                    (DECODER_BUG_KIND, f"{stream}: {type(exc).__name__}: {exc}")
                )
                self._decode_log.report(f"{stream}: decoder raised", exc_info=True)
                continue
            try:
                forward(stream, value)
            except Exception as exc:
                route_errors += 1
                self._route_log.report(
                    f"{type(value).__name__} from {stream}: {exc!r}", exc_info=True
                )
                continue
            applied += 1
        self._count(applied=applied, route_errors=route_errors, failures=failures)

    def _tick_if_due(self) -> None:
        now = self._clock.now_ns()
        if now < self._next_tick:
            return
        # From now, not from the due time: after a stall, one tick catches up.
        self._next_tick = now + self._tick_ns
        try:
            self._router.tick()
        except Exception as exc:
            self._count(route_errors=1)
            self._tick_log.report(repr(exc), exc_info=True)

    def _count(
        self,
        *,
        applied: int = 0,
        route_errors: int = 0,
        failures: Sequence[tuple[str, str]] = (),
    ) -> None:
        now = self._clock.now_ns() if failures else 0
        with self._stats_lock:
            self._applied += applied
            self._route_errors += route_errors
            self._decode_errors += len(failures)
            kinds = self._decode_kinds
            for kind, reason in failures:
                entry = kinds.get(kind)
                if entry is None and len(kinds) >= MAX_DECODE_ERROR_KINDS:
                    kind = OTHER_KIND
                    entry = kinds.get(kind)
                seen = 1 if entry is None else entry.messages + 1
                kinds[kind] = DecodeErrorCount(kind, seen, reason, now)

    def _prune_window(self, now: int) -> None:
        """Drop receipts older than the rate window. Hold the stats lock."""
        horizon = now - round(RATE_WINDOW_S * 1e9)
        window = self._window
        while window and window[0][0] <= horizon:
            window.popleft()
