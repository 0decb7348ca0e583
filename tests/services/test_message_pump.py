from __future__ import annotations

import ast
import inspect
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from jobdash.domain import (
    DataResult,
    JobId,
    JobState,
    JobStatus,
    ManualClock,
    ServiceStatus,
    WorkflowId,
)
from jobdash.domain.commands import (
    Acknowledgement,
    JobAction,
    JobCommand,
    JobIdentifier,
)
from jobdash.domain.streams import StreamId
from jobdash.services import message_pump as message_pump_module
from jobdash.services.command_tracker import PendingCommandTracker
from jobdash.services.data_service import DataService
from jobdash.services.job_service import JobService
from jobdash.services.message_pump import MessagePump
from jobdash.services.notifications import NotificationLog
from jobdash.services.worker_registry import WorkerRegistry
from jobdash.transport.codec import (
    decode_ack,
    decode_result,
    decode_status,
    encode_ack,
    encode_result,
    encode_status,
)

WORKFLOW = WorkflowId("dream", "detector_view", 1)
JOB = JobId("mantle_detector", uuid.UUID(int=5))
STATUS = JobStatus(JOB, WORKFLOW, JobState.active, timestamp=10)
SERVICE = ServiceStatus("dream", "detector_data", "w1", "running")


class RecordingConsumer:
    """Stands in for JobOrchestrator (or any StatusConsumer)."""

    def __init__(self, error: Exception | None = None) -> None:
        self.received: list[JobStatus] = []
        self.ticks = 0
        self.open_batches = 0
        self.batches = 0
        self._error = error

    def status_updated(self, status: JobStatus) -> None:
        self.received.append(status)
        if self._error is not None:
            raise self._error

    @contextmanager
    def batch_updates(self) -> Iterator[None]:
        self.open_batches += 1
        try:
            yield
        finally:
            self.open_batches -= 1
            self.batches += 1

    def tick(self) -> None:
        self.ticks += 1
        if self._error is not None:
            raise self._error


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def log(clock: ManualClock) -> NotificationLog:
    return NotificationLog(clock)


def test_job_status_reaches_job_service_and_job_orchestrator(clock):
    job_service = JobService(clock)
    job_orchestrator = RecordingConsumer()
    router = MessagePump(job_service=job_service, job_orchestrator=job_orchestrator)
    router.forward(StreamId.status, STATUS)
    assert job_service.get_job_status(JOB) == STATUS
    assert job_orchestrator.received == [STATUS]


def test_forward_reaches_orchestrator_when_job_service_raises():
    job_service = RecordingConsumer(error=RuntimeError("job service bug"))
    job_orchestrator = RecordingConsumer()
    router = MessagePump(job_service=job_service, job_orchestrator=job_orchestrator)
    with pytest.raises(RuntimeError, match="job service bug"):
        router.forward(StreamId.status, STATUS)
    assert job_orchestrator.received == [STATUS]


def test_forward_reaches_job_service_when_orchestrator_raises(clock):
    job_service = JobService(clock)
    job_orchestrator = RecordingConsumer(error=KeyError("orchestrator bug"))
    router = MessagePump(job_service=job_service, job_orchestrator=job_orchestrator)
    with pytest.raises(KeyError, match="orchestrator bug"):
        router.forward(StreamId.status, STATUS)
    assert job_service.get_job_status(JOB) == STATUS


def test_both_status_consumers_raising_raise_both_errors():
    router = MessagePump(
        job_service=RecordingConsumer(error=RuntimeError("first")),
        job_orchestrator=RecordingConsumer(error=ValueError("second")),
    )
    with pytest.raises(ExceptionGroup) as caught:
        router.forward(StreamId.status, STATUS)
    assert [str(e) for e in caught.value.exceptions] == ["first", "second"]


def test_service_status_goes_to_the_worker_registry_only(clock):
    registry = WorkerRegistry(clock)
    job_orchestrator = RecordingConsumer()
    router = MessagePump(job_orchestrator=job_orchestrator, worker_registry=registry)
    router.forward(StreamId.status, SERVICE)
    assert [w.key for w in registry.workers()] == [SERVICE.key]
    assert job_orchestrator.received == []


def test_acknowledgement_goes_to_the_tracker(clock, log):
    tracker = PendingCommandTracker(clock, log)
    command = JobCommand(job_id=JobIdentifier.from_domain(JOB), action=JobAction.stop)
    tracker.track([command], verb="Stopped", subject="mantle_detector")
    router = MessagePump(command_tracker=tracker)
    router.forward(
        StreamId.responses,
        Acknowledgement(message_id=command.message_id, device=str(JOB), response="ACK"),
    )
    assert [n.text for n in log.since(0)] == ["Stopped 1/1 job for mantle_detector"]


def test_data_result_goes_to_the_data_service(clock):
    data = DataService(clock)
    router = MessagePump(data_service=data)
    router.forward(StreamId.data, DataResult(JOB, WORKFLOW, "histogram", 1, [1.0]))
    assert data.jobs_with_data() == {JOB}


def test_raw_stream_names_are_routed_like_stream_ids(clock):
    job_service = JobService(clock)
    MessagePump(job_service=job_service).forward("heartbeat", STATUS)  # type: ignore[arg-type]
    assert job_service.get_job_status(JOB) == STATUS


@pytest.mark.parametrize(
    ("stream", "value", "expected"),
    [
        (StreamId.status, "not a status", "JobStatus or ServiceStatus"),
        (StreamId.status, DataResult(JOB, WORKFLOW, "h", 1), "JobStatus"),
        (StreamId.responses, STATUS, "Acknowledgement"),
        (StreamId.data, STATUS, "DataResult"),
    ],
)
def test_a_value_the_stream_does_not_carry_is_a_type_error(
    clock, stream, value, expected
):
    router = MessagePump(
        job_service=JobService(clock),
        data_service=DataService(clock),
        command_tracker=PendingCommandTracker(clock, NotificationLog(clock)),
        worker_registry=WorkerRegistry(clock),
    )
    with pytest.raises(TypeError, match=f"{type(value).__name__}.*{expected}"):
        router.forward(stream, value)


def test_an_unknown_stream_is_a_value_error():
    with pytest.raises(ValueError, match="unknown stream 'commands'"):
        MessagePump().forward("commands", STATUS)  # type: ignore[arg-type]


def test_absent_consumers_are_skipped():
    router = MessagePump()
    router.forward(StreamId.status, STATUS)
    router.forward(StreamId.status, SERVICE)
    router.forward(
        StreamId.responses,
        Acknowledgement(message_id=uuid.uuid4(), device="x", response="ACK"),
    )
    router.forward(StreamId.data, DataResult(JOB, WORKFLOW, "histogram", 1))
    router.tick()
    with router.batch_updates():
        pass


def test_batch_updates_opens_a_batch_on_every_present_service(clock):
    job_service, data, registry = (
        JobService(clock),
        DataService(clock),
        WorkerRegistry(clock),
    )
    job_orchestrator = RecordingConsumer()
    router = MessagePump(
        job_service=job_service,
        job_orchestrator=job_orchestrator,
        data_service=data,
        worker_registry=registry,
    )
    with router.batch_updates():
        assert job_orchestrator.open_batches == 1
        for number in range(5):
            status = STATUS._replace(job_id=JobId("s", uuid.UUID(int=number)))
            router.forward(StreamId.status, status)
            router.forward(StreamId.status, SERVICE._replace(worker_id=f"w{number}"))
            router.forward(StreamId.data, DataResult(status.job_id, WORKFLOW, "h", 1))
        assert (job_service.version, data.version, registry.version) == (0, 0, 0)
    assert (job_service.version, data.version, registry.version) == (1, 1, 1)
    assert (job_orchestrator.open_batches, job_orchestrator.batches) == (0, 1)


def test_batch_updates_closes_every_batch_when_the_body_raises(clock):
    job_service = JobService(clock)
    job_orchestrator = RecordingConsumer()
    router = MessagePump(job_service=job_service, job_orchestrator=job_orchestrator)

    def failing_batch() -> None:
        with router.batch_updates():
            router.forward(StreamId.status, STATUS)
            raise RuntimeError("decode bug")

    with pytest.raises(RuntimeError, match="decode bug"):
        failing_batch()
    assert job_orchestrator.open_batches == 0
    assert job_service.version == 1


def test_tick_reaches_every_present_service(clock, log):
    job_service = JobService(clock, stale_after=6.0)
    job_service.status_updated(STATUS)
    data = DataService(clock, retention=60.0)
    data.result_received(DataResult(JOB, WORKFLOW, "h", 1))
    registry = WorkerRegistry(clock, stale_after=6.0)
    registry.service_status_updated(SERVICE)
    tracker = PendingCommandTracker(clock, log, timeout=30.0)
    tracker.track(
        [JobCommand(job_id=JobIdentifier.from_domain(JOB), action=JobAction.stop)],
        verb="Stopped",
        subject="mantle_detector",
    )
    job_orchestrator = RecordingConsumer()
    router = MessagePump(
        job_service=job_service,
        job_orchestrator=job_orchestrator,
        data_service=data,
        command_tracker=tracker,
        worker_registry=registry,
    )
    clock.advance(61)
    router.tick()
    assert job_orchestrator.ticks == 1
    assert job_service.version == 2  # went stale
    assert data.jobs_with_data() == set()  # pruned
    assert registry.version == 2  # went stale
    assert tracker.pending_count() == 0  # timed out


def test_tick_continues_after_a_service_raises(clock, log):
    failing = RecordingConsumer(error=RuntimeError("tick bug"))
    tracker = PendingCommandTracker(clock, log, timeout=1.0)
    tracker.track(
        [JobCommand(job_id=JobIdentifier.from_domain(JOB), action=JobAction.stop)],
        verb="Stopped",
        subject="mantle_detector",
    )
    router = MessagePump(job_orchestrator=failing, command_tracker=tracker)
    clock.advance(2)
    with pytest.raises(RuntimeError, match="tick bug"):
        router.tick()
    assert tracker.pending_count() == 0


# --- the pipeline of seed phases 1 and 2: wire bytes → decode → route ----------


def route_wire_messages(router: MessagePump, clock: ManualClock) -> None:
    """Heartbeats, an ack and a result, as the ingestion thread would route them."""
    with router.batch_updates():
        for timestamp, state in [(1, JobState.scheduled), (3, JobState.active)]:
            payload = encode_status(STATUS._replace(state=state))
            router.forward(StreamId.status, decode_status(payload, timestamp))
        # Late: must not overwrite the newer heartbeat.
        late = encode_status(STATUS._replace(state=JobState.scheduled))
        router.forward(StreamId.status, decode_status(late, 2))
        router.forward(StreamId.status, decode_status(encode_status(SERVICE), 3))
        result = DataResult(JOB, WORKFLOW, "histogram", 3, [1.0, 2.0])
        router.forward(StreamId.data, decode_result(encode_result(result)))
        ack = Acknowledgement(message_id=uuid.uuid4(), device=str(JOB), response="ACK")
        router.forward(StreamId.responses, decode_ack(encode_ack(ack)))
    clock.advance(1)
    router.tick()


def test_pipeline_runs_with_job_service_only(clock, log):
    job_service = JobService(clock)
    router = MessagePump(
        job_service=job_service,
        data_service=DataService(clock),
        command_tracker=PendingCommandTracker(clock, log),
        worker_registry=WorkerRegistry(clock),
    )
    route_wire_messages(router, clock)
    assert job_service.get_job_status(JOB).state is JobState.active
    assert job_service.version == 1


def test_pipeline_runs_with_both_status_consumers(clock, log):
    job_service, job_orchestrator = JobService(clock), RecordingConsumer()
    router = MessagePump(
        job_service=job_service,
        job_orchestrator=job_orchestrator,
        command_tracker=PendingCommandTracker(clock, log),
    )
    route_wire_messages(router, clock)
    assert job_service.get_job_status(JOB).state is JobState.active
    assert [s.state for s in job_orchestrator.received] == [
        JobState.scheduled,
        JobState.active,
        JobState.scheduled,
    ]


def test_pipeline_runs_without_job_service(clock, log):
    # Seed phase 2: JobService is gone; the workflow-level model gets everything.
    job_orchestrator = RecordingConsumer()
    data, registry = DataService(clock), WorkerRegistry(clock)
    tracker = PendingCommandTracker(clock, log)
    router = MessagePump(
        job_orchestrator=job_orchestrator,
        data_service=data,
        command_tracker=tracker,
        worker_registry=registry,
    )
    route_wire_messages(router, clock)
    assert len(job_orchestrator.received) == 3
    assert job_orchestrator.received[1] == STATUS._replace(timestamp=3)
    assert (job_orchestrator.batches, job_orchestrator.ticks) == (1, 1)
    assert data.jobs_with_data() == {JOB}
    assert [w.key for w in registry.workers()] == [SERVICE.key]
    assert tracker.ignored_acks == 1


def test_pipeline_without_job_service_never_imports_it():
    code = textwrap.dedent(
        """
        import sys, uuid
        from jobdash.domain import JobId, JobState, JobStatus, WorkflowId
        from jobdash.domain.streams import StreamId
        from jobdash.services.message_pump import MessagePump

        class Consumer:
            def __init__(self): self.received = []
            def status_updated(self, status): self.received.append(status)
            def batch_updates(self):
                import contextlib
                return contextlib.nullcontext()
            def tick(self): pass

        consumer = Consumer()
        router = MessagePump(job_orchestrator=consumer)
        status = JobStatus(
            JobId("s", uuid.uuid4()), WorkflowId("i", "w", 1), JobState.active
        )
        with router.batch_updates():
            router.forward(StreamId.status, status)
        router.tick()
        assert consumer.received == [status]
        loaded = sorted(
            name for name in sys.modules
            if name.endswith((".job_service", ".job_orchestrator"))
        )
        print(loaded)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_message_pump_module_imports_neither_status_model():
    tree = ast.parse(inspect.getsource(message_pump_module))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
            imported.update(alias.name for alias in node.names)
    assert imported  # the walk saw the imports
    forbidden = {"JobOrchestrator", "JobService", "job_orchestrator", "job_service"}
    assert not {name for name in imported if name.rsplit(".", 1)[-1] in forbidden}, (
        imported
    )
    assert not hasattr(message_pump_module, "JobOrchestrator")
    assert not hasattr(message_pump_module, "JobService")


def test_status_listeners_receive_every_heartbeat_after_the_models(clock, log):
    job_service, history = RecordingConsumer(), RecordingConsumer()
    router = MessagePump(job_service=job_service, status_listeners=[history])
    route_wire_messages(router, clock)
    assert history.received == job_service.received
    assert (history.batches, history.ticks) == (1, 1)
