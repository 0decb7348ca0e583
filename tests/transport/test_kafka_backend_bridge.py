"""KafkaBackendBridge: the simulated backend obeys the commands topic and
publishes what it emits to the heartbeat, responses and data topics."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator

import pytest
from confluent_kafka import Producer

from jobdash.catalogue_file import shipped_catalogue
from jobdash.domain.clock import ManualClock, SystemClock
from jobdash.domain.command_sink import CommandSendError
from jobdash.domain.commands import (
    Acknowledgement,
    JobIdentifier,
    WorkflowConfigCommand,
    WorkflowIdentifier,
)
from jobdash.domain.data_result import DataResult
from jobdash.domain.ids import JobId, WorkflowId
from jobdash.domain.job_state import JobState
from jobdash.domain.job_status import JobStatus, ServiceStatus
from jobdash.domain.streams import StreamId
from jobdash.settings import Settings
from jobdash.testing.waiting import wait_until
from jobdash.transport.codec import decode_ack, decode_result, decode_status
from jobdash.transport.kafka_backend_bridge import KafkaBackendBridge
from jobdash.transport.kafka_sink import KafkaCommandSink
from jobdash.transport.kafka_source import KafkaMessageSource
from jobdash.transport.message_source import Message
from jobdash.transport.simulated import SimulatedBackend

pytestmark = pytest.mark.kafka

WORKFLOW = WorkflowId("dream", "monitor_histogram", 1)
ProducerFactory = Callable[[str], Producer]


class _Rig:
    """A bridged simulated backend on a manual clock, a sink and a reader."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.clock = ManualClock()
        self.backend = SimulatedBackend(
            shipped_catalogue("dream"),
            self.clock,
            heartbeat_interval=1.0,
            ack_latency=0.0,
        )
        self.bridge = KafkaBackendBridge(self.backend, settings, SystemClock())
        self.sink = KafkaCommandSink(settings)
        self.reader = KafkaMessageSource(settings, self.clock, offset_reset="earliest")
        self.received: list[Message] = []

    def start(self) -> None:
        self.bridge.start()
        assert self.bridge.wait_ready(20), "the commands topic was not assigned"
        self.sink.start()
        self.reader.start()

    def stop(self) -> None:
        self.reader.stop()
        self.sink.stop()
        self.bridge.stop()

    def start_job(self, source: str) -> WorkflowConfigCommand:
        command = WorkflowConfigCommand(
            identifier=WorkflowIdentifier.from_domain(WORKFLOW),
            job_id=JobIdentifier(source_name=source, job_number=uuid.uuid4()),
        )
        self.sink.send(command)
        return command

    def read_until(self, found: Callable[[list[Message]], bool], what: str) -> None:
        def done() -> bool:
            self.received.extend(self.reader.get_messages(0.05))
            return found(self.received)

        wait_until(done, timeout=20, message=what)

    def decoded(self, stream: StreamId) -> list[object]:
        decoders = {
            StreamId.status: lambda m: decode_status(m.payload, m.timestamp),
            StreamId.responses: lambda m: decode_ack(m.payload),
            StreamId.data: lambda m: decode_result(m.payload),
        }
        return [decoders[stream](m) for m in self.received if m.stream is stream]


@pytest.fixture
def rig(kafka_settings: Settings) -> Iterator[_Rig]:
    rig = _Rig(kafka_settings)
    rig.start()
    yield rig
    rig.stop()


def _acks(rig: _Rig) -> list[Acknowledgement]:
    return [
        a for a in rig.decoded(StreamId.responses) if isinstance(a, Acknowledgement)
    ]


def _job_statuses(rig: _Rig, job_id: JobId) -> list[JobStatus]:
    return [
        s
        for s in rig.decoded(StreamId.status)
        if isinstance(s, JobStatus) and s.job_id == job_id
    ]


def test_a_command_from_the_commands_topic_is_obeyed_and_answered(rig: _Rig) -> None:
    command = rig.start_job("monitor_cave")
    job_id = command.job_id.to_domain()

    rig.read_until(
        lambda _: (
            any(a.message_id == command.message_id for a in _acks(rig))
            and bool(_job_statuses(rig, job_id))
        ),
        "the acknowledgement and the first heartbeat",
    )

    (ack,) = [a for a in _acks(rig) if a.message_id == command.message_id]
    assert (ack.response, ack.device) == ("ACK", str(job_id))
    first = _job_statuses(rig, job_id)[0]
    assert (first.state, first.workflow_id) == (JobState.scheduled, WORKFLOW)
    # The Kafka timestamp is the backend's (manual) clock time, in ms.
    assert first.timestamp == rig.clock.now_ns() // 1_000_000 * 1_000_000


def test_every_stream_goes_to_its_own_topic_as_the_backend_time_passes(
    rig: _Rig,
) -> None:
    command = rig.start_job("monitor_bunker")
    job_id = command.job_id.to_domain()
    rig.read_until(lambda _: bool(_job_statuses(rig, job_id)), "the first heartbeat")

    rig.clock.advance(1.0)  # active half an interval after the start
    rig.read_until(
        lambda _: JobState.active in {s.state for s in _job_statuses(rig, job_id)},
        "the job to report active",
    )
    rig.clock.advance(1.0)  # an active job publishes a result every second

    rig.read_until(
        lambda _: any(
            isinstance(r, DataResult) and r.job_id == job_id
            for r in rig.decoded(StreamId.data)
        ),
        "a result of the job on the data topic",
    )
    workers = {
        s.worker_id
        for s in rig.decoded(StreamId.status)
        if isinstance(s, ServiceStatus)
    }
    assert workers == {"worker-0", "worker-1"}
    produced = rig.bridge.stats().produced
    assert set(produced) == {"heartbeat", "responses", "data"}


def test_a_bad_command_is_counted_and_logged_and_the_next_one_still_obeyed(
    rig: _Rig,
    make_producer: ProducerFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    producer = make_producer(rig.settings.bootstrap_servers)
    with caplog.at_level(logging.WARNING, "jobdash.transport.kafka_backend_bridge"):
        producer.produce(rig.bridge.commands_topic, b"not a command")
        assert producer.flush(10) == 0
        command = rig.start_job("monitor_cave")
        rig.read_until(
            lambda _: any(a.message_id == command.message_id for a in _acks(rig)),
            "the answer to the good command",
        )

    stats = rig.bridge.stats()
    assert stats.bad_commands == {"undecodable": 1}
    assert stats.commands == 1
    assert "command skipped (undecodable)" in caplog.text


def test_topics_exist_as_soon_as_the_bridge_started(
    rig: _Rig, make_producer: ProducerFactory
) -> None:
    metadata = make_producer(rig.settings.bootstrap_servers).list_topics(timeout=10)

    expected = {
        rig.settings.topic(kind)
        for kind in ("commands", "heartbeat", "responses", "data")
    }
    assert expected <= set(metadata.topics)
    assert rig.bridge.topics == {
        stream: rig.settings.topic(stream.value) for stream in StreamId
    }


def test_stop_flushes_what_was_produced_and_stops_the_backend(
    kafka_settings: Settings,
) -> None:
    rig = _Rig(kafka_settings)
    rig.start()
    command = rig.start_job("monitor_cave")
    rig.read_until(
        lambda _: any(a.message_id == command.message_id for a in _acks(rig)),
        "the answer",
    )

    rig.stop()

    stats = rig.bridge.stats()
    assert stats.delivered == sum(stats.produced.values())
    assert stats.delivery_failures == stats.dropped == 0
    with pytest.raises(CommandSendError):
        rig.backend.send(command)
    names = {thread.name for thread in threading.enumerate()}
    assert not names & {"jobdash-bridge-commands", "jobdash-bridge-messages"}
