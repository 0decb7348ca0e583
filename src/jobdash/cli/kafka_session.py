"""The dashboard's models, filled from Kafka for the span of one terminal command.

``jobdash status``, ``start`` and ``stop`` see and act exactly as the
dashboard does because they run the same pieces: the real ``JobOrchestrator``
(and the legacy ``JobService``) fed by the real ``Orchestrator`` router from
an ``IngestionThread`` over a ``KafkaMessageSource``, commands through a
``KafkaCommandSink`` with acknowledgements tracked by a
``PendingCommandTracker``, staged configs in the dashboard's config file.

What differs is time: a terminal command knows nothing when it starts, so it
listens to the heartbeats for a while (one stale threshold by default) to
learn what runs, adopting jobs as the dashboard does after a restart. Its
consumer reads from the moment the command started (see
:mod:`jobdash.transport.kafka_positioning`), and :meth:`KafkaSession.start`
returns only once it does, so no answer to a command sent afterwards can be
missed.
"""

from __future__ import annotations

import getpass
import threading
from types import TracebackType

from jobdash.cli.command_outcomes import OutcomeTracker
from jobdash.cli.kafka_options import audit_log_for
from jobdash.domain.clock import Clock
from jobdash.domain.streams import StreamId
from jobdash.services.access import AccessPolicy, Actor, Role
from jobdash.services.config_store import ConfigStore
from jobdash.services.job_orchestrator import JobOrchestrator
from jobdash.services.job_service import JobService
from jobdash.services.notifications import NotificationLog
from jobdash.services.orchestrator import Orchestrator
from jobdash.services.worker_registry import WorkerRegistry
from jobdash.services.workflow_catalogue import WorkflowCatalogue
from jobdash.settings import Settings
from jobdash.transport.ingestion import IngestionThread
from jobdash.transport.kafka_health import KafkaHealth
from jobdash.transport.kafka_positioning import PositionedConsumers
from jobdash.transport.kafka_sink import KafkaCommandSink
from jobdash.transport.kafka_source import KafkaMessageSource

__all__ = ["KafkaSession", "KafkaUnavailableError"]


class KafkaUnavailableError(RuntimeError):
    """Kafka did not assign the topics in time (unreachable, or no topic)."""


class KafkaSession:
    """The services of one terminal command over Kafka.

    Parameters
    ----------
    settings
        The deployment's settings (transport Kafka).
    catalogue
        The workflows of the instrument.
    clock
        Receipt times, staleness and command timeouts.
    commands
        Whether this command sends commands: it then also reads the
        responses topic, has a producer and writes the dashboard's audit
        trail; otherwise the orchestrator is read-only and no producer exists.

    Attributes
    ----------
    actor
        Who acts: the operating-system user, an operator. Whoever may run
        the command with the deployment's Kafka credentials may send; a
        read-only setting refuses everyone.
    job_orchestrator, job_service, worker_registry
        What the heartbeats filled in.
    tracker, notifications
        Outcomes of the commands sent, and the dashboard's feedback lines.
    health
        The Kafka connection as the dashboard header would show it.
    """

    def __init__(
        self,
        settings: Settings,
        catalogue: WorkflowCatalogue,
        clock: Clock,
        *,
        commands: bool,
    ) -> None:
        self.settings = settings
        self.catalogue = catalogue
        self.clock = clock
        stale_after = settings.effective_stale_after
        read_only = settings.read_only or not commands
        self.actor = Actor(_terminal_user(), Role.operator)
        self.audit = None if read_only else audit_log_for(settings, clock)
        self.notifications = NotificationLog(clock)
        self.tracker = OutcomeTracker(
            clock,
            self.notifications,
            timeout=settings.command_timeout,
            audit=self.audit,
        )
        self.health = KafkaHealth(settings.bootstrap_servers, clock)
        self._positions = PositionedConsumers(clock.now_ns())
        streams = (
            (StreamId.status, StreamId.responses) if commands else (StreamId.status,)
        )
        self.source = KafkaMessageSource(
            settings,
            clock,
            health=self.health,
            streams=streams,
            consumer_factory=self._positions,
        )
        self.sink = KafkaCommandSink(
            settings.model_copy(update={"read_only": read_only}),
            on_failure=self.tracker.command_failed,
            health=self.health,
        )
        self.job_service = JobService(clock, stale_after=stale_after)
        self.worker_registry = WorkerRegistry(clock, stale_after=stale_after)
        self.job_orchestrator = JobOrchestrator(
            catalogue,
            self.sink,
            clock,
            config_store=ConfigStore(settings.config_file, clock=clock),
            tracker=self.tracker,
            stale_after=stale_after,
            read_only=read_only,
            policy=AccessPolicy(read_only=read_only),
            audit=self.audit,
        )
        router = Orchestrator(
            job_service=self.job_service,
            job_orchestrator=self.job_orchestrator,
            command_tracker=self.tracker,
            worker_registry=self.worker_registry,
        )
        self.ingestion = IngestionThread(
            self.source, router, clock, name="jobdash-cli-ingestion"
        )
        self._started = False

    def start(self, connect_timeout: float) -> None:
        """Connect, and return once every topic is read from this command's start.

        Raises
        ------
        KafkaUnavailableError
            Not within ``connect_timeout`` seconds; the message says which
            topics are missing and librdkafka's last error. Call :meth:`stop`.
        """
        self._started = True
        self.sink.start()
        self.ingestion.start()
        if self._positions.wait_assigned(connect_timeout):
            return
        missing = sorted(
            self._positions.subscribed_topics - self._positions.assigned_topics
        )
        health = self.health.snapshot()
        detail = f"; last error: {health.last_error}" if health.last_error else ""
        raise KafkaUnavailableError(
            f"Kafka at {self.settings.bootstrap_servers} did not assign "
            f"{', '.join(missing)} within {connect_timeout:g} s ({health.state.value}"
            f"{detail}); check the address, the topic prefix and the instrument"
        )

    def listen(
        self, seconds: float, interrupted: threading.Event | None = None
    ) -> bool:
        """Let heartbeats come in for ``seconds``; ``False`` if interrupted."""
        interrupted = interrupted if interrupted is not None else threading.Event()
        return not interrupted.wait(max(seconds, 0.0))

    def stop(self) -> None:
        """Stop reading, then flush the producer (undelivered commands are
        reported to the tracker as send failures)."""
        if not self._started:
            return
        self._started = False
        try:
            self.ingestion.stop()
        finally:
            self.sink.stop()

    def __enter__(self) -> KafkaSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _terminal_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        return "terminal"
