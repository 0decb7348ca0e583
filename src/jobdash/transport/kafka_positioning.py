"""Kafka consumers that say when they are reading, and read from a point in time.

A new consumer group joins asynchronously: ``subscribe`` returns at once and
partitions are assigned later (a real broker delays a new group's first
rebalance by 3 s). A tool that sends a command and waits for the answer must
not send before its consumer reads the responses topic, and
``auto.offset.reset=latest`` alone cannot promise that: the end offset is
looked up only when fetching starts, so an answer produced in between is lost.

:class:`PositionedConsumers` is a consumer factory (for
``KafkaMessageSource(consumer_factory=...)``, or used directly) whose
consumers position every partition themselves when it is assigned:

- at the first message at or after ``start_ns`` (``offsets_for_times``), so
  what was produced between the tool's start and the assignment is read too;
- where the broker has no such message (or cannot look up by time, like
  librdkafka's mock cluster), at the end offset read *before* that lookup,
  so nothing produced after the assignment is missed either way;
- a partition assigned again after a rebalance resumes where it stopped.

Once :meth:`PositionedConsumers.wait_assigned` returns ``True``, every message
produced afterwards to the subscribed topics will be read.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from confluent_kafka import OFFSET_END, Consumer, KafkaException, TopicPartition

__all__ = ["PositionedConsumers"]

_log = logging.getLogger(__name__)

_NS_PER_MS = 1_000_000


class PositionedConsumers:
    """Builds consumers that start at ``start_ns`` and report their assignment.

    Parameters
    ----------
    start_ns
        Read messages produced at or after this time (ns since the epoch, by
        the producer's clock), where the broker can look offsets up by time.
    lookup_timeout
        Seconds each offset lookup may take during an assignment.
    consumer_class
        Builds the underlying consumer from its configuration.

    Threading: the callbacks run on the thread that polls the consumer;
    :meth:`wait_assigned` and :attr:`assigned_topics` may be called from any
    thread. One factory serves one consumer at a time (it keeps that
    consumer's positions).
    """

    def __init__(
        self,
        start_ns: int,
        *,
        lookup_timeout: float = 10.0,
        consumer_class: Callable[[dict[str, Any]], Any] = Consumer,
    ) -> None:
        self._start_ms = start_ns // _NS_PER_MS
        self._lookup_timeout = lookup_timeout
        self._consumer_class = consumer_class
        self._cond = threading.Condition()
        self._subscribed: frozenset[str] = frozenset()
        self._assigned: set[tuple[str, int]] = set()
        # (topic, partition) -> next offset to read, kept across rebalances.
        self._positions: dict[tuple[str, int], int] = {}

    def __call__(self, config: dict[str, Any]) -> _PositionedConsumer:
        """A new consumer for ``config`` (the ``consumer_factory`` signature)."""
        return _PositionedConsumer(self._consumer_class(config), self)

    @property
    def subscribed_topics(self) -> frozenset[str]:
        with self._cond:
            return self._subscribed

    @property
    def assigned_topics(self) -> frozenset[str]:
        """Topics with at least one partition assigned and positioned."""
        with self._cond:
            return frozenset(topic for topic, _ in self._assigned)

    def wait_assigned(self, timeout: float) -> bool:
        """Wait until every subscribed topic has partitions assigned.

        Someone must keep polling the consumer meanwhile (the callbacks run
        inside its ``consume``). Returns ``False`` after ``timeout`` seconds,
        e.g. when the broker is unreachable or a topic does not exist.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._ready():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def _ready(self) -> bool:
        assigned = {topic for topic, _ in self._assigned}
        return bool(self._subscribed) and self._subscribed <= assigned

    # --- callbacks, on the polling thread --------------------------------------

    def _subscribing(self, topics: Iterable[str]) -> None:
        with self._cond:
            self._subscribed = frozenset(topics)

    def _on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        with self._cond:
            positions = dict(self._positions)
        fresh = [tp for tp in partitions if (tp.topic, tp.partition) not in positions]
        positions.update(self._start_offsets(consumer, fresh))
        for tp in partitions:
            tp.offset = positions[(tp.topic, tp.partition)]
        consumer.assign(partitions)
        with self._cond:
            self._assigned = {(tp.topic, tp.partition) for tp in partitions}
            self._cond.notify_all()
        _log.debug(
            "assigned %s", [(tp.topic, tp.partition, tp.offset) for tp in partitions]
        )

    def _on_revoke(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        try:
            positions = consumer.position(partitions)
        except KafkaException as exc:
            _log.warning("could not read positions before a rebalance: %s", exc)
            positions = []
        with self._cond:
            for tp in positions:
                if tp.offset >= 0:
                    self._positions[(tp.topic, tp.partition)] = tp.offset
            self._assigned.clear()

    def _start_offsets(
        self, consumer: Any, partitions: list[TopicPartition]
    ) -> dict[tuple[str, int], int]:
        """First offset at or after the start time; else the end read before."""
        if not partitions:
            return {}
        timeout = self._lookup_timeout
        try:
            # The end offsets first: anything produced after this lookup lies
            # at or beyond them, whatever the time lookup below answers.
            ends = {
                (tp.topic, tp.partition): consumer.get_watermark_offsets(
                    TopicPartition(tp.topic, tp.partition), timeout=timeout
                )[1]
                for tp in partitions
            }
            found = consumer.offsets_for_times(
                [
                    TopicPartition(tp.topic, tp.partition, self._start_ms)
                    for tp in partitions
                ],
                timeout=timeout,
            )
        except KafkaException as exc:
            _log.warning(
                "offset lookup failed (%s); reading from the live end, where an "
                "early message may be missed",
                exc,
            )
            return {(tp.topic, tp.partition): OFFSET_END for tp in partitions}
        starts = dict(ends)
        for tp in found:
            if tp.error is None and tp.offset >= 0:
                starts[(tp.topic, tp.partition)] = tp.offset
        return starts


class _PositionedConsumer:
    """A consumer whose ``subscribe`` installs the positioning callbacks."""

    def __init__(self, consumer: Any, factory: PositionedConsumers) -> None:
        self._consumer = consumer
        self._factory = factory

    def subscribe(self, topics: list[str], **_ignored: Any) -> None:
        self._factory._subscribing(topics)
        self._consumer.subscribe(
            topics,
            on_assign=self._factory._on_assign,
            on_revoke=self._factory._on_revoke,
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._consumer, name)
