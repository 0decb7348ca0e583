"""What a dashboard page reads from the process's services, as a protocol.

The composition root builds the services and the transport into one
``Services`` object; the page only reads them. Depending on this protocol
instead of on ``Services`` keeps ``jobdash.ui`` from importing the
composition root or the transport: the Kafka health, the ingestion counters
and the simulated backend are seen through the small reading protocols of the
views that show them. ``Services`` satisfies it structurally (mypy checks it
where ``jobdash serve`` passes one to :func:`~jobdash.ui.page.build_page`); a
test can hand the page anything else that does.

Members are read-only properties, so that frozen dataclass fields match.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from jobdash.domain.access import AccessPolicy
from jobdash.domain.clock import Clock, ManualClock
from jobdash.domain.workflow_catalogue import WorkflowCatalogue
from jobdash.services.data_service import DataService
from jobdash.services.job_controller import JobController
from jobdash.services.job_orchestrator import JobOrchestrator
from jobdash.services.job_service import JobService
from jobdash.services.notifications import NotificationLog
from jobdash.services.session_registry import SessionRegistry
from jobdash.services.status_history import StatusHistory
from jobdash.settings import Settings
from jobdash.ui.header import IngestionReading
from jobdash.ui.jobs.job_table_rows import JobTableRows
from jobdash.ui.simulator_panel import SimulatorControls
from jobdash.ui.system_status_view import (
    DecodeErrorReading,
    KafkaLagReading,
    WorkerStatusReading,
)

__all__ = ["DashboardServices", "IngestionSource", "KafkaHealthSource", "WorkerSource"]


class IngestionSource(Protocol):
    """The ingestion thread, as the header and the status view read it."""

    def stats(self) -> IngestionReading: ...
    def decode_errors_by_kind(self) -> Sequence[DecodeErrorReading]: ...


class KafkaHealthSource(Protocol):
    """The Kafka connection health, as the header and the status view read it."""

    def snapshot(self) -> KafkaLagReading: ...


class WorkerSource(Protocol):
    """The registry of backend workers, as the header, the status view and the
    Pause/Resume buttons read it."""

    def workers(self) -> Sequence[WorkerStatusReading]: ...
    def sources_supporting(self, action: str) -> frozenset[str]: ...


class DashboardServices(Protocol):
    """The process-wide services one browser session's page is built over.

    Only what the page and its views read; the composition root's
    ``Services`` documents what each one is.
    """

    @property
    def settings(self) -> Settings: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def manual_clock(self) -> ManualClock | None: ...
    @property
    def catalogue(self) -> WorkflowCatalogue: ...
    @property
    def policy(self) -> AccessPolicy: ...
    @property
    def notifications(self) -> NotificationLog: ...
    @property
    def data_service(self) -> DataService: ...
    @property
    def job_service(self) -> JobService | None: ...
    @property
    def job_table_rows(self) -> JobTableRows | None: ...
    @property
    def job_controller(self) -> JobController: ...
    @property
    def job_orchestrator(self) -> JobOrchestrator: ...
    @property
    def status_history(self) -> StatusHistory: ...
    @property
    def sessions(self) -> SessionRegistry: ...
    @property
    def worker_registry(self) -> WorkerSource: ...
    @property
    def ingestion(self) -> IngestionSource: ...
    @property
    def kafka_health(self) -> KafkaHealthSource | None: ...
    @property
    def simulator(self) -> SimulatorControls | None: ...
