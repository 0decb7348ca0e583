"""librdkafka configuration of jobdash's Kafka clients, built from ``Settings``.

Precedence, lowest first: jobdash's defaults below, then ``Settings.kafka``
(the deployment's pass-through: ``security.protocol``, ``sasl.*``, ``ssl.*``,
or any tuning), then what the client itself must own (its callbacks). So a
deployment can change any default without a code change.

librdkafka's own log lines are routed into Python logging under
``jobdash.kafka.librdkafka``, with a filter that lets an identical line
through once per ``repeat_window``: while a broker is down librdkafka retries
every reconnect back-off and logs every failed attempt.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any, Literal

from jobdash.domain.clock import Clock
from jobdash.settings import Settings

__all__ = [
    "LIBRDKAFKA_LOGGER",
    "OffsetReset",
    "RepeatedLogFilter",
    "consumer_config",
    "install_repeated_log_filter",
    "new_group_id",
    "producer_config",
]

LIBRDKAFKA_LOGGER = "jobdash.kafka.librdkafka"

OffsetReset = Literal["latest", "earliest"]
"""Where a new consumer group starts: ``latest`` for the live view,
``earliest`` for tools and tests that must see what was produced before."""

#: Defaults shared by the consumer and the producer.
COMMON_DEFAULTS: dict[str, Any] = {
    # Dead peers behind firewalls and NAT are noticed by the OS, not only
    # after socket.timeout.ms.
    "socket.keepalive.enable": True,
    # librdkafka reconnects forever; these bound how fast it hammers a broker
    # that is down (its own defaults, 100 ms / 10 s, log a line per attempt).
    "reconnect.backoff.ms": 500,
    "reconnect.backoff.max.ms": 5000,
    # Feeds KafkaHealth: broker states and consumer lag.
    "statistics.interval.ms": 2000,
}

#: Consumer defaults: a viewer that only ever reads the live end of topics.
CONSUMER_DEFAULTS: dict[str, Any] = {
    # A fresh group per process starts at the end and never resumes, so
    # committing offsets would only litter the broker.
    "enable.auto.commit": False,
    "enable.auto.offset.store": False,
    "enable.partition.eof": False,
    # Heartbeats arrive every ~2 s; waiting up to a browser refresh interval
    # for more data keeps latency low without busy fetching.
    "fetch.wait.max.ms": 250,
    # Topics created after start-up (a backend deployed later) are noticed
    # within seconds instead of librdkafka's default 5 minutes.
    "topic.metadata.refresh.interval.ms": 10_000,
}

#: Producer defaults: rare, operator-triggered commands.
PRODUCER_DEFAULTS: dict[str, Any] = {
    "acks": "all",
    # Send at once: commands come in small bursts (one per job of a workflow).
    "linger.ms": 5,
}


def new_group_id() -> str:
    """A consumer group of its own for this process: ``jobdash-<uuid4>``.

    Every dashboard process must see every message, so processes never share
    a group (sharing would split partitions between them).
    """
    return f"jobdash-{uuid.uuid4()}"


def consumer_config(
    settings: Settings,
    *,
    group_id: str,
    offset_reset: OffsetReset = "latest",
) -> dict[str, Any]:
    """Configuration of the consumer reading the backend → dashboard topics."""
    config: dict[str, Any] = {
        **_common(settings, role="consumer"),
        **CONSUMER_DEFAULTS,
        "group.id": group_id,
        "auto.offset.reset": offset_reset,
    }
    config.update(settings.kafka)
    return config


def producer_config(settings: Settings) -> dict[str, Any]:
    """Configuration of the producer writing the commands topic.

    ``message.timeout.ms`` is the command timeout: a command not delivered by
    then is reported failed rather than delivered late (librdkafka's default
    would retry for 5 minutes, long after the operator gave up on it).
    """
    config: dict[str, Any] = {
        **_common(settings, role="producer"),
        **PRODUCER_DEFAULTS,
        "message.timeout.ms": max(1, round(settings.command_timeout * 1000)),
    }
    config.update(settings.kafka)
    return config


def _common(settings: Settings, *, role: str) -> dict[str, Any]:
    return {
        "bootstrap.servers": settings.bootstrap_servers,
        "client.id": f"jobdash-{settings.instrument}-{role}",
        **COMMON_DEFAULTS,
        "logger": logging.getLogger(LIBRDKAFKA_LOGGER),
    }


class RepeatedLogFilter(logging.Filter):
    """Let an identical log message through at most once per ``window`` seconds.

    Install it on the ``jobdash.kafka.librdkafka`` logger (the composition
    root does, once). The count of suppressed repeats is appended to the next
    message that gets through, so nothing is hidden without a trace.

    Parameters
    ----------
    clock
        Time source (injected, so the window is testable).
    window
        Seconds during which repeats of a message are suppressed.
    max_messages
        Distinct messages remembered; the oldest is forgotten beyond that, so a
        long outage with changing texts cannot grow memory without bound.
    """

    def __init__(
        self, clock: Clock, window: float = 60.0, max_messages: int = 256
    ) -> None:
        super().__init__()
        self._clock = clock
        self._window_ns = round(window * 1e9)
        self._max = max_messages
        self._lock = threading.Lock()
        # message text -> (time first let through in this window, suppressed count)
        self._seen: dict[str, tuple[int, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        now = self._clock.now_ns()
        with self._lock:
            seen = self._seen.get(text)
            if seen is not None and now - seen[0] < self._window_ns:
                self._seen[text] = (seen[0], seen[1] + 1)
                return False
            self._seen.pop(text, None)
            if len(self._seen) >= self._max:
                del self._seen[next(iter(self._seen))]
            self._seen[text] = (now, 0)
        suppressed = seen[1] if seen is not None else 0
        if suppressed:
            record.msg = f"{text} ({suppressed} identical message(s) suppressed)"
            record.args = None
        return True


def install_repeated_log_filter(
    clock: Clock, window: float = 60.0
) -> RepeatedLogFilter:
    """Install a :class:`RepeatedLogFilter` on librdkafka's logger, once.

    Called by the composition root at start-up; calling it again returns the
    filter already installed.
    """
    librdkafka_logger = logging.getLogger(LIBRDKAFKA_LOGGER)
    for existing in librdkafka_logger.filters:
        if isinstance(existing, RepeatedLogFilter):
            return existing
    repeated = RepeatedLogFilter(clock, window)
    librdkafka_logger.addFilter(repeated)
    return repeated
