"""Which stream a message came from; the router dispatches on it."""

from __future__ import annotations

from enum import StrEnum


class StreamId(StrEnum):
    """The backend → dashboard streams (Kafka topics ``{instrument}_livedata_*``)."""

    status = "heartbeat"
    """x5f2 job and service heartbeats."""
    responses = "responses"
    """JSON command acknowledgements."""
    data = "data"
    """da00 results."""


STATUS_STREAM_ID = StreamId.status
RESPONSES_STREAM_ID = StreamId.responses
DATA_STREAM_ID = StreamId.data
