import contextlib
import json
import struct
import tracemalloc
import uuid

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streaming_data_types import deserialise_x5f2, serialise_da00, serialise_x5f2
from streaming_data_types.dataarray_da00 import Variable

from jobdash.domain.commands import (
    Acknowledgement,
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

NUMBER = uuid.UUID("6f1c2a3b-1111-4222-8333-444455556666")
JOB = JobId("mantle_detector", NUMBER)
WORKFLOW = WorkflowId("dream", "detector_view", 1)
NAMESPACED = WorkflowId("dream", "focussed_dspacing", 2, "powder")
T0 = 1_732_860_000_000_000_000


def x5f2(status_json: str | bytes) -> bytes:
    """An x5f2 buffer carrying exactly ``status_json`` (bytes may be non-UTF-8)."""
    if isinstance(status_json, str):
        return serialise_x5f2(
            "livedata", "test", "src:job", "host", 1, 2000, status_json
        )
    # serialise_x5f2 only takes text: build with a same-length placeholder and
    # swap the raw bytes in.
    placeholder = "\x01" * len(status_json)
    payload = serialise_x5f2(
        "livedata", "test", "src:job", "host", 1, 2000, placeholder
    )
    return payload.replace(placeholder.encode(), status_json, 1)


def job_message(**changes):
    message = {
        "message_type": "job",
        "state": "active",
        "warning": None,
        "error": None,
        "job_id": {"source_name": "mantle_detector", "job_number": str(NUMBER)},
        "workflow_id": "dream/detector_view/1",
        "start_time": T0,
        "end_time": None,
    }
    message.update(changes)
    return message


def heartbeat(message=None, *, status=200, **changes) -> bytes:
    message = job_message(**changes) if message is None else message
    return x5f2(json.dumps({"status": status, "message": message}))


def without(key, message=None):
    message = dict(job_message() if message is None else message)
    del message[key]
    return message


def service_message(**changes):
    message = {
        "message_type": "service",
        "instrument": "dream",
        "service_name": "detector_data",
        "worker_id": "worker-1",
        "state": "running",
        "started_at": T0,
        "active_job_count": 4,
        "error": None,
    }
    message.update(changes)
    return message


# --- status heartbeats: what must be accepted ---------------------------------


def test_job_heartbeat_round_trips_with_envelope_timestamp():
    status = JobStatus(
        JOB,
        WORKFLOW,
        JobState.warning,
        error_message=None,
        warning_message="slow",
        start_time=T0,
        end_time=None,
        timestamp=T0 + 5,
    )
    assert decode_status(encode_status(status), T0 + 5) == status


@pytest.mark.parametrize("state", list(JobState))
def test_every_state_round_trips(state):
    status = JobStatus(JOB, WORKFLOW, state, timestamp=7)
    assert decode_status(encode_status(status), 7) == status


def test_same_payload_with_different_envelope_times_keeps_each_time():
    payload = heartbeat()
    assert decode_status(payload, 1).timestamp == 1
    assert decode_status(payload, 2).timestamp == 2


def test_timestamp_defaults_to_zero():
    assert decode_status(heartbeat()).timestamp == 0


def test_missing_message_type_means_job_heartbeat():
    decoded = decode_status(heartbeat(without("message_type")))
    assert isinstance(decoded, JobStatus)
    assert decoded.job_id == JOB


def test_four_part_workflow_id_decodes_with_namespace():
    decoded = decode_status(heartbeat(workflow_id="dream/powder/focussed_dspacing/2"))
    assert isinstance(decoded, JobStatus)
    assert decoded.workflow_id == NAMESPACED


def test_null_and_absent_times_decode_as_none():
    decoded = decode_status(
        heartbeat(without("end_time", job_message(start_time=None)))
    )
    assert isinstance(decoded, JobStatus)
    assert (decoded.start_time, decoded.end_time) == (None, None)


def test_unknown_state_decodes_as_unknown_rather_than_failing():
    decoded = decode_status(heartbeat(state="rebalancing"))
    assert isinstance(decoded, JobStatus)
    assert decoded.state is JobState.unknown


def test_non_text_state_decodes_as_unknown():
    decoded = decode_status(heartbeat(state=3))
    assert isinstance(decoded, JobStatus)
    assert decoded.state is JobState.unknown


def test_unknown_extra_keys_are_ignored():
    decoded = decode_status(heartbeat(job_message(progress=0.5, extra={"a": [1]})))
    assert decoded == decode_status(heartbeat())


def test_error_and_warning_texts_are_kept_verbatim():
    text = "Traceback (most recent call last):\n  File 'x'\nValueError: <b>bad</b>"
    decoded = decode_status(heartbeat(state="error", error=text, warning="w"))
    assert isinstance(decoded, JobStatus)
    assert (decoded.error_message, decoded.warning_message) == (text, "w")


def test_service_heartbeat_decodes_to_service_status():
    decoded = decode_status(heartbeat(service_message()), 9)
    assert decoded == ServiceStatus(
        instrument="dream",
        service_name="detector_data",
        worker_id="worker-1",
        state="running",
        started_at=T0,
        active_job_count=4,
        error=None,
        timestamp=9,
    )


def test_minimal_service_heartbeat_fills_defaults():
    decoded = decode_status(
        heartbeat({"message_type": "service", "service_name": "mon"})
    )
    assert decoded == ServiceStatus("", "mon", "", "unknown")


def test_service_status_round_trips():
    status = ServiceStatus("dream", "monitor_data", "w2", "error", T0, 0, "oom", 3)
    assert decode_status(encode_status(status), 3) == status


def test_service_heartbeat_decodes_version_sources_and_supported_actions():
    decoded = decode_status(
        heartbeat(
            service_message(
                version="25.11.0",
                source_names=["mantle_detector", "endcap_detector"],
                supported_actions=["stop", "pause", "stop"],
            )
        )
    )
    assert isinstance(decoded, ServiceStatus)
    assert decoded.version == "25.11.0"
    assert decoded.source_names == ("mantle_detector", "endcap_detector")
    assert decoded.supported_actions == frozenset({"stop", "pause"})


def test_a_service_heartbeat_without_actions_did_not_say_rather_than_none():
    decoded = decode_status(heartbeat(service_message()))
    assert isinstance(decoded, ServiceStatus)
    assert decoded.supported_actions is None
    assert (decoded.version, decoded.source_names) == (None, ())
    empty = decode_status(heartbeat(service_message(supported_actions=[])))
    assert isinstance(empty, ServiceStatus)
    assert empty.supported_actions == frozenset()


def test_service_status_with_version_sources_and_actions_round_trips():
    status = ServiceStatus(
        "dream",
        "detector_data",
        "w1",
        "running",
        T0,
        2,
        None,
        5,
        version="25.11.0",
        source_names=("mantle_detector",),
        supported_actions=frozenset({"stop", "reset", "pause", "resume"}),
    )
    assert decode_status(encode_status(status), 5) == status


def test_bytearray_and_memoryview_payloads_decode_like_bytes():
    payload = heartbeat()
    expected = decode_status(payload)
    assert decode_status(bytearray(payload)) == expected  # type: ignore[arg-type]
    assert decode_status(memoryview(payload)) == expected  # type: ignore[arg-type]


def test_a_repeated_heartbeat_decodes_alike_with_its_own_timestamp():
    payload = heartbeat(state="warning", warning="slow")
    first, again = decode_status(payload, T0), decode_status(payload, T0 + 9)
    assert again == first._replace(timestamp=T0 + 9)


def test_heartbeats_of_one_job_in_different_states_share_its_id_objects():
    # The services key their dicts by the first JobId they see; a lookup
    # with the very same object skips the Python-level equality test.
    active = decode_status(heartbeat(state="active"))
    warning = decode_status(heartbeat(state="warning", warning="slow"))
    assert isinstance(active, JobStatus)
    assert isinstance(warning, JobStatus)
    assert warning.job_id is active.job_id
    assert warning.workflow_id is active.workflow_id


def test_the_same_status_json_in_another_envelope_decodes_alike():
    status_json = json.dumps({"status": 200, "message": job_message()})
    other_host = serialise_x5f2(
        "livedata", "26.1", "src:job", "another-host", 4242, 1000, status_json
    )
    assert decode_status(other_host, 5) == decode_status(x5f2(status_json), 5)


def test_a_heartbeat_with_a_huge_envelope_is_decoded_but_not_memoised(monkeypatch):
    monkeypatch.setattr(codec, "_status_cache", {})
    status_json = json.dumps({"status": 200, "message": job_message()})
    payload = serialise_x5f2(
        "livedata",
        "test",
        "src:job",
        "h" * 2 * codec._CACHE_MAX_ENVELOPE_BYTES,
        1,
        2000,
        status_json,
    )
    assert decode_status(payload) == decode_status(x5f2(status_json))
    assert list(codec._status_cache) == [x5f2(status_json)]


def test_memo_cache_stays_bounded(monkeypatch):
    monkeypatch.setattr(codec, "_CACHE_MAX_ENTRIES", 8)
    monkeypatch.setattr(codec, "_status_cache", {})
    for i in range(50):
        decode_status(heartbeat(start_time=i))
        assert len(codec._status_cache) <= 8
    # ...and a cleared cache still decodes correctly.
    decoded = decode_status(heartbeat(start_time=3))
    assert isinstance(decoded, JobStatus)
    assert decoded.start_time == 3


def test_memo_cache_is_bounded_by_the_bytes_of_its_keys(monkeypatch):
    monkeypatch.setattr(codec, "_status_cache", {})
    monkeypatch.setattr(codec, "_status_cache_key_bytes", 0)
    monkeypatch.setattr(codec, "_CACHE_MAX_TOTAL_KEY_BYTES", 3_000)
    for i in range(40):
        decode_status(heartbeat(warning="w" * 500, start_time=i))
        assert sum(map(len, codec._status_cache)) <= 3_000
    assert 1 <= len(codec._status_cache) < 40


# --- status heartbeats: exact wire form of what we encode ---------------------


def test_encoded_job_heartbeat_has_the_ess_envelope_and_json_keys():
    status = JobStatus(JOB, NAMESPACED, JobState.active, start_time=T0)
    raw = deserialise_x5f2(encode_status(status, update_interval_ms=1500))
    assert raw.software_name == "livedata"
    assert raw.service_id == f"mantle_detector:{NUMBER}"
    assert raw.service_id.rpartition(":")[2] == str(NUMBER)
    assert raw.update_interval == 1500
    document = json.loads(raw.status_json)
    assert list(document) == ["status", "message"]
    assert document["status"] == 200
    assert document["message"] == {
        "message_type": "job",
        "state": "active",
        "warning": None,
        "error": None,
        "job_id": {"source_name": "mantle_detector", "job_number": str(NUMBER)},
        "workflow_id": "dream/powder/focussed_dspacing/2",
        "start_time": T0,
        "end_time": None,
    }


@pytest.mark.parametrize(
    ("state", "code"),
    [
        (JobState.active, 200),
        (JobState.finishing, 200),
        (JobState.warning, 210),
        (JobState.pending_context, 210),
        (JobState.error, 240),
        (JobState.scheduled, 235),
        (JobState.paused, 235),
        (JobState.stopped, 235),
        (JobState.unknown, 999),
    ],
)
def test_encoded_status_code_is_the_nicos_code_of_the_state(state, code):
    raw = deserialise_x5f2(encode_status(JobStatus(JOB, WORKFLOW, state)))
    assert json.loads(raw.status_json)["status"] == code


# --- status heartbeats: what must be refused, with DecodeError only -----------


def _corrupt(payload: bytes, fmt: str, offset: int, value: int) -> bytes:
    buffer = bytearray(payload)
    struct.pack_into(fmt, buffer, offset, value)
    return bytes(buffer)


def _layout(payload: bytes) -> dict[str, int]:
    """Offsets of the flatbuffer parts the decoder follows to reach status_json."""
    table = struct.unpack_from("<I", payload, 0)[0]
    vtable = table - struct.unpack_from("<i", payload, table)[0]
    field = struct.unpack_from("<H", payload, vtable + 16)[0]
    pos = table + field
    start = pos + struct.unpack_from("<I", payload, pos)[0]
    return {"table": table, "vtable": vtable, "pos": pos, "start": start}


VALID = heartbeat()
LAYOUT = _layout(VALID)
STATUS_JSON_END = LAYOUT["start"] + 4 + len(deserialise_x5f2(VALID).status_json)

MALFORMED_STATUS = {
    "empty buffer": b"",
    "shorter than a header": b"\x0c\x00\x00\x00x5",
    "truncated in header": VALID[:20],
    "truncated in vtable": VALID[: LAYOUT["table"] + 2],
    "truncated in status_json": VALID[: STATUS_JSON_END - 10],
    "truncated by one byte of status_json": VALID[: STATUS_JSON_END - 1],
    "wrong file identifier": VALID[:4] + b"f144" + VALID[8:],
    "da00 buffer": encode_result(DataResult(JOB, WORKFLOW, "h", 1, [1.0])),
    "plain JSON instead of flatbuffer": json.dumps(job_message()).encode(),
    "root table offset past the end": _corrupt(VALID, "<I", 0, len(VALID) + 100),
    "root table offset zero": _corrupt(VALID, "<I", 0, 0),
    "vtable before the buffer": _corrupt(VALID, "<i", LAYOUT["table"], 10_000),
    "vtable past the end": _corrupt(VALID, "<i", LAYOUT["table"], -10_000),
    "vtable too small for status_json": _corrupt(VALID, "<H", LAYOUT["vtable"], 8),
    "vtable size past the end": _corrupt(VALID, "<H", LAYOUT["vtable"], 60_000),
    "status_json field absent": _corrupt(VALID, "<H", LAYOUT["vtable"] + 16, 0),
    "status_json field offset past the end": _corrupt(
        VALID, "<H", LAYOUT["vtable"] + 16, 60_000
    ),
    "string offset past the end": _corrupt(VALID, "<I", LAYOUT["pos"], 2**31),
    "string length overruns buffer": _corrupt(VALID, "<I", LAYOUT["start"], 10_000),
    "string length huge": _corrupt(VALID, "<I", LAYOUT["start"], 2**32 - 1),
    "empty status_json": x5f2(""),
    "non-JSON": x5f2("status: ok"),
    "truncated JSON": x5f2('{"status": 200, "message": {'),
    "JSON array": x5f2("[200, {}]"),
    "JSON string": x5f2('"active"'),
    "JSON null": x5f2("null"),
    "non-UTF-8": x5f2(b'{"status": 200, "message": {"state": "\xff\xfe"}}'),
    # Nested far beyond the recursion limit, yet within the size limit, so
    # that the parser itself meets them.
    "deeply nested JSON": x5f2("[" * 30_000 + "]" * 30_000),
    "deeply nested message": x5f2(
        '{"message": ' + '{"a": ' * 9_000 + "1" + "}" * 9_001
    ),
    "status_json over the size limit": heartbeat(
        warning="w" * codec.MAX_STATUS_JSON_BYTES
    ),
    "missing message": x5f2('{"status": 200}'),
    "message not an object": x5f2('{"status": 200, "message": "active"}'),
    "unknown message_type": heartbeat(message_type="metrics"),
    "null message_type": heartbeat(message_type=None),
    "missing job_id": heartbeat(without("job_id")),
    "job_id not an object": heartbeat(job_id=f"mantle_detector/{NUMBER}"),
    "missing source_name": heartbeat(job_id={"job_number": str(NUMBER)}),
    "empty source_name": heartbeat(
        job_id={"source_name": "", "job_number": str(NUMBER)}
    ),
    "source_name not text": heartbeat(
        job_id={"source_name": 5, "job_number": str(NUMBER)}
    ),
    "missing job_number": heartbeat(job_id={"source_name": "m"}),
    "job_number not text": heartbeat(
        job_id={"source_name": "m", "job_number": NUMBER.int}
    ),
    "bad uuid": heartbeat(job_id={"source_name": "m", "job_number": "6f1c-not-uuid"}),
    "missing workflow_id": heartbeat(without("workflow_id")),
    "workflow_id with two parts": heartbeat(workflow_id="dream/detector_view"),
    "workflow_id with five parts": heartbeat(workflow_id="a/b/c/d/1"),
    "workflow_id with text version": heartbeat(workflow_id="dream/detector_view/v1"),
    "workflow_id as object": heartbeat(
        workflow_id={"instrument": "dream", "name": "x", "version": 1}
    ),
    "missing state": heartbeat(without("state")),
    "float start_time": heartbeat(start_time=1.5e18),
    "negative start_time": heartbeat(start_time=-1),
    "bool start_time": heartbeat(start_time=True),
    "text start_time": heartbeat(start_time="2025-01-01T00:00:00Z"),
    "start_time beyond int64": heartbeat(start_time=2**63),
    "NaN end_time": x5f2(json.dumps({"message": job_message(end_time=float("nan"))})),
    "error not text": heartbeat(error={"code": 1}),
    "warning not text": heartbeat(warning=["slow"]),
    "service without service_name": heartbeat(
        without("service_name", service_message())
    ),
    "service with negative job count": heartbeat(service_message(active_job_count=-1)),
    "service with bool job count": heartbeat(service_message(active_job_count=True)),
    "service with float started_at": heartbeat(service_message(started_at=1.0)),
    "service with numeric version": heartbeat(service_message(version=25.11)),
    "service with source_names as text": heartbeat(
        service_message(source_names="mantle_detector")
    ),
    "service with a non-text source name": heartbeat(
        service_message(source_names=["mantle", 3])
    ),
    "service with supported_actions as object": heartbeat(
        service_message(supported_actions={"pause": True})
    ),
    "service with a null action": heartbeat(
        service_message(supported_actions=["stop", None])
    ),
}


@pytest.mark.parametrize("payload", MALFORMED_STATUS.values(), ids=MALFORMED_STATUS)
def test_malformed_heartbeat_raises_decode_error(payload):
    with pytest.raises(DecodeError) as info:
        decode_status(payload, 1)
    assert type(info.value) is DecodeError
    assert info.value.reason


def test_a_bad_service_list_is_named_in_the_reason():
    with pytest.raises(DecodeError, match="'supported_actions' must be a list"):
        decode_status(MALFORMED_STATUS["service with a null action"])
    with pytest.raises(DecodeError, match="'source_names' must be a list"):
        decode_status(MALFORMED_STATUS["service with source_names as text"])


def test_decode_error_reason_names_the_problem():
    with pytest.raises(DecodeError, match="bad job_number"):
        decode_status(MALFORMED_STATUS["bad uuid"])
    with pytest.raises(DecodeError, match="file identifier"):
        decode_status(MALFORMED_STATUS["wrong file identifier"])
    for name in ("deeply nested JSON", "deeply nested message"):
        with pytest.raises(DecodeError, match="nested too deeply"):
            decode_status(MALFORMED_STATUS[name])


def _heartbeat_with_status_json_of(size: int) -> bytes:
    """A valid job heartbeat whose status_json is exactly ``size`` bytes."""
    base = len(json.dumps({"status": 200, "message": job_message()}))
    # The warning '"w…w"' (its length + 2 characters) replaces 'null' (4).
    payload = heartbeat(warning="w" * (size - base + 2))
    assert len(deserialise_x5f2(payload).status_json) == size
    return payload


def test_a_status_json_of_exactly_the_size_limit_decodes():
    payload = _heartbeat_with_status_json_of(codec.MAX_STATUS_JSON_BYTES)
    status = decode_status(payload)
    assert isinstance(status, JobStatus)
    assert status.job_id == JOB
    assert status.warning_message == "w" * len(status.warning_message or "")


def test_a_status_json_one_byte_over_the_limit_is_refused_naming_its_size():
    size = codec.MAX_STATUS_JSON_BYTES + 1
    with pytest.raises(DecodeError) as info:
        decode_status(_heartbeat_with_status_json_of(size))
    assert info.value.reason == (
        f"status_json: {size} bytes, over the limit of {codec.MAX_STATUS_JSON_BYTES}"
    )


def test_a_huge_status_json_is_refused_unparsed_and_uncopied(monkeypatch):
    # 10 MB of a valid-looking document: before the limit, json.loads alone
    # took ~60 ms of the ingestion thread per message.
    payload = heartbeat(job_id={"source_name": "m", "job_number": "0" * 10_000_000})

    def parse(raw):
        raise AssertionError("an oversized status_json was parsed")

    monkeypatch.setattr(codec, "_parse_status_json", parse)
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        for _ in range(10):
            with pytest.raises(DecodeError, match="over the limit"):
                decode_status(payload)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Not even sliced out of the buffer: nothing near the payload's size was
    # allocated.
    assert peak - baseline < 64 * 1024, peak - baseline


def test_a_refused_heartbeat_is_refused_again_not_served_from_the_memo():
    payload = MALFORMED_STATUS["bad uuid"]
    for _ in range(3):
        with pytest.raises(DecodeError):
            decode_status(payload)


def test_decoding_never_reads_past_status_json_in_a_truncated_tail():
    # The lean decoder reads nothing after status_json, so a buffer cut after
    # it still yields the heartbeat; everything before must be refused.
    for cut in range(STATUS_JSON_END):
        with pytest.raises(DecodeError):
            decode_status(VALID[:cut])
    assert decode_status(VALID[:STATUS_JSON_END]) == decode_status(VALID)


# --- commands ------------------------------------------------------------------


def config_command(workflow_id: WorkflowId = WORKFLOW) -> WorkflowConfigCommand:
    return WorkflowConfigCommand(
        message_id=uuid.UUID(int=42),
        identifier=WorkflowIdentifier.from_domain(workflow_id),
        job_id=JobIdentifier.from_domain(JOB),
        schedule=Schedule(start_time=None, end_time=T0),
        aux_source_names={"monitor": "monitor_cave"},
        params={"resolution": 128, "projection": "xy_plane", "window": 10.0},
    )


def test_workflow_config_command_has_exactly_the_wire_keys():
    document = json.loads(encode_command(config_command()))
    assert document == {
        "kind": "workflow_config",
        "message_id": str(uuid.UUID(int=42)),
        "identifier": {"instrument": "dream", "name": "detector_view", "version": 1},
        "job_id": {"source_name": "mantle_detector", "job_number": str(NUMBER)},
        "schedule": {"start_time": None, "end_time": T0},
        "aux_source_names": {"monitor": "monitor_cave"},
        "params": {"resolution": 128, "projection": "xy_plane", "window": 10.0},
    }


def test_namespace_appears_in_the_identifier_only_when_set():
    document = json.loads(encode_command(config_command(NAMESPACED)))
    assert document["identifier"] == {
        "instrument": "dream",
        "name": "focussed_dspacing",
        "version": 2,
        "namespace": "powder",
    }


@pytest.mark.parametrize("workflow_id", [WORKFLOW, NAMESPACED])
def test_workflow_config_command_round_trips(workflow_id):
    command = config_command(workflow_id)
    decoded = decode_command(encode_command(command))
    assert decoded == command
    assert isinstance(decoded, WorkflowConfigCommand)
    assert decoded.identifier.to_domain() == workflow_id
    assert decoded.job_id.to_domain() == JOB


def test_job_command_for_one_job_has_exactly_the_wire_keys_and_round_trips():
    command = JobCommand(
        message_id=uuid.UUID(int=7),
        job_id=JobIdentifier.from_domain(JOB),
        action=JobAction.stop,
    )
    payload = encode_command(command)
    assert json.loads(payload) == {
        "kind": "job_command",
        "message_id": str(uuid.UUID(int=7)),
        "job_id": {"source_name": "mantle_detector", "job_number": str(NUMBER)},
        "workflow_id": None,
        "action": "stop",
    }
    assert decode_command(payload) == command


@pytest.mark.parametrize("action", list(JobAction))
def test_job_command_for_a_whole_workflow_round_trips(action):
    command = JobCommand(
        workflow_id=WorkflowIdentifier.from_domain(WORKFLOW), action=action
    )
    payload = encode_command(command)
    document = json.loads(payload)
    assert document["job_id"] is None
    assert document["workflow_id"] == {
        "instrument": "dream",
        "name": "detector_view",
        "version": 1,
    }
    assert document["action"] == action.value
    assert decode_command(payload) == command


MALFORMED_COMMANDS = {
    "empty": b"",
    "not JSON": b"stop it",
    "JSON array": b"[]",
    "unknown kind": b'{"kind": "reboot", "message_id": "'
    + str(NUMBER).encode()
    + b'"}',
    "missing kind": json.dumps({"action": "stop"}).encode(),
    "bad action": json.dumps({"kind": "job_command", "action": "explode"}).encode(),
    "missing identifier": json.dumps(
        {
            "kind": "workflow_config",
            "job_id": {"source_name": "m", "job_number": str(NUMBER)},
        }
    ).encode(),
    "bad message_id": json.dumps(
        {"kind": "job_command", "action": "stop", "message_id": "nope"}
    ).encode(),
    "non-UTF-8": b'{"kind": "job_command", "action": "\xff"}',
    "deeply nested": b"[" * 100_000 + b"]" * 100_000,
}


@pytest.mark.parametrize("payload", MALFORMED_COMMANDS.values(), ids=MALFORMED_COMMANDS)
def test_malformed_command_raises_decode_error(payload):
    with pytest.raises(DecodeError, match=r"^command: "):
        decode_command(payload)


# --- acknowledgements --------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "message"), [("ACK", None), ("ERR", "unknown job\nsecond line")]
)
def test_acknowledgement_has_exactly_the_wire_keys_and_round_trips(response, message):
    ack = Acknowledgement(
        message_id=NUMBER, device=str(JOB), response=response, message=message
    )
    payload = encode_ack(ack)
    assert json.loads(payload) == {
        "message_id": str(NUMBER),
        "device": f"mantle_detector/{NUMBER}",
        "response": response,
        "message": message,
    }
    decoded = decode_ack(payload)
    assert decoded == ack
    assert decoded.ok == (response == "ACK")


def test_acknowledgement_without_message_key_decodes_with_none():
    payload = json.dumps(
        {"message_id": str(NUMBER), "device": "m", "response": "ACK"}
    ).encode()
    assert decode_ack(payload).message is None


MALFORMED_ACKS = {
    "empty": b"",
    "not JSON": b"ACK",
    "JSON array": b'["ACK"]',
    "missing message_id": b'{"device": "m", "response": "ACK"}',
    "bad message_id": b'{"message_id": "x", "device": "m", "response": "ACK"}',
    "unknown response": json.dumps(
        {"message_id": str(NUMBER), "device": "m", "response": "MAYBE"}
    ).encode(),
    "non-UTF-8": b'{"message_id": "\xff", "device": "m", "response": "ACK"}',
    "deeply nested": b"[" * 100_000 + b"]" * 100_000,
}


@pytest.mark.parametrize("payload", MALFORMED_ACKS.values(), ids=MALFORMED_ACKS)
def test_malformed_acknowledgement_raises_decode_error(payload):
    with pytest.raises(DecodeError, match=r"^acknowledgement: "):
        decode_ack(payload)


# --- da00 results --------------------------------------------------------------------


@pytest.mark.parametrize("workflow_id", [WORKFLOW, NAMESPACED])
def test_result_round_trips_its_key_time_and_values(workflow_id):
    values = np.linspace(0.0, 49.0, 50)
    result = DataResult(JOB, workflow_id, "histogram", T0 + 3, values)
    decoded = decode_result(encode_result(result))
    assert decoded[:4] == (JOB, workflow_id, "histogram", T0 + 3)
    np.testing.assert_array_equal(decoded.data, values)


def _da00(source_name: str, variables=None) -> bytes:
    if variables is None:
        variables = [Variable(name="signal", data=np.ones(3), axes=["bin"], shape=(3,))]
    return serialise_da00(source_name=source_name, timestamp_ns=1, data=variables)


def _key(**changes):
    key = {
        "workflow_id": "dream/detector_view/1",
        "job_id": {"source_name": "m", "job_number": str(NUMBER)},
        "output_name": "h",
    }
    key.update(changes)
    return json.dumps(key)


def test_result_without_signal_variable_keeps_the_first_variable():
    other = Variable(name="counts", data=np.arange(4.0), axes=["x"], shape=(4,))
    decoded = decode_result(_da00(_key(), [other]))
    np.testing.assert_array_equal(decoded.data, np.arange(4.0))


MALFORMED_RESULTS = {
    "empty": b"",
    "x5f2 instead of da00": VALID,
    "truncated da00": encode_result(DataResult(JOB, WORKFLOW, "h", 1, np.ones(50)))[
        :60
    ],
    "source_name not JSON": _da00("mantle_detector"),
    "source_name JSON array": _da00("[]"),
    "key without job_id": _da00(
        json.dumps({"workflow_id": "dream/x/1", "output_name": "h"})
    ),
    "key with bad uuid": _da00(_key(job_id={"source_name": "m", "job_number": "x"})),
    "key with bad workflow id": _da00(_key(workflow_id="dream")),
    "key with numeric source_name": _da00(
        _key(job_id={"source_name": 5, "job_number": str(NUMBER)})
    ),
    "key with numeric output_name": _da00(_key(output_name=3)),
    "key without output_name": _da00(
        json.dumps(
            {
                "workflow_id": "dream/x/1",
                "job_id": {"source_name": "m", "job_number": str(NUMBER)},
            }
        )
    ),
}


@pytest.mark.parametrize("payload", MALFORMED_RESULTS.values(), ids=MALFORMED_RESULTS)
def test_malformed_result_raises_decode_error(payload):
    with pytest.raises(DecodeError):
        decode_result(payload)


# --- fuzzing: arbitrary input never raises anything but DecodeError --------------

FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _decodes_or_refuses(decode, payload):
    with contextlib.suppress(DecodeError):
        decode(payload)


@FUZZ
@given(st.binary(max_size=600))
def test_arbitrary_bytes_only_ever_raise_decode_error(payload):
    _decodes_or_refuses(decode_status, payload)
    _decodes_or_refuses(decode_ack, payload)
    _decodes_or_refuses(decode_command, payload)
    _decodes_or_refuses(decode_result, payload)


@FUZZ
@given(st.binary(max_size=200))
def test_arbitrary_bytes_behind_a_valid_header_only_ever_raise_decode_error(tail):
    _decodes_or_refuses(decode_status, VALID[:8] + tail)
    _decodes_or_refuses(decode_result, b"\x10\x00\x00\x00da00" + tail)


VALID_RESULT = encode_result(DataResult(JOB, NAMESPACED, "histogram", T0, np.ones(50)))


def _mutations(payload: bytes):
    return st.lists(
        st.tuples(st.integers(0, len(payload) - 1), st.integers(0, 255)),
        min_size=1,
        max_size=6,
    )


def _mutate(payload: bytes, changes) -> bytes:
    buffer = bytearray(payload)
    for position, value in changes:
        buffer[position] = value
    return bytes(buffer)


@FUZZ
@given(_mutations(VALID), st.integers(0, len(VALID)))
def test_mutated_heartbeats_decode_or_raise_decode_error(changes, cut):
    payload = _mutate(VALID, changes)[: max(cut, 1) if cut < len(VALID) else None]
    try:
        decoded = decode_status(payload, 5)
    except DecodeError:
        return
    assert isinstance(decoded, JobStatus | ServiceStatus)
    assert decoded.timestamp == 5


@FUZZ
@given(_mutations(VALID_RESULT))
def test_mutated_results_decode_or_raise_decode_error(changes):
    try:
        decoded = decode_result(_mutate(VALID_RESULT, changes))
    except DecodeError:
        return
    assert isinstance(decoded, DataResult)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
_job_keys = st.sampled_from(
    [
        "message_type",
        "state",
        "warning",
        "error",
        "job_id",
        "workflow_id",
        "start_time",
        "end_time",
        "service_name",
        "active_job_count",
        "started_at",
    ]
)


@FUZZ
@given(st.dictionaries(_job_keys, _json_values, max_size=6))
def test_heartbeats_with_arbitrary_field_values_decode_or_raise_decode_error(changes):
    message = job_message()
    message.update(changes)
    try:
        decoded = decode_status(x5f2(json.dumps({"message": message})))
    except DecodeError:
        return
    assert isinstance(decoded, JobStatus | ServiceStatus)
