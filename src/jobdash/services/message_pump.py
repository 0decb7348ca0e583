"""The message pump: forwards each decoded message to the services that consume it.

Every consumer is optional, so the composition root alone decides what runs:
seed phase 1 passes both ``job_service`` and ``job_orchestrator``; phase 2
drops ``job_service`` and nothing here changes. Status consumers are typed by
the :class:`StatusConsumer` protocol, so this module imports neither
``JobService`` nor ``JobOrchestrator``, and neither of them knows the other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Protocol

from jobdash.domain.commands import Acknowledgement
from jobdash.domain.data_result import DataResult
from jobdash.domain.job_status import JobStatus, ServiceStatus
from jobdash.domain.streams import StreamId
from jobdash.services.command_tracker import PendingCommandTracker
from jobdash.services.data_service import DataService
from jobdash.services.worker_registry import WorkerRegistry


class _Batching(Protocol):
    """A service that publishes versions and has time-dependent state."""

    def batch_updates(self) -> AbstractContextManager[object]:
        """Defer change notifications to the end of the batch."""
        ...

    def tick(self) -> None:
        """Re-evaluate time-dependent state (staleness, retention)."""
        ...


class StatusConsumer(_Batching, Protocol):
    """What the router needs from a model fed with job heartbeats."""

    def status_updated(self, status: JobStatus) -> None:
        """Take one heartbeat."""
        ...


class MessagePump:
    """Routes ``(stream, value)`` pairs; fans batches and ticks out.

    Called only by the ingestion thread. A consumer that is absent (``None``)
    is simply not fed: that is configuration, not an error.

    Parameters
    ----------
    job_service
        The legacy job-level model (seed phase 1 only).
    job_orchestrator
        The workflow-level model.
    data_service, command_tracker, worker_registry
        Consumers of results, acknowledgements and service heartbeats.
    status_listeners
        Further heartbeat consumers, e.g. the timeline's ``StatusHistory``;
        fed after the two models, with the same error isolation.
    """

    def __init__(
        self,
        *,
        job_service: StatusConsumer | None = None,
        job_orchestrator: StatusConsumer | None = None,
        data_service: DataService | None = None,
        command_tracker: PendingCommandTracker | None = None,
        worker_registry: WorkerRegistry | None = None,
        status_listeners: Sequence[StatusConsumer] = (),
    ) -> None:
        self._status_consumers = (
            *(c for c in (job_service, job_orchestrator) if c is not None),
            *status_listeners,
        )
        # Bound once: the per-heartbeat loop then does no attribute lookups.
        self._status_updated = tuple(c.status_updated for c in self._status_consumers)
        self._data_service = data_service
        self._command_tracker = command_tracker
        self._worker_registry = worker_registry
        self._batched: tuple[_Batching, ...] = (
            *self._status_consumers,
            *(s for s in (data_service, worker_registry) if s is not None),
        )
        self._tickers: tuple[Callable[[], None], ...] = tuple(
            service.tick
            for service in (*self._batched, command_tracker)
            if service is not None
        )

    def forward(self, stream_id: StreamId, value: object) -> None:
        """Hand ``value``, decoded from ``stream_id``, to its consumers.

        A ``JobStatus`` reaches every status consumer even if an earlier one
        raises; the exception is re-raised afterwards (an ``ExceptionGroup`` if
        several raised) so the caller counts the routing error.

        Raises
        ------
        ValueError
            ``stream_id`` is not a known stream.
        TypeError
            ``value`` is not something ``stream_id`` carries.
        """
        if type(value) is JobStatus and stream_id is StreamId.status:
            # The hot path (nearly every message): _route_status() inlined.
            errors: list[Exception] | None = None
            for status_updated in self._status_updated:
                try:
                    status_updated(value)
                except Exception as exc:
                    if errors is None:
                        errors = []
                    errors.append(exc)
            if errors:
                _reraise(errors, "status_updated")
            return
        if stream_id == StreamId.status:
            if isinstance(value, JobStatus):
                self._route_status(value)
            elif isinstance(value, ServiceStatus):
                if self._worker_registry is not None:
                    self._worker_registry.service_status_updated(value)
            else:
                raise _wrong_type(stream_id, value, "JobStatus or ServiceStatus")
        elif stream_id == StreamId.responses:
            if not isinstance(value, Acknowledgement):
                raise _wrong_type(stream_id, value, "Acknowledgement")
            if self._command_tracker is not None:
                self._command_tracker.ack_received(value)
        elif stream_id == StreamId.data:
            if not isinstance(value, DataResult):
                raise _wrong_type(stream_id, value, "DataResult")
            if self._data_service is not None:
                self._data_service.result_received(value)
        else:
            raise ValueError(
                f"cannot route a message from unknown stream {stream_id!r}"
            )

    @contextmanager
    def batch_updates(self) -> Iterator[None]:
        """Open a batch on every present service that publishes versions."""
        with ExitStack() as stack:
            for service in self._batched:
                stack.enter_context(service.batch_updates())
            yield

    def tick(self) -> None:
        """Tick every present service; each is ticked even if another raises."""
        errors: list[Exception] = []
        for tick in self._tickers:
            try:
                tick()
            except Exception as exc:
                errors.append(exc)
        _reraise(errors, "tick")

    def _route_status(self, status: JobStatus) -> None:
        # Per heartbeat: no allocation unless a consumer raises.
        errors: list[Exception] | None = None
        for status_updated in self._status_updated:
            try:
                status_updated(status)
            except Exception as exc:
                if errors is None:
                    errors = []
                errors.append(exc)
        if errors:
            _reraise(errors, "status_updated")


def _reraise(errors: list[Exception], what: str) -> None:
    """Re-raise the one failure, or all of them as an ``ExceptionGroup``."""
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ExceptionGroup(f"{len(errors)} consumers failed in {what}", errors)


def _wrong_type(stream_id: StreamId, value: object, expected: str) -> TypeError:
    return TypeError(
        f"cannot route {type(value).__name__} from stream {stream_id!s}: expected {expected}"
    )
