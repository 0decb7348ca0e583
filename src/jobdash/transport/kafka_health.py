"""Is Kafka reachable, and how far behind are we? For the page header.

librdkafka never gives up on a broker: when every broker is down it reports
``_ALL_BROKERS_DOWN`` through ``error_cb`` and keeps reconnecting with
back-off; when a broker is back it says nothing at all. So the state is built
from two feeds, both served on the thread that polls the client:

- ``error_cb``: ``_ALL_BROKERS_DOWN`` means disconnected, now; other errors
  (one connection refused, an authentication failure) are remembered as the
  last error.
- ``stats_cb`` (every ``statistics.interval.ms``): any real broker in state
  ``UP`` means connected (so one broker of several being down is not shown:
  librdkafka moves on to the others); none ``UP`` after having been connected
  means disconnected. It also carries each assigned partition's offsets, from
  which the consumer lag is kept per partition and summed (see ``_lag``).

Only clients registered with ``connection=True`` decide the connection state:
the consumer, which always has a fetch in flight. An idle producer may
legitimately have no connection at all (brokers close idle connections and
librdkafka only reconnects when it has something to send), so its reports
only update the last error; its failures reach the operator per command.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import StrEnum
from typing import Any, NamedTuple

from jobdash.domain.clock import Clock

__all__ = ["ConnectionState", "KafkaHealth", "KafkaHealthSnapshot", "PartitionLag"]

_log = logging.getLogger(__name__)

#: librdkafka error names that mean "no broker reachable at all".
_ALL_DOWN = "_ALL_BROKERS_DOWN"
#: Broker ``source`` values in statistics that are not real connections.
_NOT_A_BROKER = frozenset({"internal", "logical"})


class ConnectionState(StrEnum):
    """Connection state shown in the header."""

    connecting = "connecting"
    """Never connected yet, and no failure reported either."""
    connected = "connected"
    disconnected = "disconnected"
    """Every broker unreachable; librdkafka keeps retrying by itself."""


class PartitionLag(NamedTuple):
    """How far the consumer is behind on one partition.

    Attributes
    ----------
    topic, partition
        Which partition.
    lag
        Messages produced to it but not yet consumed.
    """

    topic: str
    partition: int
    lag: int


@dataclass(frozen=True, slots=True)
class KafkaHealthSnapshot:
    """Immutable view of the Kafka connection at one instant.

    Attributes
    ----------
    bootstrap_servers
        Where we connect, as configured.
    state
        The connection state.
    since
        When ``state`` was entered (ns since the epoch, from the injected clock).
    consumer_lag
        Messages produced but not yet consumed, summed over the assigned
        partitions; ``None`` until librdkafka knows it.
    last_error
        Text of the most recent error reported by librdkafka, or ``None``.
    last_error_time
        When it was reported (ns), or ``None``.
    error_count
        Errors reported since start (a changing count shows retries go on).
    partition_lags
        ``consumer_lag`` per partition whose lag librdkafka knows, by topic
        and partition (its sum is ``consumer_lag``); as of ``lag_time``.
    lag_time
        When the statistics carrying them arrived (ns), or ``None``.
    """

    bootstrap_servers: str
    state: ConnectionState
    since: int
    consumer_lag: int | None = None
    last_error: str | None = None
    last_error_time: int | None = None
    error_count: int = 0
    partition_lags: tuple[PartitionLag, ...] = ()
    lag_time: int | None = None

    @property
    def ok(self) -> bool:
        return self.state is ConnectionState.connected

    def summary(self, tz: tzinfo | None = None) -> str:
        """One line for the page header.

        ``"Kafka localhost:9092 · connected · lag 0"``, or
        ``"Kafka localhost:9092 · disconnected since 12:00:03 — retrying"``.
        Times are shown in ``tz`` (default: the server's local time zone).
        """
        head = f"Kafka {self.bootstrap_servers}"
        if self.state is ConnectionState.connected:
            lag = "" if self.consumer_lag is None else f" · lag {self.consumer_lag}"
            return f"{head} · connected{lag}"
        if self.state is ConnectionState.connecting:
            return f"{head} · connecting…"
        since = datetime.fromtimestamp(self.since / 1e9, tz=tz).strftime("%H:%M:%S")
        return f"{head} · disconnected since {since} — retrying"


@dataclass(slots=True)
class _Client:
    connection: bool
    connected: bool | None = None  # None: no verdict yet
    ever_connected: bool = False
    lags: tuple[PartitionLag, ...] = ()
    lag_time: int | None = None


class KafkaHealth:
    """Thread-safe connection state fed by librdkafka callbacks.

    Parameters
    ----------
    bootstrap_servers
        Shown in the summary.
    clock
        Time of state changes and errors.

    Wire it into a client's configuration with :meth:`callbacks`; read it
    from any thread with :meth:`snapshot`. Callbacks never raise: an
    exception in a librdkafka callback would surface in the caller's
    ``poll``/``consume`` and could stop the ingestion loop.
    """

    def __init__(self, bootstrap_servers: str, clock: Clock) -> None:
        self._bootstrap = bootstrap_servers
        self._clock = clock
        self._lock = threading.Lock()
        self._clients: dict[str, _Client] = {}
        self._state = ConnectionState.connecting
        self._since = clock.now_ns()
        self._last_error: str | None = None
        self._last_error_time: int | None = None
        self._error_count = 0

    def callbacks(self, client: str, *, connection: bool = True) -> dict[str, Any]:
        """``error_cb`` and ``stats_cb`` entries for a librdkafka config.

        Parameters
        ----------
        client
            A name for the client (``"consumer"``, ``"producer"``).
        connection
            Whether this client's view decides the connection state (see the
            module documentation); otherwise it only reports errors.
        """
        with self._lock:
            self._clients[client] = _Client(connection=connection)
        return {
            "error_cb": lambda error: self.on_error(client, error),
            "stats_cb": lambda stats: self.on_stats(client, stats),
        }

    def on_error(self, client: str, error: Any) -> None:
        """librdkafka ``error_cb``: a ``KafkaError``."""
        try:
            name = error.name()
            text = error.str()
            fatal = error.fatal()
        except Exception:  # a callback must not raise into poll()
            _log.exception("unexpected Kafka error object %r", error)
            return
        _log.debug("Kafka %s error %s: %s", client, name, text)
        if fatal:
            _log.error("Kafka %s fatal error: %s", client, text)
        with self._lock:
            self._last_error = text
            self._last_error_time = self._clock.now_ns()
            self._error_count += 1
            state = self._clients.get(client)
            if state is not None and (name == _ALL_DOWN or fatal):
                state.connected = False
            self._update_locked()

    def on_stats(self, client: str, stats_json: str) -> None:
        """librdkafka ``stats_cb``: the statistics JSON document."""
        try:
            stats = json.loads(stats_json)
            up = _any_broker_up(stats)
            lags = _partition_lags(stats)
        except Exception:  # malformed statistics must not stop the poll loop
            _log.warning("unreadable Kafka statistics from %s", client, exc_info=True)
            return
        with self._lock:
            state = self._clients.get(client)
            if state is None:
                return
            state.lags = lags
            state.lag_time = self._clock.now_ns()
            if up:
                state.connected = True
                state.ever_connected = True
            elif state.ever_connected:
                state.connected = False
            self._update_locked()

    def snapshot(self) -> KafkaHealthSnapshot:
        with self._lock:
            readers = [c for c in self._clients.values() if c.connection]
            lags = tuple(sorted(lag for c in readers for lag in c.lags))
            times = [c.lag_time for c in readers if c.lag_time is not None]
            return KafkaHealthSnapshot(
                bootstrap_servers=self._bootstrap,
                state=self._state,
                since=self._since,
                consumer_lag=sum(lag.lag for lag in lags) if lags else None,
                last_error=self._last_error,
                last_error_time=self._last_error_time,
                error_count=self._error_count,
                partition_lags=lags,
                lag_time=max(times) if times else None,
            )

    def _update_locked(self) -> None:
        verdicts = [c.connected for c in self._clients.values() if c.connection]
        if any(v is False for v in verdicts):
            new = ConnectionState.disconnected
        elif verdicts and all(verdicts):
            new = ConnectionState.connected
        else:
            new = self._state  # no verdict yet from some client: keep what we know
        if new is self._state:
            return
        old, self._state, self._since = self._state, new, self._clock.now_ns()
        log: Callable[..., None] = (
            _log.warning if new is ConnectionState.disconnected else _log.info
        )
        log(
            "Kafka %s: %s -> %s%s",
            self._bootstrap,
            old.value,
            new.value,
            f" ({self._last_error}); retrying"
            if new is ConnectionState.disconnected and self._last_error
            else "",
        )


def _any_broker_up(stats: dict[str, Any]) -> bool:
    brokers = stats.get("brokers") or {}
    return any(
        broker.get("state") == "UP"
        for broker in brokers.values()
        if broker.get("source") not in _NOT_A_BROKER
    )


def _partition_lags(stats: dict[str, Any]) -> tuple[PartitionLag, ...]:
    """The lag of each real partition whose lag can be told."""
    lags = []
    for name, topic in (stats.get("topics") or {}).items():
        for key, partition in (topic.get("partitions") or {}).items():
            # "-1" is librdkafka's internal unassigned partition.
            if not str(key).isdigit():
                continue
            lag = _lag(partition)
            if lag is not None:
                lags.append(PartitionLag(str(name), int(key), lag))
    return tuple(lags)


def _offset(partition: dict[str, Any], name: str) -> int | None:
    value = partition.get(name)
    return value if isinstance(value, int) and value >= 0 else None


def _lag(partition: dict[str, Any]) -> int | None:
    """One partition's lag: librdkafka's ``consumer_lag``, else from offsets.

    ``consumer_lag`` counts from the committed offset, and the dashboard
    commits nothing (nor stores offsets), so librdkafka reports -1. The lag
    is then the end of the partition (``ls_offset``, the last stable offset
    that a read-committed consumer can reach, else ``hi_offset``) minus the
    next offset the application gets (``app_offset``); before anything was
    delivered from the partition, minus where fetching stands
    (``next_offset`` of an active fetch). ``None`` when neither is known.
    """
    reported = _offset(partition, "consumer_lag")
    if reported is not None:
        return reported
    end = _offset(partition, "ls_offset")
    if end is None:
        end = _offset(partition, "hi_offset")
    position = _offset(partition, "app_offset")
    if position is None and partition.get("fetch_state") == "active":
        position = _offset(partition, "next_offset")
    if end is None or position is None:
        return None
    return max(end - position, 0)
