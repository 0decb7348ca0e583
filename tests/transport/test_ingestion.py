import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest

from jobdash.domain.clock import ManualClock
from jobdash.domain.commands import (
    Acknowledgement,
    JobAction,
    JobCommand,
    JobIdentifier,
    WorkflowConfigCommand,
    WorkflowIdentifier,
)
from jobdash.domain.data_result import DataResult
from jobdash.domain.ids import JobId, WorkflowId
from jobdash.domain.job_state import JobState
from jobdash.domain.job_status import JobStatus, ServiceStatus
from jobdash.domain.streams import StreamId
from jobdash.domain.workflow_catalogue import WorkflowCatalogue
from jobdash.domain.workflow_status import WorkflowAggregate
from jobdash.services.command_dispatcher import CommandDispatcher
from jobdash.services.command_tracker import PendingCommandTracker
from jobdash.services.data_service import DataService
from jobdash.services.job_orchestrator import JobOrchestrator
from jobdash.services.job_service import JobService
from jobdash.services.message_pump import MessagePump
from jobdash.services.notifications import NotificationLog
from jobdash.services.worker_registry import WorkerRegistry
from jobdash.testing.actors import OPERATOR
from jobdash.testing.waiting import wait_until
from jobdash.transport import ingestion as ingestion_module
from jobdash.transport.codec import encode_ack, encode_result, encode_status
from jobdash.transport.ingestion import (
    DECODER_BUG_KIND,
    MAX_DECODE_ERROR_KINDS,
    OTHER_KIND,
    UNKNOWN_STREAM_KIND,
    DecodeErrorCount,
    IngestionStats,
    IngestionThread,
    decode_error_kind,
)
from jobdash.transport.message_source import InMemoryMessageSource, Message
from jobdash.transport.simulated import WORKERS, SimulatedBackend

WORKFLOW = WorkflowId("dream", "detector_view", 1)
MONITORS = WorkflowId("dream", "monitors", 1)


def job_id(i: int) -> JobId:
    return JobId(f"source_{i % 7}", uuid.UUID(int=i))


def status_message(i: int, state: JobState = JobState.active) -> Message:
    status = JobStatus(job_id(i), WORKFLOW, state, start_time=1_000 + i)
    return Message(StreamId.status, encode_status(status), 10_000 + i)


def ack_message(i: int) -> Message:
    ack = Acknowledgement(message_id=uuid.UUID(int=i), device="m", response="ACK")
    return Message(StreamId.responses, encode_ack(ack), 0)


def result_message(i: int) -> Message:
    result = DataResult(job_id(i), WORKFLOW, "h", 5, np.arange(3.0))
    return Message(StreamId.data, encode_result(result), 0)


MALFORMED = [
    Message(StreamId.status, b"", 1),
    Message(StreamId.status, b"\x00" * 40, 1),
    Message(StreamId.status, encode_status(ServiceStatus("i", "s", "w", "x"))[:30], 1),
    Message(StreamId.responses, b"{not json", 1),
    Message(StreamId.responses, b'{"message_id": "x"}', 1),
    Message(StreamId.data, b"garbage garbage", 1),
    Message("metrics", b"{}", 1),  # type: ignore[arg-type]  # an unknown stream
]


class RecordingRouter:
    """A fake MessagePump: records what it is given, and how, and may raise."""

    def __init__(self, fail_on=lambda value: False, fail_tick=False):
        self.forwarded: list[tuple[StreamId, object]] = []
        self.depth_at_forward: list[int] = []
        self.batches = 0
        self.ticks = 0
        self._depth = 0
        self._fail_on = fail_on
        self._fail_tick = fail_tick
        self.lock = threading.Lock()

    def forward(self, stream_id, value):
        self.depth_at_forward.append(self._depth)
        if self._fail_on(value):
            raise RuntimeError(f"consumer rejected {value!r}")
        self.forwarded.append((stream_id, value))

    @contextmanager
    def batch_updates(self) -> Iterator[None]:
        self._depth += 1
        self.batches += 1
        try:
            yield
        finally:
            self._depth -= 1

    def tick(self):
        with self.lock:
            self.ticks += 1
        if self._fail_tick:
            raise RuntimeError("tick failed")


class ScriptedSource:
    """Returns prepared batches in order, raising where the script says so."""

    def __init__(self, script):
        self._script = list(script)
        self.started = self.stopped = False

    def start(self):
        self.started = True

    def stop(self):
        self.stopped = True

    def get_messages(self, timeout):
        if not self._script:
            return []
        step = self._script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


@pytest.fixture
def clock():
    return ManualClock()


# --- routing, synchronously ------------------------------------------------------


def test_every_stream_is_decoded_and_forwarded_in_order_inside_one_batch(clock):
    batch = [status_message(1), ack_message(2), result_message(3), status_message(4)]
    router = RecordingRouter()
    ingestion = IngestionThread(ScriptedSource([batch]), router, clock)
    assert ingestion.run_once() == 4
    assert [stream for stream, _ in router.forwarded] == [
        StreamId.status,
        StreamId.responses,
        StreamId.data,
        StreamId.status,
    ]
    first = router.forwarded[0][1]
    assert isinstance(first, JobStatus)
    assert (first.job_id, first.timestamp) == (job_id(1), 10_001)
    assert isinstance(router.forwarded[1][1], Acknowledgement)
    assert isinstance(router.forwarded[2][1], DataResult)
    assert router.batches == 1
    assert router.depth_at_forward == [1, 1, 1, 1]
    stats = ingestion.stats()
    assert (stats.messages, stats.applied, stats.decode_errors) == (4, 4, 0)


def test_empty_poll_opens_no_batch(clock):
    router = RecordingRouter()
    ingestion = IngestionThread(ScriptedSource([[]]), router, clock)
    assert ingestion.run_once() == 0
    assert router.batches == 0


def test_ten_thousand_malformed_messages_are_counted_and_skipped(clock, caplog):
    mixed: list[Message] = []
    for i in range(10_000):
        mixed.append(MALFORMED[i % len(MALFORMED)])
        if i % 5 == 0:
            mixed.append(status_message(i))
    router = RecordingRouter()
    ingestion = IngestionThread(ScriptedSource([mixed]), router, clock)
    with caplog.at_level(logging.WARNING, logger="jobdash.transport.ingestion"):
        ingestion.run_once()
    stats = ingestion.stats()
    assert stats.decode_errors == 10_000
    assert stats.applied == 2_000
    assert stats.messages == 12_000
    assert [value for _, value in router.forwarded] == [
        JobStatus(
            job_id(i),
            WORKFLOW,
            JobState.active,
            start_time=1_000 + i,
            timestamp=10_000 + i,
        )
        for i in range(0, 10_000, 5)
    ]
    # Logged with the reason, but rate-limited: not one line per message.
    assert 1 <= len(caplog.records) <= 5
    assert "undecodable message skipped" in caplog.records[0].getMessage()


def test_decode_error_log_names_the_stream_and_reason(clock, caplog):
    batch = [Message(StreamId.responses, b"[]", 1)]
    ingestion = IngestionThread(ScriptedSource([batch]), RecordingRouter(), clock)
    with caplog.at_level(logging.WARNING, logger="jobdash.transport.ingestion"):
        ingestion.run_once()
    (record,) = caplog.records
    assert "responses: acknowledgement:" in record.getMessage()


def test_decode_errors_are_counted_per_kind_with_their_last_reason(clock):
    batch = [*MALFORMED, *MALFORMED[:3], status_message(1)]
    ingestion = IngestionThread(ScriptedSource([batch]), RecordingRouter(), clock)
    clock.advance(2)

    ingestion.run_once()

    kinds = {entry.kind: entry for entry in ingestion.decode_errors_by_kind()}
    assert {kind: entry.messages for kind, entry in kinds.items()} == {
        "x5f2": 4,
        "not x5f2": 2,
        "acknowledgement": 2,
        "not da00": 1,
        UNKNOWN_STREAM_KIND: 1,
    }
    assert sum(entry.messages for entry in kinds.values()) == (
        ingestion.stats().decode_errors
    )
    assert kinds["x5f2"].last_reason.startswith("x5f2: ")
    assert kinds[UNKNOWN_STREAM_KIND].last_reason == "no decoder for stream 'metrics'"
    assert {entry.last_at for entry in kinds.values()} == {clock.now_ns()}
    assert ingestion.stats().applied == 1


def test_decode_error_kinds_come_most_frequent_first(clock):
    batch = [MALFORMED[5], MALFORMED[3], MALFORMED[4], MALFORMED[6]]
    ingestion = IngestionThread(ScriptedSource([batch]), RecordingRouter(), clock)

    ingestion.run_once()

    assert [e.kind for e in ingestion.decode_errors_by_kind()] == [
        "acknowledgement",
        "not da00",
        UNKNOWN_STREAM_KIND,
    ]


def test_a_later_error_of_a_kind_replaces_its_reason_and_time(clock):
    first = Message(StreamId.status, b"", 1)
    second = Message(StreamId.status, b"abc", 1)
    ingestion = IngestionThread(
        ScriptedSource([[first], [second]]), RecordingRouter(), clock
    )
    ingestion.run_once()
    (before,) = ingestion.decode_errors_by_kind()
    clock.advance(5)

    ingestion.run_once()

    (after,) = ingestion.decode_errors_by_kind()
    assert (after.kind, after.messages) == ("x5f2", 2)
    assert after.last_at == before.last_at + 5_000_000_000
    assert before.last_reason == "x5f2: buffer too short (0 bytes)"
    assert after.last_reason == "x5f2: buffer too short (3 bytes)"


def test_a_decoder_that_raises_a_bug_is_counted_as_its_own_kind(clock, monkeypatch):
    def broken(payload: bytes, timestamp: int) -> object:
        raise KeyError("bug")

    monkeypatch.setitem(ingestion_module._DECODERS, StreamId.data, broken)
    batch = [result_message(1), status_message(2)]
    ingestion = IngestionThread(ScriptedSource([batch]), RecordingRouter(), clock)

    ingestion.run_once()

    (entry,) = ingestion.decode_errors_by_kind()
    assert (entry.kind, entry.messages) == (DECODER_BUG_KIND, 1)
    assert entry.last_reason == "data: KeyError: 'bug'"
    assert ingestion.stats().applied == 1


def test_kinds_beyond_the_limit_are_counted_together_as_other(clock, monkeypatch):
    reasons = iter(f"kind {i}: broken" for i in range(MAX_DECODE_ERROR_KINDS + 3))

    def refuse(payload: bytes, timestamp: int) -> object:
        raise ingestion_module.DecodeError(next(reasons))

    monkeypatch.setitem(ingestion_module._DECODERS, StreamId.status, refuse)
    batch = [Message(StreamId.status, b"", 1)] * (MAX_DECODE_ERROR_KINDS + 3)
    ingestion = IngestionThread(ScriptedSource([batch]), RecordingRouter(), clock)

    ingestion.run_once()

    kinds = {e.kind: e for e in ingestion.decode_errors_by_kind()}
    assert len(kinds) == MAX_DECODE_ERROR_KINDS + 1
    assert kinds[OTHER_KIND].messages == 3
    assert kinds[OTHER_KIND].last_reason == f"kind {MAX_DECODE_ERROR_KINDS + 2}: broken"


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("x5f2: corrupt flatbuffer (vtable out of range)", "x5f2"),
        ("job heartbeat: 'state' missing", "job heartbeat"),
        ("status_json: not JSON (Expecting value)", "status_json"),
        ("something without a colon", "something without a colon"),
        (": starts with a colon", ": starts with a colon"),
    ],
)
def test_the_kind_of_a_reason_is_what_the_codec_names_first(reason, kind):
    assert decode_error_kind(reason) == kind


def test_a_running_thread_counts_a_malformed_message_by_kind_and_keeps_going(clock):
    source = InMemoryMessageSource()
    ingestion = IngestionThread(source, RecordingRouter(), clock, poll_timeout=0.01)
    ingestion.start()
    try:
        source.publish(Message(StreamId.responses, b"{not json", 1))
        wait_until(lambda: ingestion.stats().decode_errors == 1)
        assert ingestion.decode_errors_by_kind() == (
            DecodeErrorCount(
                "acknowledgement",
                1,
                ingestion.decode_errors_by_kind()[0].last_reason,
                clock.now_ns(),
            ),
        )
        source.publish(status_message(1))
        wait_until(lambda: ingestion.stats().applied == 1)
        assert ingestion.stats().running
    finally:
        assert ingestion.stop()


def test_router_exception_is_counted_and_the_rest_still_applied(clock, caplog):
    def fail(value):
        return isinstance(value, JobStatus) and value.job_id == job_id(3)

    router = RecordingRouter(fail_on=fail)
    batch = [status_message(i) for i in range(6)]
    ingestion = IngestionThread(ScriptedSource([batch]), router, clock)
    with caplog.at_level(logging.ERROR, logger="jobdash.transport.ingestion"):
        ingestion.run_once()
    stats = ingestion.stats()
    assert (stats.applied, stats.route_errors) == (5, 1)
    assert [v.job_id for _, v in router.forwarded] == [
        job_id(i) for i in (0, 1, 2, 4, 5)
    ]
    (record,) = caplog.records
    assert record.exc_info is not None  # the traceback is logged
    assert "consumer rejected" in record.getMessage()


def test_large_poll_is_routed_in_batches_of_max_batch(clock):
    router = RecordingRouter()
    batch = [status_message(i) for i in range(12)]
    ingestion = IngestionThread(ScriptedSource([batch]), router, clock, max_batch=5)
    ingestion.run_once()
    assert router.batches == 3
    assert len(router.forwarded) == 12


def test_failing_batch_close_is_counted_and_does_not_lose_the_counts(clock):
    class ClosingFails(RecordingRouter):
        @contextmanager
        def batch_updates(self):
            yield
            raise RuntimeError("publishing versions failed")

    router = ClosingFails()
    ingestion = IngestionThread(
        ScriptedSource([[status_message(1)], [status_message(2)]]), router, clock
    )
    ingestion.run_once()
    ingestion.run_once()
    stats = ingestion.stats()
    assert (stats.applied, stats.route_errors) == (2, 2)


def test_transport_error_is_counted_recorded_and_survived(clock):
    source = ScriptedSource(
        [ConnectionError("broker gone"), [status_message(1)], [status_message(2)]]
    )
    router = RecordingRouter()
    ingestion = IngestionThread(source, router, clock)
    assert ingestion.run_once() == 0
    failing = ingestion.stats()
    assert failing.transport_errors == 1
    assert failing.last_error == "ConnectionError: broker gone"
    assert failing.transport_failing
    ingestion.run_once()
    recovered = ingestion.stats()
    assert not recovered.transport_failing
    assert recovered.last_error == "ConnectionError: broker gone"  # kept for the UI
    assert recovered.applied == 1


# --- ticks and rate ----------------------------------------------------------------


def test_router_is_ticked_every_tick_interval_by_the_clock(clock):
    router = RecordingRouter()
    ingestion = IngestionThread(ScriptedSource([]), router, clock, tick_interval=0.25)
    ingestion.run_once()
    assert router.ticks == 0
    clock.advance(0.25)
    ingestion.run_once()
    assert router.ticks == 1
    clock.advance(0.1)
    ingestion.run_once()
    assert router.ticks == 1
    clock.advance(0.15)
    ingestion.run_once()
    assert router.ticks == 2


def test_long_stall_gives_one_tick_not_a_burst(clock):
    router = RecordingRouter()
    ingestion = IngestionThread(ScriptedSource([]), router, clock)
    clock.advance(60)
    ingestion.run_once()
    ingestion.run_once()
    assert router.ticks == 1


def test_failing_tick_is_counted_and_ticking_goes_on(clock):
    router = RecordingRouter(fail_tick=True)
    ingestion = IngestionThread(ScriptedSource([]), router, clock)
    for _ in range(3):
        clock.advance(0.25)
        ingestion.run_once()
    assert router.ticks == 3
    assert ingestion.stats().route_errors == 3


def test_rate_is_averaged_over_a_sliding_window(clock):
    script = [[status_message(i) for i in range(50)] for _ in range(20)]
    ingestion = IngestionThread(ScriptedSource(script), RecordingRouter(), clock)
    for _ in range(20):
        clock.advance(1.0)
        ingestion.run_once()
    assert ingestion.stats().rate_per_s == pytest.approx(50.0)
    clock.advance(60.0)
    assert ingestion.stats().rate_per_s == 0.0
    assert ingestion.stats().messages == 1000


def test_last_message_at_is_the_clock_time_of_the_last_batch(clock):
    ingestion = IngestionThread(
        ScriptedSource([[status_message(1)], []]), RecordingRouter(), clock
    )
    assert ingestion.stats().last_message_at is None
    ingestion.run_once()
    at = clock.now_ns()
    clock.advance(3)
    ingestion.run_once()
    assert ingestion.stats().last_message_at == at


def test_stats_are_an_immutable_copy(clock):
    stats = IngestionThread(ScriptedSource([]), RecordingRouter(), clock).stats()
    assert isinstance(stats, IngestionStats)
    with pytest.raises(AttributeError):
        stats.messages = 3  # type: ignore[misc]


# --- the thread --------------------------------------------------------------------


def test_thread_applies_every_valid_message_among_bad_ones_and_survives(clock):
    source = InMemoryMessageSource(max_batch=300)
    router = RecordingRouter(
        fail_on=lambda value: isinstance(value, JobStatus) and value.job_id == job_id(7)
    )
    ingestion = IngestionThread(source, router, clock, poll_timeout=0.01)
    ingestion.start()
    try:
        assert source.started
        expected = 0
        for i in range(3_000):
            source.publish(MALFORMED[i % len(MALFORMED)])
            if i % 3 == 0:
                source.publish(status_message(i))
                expected += i != 7
        wait_until(
            lambda: ingestion.stats().messages == 4_000,
            message=lambda: f"all messages received: {ingestion.stats()}",
        )
        stats = ingestion.stats()
        assert stats.running
        assert (stats.applied, stats.decode_errors) == (expected, 3_000)
        assert stats.route_errors == 0  # job 7's status was never sent (7 % 3 != 0)
        source.publish(status_message(7))
        wait_until(lambda: ingestion.stats().route_errors == 1)
        source.publish(status_message(9_999))
        wait_until(lambda: ingestion.stats().applied == expected + 1)
        assert ingestion.stats().running
    finally:
        assert ingestion.stop()
    assert source.stopped
    assert not ingestion.stats().running


def test_thread_survives_a_failing_source_and_resumes(clock):
    source = ScriptedSource(
        [OSError("network down"), OSError("still down"), [status_message(1)]]
    )
    router = RecordingRouter()
    ingestion = IngestionThread(source, router, clock, poll_timeout=0.01)
    ingestion.start()
    try:
        wait_until(lambda: ingestion.stats().applied == 1)
        stats = ingestion.stats()
        assert stats.transport_errors == 2
        assert stats.last_error == "OSError: still down"
        assert stats.running
    finally:
        ingestion.stop()


def test_thread_ticks_by_the_injected_clock(clock):
    router = RecordingRouter()
    ingestion = IngestionThread(
        ScriptedSource([]), router, clock, poll_timeout=0.01, tick_interval=0.25
    )
    ingestion.start()
    try:
        for expected in (1, 2, 3):
            clock.advance(0.25)
            wait_until(lambda expected=expected: router.ticks >= expected)
        assert router.ticks == 3  # a frozen clock does not tick on its own
    finally:
        ingestion.stop()


def test_thread_is_a_named_daemon_and_stops_cleanly(clock):
    source = InMemoryMessageSource()
    ingestion = IngestionThread(source, RecordingRouter(), clock, name="ingest-test")
    ingestion.start()
    thread = next(t for t in threading.enumerate() if t.name == "ingest-test")
    assert thread.daemon
    assert ingestion.stats().running
    assert ingestion.stop(timeout=5.0)
    assert not thread.is_alive()
    assert source.stopped
    assert ingestion.stop()  # idempotent


def test_start_twice_and_run_once_while_running_are_refused(clock):
    ingestion = IngestionThread(InMemoryMessageSource(), RecordingRouter(), clock)
    ingestion.start()
    try:
        with pytest.raises(RuntimeError, match="already started"):
            ingestion.start()
        with pytest.raises(RuntimeError, match="run_once"):
            ingestion.run_once()
    finally:
        ingestion.stop()


def test_stop_before_start_leaves_the_source_alone(clock):
    source = InMemoryMessageSource()
    assert IngestionThread(source, RecordingRouter(), clock).stop()
    assert not source.stopped


def test_failing_source_start_propagates_and_starts_no_thread(clock):
    class Unreachable(InMemoryMessageSource):
        def start(self):
            raise ConnectionError("no broker")

    ingestion = IngestionThread(Unreachable(), RecordingRouter(), clock)
    with pytest.raises(ConnectionError):
        ingestion.start()
    assert not ingestion.stats().running


@pytest.mark.parametrize(
    "options",
    [{"poll_timeout": -1}, {"tick_interval": 0}, {"max_batch": 0}],
)
def test_nonsensical_options_are_refused(clock, options):
    with pytest.raises(ValueError, match="need"):
        IngestionThread(InMemoryMessageSource(), RecordingRouter(), clock, **options)


# --- end to end: simulated backend → real router and services ---------------------

CATALOGUE = WorkflowCatalogue.model_validate(
    {
        "instrument": "dream",
        "workflows": [
            {
                "id": "dream/detector_view/1",
                "title": "Detector view",
                "source_names": ["mantle", "endcap"],
            }
        ],
    }
)


def test_simulated_backend_through_the_real_orchestrator_reaches_every_service(
    clock,
):
    backend = SimulatedBackend(CATALOGUE, clock, heartbeat_interval=2.0)
    notifications = NotificationLog(clock)
    tracker = PendingCommandTracker(clock, notifications)
    data_service = DataService(clock)
    job_service = JobService(clock, data_service=data_service)
    registry = WorkerRegistry(clock)
    router = MessagePump(
        job_service=job_service,
        data_service=data_service,
        command_tracker=tracker,
        worker_registry=registry,
    )
    ingestion = IngestionThread(backend, router, clock)
    backend.start()
    number = uuid.UUID(int=1)
    commands = [
        WorkflowConfigCommand(
            identifier=WorkflowIdentifier.from_domain(WORKFLOW),
            job_id=JobIdentifier(source_name=source, job_number=number),
        )
        for source in ("mantle", "endcap")
    ]
    tracker.track(commands, verb="Started", subject="Detector view")
    for command in commands:
        backend.send(command)

    def run(seconds):
        for _ in range(round(seconds / 0.1)):
            clock.advance(0.1)
            ingestion.run_once()

    run(5.0)
    mantle = JobId("mantle", number)
    status = job_service.get_job_status(mantle)
    assert status is not None
    assert status.state is JobState.active
    assert len(job_service.job_statuses) == 2
    assert data_service.last_data_time(mantle) is not None
    assert len(registry.workers()) == len(WORKERS)
    assert [n.text for n in notifications.recent(5)] == [
        "Started 2/2 jobs for Detector view"
    ]

    backend.send(
        JobCommand(
            workflow_id=WorkflowIdentifier.from_domain(WORKFLOW), action=JobAction.stop
        )
    )
    run(3.0)
    stopped = job_service.get_job_status(mantle)
    assert stopped is not None
    assert stopped.state is JobState.stopped
    stats = ingestion.stats()
    assert stats.messages == stats.applied > 0
    assert (stats.decode_errors, stats.route_errors, stats.transport_errors) == (
        0,
        0,
        0,
    )


TWO_WORKFLOWS = WorkflowCatalogue.model_validate(
    {
        "instrument": "dream",
        "workflows": [
            {
                "id": "dream/detector_view/1",
                "title": "Detector view",
                "source_names": ["mantle", "endcap"],
            },
            {
                "id": "dream/monitors/1",
                "title": "Monitors",
                "source_names": ["monitor_a"],
            },
        ],
    }
)


class Rig:
    """Simulated backend → ingestion → real MessagePump → real JobOrchestrator."""

    def __init__(self, clock, **backend_options):
        self.clock = clock
        self.backend = SimulatedBackend(TWO_WORKFLOWS, clock, **backend_options)
        self.notifications = NotificationLog(clock)
        tracker = PendingCommandTracker(clock, self.notifications)
        self.workflows = JobOrchestrator(
            TWO_WORKFLOWS, CommandDispatcher(self.backend, tracker=tracker), clock
        )
        router = MessagePump(job_orchestrator=self.workflows, command_tracker=tracker)
        self.ingestion = IngestionThread(self.backend, router, clock)
        self.backend.start()

    def run(self, seconds):
        for _ in range(round(seconds / 0.1)):
            self.clock.advance(0.1)
            self.ingestion.run_once()

    def aggregate(self, workflow_id=WORKFLOW):
        return self.workflows.get_workflow_status(workflow_id)


def test_committed_workflow_goes_pending_active_then_stopped_with_the_simulator(
    clock,
):
    rig = Rig(clock)
    for source in ("mantle", "endcap"):
        rig.workflows.stage_config(WORKFLOW, source, {}, actor=OPERATOR)
    rig.workflows.commit_workflow(WORKFLOW, actor=OPERATOR)
    assert rig.aggregate().aggregate is WorkflowAggregate.PENDING
    rig.run(0.5)  # received; heartbeats "scheduled"
    assert rig.aggregate().label == "PENDING 2/2"
    rig.run(1.5)
    assert rig.aggregate().label == "ACTIVE 2/2"
    rig.backend.inject_warning(WORKFLOW, source_name="endcap")
    rig.run(0.1)
    assert rig.aggregate().label == "WARNING 1/2"
    rig.backend.clear_fault()
    rig.workflows.stop_workflow(WORKFLOW, actor=OPERATOR)
    rig.run(0.5)
    assert rig.aggregate().aggregate is WorkflowAggregate.STOPPING
    rig.run(1.5)
    assert rig.aggregate().aggregate is WorkflowAggregate.STOPPED
    texts = [n.text for n in rig.notifications.recent(10)]
    assert "Started 2/2 jobs for Detector view" in texts
    assert any(text.startswith("Stopped 2/2 jobs") for text in texts)


def test_dead_simulator_makes_the_workflow_stale_and_revival_heals_it(clock):
    rig = Rig(clock)
    rig.workflows.stage_config(WORKFLOW, "mantle", {}, actor=OPERATOR)
    rig.workflows.commit_workflow(WORKFLOW, actor=OPERATOR)
    rig.run(3.0)
    assert rig.aggregate().aggregate is WorkflowAggregate.ACTIVE
    rig.backend.kill()
    rig.run(7.0)  # stale after 6 s without a heartbeat
    assert rig.aggregate().label == "STALE 1/1"
    rig.backend.revive()
    rig.run(0.5)
    assert rig.aggregate().aggregate is WorkflowAggregate.ACTIVE


def test_adoption_scenario_is_adopted_with_the_latest_start_as_current(clock):
    rig = Rig(clock, scenario="adoption")
    spawned_at = clock.now_ns() + 100_000_000  # on the first poll, 0.1 s later
    rig.run(1.0)
    snapshot = rig.workflows.snapshot(WORKFLOW)
    assert snapshot.current is not None
    assert snapshot.current.adopted
    # The first workflow runs under two numbers: the one started 30 min ago is
    # current, the one started 2 h ago is an orphan to stop.
    assert snapshot.current.started_at == spawned_at - 1_800_000_000_000
    running = {job.job_id.job_number for job in rig.backend.status().jobs}
    orphan_numbers = {job_id.job_number for job_id in snapshot.orphans}
    assert len(orphan_numbers) == 1
    assert {snapshot.current.job_number} | orphan_numbers <= running
    assert snapshot.current.job_number not in orphan_numbers
    monitors = rig.workflows.snapshot(MONITORS)
    assert monitors.current is not None
    assert monitors.current.adopted
    assert monitors.orphans == ()
