"""The dashboard's models, filled from Kafka for the span of one terminal command.

``jobdash status``, ``start`` and ``stop`` see and act exactly as the
dashboard does because they *are* the dashboard's services, built by the same
composition root (:func:`jobdash.app.build_services`): the real
``JobOrchestrator`` (and the legacy ``JobService``) fed by the real
``MessagePump`` from an ``IngestionThread`` over a ``KafkaMessageSource``,
commands through the one command path to a ``KafkaCommandSink`` with
acknowledgements tracked, staged configs in the dashboard's config file, the
dashboard's access policy and audit trail.

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

from jobdash.app import Services, build_services
from jobdash.cli.command_outcomes import OutcomeTracker
from jobdash.domain.clock import Clock
from jobdash.domain.streams import StreamId
from jobdash.domain.workflow_catalogue import WorkflowCatalogue
from jobdash.settings import Settings, TransportKind

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
        responses topic and has a producer; otherwise the session is
        read-only (its access policy refuses every action) and no producer
        exists.

    Attributes
    ----------
    services
        What :func:`~jobdash.app.build_services` built.
    actor
        Who acts: the operating-system user, as the deployment's access
        policy sees a terminal user (:meth:`AccessPolicy.terminal_actor`).
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
        settings = settings.model_copy(
            update={
                "transport": TransportKind.kafka,
                "read_only": settings.read_only or not commands,
            }
        )
        streams = (
            (StreamId.status, StreamId.responses) if commands else (StreamId.status,)
        )
        self.services: Services = build_services(
            settings,
            clock=clock,
            catalogue=catalogue,
            tracker_type=OutcomeTracker,
            kafka_streams=streams,
            ingestion_name="jobdash-cli-ingestion",
        )
        services = self.services
        tracker = services.tracker
        health = services.kafka_health
        job_service = services.job_service
        if not isinstance(tracker, OutcomeTracker) or health is None:
            raise TypeError("build_services ignored the terminal's hooks")
        if job_service is None:  # built with the legacy view (the default)
            raise TypeError("build_services built no JobService")
        self.settings = settings
        self.catalogue = catalogue
        self.clock = clock
        self.actor = services.policy.terminal_actor(_terminal_user())
        self.tracker = tracker
        self.health = health
        self.notifications = services.notifications
        self.audit = services.audit
        self.job_service = job_service
        self.job_orchestrator = services.job_orchestrator
        self.worker_registry = services.worker_registry
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
        self.services.start()
        positions = self.services.kafka_positions
        assert positions is not None  # a Kafka transport has them
        if positions.wait_assigned(connect_timeout):
            return
        missing = sorted(positions.subscribed_topics - positions.assigned_topics)
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
        self.services.stop()

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
