"""The composition root: every service, the transport and the ingestion thread.

This is the one place where jobdash is wired together
(``docs/architecture.md``), so that swapping the simulated backend for Kafka,
or dropping the legacy ``JobService`` (seed phase 2), is a change of one
constructor call here. The dashboard (``app.py``, ``jobdash serve``), the
terminal commands (``jobdash status/start/stop``, through
:class:`jobdash.cli.kafka_session.KafkaSession`) and the benchmarks all build
their services with :func:`build_services`.

- :func:`build_services` is pure wiring: it builds everything from
  :class:`~jobdash.settings.Settings` and starts nothing. Its keyword
  arguments are the hooks the terminal commands need (their own clock,
  catalogue, outcome tracker and Kafka streams).
- :func:`get_services` returns the one process-wide :class:`Services`,
  created and started once under a lock however many browser sessions open,
  and stopped at interpreter exit.

Browser sessions share these services and only read them (plus the action
methods); each session builds its own widgets in :mod:`jobdash.ui.page`.
"""

from __future__ import annotations

import atexit
import logging
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from jobdash.catalogue_file import load_catalogue_file, shipped_catalogue
from jobdash.domain.access import AccessPolicy
from jobdash.domain.clock import Clock, ManualClock, ScaledClock, SystemClock
from jobdash.domain.command_sink import CommandSink
from jobdash.domain.ids import seeded_job_numbers
from jobdash.domain.streams import StreamId
from jobdash.domain.workflow_catalogue import WorkflowCatalogue
from jobdash.services.audit_log import AuditLog
from jobdash.services.command_dispatcher import CommandDispatcher
from jobdash.services.command_tracker import PendingCommandTracker
from jobdash.services.config_store import ConfigStore
from jobdash.services.data_service import DataService
from jobdash.services.job_controller import JobController
from jobdash.services.job_orchestrator import JobOrchestrator
from jobdash.services.job_service import JobService
from jobdash.services.message_pump import MessagePump
from jobdash.services.notifications import NotificationLevel, NotificationLog
from jobdash.services.session_registry import SessionRegistry
from jobdash.services.status_history import StatusHistory
from jobdash.services.worker_registry import WorkerRegistry
from jobdash.settings import Settings, TransportKind
from jobdash.transport.ingestion import IngestionThread
from jobdash.transport.message_source import MessageSource
from jobdash.transport.simulated import SimulatedBackend
from jobdash.ui.jobs.job_table_rows import JobTableRows

if TYPE_CHECKING:
    from jobdash.transport.kafka_health import KafkaHealth
    from jobdash.transport.kafka_positioning import PositionedConsumers

__all__ = [
    "FROZEN_START_NS",
    "Services",
    "StartupError",
    "build_services",
    "get_services",
    "make_clock",
]

_logger = logging.getLogger(__name__)

#: Where a frozen clock starts: 2025-11-29T12:00:00Z (screenshots show it).
FROZEN_START_NS = 1_764_417_600_000_000_000

#: Seconds the atexit hook waits for the ingestion thread to finish.
_STOP_TIMEOUT = 5.0


class StartupError(RuntimeError):
    """The settings cannot be turned into a running dashboard (not a bug)."""


@dataclass(frozen=True, eq=False)
class Services:
    """Everything one jobdash process runs, shared by all browser sessions.

    Attributes
    ----------
    settings
        What it was built from.
    clock
        The one clock of the process: ``SystemClock``, ``ScaledClock``, or a
        ``ManualClock`` that only the simulator panel advances (frozen clock).
    catalogue
        The workflows of the instrument.
    config_store
        Persistence of staged configs and current job numbers.
    notifications
        Operator feedback shared by every session (toasts and the log).
    tracker
        Outstanding commands and their acknowledgements.
    data_service
        Latest results per job.
    job_service
        The legacy job-level model; ``None`` once the seed's phase 2 drops it.
    job_table_rows
        What every session's job table shows, computed once for all of them
        (``None`` without ``job_service``). Plain data, no Panel.
    job_orchestrator
        The workflow-level model.
    job_controller
        Row actions of the legacy job view.
    commands
        The one command path (authorize → track → send → audit) that
        ``job_orchestrator``, ``job_controller`` and ``job_service`` act
        through.
    worker_registry
        Service heartbeats of the backend workers.
    sessions
        The open browser sessions of this dashboard (each page registers
        its own), for the System status view.
    status_history
        Recent status changes, for the timeline.
    router
        Forwards each decoded message to the services (``MessagePump``).
    source, sink
        The transport: where messages come from and commands go to.
    ingestion
        The only writer of service state.
    simulator
        The simulated backend when ``transport`` is ``simulated`` (it is then
        also ``source`` and ``sink``), else ``None``.
    kafka_health
        Connection health of the Kafka transport, else ``None``.
    kafka_positions
        The Kafka consumers' positioning at start-up (tells when every topic
        is read from the start time), else ``None``.
    policy
        Who may act, read-only included (the one switch): each session asks
        it for its actor (``policy.actor_for(pn.state.user)``).
    audit
        The audit trail of commands, shared by every action service
        (``None`` when ``audit_file`` is ``none``).
    """

    settings: Settings
    clock: Clock
    catalogue: WorkflowCatalogue
    config_store: ConfigStore
    notifications: NotificationLog
    tracker: PendingCommandTracker
    data_service: DataService
    job_service: JobService | None
    job_orchestrator: JobOrchestrator
    job_controller: JobController
    commands: CommandDispatcher
    worker_registry: WorkerRegistry
    sessions: SessionRegistry
    status_history: StatusHistory
    router: MessagePump
    source: MessageSource
    sink: CommandSink
    ingestion: IngestionThread
    simulator: SimulatedBackend | None = None
    kafka_health: KafkaHealth | None = None
    kafka_positions: PositionedConsumers | None = None
    policy: AccessPolicy = field(default_factory=AccessPolicy)
    audit: AuditLog | None = None
    job_table_rows: JobTableRows | None = None

    @property
    def manual_clock(self) -> ManualClock | None:
        """The clock, if only explicit steps move it (frozen clock)."""
        return self.clock if isinstance(self.clock, ManualClock) else None

    def start(self) -> None:
        """Start the command sink (if separate) and the ingestion thread."""
        if self._separate_sink:
            _call_if_present(self.sink, "start")
        self.ingestion.start()

    def stop(self, timeout: float = _STOP_TIMEOUT) -> None:
        """Stop ingestion (joined with ``timeout``), then the command sink."""
        try:
            self.ingestion.stop(timeout=timeout)
        finally:
            if self._separate_sink:
                _call_if_present(self.sink, "stop")

    @property
    def _separate_sink(self) -> bool:
        # The simulated backend is source and sink at once; the ingestion
        # thread starts and stops it as the source.
        sink: object = self.sink
        return sink is not self.source


def make_clock(settings: Settings) -> Clock:
    """The process clock the settings ask for.

    ``frozen_clock`` wins: a ``ManualClock`` at :data:`FROZEN_START_NS`.
    Otherwise ``clock_speed`` other than 1 gives a ``ScaledClock``.
    """
    if settings.frozen_clock:
        return ManualClock(FROZEN_START_NS)
    if settings.clock_speed != 1:
        return ScaledClock(settings.clock_speed)
    return SystemClock()


def load_catalogue(settings: Settings) -> WorkflowCatalogue:
    """``settings.catalogue`` if set, else the instrument's shipped catalogue.

    Raises
    ------
    CatalogueError
        Naming the file and the first bad field.
    StartupError
        The catalogue describes another instrument than ``settings.instrument``.
    """
    if settings.catalogue is None:
        return shipped_catalogue(settings.instrument)
    catalogue = load_catalogue_file(settings.catalogue)
    if catalogue.instrument != settings.instrument:
        raise StartupError(
            f"workflow catalogue {settings.catalogue} is for instrument "
            f"{catalogue.instrument!r}, but the dashboard is set up for "
            f"{settings.instrument!r} (set JOBDASH_INSTRUMENT or --instrument)"
        )
    return catalogue


def audit_log(settings: Settings, clock: Clock) -> AuditLog | None:
    """The audit trail the settings ask for (``audit_file``); ``None`` if off."""
    if settings.audit_file is None:
        return None
    return AuditLog(
        settings.audit_file,
        clock,
        max_bytes=settings.audit_max_bytes,
        fsync=settings.audit_fsync,
    )


def build_services(
    settings: Settings,
    *,
    legacy_job_view: bool = True,
    clock: Clock | None = None,
    catalogue: WorkflowCatalogue | None = None,
    tracker_type: type[PendingCommandTracker] = PendingCommandTracker,
    kafka_streams: Sequence[StreamId] = tuple(StreamId),
    ingestion_name: str = "jobdash-ingestion",
    transport: tuple[MessageSource, CommandSink] | None = None,
) -> Services:
    """Build every service and the transport from ``settings``; start nothing.

    Parameters
    ----------
    settings
        The deployment's settings; ``settings.access_policy()`` decides who
        may act (read-only included) for every service.
    legacy_job_view
        Build the legacy ``JobService`` and route heartbeats to it (seed
        phase 1). ``False`` is phase 2: the router feeds ``JobOrchestrator``
        only and the page shows the workflow view alone.
    clock
        The process clock; default :func:`make_clock` of ``settings``.
    catalogue
        The workflows; default :func:`load_catalogue` of ``settings``.
    tracker_type
        The command tracker's class (the terminal commands keep each
        command's outcome with a subclass).
    kafka_streams
        What the Kafka transport reads (a ``jobdash status`` reads heartbeats
        only); unused by the simulated transport.
    ingestion_name
        The ingestion thread's name (as thread dumps and logs show it).
    transport
        A message source and command sink to use instead of the ones
        ``settings.transport`` names (the benchmarks replay prepared
        heartbeats from memory); ``None``: build them from the settings.

    Raises
    ------
    CatalogueError
        The catalogue file is unreadable or invalid (the message names the
        bad field).
    StartupError
        The transport cannot be set up (e.g. Kafka unavailable), or the
        catalogue is for another instrument.
    ValueError
        A setting the transport refuses (e.g. an unknown simulator scenario).
    """
    clock = make_clock(settings) if clock is None else clock
    catalogue = load_catalogue(settings) if catalogue is None else catalogue
    stale_after = settings.effective_stale_after

    policy = settings.access_policy()
    audit = audit_log(settings, clock)
    notifications = NotificationLog(clock)
    tracker = tracker_type(
        clock, notifications, timeout=settings.command_timeout, audit=audit
    )
    data_service = DataService(clock)
    worker_registry = WorkerRegistry(clock, stale_after=stale_after)

    simulator: SimulatedBackend | None = None
    kafka: _KafkaTransport | None = None
    source: MessageSource
    sink: CommandSink
    if transport is not None:
        source, sink = transport
    elif settings.transport is TransportKind.simulated:
        simulator = SimulatedBackend(
            catalogue,
            clock,
            seed=settings.seed,
            heartbeat_interval=settings.heartbeat_interval,
            scenario=settings.scenario,
        )
        source = sink = simulator
    else:
        kafka = _kafka_transport(settings, clock, tracker, kafka_streams)
        source, sink = kafka.source, kafka.sink

    commands = CommandDispatcher(
        sink, policy=policy, tracker=tracker, audit=audit, support=worker_registry
    )
    job_service = (
        JobService(
            clock,
            stale_after=stale_after,
            data_service=data_service,
            guard=commands.guard,
        )
        if legacy_job_view
        else None
    )
    config_store = ConfigStore(settings.config_file, clock=clock)
    # A simulated deployment replays identically from its seed, job numbers
    # included (stable screenshots); real backends get random UUIDs.
    new_job_number = (
        seeded_job_numbers(settings.seed) if simulator is not None else uuid.uuid4
    )
    job_orchestrator = JobOrchestrator(
        catalogue,
        commands,
        clock,
        config_store=config_store,
        stale_after=stale_after,
        notifications=notifications,
        new_job_number=new_job_number,
    )
    status_history = StatusHistory(clock, stale_after=stale_after)
    router = MessagePump(
        job_service=job_service,
        job_orchestrator=job_orchestrator,
        data_service=data_service,
        command_tracker=tracker,
        worker_registry=worker_registry,
        status_listeners=(status_history,),
    )
    ingestion = IngestionThread(source, router, clock, name=ingestion_name)

    for warning in config_store.warnings:
        notifications.add(NotificationLevel.warning, warning)

    return Services(
        settings=settings,
        clock=clock,
        catalogue=catalogue,
        config_store=config_store,
        notifications=notifications,
        tracker=tracker,
        data_service=data_service,
        job_service=job_service,
        job_orchestrator=job_orchestrator,
        job_controller=JobController(commands),
        commands=commands,
        worker_registry=worker_registry,
        sessions=SessionRegistry(clock),
        status_history=status_history,
        router=router,
        source=source,
        sink=sink,
        ingestion=ingestion,
        simulator=simulator,
        kafka_health=None if kafka is None else kafka.health,
        kafka_positions=None if kafka is None else kafka.positions,
        policy=policy,
        audit=audit,
        job_table_rows=None if job_service is None else JobTableRows(job_service),
    )


@dataclass(frozen=True, eq=False)
class _KafkaTransport:
    source: MessageSource
    sink: CommandSink
    health: KafkaHealth
    positions: PositionedConsumers


def _kafka_transport(
    settings: Settings,
    clock: Clock,
    tracker: PendingCommandTracker,
    streams: Sequence[StreamId],
) -> _KafkaTransport:
    try:
        from jobdash.transport.kafka_config import install_repeated_log_filter
        from jobdash.transport.kafka_health import KafkaHealth
        from jobdash.transport.kafka_positioning import PositionedConsumers
        from jobdash.transport.kafka_sink import KafkaCommandSink
        from jobdash.transport.kafka_source import KafkaMessageSource
    except ImportError as exc:
        raise StartupError(
            f"the Kafka transport is not available in this installation ({exc}); "
            "use the simulated transport or install confluent-kafka"
        ) from None
    # During an outage librdkafka logs the same lines every few seconds.
    install_repeated_log_filter(clock)
    health = KafkaHealth(settings.bootstrap_servers, clock)
    # Position at the dashboard's start time, not at "latest when the group
    # assignment completes": joining takes seconds on a real broker, and
    # heartbeats and acks produced meanwhile would be missed.
    positions = PositionedConsumers(clock.now_ns())
    source = KafkaMessageSource(
        settings,
        clock,
        health=health,
        streams=streams,
        consumer_factory=positions,
    )
    # A read-only deployment opens no producer (the sink reads the setting);
    # the access policy refuses every action before it would get there.
    sink = KafkaCommandSink(settings, on_failure=tracker.command_failed, health=health)
    return _KafkaTransport(source, sink, health, positions)


def _call_if_present(target: object, name: str) -> None:
    method = getattr(target, name, None)
    if callable(method):
        method()


_lock = threading.Lock()
_services: Services | None = None


def get_services(settings: Settings | None = None) -> Services:
    """The process-wide services, built and started on the first call.

    Every browser session calls this; only the first call builds (from
    ``settings``, or ``Settings()`` read from the environment) and starts the
    ingestion thread, under a lock, so concurrent first sessions still get
    one instance. Later calls ignore ``settings``. The services are stopped
    at interpreter exit.

    A failed build (bad catalogue, unreachable transport module) raises to
    the caller and leaves nothing behind, so the next call tries again.
    """
    global _services
    with _lock:
        if _services is None:
            services = build_services(settings if settings is not None else Settings())
            services.start()
            atexit.register(_stop_at_exit, services)
            _services = services
            _logger.info(
                "jobdash services started: %s transport, instrument %s",
                services.settings.transport.value,
                services.settings.instrument,
            )
        return _services


def _stop_at_exit(services: Services) -> None:
    try:
        services.stop(timeout=_STOP_TIMEOUT)
    except Exception:  # at exit, a failure to stop must not mask others
        _logger.exception("stopping the jobdash services failed")


def reset_services_for_tests() -> Services | None:
    """Stop and forget the process-wide services (tests only); return them."""
    global _services
    with _lock:
        services, _services = _services, None
    if services is not None:
        atexit.unregister(_stop_at_exit)
        services.stop(timeout=_STOP_TIMEOUT)
    return services
