"""Bytes on the wire ↔ domain objects (docs/production.md §1).

Status heartbeats (x5f2) are the hot path: thousands per second, nearly all
repeating the previous heartbeat of the same job byte for byte. So
:func:`decode_status` memoises the parsed result by the payload's bytes (x5f2
carries no time of its own), and on a miss reads only the ``status_json``
field straight out of the flatbuffer; only a heartbeat that differs from
every recent one pays for the walk, ``json.loads`` and validation. A
``status_json`` longer than :data:`MAX_STATUS_JSON_BYTES` is refused before it
is copied or parsed, so a flood of huge heartbeats costs next to nothing.

Every decoder raises :class:`DecodeError`, and nothing else, on bad input, so
the ingestion thread can count and skip it with a single ``except``.
"""

from __future__ import annotations

import json
import struct
import uuid
from typing import Any

import numpy as np
from pydantic import TypeAdapter, ValidationError
from streaming_data_types import deserialise_da00, serialise_da00, serialise_x5f2
from streaming_data_types.dataarray_da00 import Variable

from jobdash.domain.commands import Acknowledgement, Command
from jobdash.domain.data_result import DataResult
from jobdash.domain.ids import JobId, WorkflowId
from jobdash.domain.job_state import JobState
from jobdash.domain.job_status import JobStatus, ServiceStatus

__all__ = [
    "MAX_STATUS_JSON_BYTES",
    "DecodeError",
    "decode_ack",
    "decode_command",
    "decode_result",
    "decode_status",
    "encode_ack",
    "encode_command",
    "encode_result",
    "encode_status",
]


class DecodeError(ValueError):
    """A message that cannot be decoded; ``reason`` says why, for the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- x5f2 status heartbeats ------------------------------------------------

X5F2_IDENTIFIER = b"x5f2"
SOFTWARE_NAME = "livedata"
#: NICOS status codes, as ESS backends put them in ``status``.
NICOS_CODE = {
    JobState.active: 200,
    JobState.finishing: 200,
    JobState.warning: 210,
    JobState.pending_context: 210,
    JobState.error: 240,
    JobState.scheduled: 235,
    JobState.paused: 235,
    JobState.stopped: 235,
    JobState.unknown: 999,
}
_MAX_TIME_NS = 2**63 - 1

MAX_STATUS_JSON_BYTES = 64 * 1024
"""Longest ``status_json`` accepted. A real heartbeat is a few hundred bytes
(a few KiB with a traceback in ``error``); parsing 1 MB of JSON costs ~6 ms of
the ingestion thread, so anything this long is refused unread."""

# Byte offset of the status_json slot in x5f2's vtable: 4 + 2 * field index (6).
_STATUS_JSON_VT_OFFSET = 16
_unpack_u32 = struct.Struct("<I").unpack_from
_unpack_i32 = struct.Struct("<i").unpack_from
_unpack_u16 = struct.Struct("<H").unpack_from

# Parsed heartbeats by their whole payload, without the envelope time: x5f2
# carries no time of its own, so a job's heartbeats repeat byte for byte until
# its state or message changes, and a hit skips even the flatbuffer walk.
# Bounded by clearing, by entries and by the bytes of the keys: the working
# set (one entry per job and state) refills within one heartbeat interval, and
# clearing is O(1) amortised. Only heartbeats whose status_json is at most
# _CACHE_MAX_KEY_BYTES (and whose envelope adds at most _CACHE_MAX_ENVELOPE_BYTES)
# are memoised. Worst case about 8 MiB of keys plus ~1 KiB of parsed objects
# per entry.
_CACHE_MAX_ENTRIES = 20_000
_CACHE_MAX_KEY_BYTES = 4096
_CACHE_MAX_ENVELOPE_BYTES = 1024
_CACHE_MAX_TOTAL_KEY_BYTES = 8 * 2**20
_status_cache: dict[bytes, tuple[Any, ...] | ServiceStatus] = {}
_status_cache_key_bytes = 0

# One JobId and WorkflowId object per distinct id, shared by every memoised
# heartbeat: the services key their dicts by the first JobId they see, and a
# lookup with the very same object skips the (Python-level) equality test.
# Cleared when full, which only costs speed; kept apart from the memo, so
# clearing the memo keeps the ids the services already hold.
_ID_CAPACITY = 100_000
_job_ids: dict[JobId, JobId] = {}
_workflow_ids: dict[str, WorkflowId] = {}
_new_job_status = tuple.__new__


def _status_json_bytes(payload: bytes) -> bytes:
    """Extract x5f2's ``status_json`` bytes without building the whole table.

    Every offset is bounds-checked before use: ``struct`` accepts negative
    offsets (counting from the end), which a corrupt buffer would exploit.
    """
    if type(payload) is not bytes:
        payload = bytes(payload)
    n = len(payload)
    if n < 12:
        raise DecodeError(f"x5f2: buffer too short ({n} bytes)")
    if payload[4:8] != X5F2_IDENTIFIER:
        raise DecodeError(f"not x5f2: file identifier {payload[4:8]!r}")
    table = _unpack_u32(payload, 0)[0]
    if not 8 <= table <= n - 4:
        raise DecodeError("x5f2: corrupt flatbuffer (root table out of range)")
    vtable = table - _unpack_i32(payload, table)[0]
    if not 0 <= vtable <= n - 4:
        raise DecodeError("x5f2: corrupt flatbuffer (vtable out of range)")
    vtable_size = _unpack_u16(payload, vtable)[0]
    if vtable_size < _STATUS_JSON_VT_OFFSET + 2 or vtable + vtable_size > n:
        raise DecodeError("x5f2: no status_json field")
    field = _unpack_u16(payload, vtable + _STATUS_JSON_VT_OFFSET)[0]
    pos = table + field
    if field == 0 or pos > n - 4:
        raise DecodeError("x5f2: no status_json field")
    start = pos + _unpack_u32(payload, pos)[0]
    if start > n - 4:
        raise DecodeError("x5f2: corrupt flatbuffer (string out of range)")
    length = _unpack_u32(payload, start)[0]
    if start + 4 + length > n:
        raise DecodeError("x5f2: corrupt flatbuffer (string overruns buffer)")
    if length > MAX_STATUS_JSON_BYTES:
        raise DecodeError(
            f"status_json: {length} bytes, over the limit of {MAX_STATUS_JSON_BYTES}"
        )
    return payload[start + 4 : start + 4 + length]


def decode_status(payload: bytes, timestamp: int = 0) -> JobStatus | ServiceStatus:
    """Decode one x5f2 heartbeat.

    Parameters
    ----------
    payload
        The x5f2 flatbuffer.
    timestamp
        Envelope time of the message (ns since the epoch), stored on the
        result to order heartbeats of the same job.

    Returns
    -------
    :
        A :class:`JobStatus`, or a :class:`ServiceStatus` for a service
        heartbeat (``message_type: service``).

    Raises
    ------
    DecodeError
        For anything that is not a well-formed heartbeat, including one whose
        ``status_json`` is longer than :data:`MAX_STATUS_JSON_BYTES`.
    """
    global _status_cache_key_bytes
    if type(payload) is not bytes:
        payload = bytes(payload)  # bytearray, memoryview: not hashable
    cached = _status_cache.get(payload)
    if cached is None:
        raw = _status_json_bytes(payload)
        cached = _parse_status_json(raw)
        size = len(payload)
        if (
            len(raw) <= _CACHE_MAX_KEY_BYTES
            and size - len(raw) <= _CACHE_MAX_ENVELOPE_BYTES
        ):
            if (
                len(_status_cache) >= _CACHE_MAX_ENTRIES
                or _status_cache_key_bytes + size > _CACHE_MAX_TOTAL_KEY_BYTES
            ):
                _status_cache.clear()
                _status_cache_key_bytes = 0
            _status_cache[payload] = cached
            _status_cache_key_bytes += size
    if type(cached) is tuple:
        # JobStatus._make without its call and length check: the memo holds
        # exactly the seven fields before ``timestamp``.
        status: JobStatus = _new_job_status(JobStatus, (*cached, timestamp))
        return status
    assert isinstance(cached, ServiceStatus)
    return cached._replace(timestamp=timestamp)


def _parse_status_json(raw: bytes) -> tuple[Any, ...] | ServiceStatus:
    try:
        document = json.loads(raw)
    except RecursionError:
        raise DecodeError("status_json: nested too deeply") from None
    except ValueError as exc:  # includes JSONDecodeError and UnicodeDecodeError
        raise DecodeError(f"status_json: not JSON ({exc})") from None
    if not isinstance(document, dict):
        raise DecodeError("status_json: not an object")
    message = document.get("message")
    if not isinstance(message, dict):
        raise DecodeError("status_json: 'message' missing or not an object")
    message_type = message.get("message_type", "job")
    if message_type == "job":
        return _parse_job_message(message)
    if message_type == "service":
        return _parse_service_message(message)
    raise DecodeError(f"status_json: unknown message_type {message_type!r}")


def _parse_job_message(message: dict[str, Any]) -> tuple[Any, ...]:
    job_id = message.get("job_id")
    if not isinstance(job_id, dict):
        raise DecodeError("job heartbeat: 'job_id' missing or not an object")
    source_name = job_id.get("source_name")
    if not isinstance(source_name, str) or not source_name:
        raise DecodeError("job heartbeat: 'job_id.source_name' missing or not text")
    job_number = job_id.get("job_number")
    if not isinstance(job_number, str):
        raise DecodeError("job heartbeat: 'job_id.job_number' missing or not text")
    try:
        number = uuid.UUID(job_number)
    except ValueError:
        raise DecodeError(
            f"job heartbeat: bad job_number {job_number[:64]!r}"
        ) from None
    workflow_text = message.get("workflow_id")
    if not isinstance(workflow_text, str):
        raise DecodeError("job heartbeat: 'workflow_id' missing or not text")
    workflow_id = _workflow_ids.get(workflow_text)
    if workflow_id is None:
        try:
            workflow_id = WorkflowId.parse(workflow_text)
        except ValueError as exc:
            raise DecodeError(f"job heartbeat: {exc}") from None
        if len(_workflow_ids) >= _ID_CAPACITY:
            _workflow_ids.clear()
        _workflow_ids[workflow_text] = workflow_id
    if "state" not in message:
        raise DecodeError("job heartbeat: 'state' missing")
    job = JobId(source_name, number)
    shared = _job_ids.get(job)
    if shared is None:
        if len(_job_ids) >= _ID_CAPACITY:
            _job_ids.clear()
        shared = _job_ids[job] = job
    return (
        shared,
        workflow_id,
        JobState.parse(message["state"]),
        _optional_text(message, "error"),
        _optional_text(message, "warning"),
        _optional_time(message, "start_time"),
        _optional_time(message, "end_time"),
    )


def _parse_service_message(message: dict[str, Any]) -> ServiceStatus:
    service_name = message.get("service_name")
    if not isinstance(service_name, str) or not service_name:
        raise DecodeError("service heartbeat: 'service_name' missing or not text")
    count = message.get("active_job_count")
    if count is not None and (type(count) is not int or count < 0):
        raise DecodeError("service heartbeat: 'active_job_count' not a count")
    return ServiceStatus(
        instrument=_optional_text(message, "instrument") or "",
        service_name=service_name,
        worker_id=_optional_text(message, "worker_id") or "",
        state=_optional_text(message, "state") or "unknown",
        started_at=_optional_time(message, "started_at"),
        active_job_count=count,
        error=_optional_text(message, "error"),
        version=_optional_text(message, "version"),
        source_names=_text_list(message, "source_names") or (),
        supported_actions=_action_set(message),
    )


def _text_list(message: dict[str, Any], key: str) -> tuple[str, ...] | None:
    """An optional list of text as a tuple; ``None`` if absent or null."""
    value = message.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DecodeError(f"service heartbeat: {key!r} must be a list of text")
    return tuple(value)


def _action_set(message: dict[str, Any]) -> frozenset[str] | None:
    actions = _text_list(message, "supported_actions")
    return None if actions is None else frozenset(actions)


def _optional_text(message: dict[str, Any], key: str) -> str | None:
    value = message.get(key)
    if value is None or isinstance(value, str):
        return value
    raise DecodeError(f"heartbeat: {key!r} must be text or null")


def _optional_time(message: dict[str, Any], key: str) -> int | None:
    value = message.get(key)
    if value is None:
        return None
    # bool is an int subclass; floats (incl. NaN) are not valid ns times.
    if type(value) is not int or not 0 <= value <= _MAX_TIME_NS:
        raise DecodeError(f"heartbeat: {key!r} must be integer ns since the epoch")
    return value


def encode_status(
    status: JobStatus | ServiceStatus,
    *,
    host_name: str = "localhost",
    process_id: int = 0,
    update_interval_ms: int = 2000,
    software_version: str = "jobdash",
) -> bytes:
    """Encode a heartbeat as ESS backends do (the inverse of :func:`decode_status`).

    ``timestamp`` is not part of the payload; it travels in the envelope.
    """
    message: dict[str, Any]
    if isinstance(status, JobStatus):
        service_id = f"{status.job_id.source_name}:{status.job_id.job_number}"
        code = NICOS_CODE[status.state]
        message = {
            "message_type": "job",
            "state": status.state.value,
            "warning": status.warning_message,
            "error": status.error_message,
            "job_id": {
                "source_name": status.job_id.source_name,
                "job_number": str(status.job_id.job_number),
            },
            "workflow_id": str(status.workflow_id),
            "start_time": status.start_time,
            "end_time": status.end_time,
        }
    else:
        service_id = f"{status.service_name}:{status.worker_id}"
        code = 240 if status.error else 200
        message = {
            "message_type": "service",
            "instrument": status.instrument,
            "service_name": status.service_name,
            "worker_id": status.worker_id,
            "state": status.state,
            "started_at": status.started_at,
            "active_job_count": status.active_job_count,
            "error": status.error,
            "version": status.version,
            "source_names": list(status.source_names),
            "supported_actions": (
                None
                if status.supported_actions is None
                else sorted(status.supported_actions)
            ),
        }
    payload: bytes = serialise_x5f2(
        SOFTWARE_NAME,
        software_version,
        service_id,
        host_name,
        process_id,
        update_interval_ms,
        json.dumps({"status": code, "message": message}),
    )
    return payload


# --- commands and acknowledgements (JSON) ----------------------------------

_command_adapter: TypeAdapter[Command] = TypeAdapter(Command)


def encode_command(command: Command) -> bytes:
    """JSON bytes of a command for the commands topic."""
    return command.model_dump_json().encode()


def decode_command(payload: bytes) -> Command:
    """Parse a command from the commands topic (used by simulated backends)."""
    try:
        return _command_adapter.validate_json(payload)
    except (ValidationError, ValueError, RecursionError) as exc:
        raise DecodeError(f"command: {_first_line(exc)}") from None


def encode_ack(ack: Acknowledgement) -> bytes:
    """JSON bytes of an acknowledgement for the responses topic."""
    return ack.model_dump_json().encode()


def decode_ack(payload: bytes) -> Acknowledgement:
    """Parse an acknowledgement from the responses topic."""
    try:
        return Acknowledgement.model_validate_json(payload)
    except (ValidationError, ValueError, RecursionError) as exc:
        raise DecodeError(f"acknowledgement: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


# --- da00 results ------------------------------------------------------------
# A result's da00 ``source_name`` is the JSON of its key, as ESS backends do:
# {"workflow_id": "<text>", "job_id": {"source_name", "job_number"},
#  "output_name": "<name>"}.


def encode_result(result: DataResult) -> bytes:
    """Encode a job's result as a da00 data array with a ``signal`` variable."""
    key = json.dumps(
        {
            "workflow_id": str(result.workflow_id),
            "job_id": {
                "source_name": result.job_id.source_name,
                "job_number": str(result.job_id.job_number),
            },
            "output_name": result.output_name,
        }
    )
    values = np.asarray(result.data, dtype=np.float64)
    signal = Variable(
        name="signal", data=values, axes=["bin"], shape=values.shape, unit="counts"
    )
    payload: bytes = serialise_da00(
        source_name=key, timestamp_ns=result.timestamp, data=[signal]
    )
    return payload


def decode_result(payload: bytes) -> DataResult:
    """Decode a da00 result, keeping its ``signal`` variable (or the first one)."""
    if len(payload) < 8 or payload[4:8] != b"da00":
        raise DecodeError("not da00: wrong file identifier or too short")
    try:
        array = deserialise_da00(payload)
        key = json.loads(array.source_name)
        source_name = key["job_id"]["source_name"]
        output_name = key["output_name"]
        if not isinstance(source_name, str) or not isinstance(output_name, str):
            raise DecodeError("da00: source_name/output_name in the key must be text")
        job_id = JobId(source_name, uuid.UUID(key["job_id"]["job_number"]))
        workflow_id = WorkflowId.parse(key["workflow_id"])
        variables = {variable.name: variable.data for variable in array.data}
        data = variables.get("signal", next(iter(variables.values()), None))
        return DataResult(
            job_id, workflow_id, output_name, int(array.timestamp_ns), data
        )
    except DecodeError:
        raise
    except Exception as exc:
        # The flatbuffer reader can fail in many ways on corrupt input
        # (IndexError, struct.error, UnicodeDecodeError, ...); all mean the same.
        raise DecodeError(f"da00: {type(exc).__name__}: {_first_line(exc)}") from None
