"""Fuzzing the decoders with mutations of real messages.

``test_codec.py`` already feeds arbitrary bytes, byte-overwritten heartbeats
and results, and arbitrary heartbeat field values through the decoders. This
module adds what it lacks:

- a seeded mutation engine over a corpus of real messages of every kind
  (truncate, bit-flip, overwrite, insert, delete, duplicate, splice two
  messages, swap file identifiers), each mutant fed to *all four* decoders;
- structural JSON mutations (delete, replace, wrap, rename, retype, duplicate
  keys, NaN) of real commands, acknowledgements and heartbeat documents;
- memory: the heartbeat memo stays bounded in entries, and decoding 10,000
  distinct payloads stays within a tracemalloc bound.

The only exception a decoder may raise is ``DecodeError``; a decoder that
accepts a mutant returns the right type. No input may take long (each decode
is timed; the module has a pytest timeout). The inputs tried are counted and
written to ``test-artifacts/fuzz-counts.json`` (and printed with ``-s``).
"""

from __future__ import annotations

import contextlib
import json
import random
import time
import tracemalloc
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streaming_data_types import serialise_x5f2

from jobdash.domain.commands import (
    Acknowledgement,
    Command,
    JobAction,
    JobCommand,
    JobIdentifier,
    Schedule,
    WorkflowConfigCommand,
    WorkflowIdentifier,
)
from jobdash.domain.data_result import DataResult
from jobdash.domain.ids import JobId, WorkflowId
from jobdash.domain.job_state import JobState
from jobdash.domain.job_status import JobStatus, ServiceStatus
from jobdash.transport import codec
from jobdash.transport.codec import (
    DecodeError,
    decode_ack,
    decode_command,
    decode_result,
    decode_status,
    encode_ack,
    encode_command,
    encode_result,
    encode_status,
)

pytestmark = pytest.mark.timeout(240)

COUNTS_FILE = (
    Path(__file__).resolve().parents[2] / "test-artifacts" / "fuzz-counts.json"
)
SEED = 20251129
MUTANTS = 15_000
#: A decode that takes longer than this is a hang in the making.
MAX_DECODE_SECONDS = 2.0

WORKFLOW = WorkflowId("dream", "detector_view", 1)
NAMESPACED = WorkflowId("dream", "focussed_dspacing", 2, "powder")
T0 = 1_764_374_400_000_000_000

#: Inputs tried, per test and decoder; written at the end of the module.
COUNTS: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def record_counts() -> Iterator[None]:
    yield
    summary = dict(sorted(COUNTS.items()))
    COUNTS_FILE.parent.mkdir(exist_ok=True)
    COUNTS_FILE.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\ncodec fuzz counts: {json.dumps(summary)}")


# --- a corpus of real messages ----------------------------------------------------


def _job(source: str, n: int) -> JobId:
    return JobId(source, uuid.UUID(int=n))


def _heartbeats() -> list[bytes]:
    statuses: list[JobStatus | ServiceStatus] = [
        JobStatus(_job("mantle_detector", 1), WORKFLOW, JobState.active, start_time=T0),
        JobStatus(
            _job("endcap/backward", 2),
            NAMESPACED,
            JobState.error,
            error_message="Traceback (most recent call last):\n  ValueError: \u00e5",
            start_time=T0,
            end_time=T0 + 10,
        ),
        JobStatus(
            _job("monitor_cave", 3), WORKFLOW, JobState.warning, warning_message="slow"
        ),
        JobStatus(_job("m", 4), WORKFLOW, JobState.unknown),
        ServiceStatus("dream", "detector_data", "worker-1", "running", T0, 4, None),
        ServiceStatus("dream", "monitor_data", "w2", "error", None, None, "oom"),
    ]
    return [encode_status(status) for status in statuses]


def _commands() -> list[Command]:
    return [
        WorkflowConfigCommand(
            identifier=WorkflowIdentifier.from_domain(NAMESPACED),
            job_id=JobIdentifier.from_domain(_job("mantle_detector", 5)),
            schedule=Schedule(start_time=T0, end_time=None),
            aux_source_names={"monitor": "monitor_cave"},
            params={"resolution": 128, "window": 2.5, "mode": "xy", "on": True},
        ),
        *(
            JobCommand(job_id=JobIdentifier.from_domain(_job("m", 6)), action=action)
            for action in JobAction
        ),
        JobCommand(
            workflow_id=WorkflowIdentifier.from_domain(WORKFLOW), action=JobAction.stop
        ),
    ]


def _acks() -> list[bytes]:
    return [
        encode_ack(
            Acknowledgement(message_id=uuid.UUID(int=7), device="m", response="ACK")
        ),
        encode_ack(
            Acknowledgement(
                message_id=uuid.UUID(int=8),
                device=str(_job("mantle_detector", 5)),
                response="ERR",
                message="unknown job\nsecond line \u00e9",
            )
        ),
    ]


def _results() -> list[bytes]:
    return [
        encode_result(DataResult(_job("m", 9), WORKFLOW, "histogram", T0, np.ones(4))),
        encode_result(
            DataResult(
                _job("endcap", 10), NAMESPACED, "i(q)", T0, np.linspace(0, 1, 64)
            )
        ),
    ]


HEARTBEATS = _heartbeats()
COMMAND_OBJECTS = _commands()
COMMANDS = [encode_command(command) for command in COMMAND_OBJECTS]
ACKS = _acks()
RESULTS = _results()
CORPUS = [*HEARTBEATS, *COMMANDS, *ACKS, *RESULTS]

DECODERS: dict[str, tuple[Callable[[bytes], object], type | tuple[type, ...]]] = {
    "decode_status": (decode_status, (JobStatus, ServiceStatus)),
    "decode_command": (decode_command, (WorkflowConfigCommand, JobCommand)),
    "decode_ack": (decode_ack, Acknowledgement),
    "decode_result": (decode_result, DataResult),
}


def decode_everywhere(payload: bytes, test: str) -> int:
    """Feed ``payload`` to every decoder; return how many accepted it.

    Fails the test on any exception other than ``DecodeError``, on a result of
    the wrong type, and on a decode slower than ``MAX_DECODE_SECONDS``.
    """
    accepted = 0
    for name, (decode, expected_type) in DECODERS.items():
        started = time.perf_counter()
        try:
            value = decode(payload)
        except DecodeError as exc:
            refusal: DecodeError | None = exc
        else:
            refusal = None
        if refusal is not None:
            # Exactly DecodeError with a reason, not a subclass leaking through.
            assert type(refusal) is DecodeError
            assert refusal.reason
            COUNTS[f"{test}: {name} refused"] += 1
        else:
            assert isinstance(value, expected_type), (name, payload)
            accepted += 1
            COUNTS[f"{test}: {name} accepted"] += 1
        elapsed = time.perf_counter() - started
        assert elapsed < MAX_DECODE_SECONDS, f"{name} took {elapsed:.1f} s"
    COUNTS[f"{test}: inputs"] += 1
    return accepted


def test_the_corpus_is_real_each_message_decodes_with_its_own_decoder():
    assert all(
        isinstance(decode_status(p), JobStatus | ServiceStatus) for p in HEARTBEATS
    )
    assert [decode_command(p) for p in COMMANDS] == COMMAND_OBJECTS
    assert all(isinstance(decode_ack(p), Acknowledgement) for p in ACKS)
    assert all(isinstance(decode_result(p), DataResult) for p in RESULTS)


# --- the mutation engine -------------------------------------------------------------

_IDENTIFIERS = [b"x5f2", b"da00", b"f144", b"ev44", b'{"ki', b"\x00\x00\x00\x00"]


def _truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data))]


def _bit_flips(rng: random.Random, data: bytes) -> bytes:
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        buffer[rng.randrange(len(buffer))] ^= 1 << rng.randrange(8)
    return bytes(buffer)


def _overwrite(rng: random.Random, data: bytes) -> bytes:
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        # Interesting values for offsets and lengths, not just noise.
        value = rng.choice([0x00, 0xFF, 0x7F, 0x80, rng.randrange(256)])
        buffer[rng.randrange(len(buffer))] = value
    return bytes(buffer)


def _insert(rng: random.Random, data: bytes) -> bytes:
    at = rng.randrange(len(data) + 1)
    noise = rng.choice(
        [
            bytes(rng.randrange(256) for _ in range(rng.randint(1, 16))),
            b"{" * rng.randint(1, 64),
            b'"\\u0000"',
            b"NaN",
            b"\xff\xfe",
        ]
    )
    return data[:at] + noise + data[at:]


def _delete(rng: random.Random, data: bytes) -> bytes:
    start = rng.randrange(len(data))
    return data[:start] + data[start + rng.randint(1, 32) :]


def _duplicate(rng: random.Random, data: bytes) -> bytes:
    start = rng.randrange(len(data))
    chunk = data[start : start + rng.randint(1, 64)]
    return data[:start] + chunk * rng.randint(2, 4) + data[start:]


def _splice(rng: random.Random, data: bytes) -> bytes:
    other = rng.choice(CORPUS)
    return data[: rng.randrange(len(data) + 1)] + other[rng.randrange(len(other)) :]


def _swap_identifier(rng: random.Random, data: bytes) -> bytes:
    return data[:4] + rng.choice(_IDENTIFIERS) + data[8:]


MUTATIONS: list[Callable[[random.Random, bytes], bytes]] = [
    _truncate,
    _bit_flips,
    _overwrite,
    _insert,
    _delete,
    _duplicate,
    _splice,
    _swap_identifier,
]


def mutants(rng: random.Random, count: int) -> Iterator[tuple[str, bytes]]:
    """``count`` mutants of corpus messages, each after one to three mutations."""
    for _ in range(count):
        data = rng.choice(CORPUS)
        names = []
        for _ in range(rng.choices([1, 2, 3], weights=[6, 3, 1])[0]):
            if not data:
                break
            mutation = rng.choice(MUTATIONS)
            names.append(mutation.__name__.lstrip("_"))
            data = mutation(rng, data)
        yield "+".join(names), data


@pytest.mark.slow
def test_mutants_of_real_messages_only_ever_raise_decode_error_in_any_decoder():
    rng = random.Random(SEED)
    accepted = 0
    for name, payload in mutants(rng, MUTANTS):
        COUNTS[f"mutation {name.split('+')[0]}"] += 1
        accepted += decode_everywhere(payload, "mutants") > 0
    # Some mutants stay valid (a flipped bit in a free-text field): both
    # outcomes must have been exercised.
    assert 0 < accepted < MUTANTS


def test_a_mutant_accepted_by_a_decoder_is_fully_formed():
    # Decoded values carry domain types, not half-parsed wire values.
    rng = random.Random(SEED + 1)
    checked = 0
    for _, payload in mutants(rng, 1500):
        try:
            status = decode_status(payload, 5)
        except DecodeError:
            continue
        checked += 1
        if isinstance(status, JobStatus):
            assert isinstance(status.job_id, JobId)
            assert isinstance(status.job_id.job_number, uuid.UUID)
            assert isinstance(status.workflow_id, WorkflowId)
            assert isinstance(status.state, JobState)
            for time_ns in (status.start_time, status.end_time):
                assert time_ns is None or (type(time_ns) is int and time_ns >= 0)
        assert status.timestamp == 5
    COUNTS["accepted mutants checked in depth"] += checked
    assert checked > 0


# --- structural JSON mutations (hypothesis) ------------------------------------------

_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
_json_values = st.recursive(
    _json_scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


def _paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every location in a JSON document, the root included."""
    found = [prefix]
    if isinstance(document, dict):
        for key, value in document.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += _paths(value, (*prefix, index))
    return found


def _get(document: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        document = document[step]
    return document


_MARK = "\x00JOBDASH-FUZZ-MARK\x00"
_OPERATIONS = [
    "replace",
    "delete",
    "wrap_list",
    "wrap_object",
    "rename",
    "stringify",
    "add_key",
    "duplicate_key",
    "nest_deep",
]


@st.composite
def json_mutation(draw: st.DrawFn, originals: list[bytes]) -> bytes:
    """A real JSON message with one structural change at one place, as bytes."""
    document = json.loads(draw(st.sampled_from(originals)))
    path = draw(st.sampled_from(_paths(document)))
    operation = draw(st.sampled_from(_OPERATIONS))
    node = _get(document, path)
    if operation == "duplicate_key":
        # Text level: a JSON object may repeat a key (parsers keep the last).
        key = draw(st.sampled_from(["kind", "message_id", "response", "job_id"]))
        value = json.dumps(draw(_json_values), allow_nan=True)
        text = json.dumps(document)
        return ("{" + json.dumps(key) + ": " + value + ", " + text[1:]).encode()
    if operation == "nest_deep":
        depth = draw(st.integers(100, 5000))
        inner = json.dumps(node, allow_nan=True)
        return _substitute(document, path, "[" * depth + inner + "]" * depth)
    if operation == "delete" and path:
        del _get(document, path[:-1])[path[-1]]
        return json.dumps(document, allow_nan=True).encode()
    if operation == "rename" and path and isinstance(path[-1], str):
        parent = _get(document, path[:-1])
        parent[draw(st.text(max_size=10)) + "_"] = parent.pop(path[-1])
        return json.dumps(document, allow_nan=True).encode()
    if operation == "wrap_list":
        new: Any = [node]
    elif operation == "wrap_object":
        new = {"value": node}
    elif operation == "stringify":
        new = json.dumps(node, allow_nan=True)
    elif operation == "add_key" and isinstance(node, dict):
        new = {**node, draw(st.text(max_size=8)): draw(_json_values)}
    else:  # replace (also what delete/rename/add_key fall back to)
        new = draw(_json_values)
    return _substitute(document, path, json.dumps(new, allow_nan=True))


def _substitute(document: Any, path: tuple[Any, ...], text: str) -> bytes:
    """``document`` with the node at ``path`` replaced by raw JSON ``text``."""
    if not path:
        return text.encode()
    _get(document, path[:-1])[path[-1]] = _MARK
    return json.dumps(document).replace(json.dumps(_MARK), text, 1).encode()


FUZZ = settings(
    max_examples=600,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)


@pytest.mark.slow
@FUZZ
@given(json_mutation(COMMANDS))
def test_structurally_mutated_commands_decode_consistently_or_raise_decode_error(
    payload,
):
    COUNTS["json-shape commands: inputs"] += 1
    try:
        command = decode_command(payload)
    except DecodeError:
        COUNTS["json-shape commands: refused"] += 1
        return
    COUNTS["json-shape commands: accepted"] += 1
    # Whatever is accepted is a well-formed command: it survives a round trip.
    assert decode_command(encode_command(command)) == command


@pytest.mark.slow
@FUZZ
@given(json_mutation(ACKS))
def test_structurally_mutated_acknowledgements_decode_or_raise_decode_error(payload):
    COUNTS["json-shape acks: inputs"] += 1
    try:
        ack = decode_ack(payload)
    except DecodeError:
        COUNTS["json-shape acks: refused"] += 1
        return
    COUNTS["json-shape acks: accepted"] += 1
    assert isinstance(ack.message_id, uuid.UUID)
    assert ack.response in ("ACK", "ERR")
    assert decode_ack(encode_ack(ack)) == ack


_STATUS_DOCUMENTS = [codec._status_json_bytes(payload) for payload in HEARTBEATS]


def _x5f2(status_json: bytes) -> bytes:
    """A real x5f2 envelope around ``status_json`` (any bytes)."""
    placeholder = "\x01" * len(status_json)
    payload = serialise_x5f2("livedata", "t", "s:j", "h", 1, 2000, placeholder)
    return bytes(payload).replace(placeholder.encode(), status_json, 1)


@pytest.mark.slow
@FUZZ
@given(json_mutation(_STATUS_DOCUMENTS))
def test_structurally_mutated_heartbeat_documents_decode_or_raise_decode_error(
    status_json,
):
    COUNTS["json-shape heartbeats: inputs"] += 1
    try:
        status = decode_status(_x5f2(status_json), 3)
    except DecodeError:
        COUNTS["json-shape heartbeats: refused"] += 1
        return
    COUNTS["json-shape heartbeats: accepted"] += 1
    assert isinstance(status, JobStatus | ServiceStatus)
    assert status.timestamp == 3


# --- memory -----------------------------------------------------------------------


def _heartbeat_template() -> tuple[bytes, bytes]:
    """A valid heartbeat and the 19 digits of its start_time, to vary cheaply."""
    status = JobStatus(
        _job("mantle_detector", 1), WORKFLOW, JobState.active, start_time=T0
    )
    return encode_status(status), str(T0).encode()


def distinct_heartbeats(count: int, first: int = 0) -> Iterator[bytes]:
    """Valid heartbeats differing only in start_time (same length, built fast)."""
    template, digits = _heartbeat_template()
    for i in range(first, first + count):
        yield template.replace(digits, str(T0 + i).encode(), 1)


@pytest.fixture
def empty_memo(monkeypatch):
    monkeypatch.setattr(codec, "_status_cache", {})


@pytest.mark.usefixtures("empty_memo")
def test_decoding_ten_thousand_distinct_payloads_stays_within_a_memory_bound():
    rng = random.Random(SEED + 2)
    valid = list(distinct_heartbeats(5_000))
    seen = set(valid)
    malformed: dict[bytes, None] = {}
    while len(malformed) < 5_000:
        for _, payload in mutants(rng, 5_000 - len(malformed)):
            if payload not in seen:
                malformed[payload] = None
    payloads = valid + list(malformed)
    assert len(set(payloads)) == 10_000
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        for payload in payloads:
            with contextlib.suppress(DecodeError):
                decode_status(payload, 1)
            for decode in (decode_ack, decode_command, decode_result):
                with contextlib.suppress(DecodeError):
                    decode(payload)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    memo_entries = len(codec._status_cache)
    per_entry = (current - baseline) / max(memo_entries, 1)
    COUNTS["memory: payloads decoded"] += len(payloads)
    COUNTS["memory: peak growth bytes"] = peak - baseline
    COUNTS["memory: retained bytes per memo entry"] = round(per_entry)
    # Only heartbeats that decode are memoised: the 5,000 valid ones and the
    # mutants that still decode.
    assert 5_000 <= memo_entries < len(payloads)
    assert peak - baseline < 24 * 1024 * 1024, f"peak grew by {peak - baseline} bytes"


@pytest.mark.slow
def test_the_heartbeat_memo_never_holds_more_than_its_entry_limit(monkeypatch):
    limit = 2_000
    monkeypatch.setattr(codec, "_CACHE_MAX_ENTRIES", limit)
    monkeypatch.setattr(codec, "_status_cache", {})
    tracemalloc.start()
    try:
        retained = []
        for round_ in range(5):
            for payload in distinct_heartbeats(limit, first=round_ * limit):
                decode_status(payload)
                assert len(codec._status_cache) <= limit
            retained.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    COUNTS["memo bound: distinct heartbeats decoded"] += 5 * limit
    # Memory after each full round stays flat instead of growing per round.
    assert max(retained) - min(retained) < 0.5 * min(retained), retained


def test_only_heartbeats_up_to_the_key_limit_are_memoised(empty_memo):
    padded = JobStatus(
        _job("mantle_detector", 1),
        WORKFLOW,
        JobState.warning,
        warning_message="w" * (codec._CACHE_MAX_KEY_BYTES + 1),
    )
    decode_status(encode_status(padded))
    assert codec._status_cache == {}
    decode_status(next(distinct_heartbeats(1)))
    assert len(codec._status_cache) == 1


def test_worst_case_memo_size_is_recorded(empty_memo):
    # Heartbeats just under the key limit, e.g. long warning texts: what a full
    # memo of such entries would hold. Recorded for docs/reliability.md.
    sample = 300
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        key_bytes = 0
        for i in range(sample):
            status = JobStatus(
                _job("mantle_detector", i),
                WORKFLOW,
                JobState.warning,
                warning_message="w" * (codec._CACHE_MAX_KEY_BYTES - 400),
            )
            payload = encode_status(status)
            key_bytes = max(key_bytes, len(codec._status_json_bytes(payload)))
            decode_status(payload)
            del payload
        retained = tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()
    assert len(codec._status_cache) == sample
    assert key_bytes <= codec._CACHE_MAX_KEY_BYTES
    per_entry = retained / sample
    COUNTS["memo worst case: bytes per entry"] = round(per_entry)
    COUNTS["memo worst case: bytes when full"] = round(
        per_entry * codec._CACHE_MAX_ENTRIES
    )
    # Two strings of about the key size per entry (the key and the message).
    assert per_entry < 3 * codec._CACHE_MAX_KEY_BYTES
