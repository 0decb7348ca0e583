"""Bad input at scale: 100,000 malformed messages among valid ones.

Everything real from the source onwards: the ``IngestionThread`` on its own
thread, the codec, the ``MessagePump`` router and the services it feeds
(``JobService``, ``JobOrchestrator`` with a committed workflow,
``WorkerRegistry``, ``DataService``, ``PendingCommandTracker``). Each
malformed message is malformed *by construction* (not by a guess that a
random mutation probably breaks it), so the counts must match exactly: every
valid message applied, every bad one counted as a decode error, nothing
routed in error, and the thread still running at the end.

Messages are generated lazily and published with back-pressure, and
payloads are built from bounded pools of variants (building an x5f2 buffer
costs ~0.2 ms), so the test's time and memory stay bounded although the
malformed payloads add up to gigabytes.
"""

from __future__ import annotations

import functools
import json
import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from streaming_data_types import serialise_x5f2

from jobdash.catalogue_file import shipped_catalogue
from jobdash.domain.clock import ManualClock
from jobdash.domain.commands import Acknowledgement
from jobdash.domain.data_result import DataResult
from jobdash.domain.ids import JobId, WorkflowId
from jobdash.domain.job_state import JobState
from jobdash.domain.job_status import JobStatus, ServiceStatus
from jobdash.domain.streams import StreamId
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
from jobdash.transport.codec import encode_ack, encode_result, encode_status
from jobdash.transport.in_memory_sink import InMemoryCommandSink
from jobdash.transport.ingestion import IngestionThread
from jobdash.transport.message_source import InMemoryMessageSource, Message

pytestmark = pytest.mark.slow

#: Where the counts are recorded for docs/reliability.md.
RECORD = (
    Path(__file__).resolve().parents[2] / "test-artifacts" / "ingestion-malformed.json"
)

SEED = 538
MALFORMED_COUNT = 100_000
VALID_COUNT = 20_000
TEN_MB_PAYLOADS = 3
T0 = 1_764_374_400_000_000_000
DETECTOR = WorkflowId("dream", "detector_view", 1)
MONITORS = WorkflowId("dream", "monitor_histogram", 1)
UNCATALOGUED = WorkflowId("dream", "no_such_workflow", 1)
# Valid, though this version does not know them: they decode to ``unknown``.
UNKNOWN_STATES = ["rebalancing", "ACTIVE", "", "paused_for_maintenance"]
KNOWN_STATES = ["active", "warning", "finishing", "scheduled", "pending_context"]


# --- building payloads ------------------------------------------------------------


@functools.lru_cache(maxsize=8192)
def x5f2(status_json: str | bytes) -> bytes:
    """An x5f2 buffer carrying exactly ``status_json`` (bytes may be non-UTF-8)."""
    if isinstance(status_json, str):
        return bytes(
            serialise_x5f2("livedata", "t", "src:job", "host", 1, 2000, status_json)
        )
    placeholder = "\x01" * len(status_json)
    payload = serialise_x5f2("livedata", "t", "src:job", "host", 1, 2000, placeholder)
    return bytes(payload).replace(placeholder.encode(), status_json, 1)


def job_message(job_id: JobId, workflow: WorkflowId, state: str) -> dict[str, Any]:
    return {
        "message_type": "job",
        "state": state,
        "warning": None,
        "error": None,
        "job_id": {
            "source_name": job_id.source_name,
            "job_number": str(job_id.job_number),
        },
        "workflow_id": str(workflow),
        "start_time": T0,
        "end_time": None,
    }


def heartbeat(message: dict[str, Any]) -> bytes:
    return x5f2(json.dumps({"status": 200, "message": message}))


class Expected:
    """What the valid messages should leave behind in the services."""

    def __init__(self) -> None:
        self.valid = 0
        self.job_statuses = 0
        self.latest: dict[JobId, JobStatus] = {}
        self.uncatalogued = 0
        self.acks = 0
        self.workers: set[str] = set()
        self.jobs_with_data: set[JobId] = set()
        self.kinds: Counter[str] = Counter()

    def status(self, status: JobStatus) -> None:
        self.job_statuses += 1
        stored = self.latest.get(status.job_id)
        if stored is None or status.timestamp >= stored.timestamp:
            self.latest[status.job_id] = status
        if status.workflow_id == UNCATALOGUED:
            self.uncatalogued += 1


class ValidMessages:
    """Heartbeats (known and unknown states, workflows), service beats, acks, data."""

    def __init__(self, rng: random.Random, committed: list[JobId]) -> None:
        self._rng = rng
        self._committed = committed
        self._adoptable = [
            JobId(f"monitor_{i % 3}", uuid.UUID(int=rng.getrandbits(128)))
            for i in range(30)
        ]
        self._uncatalogued = [
            JobId(f"bank_{i}", uuid.UUID(int=1000 + i)) for i in range(30)
        ]
        self._data_jobs = committed + self._adoptable[:20]
        self._timestamp = T0

    def make(self, expected: Expected) -> Message:
        rng = self._rng
        self._timestamp += 1
        kind = rng.choices(
            ["committed", "adoptable", "uncatalogued", "service", "ack", "data"],
            weights=[40, 20, 15, 10, 10, 5],
        )[0]
        expected.valid += 1
        expected.kinds[f"valid {kind}"] += 1
        if kind in ("committed", "adoptable", "uncatalogued"):
            pool, workflow = {
                "committed": (self._committed, DETECTOR),
                "adoptable": (self._adoptable, MONITORS),
                "uncatalogued": (self._uncatalogued, UNCATALOGUED),
            }[kind]
            job_id = rng.choice(pool)
            unknown = rng.random() < 0.2
            state = rng.choice(UNKNOWN_STATES if unknown else KNOWN_STATES)
            message = job_message(job_id, workflow, state)
            if rng.random() < 0.1:
                del message["message_type"]  # optional on the wire
            if rng.random() < 0.1:
                message["progress"] = 0.5  # unknown keys are ignored
            if state == "warning":
                message["warning"] = "slow"
            expected.status(
                JobStatus(
                    job_id,
                    workflow,
                    JobState.parse(state),
                    warning_message=message["warning"],
                    start_time=T0,
                    timestamp=self._timestamp,
                )
            )
            return Message(StreamId.status, heartbeat(message), self._timestamp)
        if kind == "service":
            worker = ServiceStatus(
                "dream", "detector_data", f"w{rng.randrange(20)}", "ok"
            )
            expected.workers.add(worker.key)
            return Message(StreamId.status, encode_status(worker), self._timestamp)
        if kind == "ack":
            expected.acks += 1
            ack = Acknowledgement(
                message_id=uuid.UUID(int=rng.getrandbits(128)),
                device="mantle_detector",
                response=rng.choice(["ACK", "ERR"]),
            )
            return Message(StreamId.responses, encode_ack(ack), self._timestamp)
        job_id = rng.choice(self._data_jobs)
        expected.jobs_with_data.add(job_id)
        result = DataResult(job_id, DETECTOR, "histogram", self._timestamp, np.ones(8))
        return Message(StreamId.data, encode_result(result), self._timestamp)


# --- malformed kinds: each is invalid by construction -------------------------------

_BASE_ID = JobId("mantle_detector", uuid.UUID(int=7))
_BASE_JSON = json.dumps(
    {"status": 200, "message": job_message(_BASE_ID, DETECTOR, "active")}
)
_BASE = x5f2(_BASE_JSON)
# Any cut before the end of status_json must be refused (the string overruns).
_STATUS_JSON_END = _BASE.index(_BASE_JSON.encode()) + len(_BASE_JSON)
_JSON_START = _BASE.index(_BASE_JSON.encode())
_ACK = encode_ack(
    Acknowledgement(message_id=uuid.UUID(int=9), device="m", response="ACK")
)
_RESULT = encode_result(DataResult(_BASE_ID, DETECTOR, "h", T0, np.ones(16)))


def _flip(payload: bytes, position: int, rng: random.Random) -> bytes:
    buffer = bytearray(payload)
    buffer[position] ^= 1 << rng.randrange(8)
    return bytes(buffer)


def _base_message(**changes: Any) -> dict[str, Any]:
    message = job_message(_BASE_ID, DETECTOR, "active")
    message.update(changes)
    return message


def truncated(rng: random.Random) -> Message:
    return Message(StreamId.status, _BASE[: rng.randrange(_STATUS_JSON_END)], 1)


def bit_flipped(rng: random.Random) -> Message:
    # In the file identifier, or in the '{' opening status_json: every single
    # bit flip of '{' is a byte no JSON object can start with.
    position = rng.choice([4, 5, 6, 7, _JSON_START])
    return Message(StreamId.status, _flip(_BASE, position, rng), 1)


def wrong_identifier(rng: random.Random) -> Message:
    identifier = rng.choice([b"f144", b"da00", b"ev44", b"\x00\x00\x00\x00"])
    return Message(StreamId.status, _BASE[:4] + identifier + _BASE[8:], 1)


def non_utf8(rng: random.Random) -> Message:
    bad = bytes(rng.choice([0x80, 0xC0, 0xFE, 0xFF]) for _ in range(rng.randint(1, 4)))
    document = _BASE_JSON.replace("mantle_detector", "m_" + "\x01" * len(bad))
    raw = document.encode().replace(b"\x01" * len(bad), bad)
    return Message(StreamId.status, x5f2(raw), 1)


_SHAPES: list[Callable[[random.Random], Any]] = [
    lambda rng: [200, _base_message()],
    lambda rng: {"status": 200, "message": [_base_message()]},
    lambda rng: {"status": 200, "message": "active"},
    lambda rng: {"status": 200},
    lambda rng: {"message": _base_message(job_id=str(_BASE_ID))},
    lambda rng: {"message": _base_message(job_id={"source_name": rng.randrange(9)})},
    lambda rng: {"message": _base_message(workflow_id={"instrument": "dream"})},
    lambda rng: {"message": _base_message(workflow_id="dream/detector_view")},
    lambda rng: {"message": {k: v for k, v in _base_message().items() if k != "state"}},
    lambda rng: {
        "message": _base_message(message_type=rng.choice(["metrics", None, 3]))
    },
    lambda rng: {"message": _base_message(error={"code": rng.randrange(9)})},
    lambda rng: {"message": _base_message(warning=[rng.random()])},
    lambda rng: rng.choice([None, True, 200, "x5f2", []]),
]


def wrong_json_shape(rng: random.Random) -> Message:
    return Message(StreamId.status, x5f2(json.dumps(rng.choice(_SHAPES)(rng))), 1)


_HUGE_SIZES = [int(10**e) for e in (4, 4.25, 4.5, 4.75, 5, 5.25, 5.5, 5.75, 6)]


@functools.lru_cache
def _huge_payload(field: str, size: int) -> bytes:
    if field == "job_number":
        message = _base_message(job_id={"source_name": "m", "job_number": "f" * size})
    else:
        message = _base_message(workflow_id="dream/" * (size // 6))
    return heartbeat(message)


def huge_string(rng: random.Random) -> Message:
    size = rng.choice(_HUGE_SIZES)  # 10 kB .. 1 MB
    field = rng.choice(["job_number", "workflow_id"])
    return Message(StreamId.status, _huge_payload(field, size), 1)


@functools.lru_cache
def _deep_payload(depth: int, in_message: bool) -> bytes:
    if in_message:
        return x5f2('{"message": ' + '{"a": ' * depth + "1" + "}" * (depth + 1))
    return x5f2("[" * depth + "]" * depth)


def deep_nesting(rng: random.Random) -> Message:
    depth = 100_000 if rng.random() < 0.01 else rng.randrange(1_000, 3_000, 250)
    return Message(StreamId.status, _deep_payload(depth, rng.random() < 0.5), 1)


def nan_time(rng: random.Random) -> Message:
    value = rng.choice([float("nan"), float("inf"), float("-inf")])
    field = rng.choice(["start_time", "end_time"])
    return Message(
        StreamId.status,
        x5f2(json.dumps({"message": _base_message(**{field: value})})),
        1,
    )


def absurd_time(rng: random.Random) -> Message:
    value = rng.choice(
        [
            -(10 ** rng.randrange(19)),
            2**63 + rng.randrange(8),
            2 ** rng.randrange(64, 80),
            1.5e18 + rng.randrange(4),
            "yesterday",
            True,
        ]
    )
    field = rng.choice(["start_time", "end_time"])
    return Message(StreamId.status, heartbeat(_base_message(**{field: value})), 1)


def bad_ack(rng: random.Random) -> Message:
    payload = rng.choice(
        [
            _ACK[: rng.randrange(len(_ACK))],  # a proper prefix of an object
            _flip(_ACK, 0, rng),
            b'{"message_id": "\xff\xfe", "device": "m", "response": "ACK"}',
            json.dumps(
                {"message_id": str(uuid.UUID(int=1)), "response": "MAYBE"}
            ).encode(),
            json.dumps([str(uuid.UUID(int=1)), "ACK"]).encode(),
            b"[" * 50_000,
        ]
    )
    return Message(StreamId.responses, payload, 1)


def bad_result(rng: random.Random) -> Message:
    payload = rng.choice(
        [
            _flip(_RESULT, rng.randrange(4, 8), rng),
            _RESULT[: rng.randrange(8)],
            bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 64))).replace(
                b"da00", b"xxxx"
            ),
        ]
    )
    return Message(StreamId.data, payload, 1)


def unknown_stream(rng: random.Random) -> Message:
    return Message(rng.choice(["metrics", "logs", ""]), _BASE, 1)  # type: ignore[arg-type]


# Kind → weight. Huge strings are rarer: each costs milliseconds to decode.
MALFORMED_KINDS: dict[Callable[[random.Random], Message], float] = {
    truncated: 10,
    bit_flipped: 10,
    wrong_identifier: 10,
    non_utf8: 10,
    wrong_json_shape: 10,
    huge_string: 0.3,
    deep_nesting: 3,
    nan_time: 10,
    absurd_time: 10,
    bad_ack: 10,
    bad_result: 10,
    unknown_stream: 4,
}


def ten_megabytes(rng: random.Random) -> Message:
    # A valid-looking document whose job number is 10 MB of text.
    number = "0" * (10 * 1024 * 1024 + rng.randrange(1000))
    message = _base_message(job_id={"source_name": "m", "job_number": number})
    return Message(
        StreamId.status, x5f2.__wrapped__(json.dumps({"message": message})), 1
    )


def messages(
    rng: random.Random, committed: list[JobId], expected: Expected
) -> Iterator[Message]:
    """Valid and malformed messages, interleaved at random."""
    valid = ValidMessages(rng, committed)
    big_at = set(rng.sample(range(MALFORMED_COUNT), TEN_MB_PAYLOADS))
    kinds, weights = list(MALFORMED_KINDS), list(MALFORMED_KINDS.values())
    malformed_left, valid_left = MALFORMED_COUNT, VALID_COUNT
    while malformed_left or valid_left:
        if rng.randrange(malformed_left + valid_left) < malformed_left:
            index = MALFORMED_COUNT - malformed_left
            malformed_left -= 1
            make = ten_megabytes if index in big_at else rng.choices(kinds, weights)[0]
            expected.kinds[make.__name__] += 1
            yield make(rng)
        else:
            valid_left -= 1
            yield valid.make(expected)


# --- the test ---------------------------------------------------------------------


class CountingJobService(JobService):
    """The real JobService, counting the heartbeats routed to it."""

    routed = 0

    def status_updated(self, status: JobStatus) -> None:
        self.routed += 1
        super().status_updated(status)


class CountingJobOrchestrator(JobOrchestrator):
    """The real JobOrchestrator, counting the heartbeats routed to it."""

    routed = 0

    def status_updated(self, status: JobStatus) -> None:
        self.routed += 1
        super().status_updated(status)


def test_every_valid_message_is_applied_and_every_malformed_one_counted():
    rng = random.Random(SEED)
    clock = ManualClock()
    catalogue = shipped_catalogue("dream")
    job_service = CountingJobService(clock)
    job_orchestrator = CountingJobOrchestrator(
        catalogue, CommandDispatcher(InMemoryCommandSink()), clock
    )
    spec = catalogue[DETECTOR]
    for source in spec.source_names:
        job_orchestrator.stage_config(DETECTOR, source, {}, actor=OPERATOR)
    number = job_orchestrator.commit_workflow(DETECTOR, actor=OPERATOR)
    committed = [JobId(source, number) for source in spec.source_names]
    registry = WorkerRegistry(clock)
    data = DataService(clock)
    tracker = PendingCommandTracker(clock, NotificationLog(clock))
    router = MessagePump(
        job_service=job_service,
        job_orchestrator=job_orchestrator,
        data_service=data,
        command_tracker=tracker,
        worker_registry=registry,
    )
    source = InMemoryMessageSource(max_batch=2000)
    ingestion = IngestionThread(source, router, clock, poll_timeout=0.01)
    expected = Expected()
    ingestion.start()
    try:
        published = 0
        for message in messages(rng, committed, expected):
            source.publish(message)
            published += 1
            if published % 2000 == 0:
                # Back-pressure: keep at most a few batches in flight.
                wait_until(
                    lambda published=published: (
                        ingestion.stats().messages >= published - 6000
                    ),
                    timeout=60,
                    message="the ingestion thread to keep up",
                )
        wait_until(
            lambda: (
                ingestion.stats().messages == published
                and ingestion.stats().applied
                + ingestion.stats().decode_errors
                + ingestion.stats().route_errors
                == published
            ),
            timeout=120,
            message=lambda: (
                f"all {published} messages to be handled: {ingestion.stats()}"
            ),
        )
        stats = ingestion.stats()
        assert stats.running
    finally:
        assert ingestion.stop(), "the ingestion thread did not stop"

    record = {
        "messages": published,
        "applied": stats.applied,
        "refused": stats.decode_errors,
        "routing_errors": stats.route_errors,
        "lost": published - stats.applied - stats.decode_errors - stats.route_errors,
        "thread_running_at_end": stats.running,
        "kinds": dict(sorted(expected.kinds.items())),
    }
    RECORD.parent.mkdir(exist_ok=True)
    RECORD.write_text(json.dumps(record, indent=2) + "\n")
    print(f"\ningestion at scale: {json.dumps(record)}")
    assert published == MALFORMED_COUNT + VALID_COUNT
    assert stats.messages == published
    assert stats.decode_errors == MALFORMED_COUNT
    assert stats.route_errors == 0
    assert stats.applied == expected.valid == VALID_COUNT

    # Every valid heartbeat reached both status consumers...
    assert job_service.routed == job_orchestrator.routed == expected.job_statuses
    # ...and each job ends with its newest heartbeat, unknown states included.
    assert job_service.job_statuses == expected.latest
    assert any(s.state is JobState.unknown for s in expected.latest.values())
    state = job_orchestrator.get_workflow_state(DETECTOR)
    assert state.current is not None
    assert state.current.job_number == number
    for job_id in committed:
        job = state.current.jobs[job_id.source_name]
        assert job.status == expected.latest[job_id]
    assert job_orchestrator.counters()["unknown_workflow"] == expected.uncatalogued

    # The other streams' consumers saw theirs.
    assert {worker.key for worker in registry.workers()} == expected.workers
    assert tracker.ignored_acks == expected.acks
    assert data.jobs_with_data() == expected.jobs_with_data
