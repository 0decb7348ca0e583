"""KafkaCommandSink: commands reach the topic as the wire-format JSON, or fail loudly."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from jobdash.domain.command_sink import CommandSendError
from jobdash.domain.commands import (
    Command,
    JobAction,
    JobCommand,
    JobIdentifier,
    Schedule,
    WorkflowConfigCommand,
    WorkflowIdentifier,
)
from jobdash.settings import Settings
from jobdash.testing.kafka_cluster import MockKafkaCluster
from jobdash.testing.kcat_client import consume_all
from jobdash.testing.waiting import wait_until
from jobdash.transport.kafka_sink import KafkaCommandSink

JOB_NUMBER = uuid.UUID("6f1c2a4e-8a53-4c1b-9d2e-0123456789ab")
MESSAGE_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")


class _Failures:
    """Collects ``on_failure`` calls from the sink's poll thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[tuple[Command, str]] = []

    def __call__(self, command: Command, reason: str) -> None:
        with self._lock:
            self._calls.append((command, reason))

    @property
    def calls(self) -> list[tuple[Command, str]]:
        with self._lock:
            return list(self._calls)


@pytest.fixture
def sinks() -> Iterator[list[KafkaCommandSink]]:
    created: list[KafkaCommandSink] = []
    yield created
    for sink in created:
        sink.stop()


def _sink(
    sinks: list[KafkaCommandSink], settings: Settings, **kwargs: Any
) -> KafkaCommandSink:
    sink = KafkaCommandSink(settings, **kwargs)
    sinks.append(sink)
    sink.start()
    return sink


def _delivered(sink: KafkaCommandSink, count: int) -> None:
    wait_until(
        lambda: sink.counts[0] >= count,
        message=lambda: f"{count} deliveries, (delivered, failed) = {sink.counts}",
    )


# --- the wire format, read back by kcat ---------------------------------------


@pytest.mark.kafka
def test_a_workflow_config_is_exactly_the_ess_json_on_the_commands_topic(
    kafka_settings: Settings, kcat: str, sinks: list[KafkaCommandSink]
) -> None:
    sink = _sink(sinks, kafka_settings)
    sink.send(
        WorkflowConfigCommand(
            message_id=MESSAGE_ID,
            identifier=WorkflowIdentifier(
                instrument="dream", name="detector_view", version=1
            ),
            job_id=JobIdentifier(source_name="mantle_detector", job_number=JOB_NUMBER),
            schedule=Schedule(start_time=1_764_374_400_000_000_000),
            aux_source_names={"monitor": "monitor_1"},
            params={"toa_bins": 500, "mode": "tof", "range": [0.5, 2.5]},
        )
    )
    _delivered(sink, 1)

    (envelope,) = consume_all(
        kcat,
        kafka_settings.bootstrap_servers,
        f"{kafka_settings.topic_prefix}dream_livedata_commands",
    )

    assert envelope["key"] is None
    assert json.loads(envelope["payload"]) == {
        "kind": "workflow_config",
        "message_id": str(MESSAGE_ID),
        "identifier": {"instrument": "dream", "name": "detector_view", "version": 1},
        "job_id": {"source_name": "mantle_detector", "job_number": str(JOB_NUMBER)},
        "schedule": {"start_time": 1_764_374_400_000_000_000, "end_time": None},
        "aux_source_names": {"monitor": "monitor_1"},
        "params": {"toa_bins": 500, "mode": "tof", "range": [0.5, 2.5]},
    }


@pytest.mark.kafka
def test_job_commands_are_exactly_the_ess_json(
    kafka_settings: Settings, kcat: str, sinks: list[KafkaCommandSink]
) -> None:
    sink = _sink(sinks, kafka_settings)
    commands = [
        JobCommand(
            message_id=MESSAGE_ID,
            job_id=JobIdentifier(source_name="mantle_detector", job_number=JOB_NUMBER),
            action=JobAction.stop,
        ),
        JobCommand(
            message_id=MESSAGE_ID,
            workflow_id=WorkflowIdentifier(
                instrument="dream", name="powder", version=2
            ),
            action=JobAction.reset,
        ),
    ]
    for command in commands:
        sink.send(command)
    _delivered(sink, 2)

    payloads = [
        json.loads(e["payload"])
        for e in consume_all(kcat, kafka_settings.bootstrap_servers, sink.topic)
    ]

    # Without a key, commands spread over partitions: compare regardless of order.
    assert sorted(payloads, key=lambda p: p["action"]) == [
        {
            "kind": "job_command",
            "message_id": str(MESSAGE_ID),
            "job_id": None,
            "workflow_id": {"instrument": "dream", "name": "powder", "version": 2},
            "action": "reset",
        },
        {
            "kind": "job_command",
            "message_id": str(MESSAGE_ID),
            "job_id": {"source_name": "mantle_detector", "job_number": str(JOB_NUMBER)},
            "workflow_id": None,
            "action": "stop",
        },
    ]


# --- failures are never silent --------------------------------------------------


@pytest.mark.kafka
def test_a_delivery_that_times_out_reaches_on_failure(
    outage_cluster: MockKafkaCluster,
    make_kafka_settings: Callable[..., Settings],
    sinks: list[KafkaCommandSink],
) -> None:
    settings = make_kafka_settings(
        outage_cluster.bootstrap_servers, kafka={"message.timeout.ms": 300}
    )
    failures = _Failures()
    sink = _sink(sinks, settings, on_failure=failures)
    outage_cluster.set_down()
    command = JobCommand(
        job_id=JobIdentifier(source_name="mantle_detector", job_number=JOB_NUMBER),
        action=JobAction.stop,
    )

    sink.send(command)  # accepted locally: the broker is only down for now

    wait_until(lambda: failures.calls, message="on_failure to be called")
    ((failed, reason),) = failures.calls
    assert failed == command
    assert "timed out" in reason.lower()
    assert sink.counts == (0, 1)
    assert sink.in_flight == 0


@pytest.mark.kafka
def test_stop_reports_commands_that_could_not_be_delivered_in_time(
    outage_cluster: MockKafkaCluster,
    make_kafka_settings: Callable[..., Settings],
    sinks: list[KafkaCommandSink],
) -> None:
    settings = make_kafka_settings(outage_cluster.bootstrap_servers)  # 30 s timeout
    failures = _Failures()
    sink = _sink(sinks, settings, on_failure=failures, flush_timeout=0.2)
    outage_cluster.set_down()
    command = JobCommand(workflow_id=None, action=JobAction.pause)

    sink.send(command)
    sink.stop()

    assert [failed for failed, _ in failures.calls] == [command]
    assert sink.in_flight == 0


@pytest.mark.kafka
def test_an_exception_in_on_failure_does_not_stop_the_sink(
    outage_cluster: MockKafkaCluster,
    make_kafka_settings: Callable[..., Settings],
    sinks: list[KafkaCommandSink],
) -> None:
    settings = make_kafka_settings(
        outage_cluster.bootstrap_servers, kafka={"message.timeout.ms": 200}
    )
    seen = _Failures()

    def failing_callback(command: Command, reason: str) -> None:
        seen(command, reason)
        raise RuntimeError("bug in the tracker")

    sink = _sink(sinks, settings, on_failure=failing_callback)
    outage_cluster.set_down()
    sink.send(JobCommand(action=JobAction.stop))
    wait_until(lambda: len(seen.calls) == 1, message="the first failure")

    outage_cluster.set_up()
    sink.send(JobCommand(action=JobAction.resume))
    _delivered(sink, 1)


def test_a_read_only_sink_refuses_to_send_and_creates_no_producer() -> None:
    created: list[dict[str, Any]] = []
    sink = KafkaCommandSink(
        Settings(read_only=True), producer_factory=lambda config: created.append(config)
    )
    sink.start()

    with pytest.raises(CommandSendError, match="read-only"):
        sink.send(JobCommand(action=JobAction.stop))
    sink.stop()
    assert created == []


def test_sending_before_start_or_after_stop_is_an_error() -> None:
    sink = KafkaCommandSink(Settings(), producer_factory=_FakeProducer)
    with pytest.raises(CommandSendError, match="not running"):
        sink.send(JobCommand(action=JobAction.stop))
    sink.start()
    sink.stop()
    with pytest.raises(CommandSendError, match="not running"):
        sink.send(JobCommand(action=JobAction.stop))


def test_a_full_local_queue_is_an_error_not_a_silent_drop() -> None:
    sink = KafkaCommandSink(Settings(), producer_factory=_FakeProducer)
    sink.start()
    try:
        with pytest.raises(CommandSendError, match="queue is full"):
            sink.send(JobCommand(action=JobAction.stop, workflow_id=_FULL))
        assert sink.in_flight == 0
    finally:
        sink.stop()


def test_commands_go_to_the_prefixed_commands_topic_without_a_key() -> None:
    producers: list[_FakeProducer] = []

    def factory(config: dict[str, Any]) -> _FakeProducer:
        producers.append(_FakeProducer(config))
        return producers[-1]

    settings = Settings(instrument="loki", topic_prefix="dev_", command_timeout=12)
    sink = KafkaCommandSink(settings, producer_factory=factory)
    sink.start()
    try:
        sink.send(JobCommand(action=JobAction.stop))
    finally:
        sink.stop()

    ((topic, kwargs),) = producers[0].produced
    assert topic == "dev_loki_livedata_commands"
    assert "key" not in kwargs
    assert producers[0].config["message.timeout.ms"] == 12_000


_FULL = WorkflowIdentifier(instrument="full", name="queue", version=1)


class _FakeProducer:
    """Records produce calls; a ``workflow_id`` of ``_FULL`` fills the queue."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.produced: list[tuple[str, dict[str, Any]]] = []

    def produce(self, topic: str, **kwargs: Any) -> None:
        if b'"instrument":"full"' in kwargs["value"]:
            raise BufferError("Local: Queue full")
        self.produced.append((topic, kwargs))

    def poll(self, timeout: float) -> int:
        threading.Event().wait(min(timeout, 0.01))
        return 0

    def flush(self, timeout: float) -> int:
        return 0
