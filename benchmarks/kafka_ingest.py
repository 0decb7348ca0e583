"""How fast does jobdash ingest heartbeats from Kafka, against the in-process path?

N x5f2 job heartbeats (default 100,000 over 3,000 jobs in 100 workflows) go
through two copies of the same pipeline, in the same run:

- Kafka: produced to librdkafka's mock cluster (a helper process, as in the
  Kafka tests), read by ``KafkaMessageSource``, then ``IngestionThread``
  decodes them and routes them through ``MessagePump`` to ``JobService`` and
  ``JobOrchestrator``;
- in-process: the same messages from an ``InMemoryMessageSource`` into the
  same ingestion and services.

After one untimed warm-up heartbeat (the consumer joins its group), the rest
go in rounds of ``ROUND`` (the mock cluster keeps only 5 MB per partition, so
a whole backlog would be truncated before it is read).
Each round is produced untimed, then consumed-and-applied by the Kafka
pipeline and by the in-process one, one after the other, so both are timed
under the same machine load. A round is timed from its first batch applied
to its last message applied: the idle consumer's fetch long-poll and the
group join are not ingestion time. Figures are printed last.

Usage: ``python benchmarks/kafka_ingest.py [messages] [jobs]``.
"""

from __future__ import annotations

import sys
import time
import uuid

from confluent_kafka import Producer

from jobdash.domain.clock import SystemClock
from jobdash.domain.ids import JobId
from jobdash.domain.job_state import JobState
from jobdash.domain.job_status import JobStatus
from jobdash.domain.streams import StreamId
from jobdash.domain.workflow_catalogue import WorkflowCatalogue, WorkflowSpec
from jobdash.services.command_dispatcher import CommandDispatcher
from jobdash.services.job_orchestrator import JobOrchestrator
from jobdash.services.job_service import JobService
from jobdash.services.message_pump import MessagePump
from jobdash.settings import Settings, TransportKind
from jobdash.testing.kafka_cluster import MockKafkaCluster
from jobdash.transport.codec import encode_status
from jobdash.transport.in_memory_sink import InMemoryCommandSink
from jobdash.transport.ingestion import IngestionThread
from jobdash.transport.kafka_source import KafkaMessageSource
from jobdash.transport.message_source import (
    InMemoryMessageSource,
    Message,
    MessageSource,
)

INSTRUMENT = "bench"
WORKFLOWS = 100
PARTITIONS = 4
BATCH = 1000
ROUND = 10_000
FIRST_MS = 1_764_374_400_000
TIMEOUT_S = 60.0


def _catalogue(jobs: int) -> WorkflowCatalogue:
    per_workflow = -(-jobs // WORKFLOWS)
    return WorkflowCatalogue(
        instrument=INSTRUMENT,
        workflows=[
            WorkflowSpec(
                id=f"{INSTRUMENT}/workflow_{w}/1",
                title=f"Workflow {w}",
                source_names=[f"source_{s}" for s in range(per_workflow)],
            )
            for w in range(WORKFLOWS)
        ],
    )


def _heartbeats(catalogue: WorkflowCatalogue, messages: int, jobs: int) -> list[bytes]:
    """``messages`` payloads cycling over ``jobs`` jobs, one job number per workflow.

    Every 10th round a job reports a warning, so some heartbeats change what
    the cards show (the rest repeat, as real heartbeats mostly do).
    """
    statuses: list[tuple[JobStatus, JobStatus]] = []
    for spec in catalogue.workflows:
        number = uuid.uuid4()
        for source in spec.source_names:
            if len(statuses) == jobs:
                break
            active = JobStatus(
                JobId(source, number),
                spec.workflow_id,
                JobState.active,
                start_time=1_764_374_400_000_000_000,
            )
            warning = active._replace(state=JobState.warning, warning_message="slow")
            statuses.append((active, warning))
    encoded = [(encode_status(a), encode_status(w)) for a, w in statuses]
    return [
        encoded[i % jobs][1 if (i // jobs) % 10 == 9 else 0] for i in range(messages)
    ]


def _pipeline(
    catalogue: WorkflowCatalogue, source: MessageSource
) -> tuple[IngestionThread, JobService, JobOrchestrator]:
    clock = SystemClock()
    job_service = JobService(clock)
    job_orchestrator = JobOrchestrator(
        catalogue, CommandDispatcher(InMemoryCommandSink()), clock
    )
    router = MessagePump(job_service=job_service, job_orchestrator=job_orchestrator)
    return IngestionThread(source, router, clock), job_service, job_orchestrator


class _Timed:
    """One pipeline, with the time and messages of its timed windows."""

    def __init__(self, catalogue: WorkflowCatalogue, source: MessageSource) -> None:
        self.ingestion, self.job_service, self.job_orchestrator = _pipeline(
            catalogue, source
        )
        self.received = 0
        self.seconds = 0.0
        self.timed = 0

    @property
    def applied(self) -> int:
        return self.ingestion.stats().applied

    def apply_until(self, applied: int) -> None:
        """Poll and apply until ``applied`` messages in all (untimed)."""
        deadline = time.monotonic() + TIMEOUT_S
        while self.applied < applied:
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out: {self.ingestion.stats()}")
            self.received += self.ingestion.run_once(0.1)

    def round(self, applied: int) -> None:
        """Apply up to ``applied``, timed from the first batch of the round."""
        self.apply_until(self.applied + 1)
        start, before = time.perf_counter(), self.applied
        self.apply_until(applied)
        self.seconds += time.perf_counter() - start
        self.timed += self.applied - before

    @property
    def rate(self) -> float:
        return self.timed / self.seconds

    def check(self, expected: int, jobs: int) -> None:
        stats = self.ingestion.stats()
        held = len(self.job_service.job_statuses)
        adopted = self.job_orchestrator.counters()["adopted_sets"]
        if (
            stats.decode_errors
            or stats.route_errors
            or self.received != expected
            or held != jobs
            or adopted != WORKFLOWS
        ):
            raise SystemExit(
                f"unexpected result: received {self.received} of {expected}, "
                f"{held} jobs, {adopted} job sets adopted; {stats}"
            )


def _produce(
    producer: Producer, topic: str, payloads: list[bytes], first_ms: int
) -> None:
    for index, payload in enumerate(payloads):
        while True:
            try:
                producer.produce(topic, payload, timestamp=first_ms + index)
                break
            except BufferError:
                producer.poll(0.1)
    if producer.flush(60) != 0:
        raise SystemExit("could not produce every heartbeat")


def main(messages: int = 100_000, jobs: int = 3_000) -> None:
    catalogue = _catalogue(jobs)
    payloads = _heartbeats(catalogue, messages, jobs)
    memory = InMemoryMessageSource(max_batch=BATCH)
    in_process = _Timed(catalogue, memory)
    producing = 0.0
    with MockKafkaCluster() as cluster:
        settings = Settings(
            transport=TransportKind.kafka,
            instrument=INSTRUMENT,
            bootstrap_servers=cluster.bootstrap_servers,
        )
        topic = settings.topic(StreamId.status.value)
        cluster.create_topic(topic, PARTITIONS)
        producer = Producer(
            {"bootstrap.servers": cluster.bootstrap_servers, "linger.ms": 20}
        )
        source = KafkaMessageSource(
            settings,
            SystemClock(),
            streams=[StreamId.status],
            offset_reset="earliest",
            max_batch=BATCH,
        )
        kafka = _Timed(catalogue, source)
        source.start()
        try:
            # Warm-up, untimed: one heartbeat each, so the consumer has joined
            # its group and found its positions before the first round.
            _produce(producer, topic, payloads[:1], FIRST_MS)
            memory.publish(Message(StreamId.status, payloads[0], FIRST_MS * 1_000_000))
            kafka.apply_until(1)
            in_process.apply_until(1)
            for first in range(1, messages, ROUND):
                chunk = payloads[first : first + ROUND]
                start = time.perf_counter()
                _produce(producer, topic, chunk, FIRST_MS + first)
                producing += time.perf_counter() - start
                for index, payload in enumerate(chunk, start=first):
                    timestamp = (FIRST_MS + index) * 1_000_000
                    memory.publish(Message(StreamId.status, payload, timestamp))
                kafka.round(first + len(chunk))
                in_process.round(first + len(chunk))
        finally:
            source.stop()
            # Destroy the producer while its broker still exists (otherwise
            # librdkafka logs reconnect attempts until the process exits).
            del producer
    kafka.check(messages, jobs)
    in_process.check(messages, jobs)

    print(f"heartbeats: {messages:,} over {jobs:,} jobs in {WORKFLOWS} workflows")
    print(f"produced to the mock cluster: {(messages - 1) / producing:,.0f} msg/s")
    print(f"in-process (consumed+applied): {in_process.rate:,.0f} msg/s")
    print(f"Kafka (consumed+applied): {kafka.rate:,.0f} msg/s")
    print(f"Kafka / in-process: {kafka.rate / in_process.rate:.2f}")


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))
