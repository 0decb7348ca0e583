"""The states a job reports in its heartbeat."""

from __future__ import annotations

from enum import StrEnum


class JobState(StrEnum):
    """A job's state as the backend reports it.

    The eight wire states plus ``unknown`` for any string this version does not
    know: the protocol grows, and the dashboard must show, not crash.
    """

    scheduled = "scheduled"
    active = "active"
    paused = "paused"
    finishing = "finishing"
    stopped = "stopped"
    error = "error"
    warning = "warning"
    pending_context = "pending_context"
    unknown = "unknown"

    @classmethod
    def parse(cls, text: object) -> JobState:
        """Map a wire value to a state; anything unrecognised is ``unknown``."""
        return (
            _BY_VALUE.get(text, cls.unknown) if isinstance(text, str) else cls.unknown
        )

    @property
    def is_final(self) -> bool:
        """A stopped job sends no more heartbeats, so it can never go stale."""
        return self is JobState.stopped


_BY_VALUE: dict[str, JobState] = {state.value: state for state in JobState}
