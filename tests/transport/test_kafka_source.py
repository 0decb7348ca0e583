"""KafkaMessageSource: what backends produce comes out as raw, routable messages."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import (
    TIMESTAMP_CREATE_TIME,
    TIMESTAMP_NOT_AVAILABLE,
    KafkaError,
    Producer,
)

from jobdash.domain.clock import ManualClock
from jobdash.domain.ids import JobId, WorkflowId
from jobdash.domain.job_state import JobState
from jobdash.domain.job_status import JobStatus
from jobdash.domain.streams import StreamId
from jobdash.settings import Settings
from jobdash.testing.kafka_cluster import MockKafkaCluster
from jobdash.testing.kcat_client import produce_files
from jobdash.testing.tcp_proxy import TcpProxy
from jobdash.testing.waiting import wait_until
from jobdash.transport.codec import decode_status, encode_status
from jobdash.transport.kafka_source import KafkaMessageSource
from jobdash.transport.message_source import Message

WORKFLOW = WorkflowId("dream", "detector_view", 1)
ProducerFactory = Callable[[str], Producer]


def _status(
    source: str, state: JobState = JobState.active, **changes: Any
) -> JobStatus:
    job = JobId(source, uuid.uuid4())
    return JobStatus(
        job, WORKFLOW, state, start_time=1_764_374_400_000_000_000
    )._replace(**changes)


def _drain(
    source: KafkaMessageSource, count: int, timeout: float = 10.0
) -> list[Message]:
    received: list[Message] = []

    def enough() -> bool:
        received.extend(source.get_messages(0.1))
        return len(received) >= count

    wait_until(
        enough,
        timeout=timeout,
        message=lambda: f"{count} messages, got {len(received)}",
    )
    return received


@pytest.fixture
def sources() -> Iterator[list[KafkaMessageSource]]:
    """Sources a test creates; always stopped."""
    created: list[KafkaMessageSource] = []
    yield created
    for source in created:
        source.stop()


def _source(
    sources: list[KafkaMessageSource], settings: Settings, **kwargs: Any
) -> KafkaMessageSource:
    source = KafkaMessageSource(settings, ManualClock(), **kwargs)
    sources.append(source)
    source.start()
    return source


# --- against the mock cluster, with kcat as the backend -----------------------


@pytest.mark.kafka
def test_heartbeats_produced_by_kcat_decode_to_the_same_job_status(
    kafka_settings: Settings,
    kcat: str,
    tmp_path: Path,
    sources: list[KafkaMessageSource],
) -> None:
    statuses = [
        _status("mantle_detector"),
        _status("endcap_backward", JobState.error, error_message="detector offline"),
        _status("monitor_1", JobState.warning, warning_message="slow"),
        _status("sans_detector", workflow_id=WorkflowId("dream", "view", 2, "ns")),
    ]
    files = []
    for index, status in enumerate(statuses):
        path = tmp_path / f"heartbeat{index}.x5f2"
        path.write_bytes(encode_status(status))
        files.append(path)
    before = time.time_ns()
    produce_files(
        kcat, kafka_settings.bootstrap_servers, kafka_settings.topic("heartbeat"), files
    )
    after = time.time_ns()

    source = _source(sources, kafka_settings, offset_reset="earliest")
    messages = _drain(source, len(statuses))

    assert {m.stream for m in messages} == {StreamId.status}
    decoded = {}
    for message in messages:
        # Kafka timestamps are ms: the envelope time is within the ms of producing.
        assert before // 1_000_000 * 1_000_000 <= message.timestamp <= after
        status = decode_status(message.payload, timestamp=message.timestamp)
        assert isinstance(status, JobStatus)
        decoded[status.job_id] = status
    assert decoded == {
        s.job_id: s._replace(timestamp=decoded[s.job_id].timestamp) for s in statuses
    }
    assert source.stats().messages == len(statuses)


@pytest.mark.kafka
def test_each_topic_maps_to_its_stream(
    kafka_settings: Settings,
    kcat: str,
    tmp_path: Path,
    sources: list[KafkaMessageSource],
) -> None:
    for stream in StreamId:
        path = tmp_path / f"{stream.value}.bin"
        path.write_bytes(f"payload of {stream.value}".encode())
        produce_files(
            kcat,
            kafka_settings.bootstrap_servers,
            kafka_settings.topic(stream.value),
            [path],
        )

    source = _source(sources, kafka_settings, offset_reset="earliest")
    messages = _drain(source, len(StreamId))

    assert {(m.stream, m.payload) for m in messages} == {
        (stream, f"payload of {stream.value}".encode()) for stream in StreamId
    }
    assert source.topics == {
        f"{kafka_settings.topic_prefix}dream_livedata_heartbeat": StreamId.status,
        f"{kafka_settings.topic_prefix}dream_livedata_responses": StreamId.responses,
        f"{kafka_settings.topic_prefix}dream_livedata_data": StreamId.data,
    }


@pytest.mark.kafka
def test_streams_left_out_are_not_read(
    kafka_settings: Settings,
    kcat: str,
    tmp_path: Path,
    sources: list[KafkaMessageSource],
) -> None:
    for stream in (StreamId.data, StreamId.status):
        path = tmp_path / f"{stream.value}.bin"
        path.write_bytes(stream.value.encode())
        produce_files(
            kcat,
            kafka_settings.bootstrap_servers,
            kafka_settings.topic(stream.value),
            [path],
        )

    source = _source(
        sources, kafka_settings, offset_reset="earliest", streams=[StreamId.status]
    )
    messages = _drain(source, 1)
    # Whatever else arrives within another poll must still be status only.
    messages += source.get_messages(0.5)

    assert [(m.stream, m.payload) for m in messages] == [
        (StreamId.status, b"heartbeat")
    ]
    assert list(source.topics) == [kafka_settings.topic("heartbeat")]


@pytest.mark.kafka
def test_the_kafka_timestamp_in_ms_becomes_the_envelope_time_in_ns(
    kafka_settings: Settings,
    make_producer: ProducerFactory,
    sources: list[KafkaMessageSource],
) -> None:
    producer = make_producer(kafka_settings.bootstrap_servers)
    producer.produce(
        kafka_settings.topic("responses"), b"ack", timestamp=1_764_374_400_123
    )
    assert producer.flush(10) == 0

    source = _source(sources, kafka_settings, offset_reset="earliest")
    (message,) = _drain(source, 1)

    assert message.timestamp == 1_764_374_400_123_000_000


@pytest.mark.kafka
def test_a_live_view_starts_at_the_end_and_skips_older_messages(
    kafka_settings: Settings,
    make_producer: ProducerFactory,
    sources: list[KafkaMessageSource],
) -> None:
    topic = kafka_settings.topic("heartbeat")
    producer = make_producer(kafka_settings.bootstrap_servers)
    producer.produce(topic, b"old")
    assert producer.flush(10) == 0
    source = _source(sources, kafka_settings)  # offset_reset="latest"
    received: list[bytes] = []

    # The group joins asynchronously: keep producing until the view sees one.
    def sees_new() -> bool:
        producer.produce(topic, b"new")
        producer.flush(10)
        received.extend(m.payload for m in source.get_messages(0.1))
        return b"new" in received

    wait_until(sees_new, message="a message produced after the start")
    assert b"old" not in received
    assert source.group_id.startswith("jobdash-")


@pytest.mark.kafka
def test_subscribing_to_missing_topics_is_counted_not_raised(
    kafka_settings: Settings, sources: list[KafkaMessageSource]
) -> None:
    source = _source(sources, kafka_settings, offset_reset="earliest")

    wait_until(
        lambda: (
            source.get_messages(0.05) == []
            and source.stats().skipped.get("UNKNOWN_TOPIC_OR_PART", 0) > 0
        ),
        message="librdkafka to report the missing topics",
    )
    assert source.stats().messages == 0


@pytest.mark.kafka
def test_every_process_gets_its_own_consumer_group_and_sees_every_message(
    kafka_settings: Settings,
    kcat: str,
    tmp_path: Path,
    sources: list[KafkaMessageSource],
) -> None:
    path = tmp_path / "hb.bin"
    path.write_bytes(b"for everyone")
    produce_files(
        kcat,
        kafka_settings.bootstrap_servers,
        kafka_settings.topic("heartbeat"),
        [path],
    )

    first = _source(sources, kafka_settings, offset_reset="earliest")
    second = _source(sources, kafka_settings, offset_reset="earliest")

    assert first.group_id != second.group_id
    assert [m.payload for m in _drain(first, 1)] == [b"for everyone"]
    assert [m.payload for m in _drain(second, 1)] == [b"for everyone"]


@pytest.mark.kafka
def test_messages_flow_again_after_the_network_is_cut_and_restored(
    outage_cluster: MockKafkaCluster,
    make_kafka_settings: Any,
    make_producer: ProducerFactory,
    sources: list[KafkaMessageSource],
) -> None:
    upstream = ("127.0.0.1", outage_cluster.port)
    with TcpProxy(upstream) as proxy:
        # Clients connect to whatever the broker advertises: make it the proxy,
        # so that both the backend and the dashboard lose the network.
        outage_cluster.advertise("127.0.0.1", proxy.port)
        settings = make_kafka_settings(proxy.address)
        topic = settings.topic("heartbeat")
        backend = make_producer(proxy.address)
        backend.produce(topic, b"before")
        assert backend.flush(10) == 0
        source = _source(sources, settings, offset_reset="earliest")
        assert [m.payload for m in _drain(source, 1)] == [b"before"]
        connections = proxy.accepted

        proxy.cut()
        backend.produce(topic, b"during")  # queued by the backend's client
        assert source.get_messages(0.3) == []
        proxy.restore()

        assert [m.payload for m in _drain(source, 1)] == [b"during"]
        assert proxy.accepted > connections  # it really reconnected through it


# --- contract details, with a fake consumer ----------------------------------


class _Record:
    def __init__(
        self,
        topic: str,
        value: bytes | None,
        timestamp: tuple[int, int] = (TIMESTAMP_CREATE_TIME, 1_000),
        error: KafkaError | None = None,
    ) -> None:
        self._topic, self._value, self._timestamp, self._error = (
            topic,
            value,
            timestamp,
            error,
        )

    def error(self) -> KafkaError | None:
        return self._error

    def topic(self) -> str:
        return self._topic

    def value(self) -> bytes | None:
        return self._value

    def timestamp(self) -> tuple[int, int]:
        return self._timestamp


class _BrokenRecord(_Record):
    def timestamp(self) -> tuple[int, int]:
        raise RuntimeError("corrupt record")


class _FakeConsumer:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.batches: list[list[Any]] = []
        self.calls: list[tuple[int, float]] = []
        self.subscribed: list[str] = []
        self.closed = False

    def subscribe(self, topics: list[str]) -> None:
        self.subscribed = topics

    def consume(self, num_messages: int, timeout: float) -> list[Any]:
        self.calls.append((num_messages, timeout))
        return self.batches.pop(0) if self.batches else []

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake() -> Iterator[tuple[KafkaMessageSource, _FakeConsumer, ManualClock]]:
    settings = Settings(instrument="dream", topic_prefix="p_", bootstrap_servers="b:1")
    created: list[_FakeConsumer] = []

    def factory(config: dict[str, Any]) -> _FakeConsumer:
        created.append(_FakeConsumer(config))
        return created[-1]

    clock = ManualClock()
    source = KafkaMessageSource(settings, clock, max_batch=50, consumer_factory=factory)
    source.start()
    yield source, created[0], clock
    source.stop()


def test_bad_records_are_skipped_and_counted_by_reason(
    fake: tuple[KafkaMessageSource, _FakeConsumer, ManualClock],
) -> None:
    source, consumer, _ = fake
    heartbeat = "p_dream_livedata_heartbeat"
    consumer.batches.append(
        [
            _Record(heartbeat, b"one"),
            _Record(heartbeat, None, error=KafkaError(KafkaError._PARTITION_EOF)),
            _Record(heartbeat, None),
            _Record("p_dream_livedata_elsewhere", b"stray"),
            _BrokenRecord(heartbeat, b"broken"),
            _Record(heartbeat, b"two"),
        ]
    )

    messages = source.get_messages(0.1)

    assert [m.payload for m in messages] == [b"one", b"two"]
    stats = source.stats()
    assert stats.messages == 2
    assert stats.skipped == {
        "_PARTITION_EOF": 1,
        "no value": 1,
        "unknown topic": 1,
        "unreadable record": 1,
    }


def test_a_record_without_kafka_timestamp_gets_the_clock_time(
    fake: tuple[KafkaMessageSource, _FakeConsumer, ManualClock],
) -> None:
    source, consumer, clock = fake
    consumer.batches.append(
        [
            _Record("p_dream_livedata_responses", b"a", (TIMESTAMP_NOT_AVAILABLE, 0)),
            _Record("p_dream_livedata_responses", b"b", (TIMESTAMP_CREATE_TIME, 7)),
        ]
    )

    messages = source.get_messages(0.1)

    assert [m.timestamp for m in messages] == [clock.now_ns(), 7_000_000]


def test_returns_what_is_queued_without_waiting_for_a_full_batch(
    fake: tuple[KafkaMessageSource, _FakeConsumer, ManualClock],
) -> None:
    source, consumer, _ = fake
    consumer.batches.append([_Record("p_dream_livedata_data", b"ready")])

    assert [m.payload for m in source.get_messages(2.0)] == [b"ready"]
    # One non-blocking drain: no wait for the other 49 messages.
    assert consumer.calls == [(50, 0)]


def test_waits_for_the_first_message_then_drains_the_rest_without_waiting(
    fake: tuple[KafkaMessageSource, _FakeConsumer, ManualClock],
) -> None:
    source, consumer, _ = fake
    data = "p_dream_livedata_data"
    consumer.batches += [[], [_Record(data, b"first")], [_Record(data, b"second")]]

    assert [m.payload for m in source.get_messages(2.0)] == [b"first", b"second"]
    assert consumer.calls == [(50, 0), (1, 2.0), (49, 0)]


def test_consumer_is_configured_for_a_private_live_view(
    fake: tuple[KafkaMessageSource, _FakeConsumer, ManualClock],
) -> None:
    source, consumer, _ = fake

    assert consumer.subscribed == [
        "p_dream_livedata_heartbeat",
        "p_dream_livedata_responses",
        "p_dream_livedata_data",
    ]
    assert consumer.config["group.id"] == source.group_id
    assert consumer.config["auto.offset.reset"] == "latest"
    assert consumer.config["enable.auto.commit"] is False
    assert consumer.config["bootstrap.servers"] == "b:1"


def test_after_stop_the_consumer_is_closed_and_nothing_is_returned(
    fake: tuple[KafkaMessageSource, _FakeConsumer, ManualClock],
) -> None:
    source, consumer, _ = fake
    consumer.batches.append([_Record("p_dream_livedata_data", b"late")])

    source.stop()
    source.stop()  # idempotent
    source.start()  # a stopped source stays stopped

    assert consumer.closed
    assert source.get_messages(0.1) == []
    assert consumer.calls == []


def test_a_source_without_streams_is_refused() -> None:
    with pytest.raises(ValueError, match="no streams"):
        KafkaMessageSource(Settings(), ManualClock(), streams=[])
