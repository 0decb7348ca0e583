"""The workflow-level model: staging, commits, JobSet transitions and status.

``JobOrchestrator`` is what a workflow card shows and acts through. Operators
stage a config per source, commit (one job per staged source under a fresh job
number, replacing the running JobSet), stop and reset. Heartbeats, routed here
independently of ``JobService`` (the design card's phase 1), update the status
of the matching job.

Rules (DESIGN.md §5, decision 0002):

- A heartbeat is matched on its full ``JobId`` through an index covering the
  current, previous and orphan JobSets of every workflow: O(1), never by source
  name alone, never by scanning workflows. A heartbeat older than the stored
  one of the same job (by ``timestamp``) is ignored.
- The previous JobSet keeps receiving status until all its jobs are stopped or
  stale (or, never heard from, had ``stale_after`` to report), then is dropped.
  A commit while an older previous still winds down turns that one's live jobs
  into orphans, so nothing grows with recommits.
- An unknown job of a catalogued workflow is adopted. Its job number becomes
  the current JobSet when there is none (or only a stopped one), with its
  persisted config when it is the job number this dashboard committed before a
  restart; among several unknown job numbers the latest ``start_time`` is
  current; the rest are orphans for the operator to stop. Orphans leave when
  they report ``stopped`` or after ``forget_after`` seconds of silence, and
  there are at most :data:`MAX_ORPHAN_SETS` per workflow (a live one evicted by
  the cap comes back with its next heartbeat).
- Staleness comes from the injected clock and receipt times; readers compute it
  live, :meth:`JobOrchestrator.tick` only publishes its changes.
- A stop keeps working: while heartbeats say a job asked to stop still runs,
  :meth:`JobOrchestrator.tick` re-sends its stop every ``stop_retry_interval``
  (a lost command, or a backend that restarted, must not leave it running),
  up to :data:`MAX_STOP_RETRIES` times, then warns the operator once.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol

import param

from jobdash.domain.clock import Clock
from jobdash.domain.commands import (
    Command,
    JobAction,
    JobCommand,
    JobIdentifier,
    WorkflowConfigCommand,
    WorkflowIdentifier,
)
from jobdash.domain.ids import JobId, JobNumber, SourceName, WorkflowId
from jobdash.domain.job_state import JobState
from jobdash.domain.job_status import JobStatus, message_summary
from jobdash.domain.workflow_status import AggregateStatus
from jobdash.services.access import (
    AccessPolicy,
    Actor,
    PermissionDeniedError,
    ReadOnlyError,
)
from jobdash.services.audit_log import AuditLog, AuditOutcome
from jobdash.services.config_store import (
    ConfigStore,
    PersistedJobConfig,
    PersistedJobSet,
    PersistedState,
    PersistedWorkflow,
)
from jobdash.services.notifications import NotificationLevel, NotificationLog
from jobdash.services.snapshots import (
    WorkflowSnapshot,
    build_workflow_snapshot,
    jobset_aggregate,
)
from jobdash.services.versioned import VersionedModel
from jobdash.services.workflow_catalogue import (
    ParameterError,
    WorkflowCatalogue,
    WorkflowSpec,
)
from jobdash.services.workflow_state import JobConfig, JobSet, WorkflowState
from jobdash.transport.command_sink import CommandSendError, CommandSink

__all__ = [
    "FINISHED_CAPACITY",
    "MAX_JOBS_PER_SET",
    "MAX_ORPHAN_SETS",
    "MAX_STOP_RETRIES",
    "CommandTracker",
    "JobOrchestrator",
]

logger = logging.getLogger(__name__)

MAX_ORPHAN_SETS = 32
"""Orphan JobSets kept per workflow; the least recently heard one goes first."""

MAX_JOBS_PER_SET = 256
"""Jobs adopted into one JobSet at most: heartbeats are untrusted input."""

FINISHED_CAPACITY = 10_000
"""Stopped-and-dropped job ids remembered to ignore their late heartbeats."""

MAX_STOP_RETRIES = 10
"""Re-sent stops of one job at most; then the operator is warned, once."""

STOP_RETRY_ACTION = "stop_retry"
"""The audit action of a re-sent stop (its actor is the one who asked)."""

_Entry = tuple[WorkflowId, JobSet, JobConfig]
"""Where an indexed job lives: its workflow, its JobSet, its config."""

_SYSTEM = Actor.system()


@dataclass(eq=False)
class _StopRequest:
    """A stop sent for one job, to be re-sent while the job runs on."""

    actor: Actor
    sent_at: int
    retries: int = 0


class CommandTracker(Protocol):
    """What the orchestrator needs of ``PendingCommandTracker``."""

    def track(self, commands: list[Command], *, verb: str, subject: str) -> object:
        """Expect answers to ``commands`` (called before sending them)."""
        ...

    def command_failed(self, command: Command, reason: str) -> None:
        """Report a command the transport refused."""
        ...


class JobOrchestrator(VersionedModel):
    """Workflow-level state of every catalogued workflow, and its actions.

    Threads: the ingestion thread calls :meth:`status_updated` and
    :meth:`tick`; UI threads call the actions; anyone calls the readers, which
    return deep copies or immutable snapshots. One re-entrant lock guards all
    state. Actions send their commands (and track and audit them) under that
    lock, so commands and state never disagree; the config file is written
    after it is released.

    Access: every action takes the acting user (``actor=``, by default
    :meth:`Actor.system`) and is checked first, on the server, before the lock
    is taken or anything changes: a refused action is audited as ``refused``
    and raises :class:`~jobdash.services.access.PermissionDeniedError`
    (:class:`~jobdash.services.access.ReadOnlyError` when nobody may act). Each
    command sent is audited as ``sent`` or ``send_failed``; staging sends
    nothing, so only its refusals are audited.

    Versions: ``version`` (global) is bumped once per batch in which anything
    changed. Each workflow also has its own counter, bumped in the same
    publication only if *that* workflow changed; read it with
    :meth:`workflow_version`, or all at once from the ``workflow_versions``
    param (a read-only mapping, replaced — never mutated — on every
    publication, together with ``version`` in one ``param.update``). A session
    polls ``version`` and, when it moved, re-reads the snapshots of the
    workflows whose counters moved. A heartbeat that changes nothing a card
    shows (same state, messages and times; only a later receipt time) does not
    bump; staleness flips are published by :meth:`tick`.

    Parameters
    ----------
    catalogue
        The workflows that exist; heartbeats of other workflows are ignored
        (and counted).
    command_sink
        Where commands go.
    clock
        Source of receipt, commit and "now" times.
    config_store
        Persists staged configs and each workflow's committed job number and
        configs; loaded once here. ``None``: nothing is persisted.
    tracker
        Turns acknowledgements into operator feedback; ``None``: untracked.
    stale_after
        Seconds without a heartbeat before a job that is not stopped is stale.
    read_only
        Refuse every action with ``ReadOnlyError`` (as does a read-only
        ``policy``); nothing is ever sent.
    forget_after
        Seconds of silence after which an orphan job, or the memory of a
        stopped job (to ignore its late heartbeats), is dropped; default ten
        times ``stale_after``.
    new_job_number
        Makes the job number of each commit; default ``uuid.uuid4``. The
        simulated deployment passes a seeded generator so that a replayed
        scenario (and a screenshot of it) shows the same job numbers.
    policy
        Decides who may act; by default any operator actor may (the default
        actor, :meth:`Actor.system`, is one).
    audit
        Where actions and the commands they send are recorded; ``None``: not
        audited.
    stop_retry_interval
        Seconds after a stop (or its last re-send) at which a job whose
        heartbeats still say it runs gets its stop again.
    notifications
        Where the warning about a job that outlived every re-sent stop goes;
        ``None``: it is only logged.
    """

    workflow_versions = param.ClassSelector(
        class_=MappingProxyType,
        default=MappingProxyType({}),
        instantiate=False,
        doc="Version of each workflow (read-only mapping, replaced on change); "
        "poll it, never watch it from a session.",
    )

    def __init__(
        self,
        catalogue: WorkflowCatalogue,
        command_sink: CommandSink,
        clock: Clock,
        *,
        config_store: ConfigStore | None = None,
        tracker: CommandTracker | None = None,
        stale_after: float = 6.0,
        read_only: bool = False,
        forget_after: float | None = None,
        new_job_number: Callable[[], JobNumber] = uuid.uuid4,
        policy: AccessPolicy | None = None,
        audit: AuditLog | None = None,
        stop_retry_interval: float = 30.0,
        notifications: NotificationLog | None = None,
    ) -> None:
        if stale_after <= 0:
            raise ValueError(f"stale_after must be positive, got {stale_after}")
        forget_after = 10 * stale_after if forget_after is None else forget_after
        if forget_after <= stale_after:
            raise ValueError(
                f"forget_after ({forget_after} s) must exceed stale_after "
                f"({stale_after} s)"
            )
        if stop_retry_interval <= 0:
            raise ValueError(
                f"stop_retry_interval must be positive, got {stop_retry_interval}"
            )
        super().__init__()
        self._catalogue = catalogue
        self._sink = command_sink
        self._clock = clock
        self._store = config_store
        self._tracker = tracker
        self._policy = policy if policy is not None else AccessPolicy()
        self._read_only = read_only or self._policy.read_only
        self._audit = audit
        self._new_job_number = new_job_number
        self._stale_ns = round(stale_after * 1e9)
        self._forget_ns = round(forget_after * 1e9)
        self._stop_retry_ns = round(stop_retry_interval * 1e9)
        self._notifications = notifications

        self._states: dict[WorkflowId, WorkflowState] = {
            wid: WorkflowState() for wid in catalogue.workflow_ids
        }
        self._versions: dict[WorkflowId, int] = dict.fromkeys(self._states, 0)
        self._dirty_workflows: set[WorkflowId] = set()
        self._source_rank: dict[WorkflowId, dict[SourceName, int]] = {
            spec.workflow_id: {s: i for i, s in enumerate(spec.source_names)}
            for spec in catalogue.workflows
        }
        # Every job of every current, previous and orphan JobSet, by full id.
        self._index: dict[JobId, _Entry] = {}
        # Jobs found stale by the last tick(): a change of this set is published.
        self._stale: set[JobId] = set()
        # Jobs dropped after reporting stopped → (that heartbeat's timestamp,
        # when dropped); insertion-ordered, so the oldest expire first.
        self._finished: dict[JobId, tuple[int, int]] = {}
        # Jobs asked to stop, until they leave the index or exhaust their
        # retries; so never more entries than indexed jobs.
        self._stop_requests: dict[JobId, _StopRequest] = {}
        # The file's content, by workflow id text; entries of workflows not in
        # this catalogue are carried through untouched.
        self._persisted: dict[str, PersistedWorkflow] = {}
        self._save_lock = threading.Lock()
        self._save_seq = 0
        self._saved_seq = 0
        self._restore_warnings: list[str] = []
        self._counters = dict.fromkeys(
            (
                "unknown_workflow",
                "out_of_order",
                "late_after_stop",
                "stopped_unknown_job",
                "over_capacity",
                "adopted_sets",
                "stop_retries",
                "stop_retries_exhausted",
            ),
            0,
        )
        if config_store is not None:
            self._restore(config_store.load())
        self.param.update(workflow_versions=MappingProxyType(dict(self._versions)))

    # --- writer (ingestion thread) ---------------------------------------

    def status_updated(self, status: JobStatus) -> None:
        """Apply one heartbeat to the job it belongs to.

        The per-heartbeat hot path: an index lookup, the timestamp comparison,
        two assignments and, if the card would show a difference, a dirty-set
        add. Anything rarer (adoption, a retired job stopping) is delegated.
        """
        now = self._clock.now_ns()
        job_id = status.job_id
        with self._lock:
            entry = self._index.get(job_id)
            if entry is None:
                self._status_of_unindexed_job(status, now)
                return
            wid, job_set, job = entry
            old = job.status
            if old is None:
                visible = True
            elif status.timestamp < old.timestamp:
                self._counters["out_of_order"] += 1
                return
            else:
                visible = (
                    status.state is not old.state
                    or status.error_message != old.error_message
                    or status.warning_message != old.warning_message
                    or status.start_time != old.start_time
                    or status.end_time != old.end_time
                )
            job.status = status
            job.last_seen = now
            if job_id in self._stale:  # heard from again
                self._stale.discard(job_id)
                visible = True
            if not visible:
                return
            if (
                status.error_message
                and self._notifications is not None
                and (old is None or status.error_message != old.error_message)
            ):
                self._notify_error(wid, job_id, status.error_message)
            if status.state is JobState.stopped and job_set.retired_at is not None:
                self._retired_job_stopped(wid, job_set, job_id, now)
            # _touch() inlined: hot path.
            self._dirty_workflows.add(wid)
            self._dirty = True
            if self._batch_depth == 0:
                self._publish()

    def _notify_error(self, wid: WorkflowId, job_id: JobId, message: str) -> None:
        # Rare (a job's error text changed): the operator gets a toast and a
        # log line naming the workflow and source, whatever view they watch.
        assert self._notifications is not None
        title = self._catalogue[wid].title
        self._notifications.add(
            NotificationLevel.error,
            f"{title} · {job_id.source_name}: {message_summary(message)}",
        )

    def tick(self) -> None:
        """Publish staleness flips; drop finished previous JobSets and old orphans;
        re-send due stops.

        Called periodically by the ingestion thread (every 0.25 s). O(jobs).
        """
        warnings: list[str] = []
        with self._lock:
            now = self._clock.now_ns()
            # JobConfig.is_stale, inlined: this walks every tracked job, 4 times a second.
            cutoff = now - self._stale_ns
            stopped = JobState.stopped
            stale = {
                job_id
                for job_id, (_, _, job) in self._index.items()
                if job.last_seen is not None
                and job.last_seen < cutoff
                and job.status is not None
                and job.status.state is not stopped
            }
            for job_id in stale.symmetric_difference(self._stale):
                entry = self._index.get(job_id)
                if entry is not None:
                    self._dirty_workflows.add(entry[0])
            self._stale = stale
            if self._stop_requests:
                warnings = self._retry_stops(now)
            for wid, state in self._states.items():
                previous = state.previous
                if previous is not None and self._retired_set_done(previous, now):
                    state.previous = None
                    self._drop_set(previous, now)
                    self._dirty_workflows.add(wid)
                if state.orphans and self._prune_orphans(state, now):
                    self._dirty_workflows.add(wid)
            self._expire_finished(now)
            if self._dirty_workflows:
                self._mark_changed()
        # Outside our lock: the log has its own.
        for text in warnings:
            logger.warning("%s", text)
            if self._notifications is not None:
                self._notifications.add(NotificationLevel.warning, text)

    # --- actions (UI threads) ----------------------------------------------

    def stage_config(
        self,
        workflow_id: WorkflowId,
        source_name: SourceName,
        params: Mapping[str, Any],
        aux_source_names: Mapping[str, str] | None = None,
        *,
        actor: Actor = _SYSTEM,
    ) -> None:
        """Stage the config the next commit starts for ``source_name``.

        Values are validated and completed with defaults by the catalogue.

        Raises
        ------
        PermissionDeniedError
            ``actor`` may not act (``ReadOnlyError`` if nobody may); audited.
        KeyError
            ``workflow_id`` is not in the catalogue.
        ParameterError
            ``source_name`` is not a source of the workflow (named in the
            message), or a value or auxiliary source the schema refuses.
        """
        self._authorize(actor, "stage configs", "stage_config", workflow=workflow_id)
        spec = self.get_spec(workflow_id)
        if source_name not in self._source_rank[workflow_id]:
            raise ParameterError(
                None,
                f"{source_name!r} is not a source of {spec.title!r} "
                f"(sources: {', '.join(spec.source_names)})",
            )
        config = JobConfig(
            spec.validate_params(params),
            spec.validate_aux_sources(aux_source_names or {}),
        )
        with self._lock:
            state = self._states[workflow_id]
            staged = dict(state.staged_jobs)
            staged[source_name] = config
            state.staged_jobs = self._in_source_order(workflow_id, staged)
            self._update_persisted(workflow_id)
            save = self._save_request()
            self._touch(workflow_id)
        self._save(*save)

    def unstage_config(
        self,
        workflow_id: WorkflowId,
        source_name: SourceName,
        *,
        actor: Actor = _SYSTEM,
    ) -> None:
        """Remove one source from the staged configs (no error if not staged).

        Raises
        ------
        PermissionDeniedError
            ``actor`` may not act (``ReadOnlyError`` if nobody may); audited.
        KeyError
            ``workflow_id`` is not in the catalogue.
        """
        self._authorize(actor, "stage configs", "unstage_config", workflow=workflow_id)
        self.get_spec(workflow_id)
        with self._lock:
            state = self._states[workflow_id]
            if source_name not in state.staged_jobs:
                return
            del state.staged_jobs[source_name]
            self._update_persisted(workflow_id)
            save = self._save_request()
            self._touch(workflow_id)
        self._save(*save)

    def clear_staged_configs(
        self, workflow_id: WorkflowId, *, actor: Actor = _SYSTEM
    ) -> None:
        """Unstage every source of the workflow.

        Raises
        ------
        PermissionDeniedError
            ``actor`` may not act (``ReadOnlyError`` if nobody may); audited.
        KeyError
            ``workflow_id`` is not in the catalogue.
        """
        self._authorize(
            actor, "stage configs", "clear_staged_configs", workflow=workflow_id
        )
        self.get_spec(workflow_id)
        with self._lock:
            state = self._states[workflow_id]
            if not state.staged_jobs:
                return
            state.staged_jobs = {}
            self._update_persisted(workflow_id)
            save = self._save_request()
            self._touch(workflow_id)
        self._save(*save)

    def commit_workflow(
        self, workflow_id: WorkflowId, *, actor: Actor = _SYSTEM
    ) -> JobNumber:
        """Start one job per staged source under a fresh job number.

        Sends a stop for every job of the running JobSet that has not reported
        ``stopped``, then one ``workflow_config`` per staged source. The
        running JobSet becomes the previous one (and winds down); the new one
        is current and persisted. Staged configs stay staged. Every stop and
        start is audited under ``commit_workflow``.

        Returns
        -------
        :
            The new job number.

        Raises
        ------
        PermissionDeniedError
            ``actor`` may not act (``ReadOnlyError`` if nobody may); audited.
        KeyError
            ``workflow_id`` is not in the catalogue.
        ValueError
            Nothing is staged.
        """
        self._authorize(
            actor, "commit workflows", "commit_workflow", workflow=workflow_id
        )
        spec = self.get_spec(workflow_id)
        identifier = WorkflowIdentifier.from_domain(workflow_id)
        with self._lock:
            state = self._states[workflow_id]
            if not state.staged_jobs:
                raise ValueError(f"nothing is staged for {spec.title!r}")
            now = self._clock.now_ns()
            job_number = self._new_job_number()
            new = JobSet(
                job_number,
                {src: job.copy() for src, job in state.staged_jobs.items()},
                committed_at=now,
            )
            stops = _stop_commands(state.current)
            starts: list[Command] = [
                WorkflowConfigCommand(
                    identifier=identifier,
                    job_id=JobIdentifier(source_name=source, job_number=job_number),
                    aux_source_names=job.aux_source_names,
                    params=job.params,
                )
                for source, job in new.jobs.items()
            ]
            self._retire_current(workflow_id, state, now)
            state.current = new
            for source, job in new.jobs.items():
                self._index[JobId(source, job_number)] = (workflow_id, new, job)
            self._update_persisted(workflow_id)
            save = self._save_request()
            self._touch(workflow_id)
            for commands, verb in ((stops, "Stopped"), (starts, "Started")):
                self._dispatch(
                    commands,
                    verb=verb,
                    subject=spec.title,
                    actor=actor,
                    action="commit_workflow",
                    workflow=workflow_id,
                )
            self._remember_stops(stops, actor, now)
        self._save(*save)
        logger.info(
            "committed %s as job number %s: %d job(s), %d stop(s)",
            workflow_id,
            job_number,
            len(starts),
            len(stops),
        )
        return job_number

    def stop_workflow(self, workflow_id: WorkflowId, *, actor: Actor = _SYSTEM) -> int:
        """Ask every job of the current JobSet, and every orphan, to stop.

        Jobs that already reported ``stopped`` get no command. The workflow
        shows STOPPING until all current jobs report ``stopped``.

        Returns
        -------
        :
            How many stop commands were sent.

        Raises
        ------
        PermissionDeniedError
            ``actor`` may not act (``ReadOnlyError`` if nobody may); audited.
        KeyError
            ``workflow_id`` is not in the catalogue.
        """
        self._authorize(actor, "stop workflows", "stop_workflow", workflow=workflow_id)
        spec = self.get_spec(workflow_id)
        with self._lock:
            state = self._states[workflow_id]
            commands: list[Command] = []
            for job_set in (state.current, *state.orphans.values()):
                if job_set is not None:
                    commands += _stop_commands(job_set)
                    job_set.stop_requested = True
            if state.current is None and not state.orphans:
                return 0
            self._touch(workflow_id)
            self._dispatch(
                commands,
                verb="Stopped",
                subject=spec.title,
                actor=actor,
                action="stop_workflow",
                workflow=workflow_id,
            )
            self._remember_stops(commands, actor, self._clock.now_ns())
        logger.info("stop of %s: %d command(s)", workflow_id, len(commands))
        return len(commands)

    def reset_workflow(self, workflow_id: WorkflowId, *, actor: Actor = _SYSTEM) -> int:
        """Ask every job of the current JobSet that is not stopped to reset.

        Returns
        -------
        :
            How many reset commands were sent.

        Raises
        ------
        PermissionDeniedError
            ``actor`` may not act (``ReadOnlyError`` if nobody may); audited.
        KeyError
            ``workflow_id`` is not in the catalogue.
        """
        self._authorize(
            actor, "reset workflows", "reset_workflow", workflow=workflow_id
        )
        spec = self.get_spec(workflow_id)
        with self._lock:
            current = self._states[workflow_id].current
            commands = _job_commands(current, JobAction.reset)
            self._dispatch(
                commands,
                verb="Reset",
                subject=spec.title,
                actor=actor,
                action="reset_workflow",
                workflow=workflow_id,
            )
        logger.info("reset of %s: %d command(s)", workflow_id, len(commands))
        return len(commands)

    def stop_job(self, job_id: JobId, *, actor: Actor = _SYSTEM) -> None:
        """Ask one job to stop: meant for orphans and adopted jobs.

        Raises
        ------
        PermissionDeniedError
            ``actor`` may not act (``ReadOnlyError`` if nobody may); audited
            with the job's workflow when the job is tracked.
        KeyError
            The job is not current, previous or orphan of any workflow.
        """
        self._authorize(actor, f"stop job {job_id}", "stop_job", job=job_id)
        with self._lock:
            entry = self._index.get(job_id)
            if entry is None:
                raise KeyError(f"no job {job_id} is being tracked")
            workflow_id, job_set, _ = entry
            if job_set.job_number in self._states[workflow_id].orphans:
                job_set.stop_requested = True
                self._touch(workflow_id)
            command = JobCommand(
                job_id=JobIdentifier.from_domain(job_id), action=JobAction.stop
            )
            self._dispatch(
                [command],
                verb="Stopped",
                subject=self.get_spec(workflow_id).title,
                actor=actor,
                action="stop_job",
                workflow=workflow_id,
            )
            self._remember_stops([command], actor, self._clock.now_ns())
        logger.info("stop of job %s", job_id)

    # --- readers (any thread) --------------------------------------------

    @property
    def workflow_ids(self) -> list[WorkflowId]:
        """Every workflow of the catalogue, in catalogue order."""
        return self._catalogue.workflow_ids

    @property
    def read_only(self) -> bool:
        return self._read_only

    def get_spec(self, workflow_id: WorkflowId) -> WorkflowSpec:
        """The catalogue entry of ``workflow_id``; ``KeyError`` if there is none."""
        return self._catalogue[workflow_id]

    def workflow_version(self, workflow_id: WorkflowId) -> int:
        """How often ``workflow_id`` was published as changed."""
        with self._lock:
            return self._versions[workflow_id]

    def get_workflow_state(self, workflow_id: WorkflowId) -> WorkflowState:
        """A deep copy of the workflow's state."""
        with self._lock:
            return self._states[workflow_id].copy()

    def get_workflow_status(self, workflow_id: WorkflowId) -> AggregateStatus:
        """The aggregate status of the current JobSet, now."""
        with self._lock:
            return jobset_aggregate(
                self._states[workflow_id].current, self._clock.now_ns(), self._stale_ns
            )

    def is_job_stale(self, job_id: JobId) -> bool:
        """Whether a tracked job had a heartbeat, is not stopped, and went silent."""
        with self._lock:
            entry = self._index.get(job_id)
            return entry is not None and entry[2].is_stale(
                self._clock.now_ns(), self._stale_ns
            )

    def snapshot(self, workflow_id: WorkflowId) -> WorkflowSnapshot:
        """An immutable view of one workflow."""
        spec = self.get_spec(workflow_id)
        with self._lock:
            return build_workflow_snapshot(
                spec,
                self._states[workflow_id],
                self._versions[workflow_id],
                self._clock.now_ns(),
                self._stale_ns,
            )

    def snapshots(self) -> list[WorkflowSnapshot]:
        """Every workflow, in catalogue order, as of one instant."""
        with self._lock:
            now = self._clock.now_ns()
            return [
                build_workflow_snapshot(
                    spec,
                    self._states[spec.workflow_id],
                    self._versions[spec.workflow_id],
                    now,
                    self._stale_ns,
                )
                for spec in self._catalogue.workflows
            ]

    def counters(self) -> dict[str, int]:
        """Heartbeats ignored, by reason, and JobSets adopted (a copy).

        ``unknown_workflow``: workflow not in the catalogue; ``out_of_order``:
        older than the stored heartbeat of its job; ``late_after_stop``: of a
        job already dropped after stopping; ``stopped_unknown_job``: a
        ``stopped`` heartbeat of an untracked job (nothing to adopt);
        ``over_capacity``: a JobSet already holds :data:`MAX_JOBS_PER_SET` jobs;
        ``adopted_sets``: unknown job numbers adopted; ``stop_retries``: stops
        re-sent by :meth:`tick`; ``stop_retries_exhausted``: jobs given up on
        after :data:`MAX_STOP_RETRIES` re-sent stops.
        """
        with self._lock:
            return dict(self._counters)

    @property
    def warnings(self) -> list[str]:
        """Problems with the persisted configs (store and restore), oldest first."""
        store = [] if self._store is None else self._store.warnings
        with self._lock:
            return store + self._restore_warnings

    # --- publication ---------------------------------------------------------

    def _publish(self) -> None:
        # Replaces VersionedModel._publish: per-workflow counters move in the
        # same param.update as the global version. Holds the lock.
        for workflow_id in self._dirty_workflows:
            self._versions[workflow_id] += 1
        self._dirty_workflows.clear()
        self._dirty = False
        self.param.update(
            version=self.version + 1,
            workflow_versions=MappingProxyType(dict(self._versions)),
        )

    def _touch(self, workflow_id: WorkflowId) -> None:
        """Mark one workflow changed. Hold the lock."""
        self._dirty_workflows.add(workflow_id)
        self._mark_changed()

    # --- heartbeats of untracked jobs (hold the lock) ----------------------

    def _status_of_unindexed_job(self, status: JobStatus, now: int) -> None:
        workflow_id = status.workflow_id
        state = self._states.get(workflow_id)
        if state is None:
            self._counters["unknown_workflow"] += 1
            return
        job_id = status.job_id
        if status.state is JobState.stopped:
            self._counters["stopped_unknown_job"] += 1
            return
        finished = self._finished.get(job_id)
        if finished is not None:
            if status.timestamp <= finished[0]:
                self._counters["late_after_stop"] += 1
                return
            del self._finished[job_id]
        job_set = _set_with_number(state, job_id.job_number)
        if job_set is None:
            job_set = self._adopt(workflow_id, state, status, now)
        job = job_set.jobs.get(job_id.source_name)
        if job is None:
            if len(job_set.jobs) >= MAX_JOBS_PER_SET:
                self._counters["over_capacity"] += 1
                return
            job = JobConfig({}, {}, config_known=False)
            jobs = dict(job_set.jobs)
            jobs[job_id.source_name] = job
            job_set.jobs = self._in_source_order(workflow_id, jobs)
            self._index[job_id] = (workflow_id, job_set, job)
        job.status = status
        job.last_seen = now
        self._touch(workflow_id)

    def _adopt(
        self, workflow_id: WorkflowId, state: WorkflowState, status: JobStatus, now: int
    ) -> JobSet:
        """Place a JobSet for the unknown job number of ``status``; return it."""
        number = status.job_id.job_number
        persisted = self._persisted.get(str(workflow_id))
        known = persisted.current if persisted is not None else None
        ours = known is not None and known.job_number == number
        new = JobSet(number, adopted=True)
        if ours:
            assert known is not None
            new.jobs = self._in_source_order(
                workflow_id,
                {
                    source: JobConfig(dict(c.params), dict(c.aux_source_names))
                    for source, c in known.jobs.items()
                },
            )
            for source, job in new.jobs.items():
                self._index[JobId(source, number)] = (workflow_id, new, job)
        self._counters["adopted_sets"] += 1
        current = state.current
        if current is None or current.all_stopped:
            if current is not None:
                self._drop_set(current, now)
            state.current = new
            role = "current"
        elif not _ours(current) and (
            ours or (status.start_time or 0) > (current.started_at or 0)
        ):
            self._add_orphan(state, current, now)
            state.current = new
            role = "current (the previous current is now an orphan)"
        else:
            self._add_orphan(state, new, now)
            role = "an orphan"
        logger.info(
            "adopted job number %s of %s as %s%s",
            number,
            workflow_id,
            role,
            " with its persisted config" if ours else ", config unknown",
        )
        return new

    # --- JobSet transitions (hold the lock) ----------------------------------

    def _retire_current(
        self, workflow_id: WorkflowId, state: WorkflowState, now: int
    ) -> None:
        """Make room for a new current: current → previous, previous → orphans."""
        older = state.previous
        if older is not None:
            state.previous = None
            # Its never-heard and stopped jobs go; live ones stay visible as
            # orphans (a never-heard job that starts late is adopted anyway).
            for source, job in list(older.jobs.items()):
                if job.status is None or job.status.state is JobState.stopped:
                    del older.jobs[source]
                    self._unindex(JobId(source, older.job_number), job, now)
            if older.jobs:
                self._add_orphan(state, older, now)
        current = state.current
        if current is None:
            return
        state.current = None
        if current.all_stopped:
            self._drop_set(current, now)
            return
        current.retired_at = now
        current.stop_requested = True
        state.previous = current

    def _retired_job_stopped(
        self, workflow_id: WorkflowId, job_set: JobSet, job_id: JobId, now: int
    ) -> None:
        """A job of the previous JobSet or of an orphan reported ``stopped``."""
        state = self._states[workflow_id]
        if state.previous is job_set:
            if self._retired_set_done(job_set, now):
                state.previous = None
                self._drop_set(job_set, now)
            return
        job = job_set.jobs.pop(job_id.source_name)
        self._unindex(job_id, job, now)
        if not job_set.jobs:
            del state.orphans[job_set.job_number]

    def _retired_set_done(self, job_set: JobSet, now: int) -> bool:
        """All jobs stopped, stale, or silent for ``stale_after`` since retirement."""
        stale_ns = self._stale_ns
        retired_at = job_set.retired_at if job_set.retired_at is not None else now
        for job in job_set.jobs.values():
            if job.status is None:
                if now - retired_at <= stale_ns:
                    return False
            elif job.status.state is not JobState.stopped and not job.is_stale(
                now, stale_ns
            ):
                return False
        return True

    def _add_orphan(self, state: WorkflowState, job_set: JobSet, now: int) -> None:
        if job_set.retired_at is None:
            job_set.retired_at = now
        state.orphans[job_set.job_number] = job_set
        while len(state.orphans) > MAX_ORPHAN_SETS:
            evicted = min(state.orphans.values(), key=_last_heard)
            del state.orphans[evicted.job_number]
            self._drop_set(evicted, now)

    def _prune_orphans(self, state: WorkflowState, now: int) -> bool:
        """Forget orphan jobs silent for ``forget_after``; whether any went."""
        changed = False
        for number, orphan in list(state.orphans.items()):
            retired_at = orphan.retired_at if orphan.retired_at is not None else now
            for source, job in list(orphan.jobs.items()):
                if job.last_seen is None:
                    gone = now - retired_at > self._stale_ns
                else:
                    gone = now - job.last_seen > self._forget_ns
                if gone:
                    del orphan.jobs[source]
                    self._unindex(JobId(source, number), job, now)
                    changed = True
            if not orphan.jobs:
                del state.orphans[number]
        return changed

    def _drop_set(self, job_set: JobSet, now: int) -> None:
        """Forget every job of a JobSet that is no longer held anywhere."""
        number = job_set.job_number
        for source, job in job_set.jobs.items():
            self._unindex(JobId(source, number), job, now)

    def _unindex(self, job_id: JobId, job: JobConfig, now: int) -> None:
        self._index.pop(job_id, None)
        self._stop_requests.pop(job_id, None)
        self._stale.discard(job_id)
        if job.status is not None and job.status.state is JobState.stopped:
            # Remember it, so a heartbeat that was overtaken by its 'stopped'
            # one does not bring it back as an orphan.
            self._finished.pop(job_id, None)
            self._finished[job_id] = (job.status.timestamp, now)
            if len(self._finished) > FINISHED_CAPACITY:
                del self._finished[next(iter(self._finished))]

    def _expire_finished(self, now: int) -> None:
        cutoff = now - self._forget_ns
        finished = self._finished
        while finished:
            oldest = next(iter(finished))
            if finished[oldest][1] >= cutoff:
                break
            del finished[oldest]

    # --- access (before the lock) ---------------------------------------------

    def _authorize(
        self,
        actor: Actor,
        phrase: str,
        action: str,
        *,
        workflow: WorkflowId | None = None,
        job: JobId | None = None,
    ) -> None:
        """Refuse ``action`` unless ``actor`` may act; audit a refusal.

        Called first by every action, before the lock is taken, so a refused
        action changes, tracks and sends nothing. ``phrase`` completes the
        error text ("… may not stop workflows"); ``action`` names the action
        in the audit trail.
        """
        try:
            if self._read_only:
                raise ReadOnlyError(
                    f"read-only dashboard: {actor.name!r} may not {phrase}",
                    actor=actor,
                    action=phrase,
                )
            self._policy.require_operator(actor, phrase)
        except PermissionDeniedError:
            if self._audit is not None:
                if workflow is None and job is not None:
                    with self._lock:
                        entry = self._index.get(job)
                    workflow = None if entry is None else entry[0]
                self._audit.refused(actor, action, workflow=workflow, job=job)
            raise

    # --- commands (hold the lock) ------------------------------------------

    def _dispatch(
        self,
        commands: list[Command],
        *,
        verb: str,
        subject: str,
        actor: Actor,
        action: str,
        workflow: WorkflowId,
    ) -> None:
        """Track, then send, ``commands``; audit each; report refused ones.

        ``workflow`` is recorded for job commands, which do not name it.
        """
        if not commands:
            return
        tracker, audit = self._tracker, self._audit
        if tracker is not None:
            # Before sending: an acknowledgement may arrive before send() returns.
            tracker.track(commands, verb=verb, subject=subject)
        for command in commands:
            try:
                self._sink.send(command)
            except CommandSendError as exc:
                logger.warning("could not send %s command: %s", command.kind, exc)
                # Audited before the tracker hears of it: the tracker's own
                # send_failed line for the same command is then a duplicate,
                # skipped by the audit log.
                if audit is not None:
                    audit.command(
                        actor,
                        action,
                        command,
                        AuditOutcome.send_failed,
                        str(exc),
                        workflow=workflow,
                    )
                if tracker is not None:
                    tracker.command_failed(command, str(exc))
                continue
            if audit is not None:
                audit.command(
                    actor, action, command, AuditOutcome.sent, workflow=workflow
                )

    # --- stops that keep working (hold the lock) -------------------------------

    def _remember_stops(self, commands: list[Command], actor: Actor, now: int) -> None:
        """Note the stops just sent, so :meth:`tick` can re-send them.

        A new stop of a job already asked restarts its count: the operator
        asked again.
        """
        for command in commands:
            if command.job_id is None:
                continue
            job_id = command.job_id.to_domain()
            if job_id in self._index:
                self._stop_requests[job_id] = _StopRequest(actor, now)

    def _retry_stops(self, now: int) -> list[str]:
        """Re-send the stops that are due; return warnings about given-up jobs.

        A stop is due ``stop_retry_interval`` after it (or its last re-send)
        went out, if the job's latest heartbeat says it runs and it is not
        stale. A stale job has nothing listening (its backend is dead or cut
        off): its stop waits, and is re-sent at once if the job is heard from
        again still running, since a command sent to a dead backend is lost.
        A job never heard from gets no re-send: nothing says it runs.
        """
        due: dict[tuple[WorkflowId, Actor, int], list[Command]] = {}
        warnings: list[str] = []
        for job_id, request in list(self._stop_requests.items()):
            entry = self._index.get(job_id)
            if entry is None:  # not normally reached: _unindex forgets it
                del self._stop_requests[job_id]
                continue
            workflow_id, _, job = entry
            state = job.state
            if state is JobState.stopped:
                del self._stop_requests[job_id]
                continue
            if (
                state is None
                or job_id in self._stale
                or now - request.sent_at < self._stop_retry_ns
            ):
                continue
            if request.retries >= MAX_STOP_RETRIES:
                del self._stop_requests[job_id]
                self._counters["stop_retries_exhausted"] += 1
                warnings.append(
                    f"{job_id.source_name} of {self.get_spec(workflow_id).title} "
                    f"still runs after {MAX_STOP_RETRIES} re-sent stops "
                    f"(job {job_id}); stop it at the backend"
                )
                continue
            request.retries += 1
            request.sent_at = now
            self._counters["stop_retries"] += 1
            due.setdefault((workflow_id, request.actor, request.retries), []).append(
                JobCommand(
                    job_id=JobIdentifier.from_domain(job_id), action=JobAction.stop
                )
            )
        for (workflow_id, actor, retry), commands in due.items():
            title = self.get_spec(workflow_id).title
            logger.info(
                "stop of %d job(s) of %s re-sent (retry %d of %d)",
                len(commands),
                workflow_id,
                retry,
                MAX_STOP_RETRIES,
            )
            self._dispatch(
                commands,
                verb="Stopped",
                subject=f"{title} (stop retry {retry}/{MAX_STOP_RETRIES})",
                actor=actor,
                action=STOP_RETRY_ACTION,
                workflow=workflow_id,
            )
        return warnings

    # --- persistence -------------------------------------------------------

    def _restore(self, state: PersistedState) -> None:
        """Take staged configs and committed job numbers from the file."""
        for key, persisted in state.workflows.items():
            self._persisted[key] = persisted
            try:
                workflow_id = WorkflowId.parse(key)
            except ValueError:
                self._restore_warning(f"ignored saved configs of {key!r}: bad id")
                continue
            spec = self._catalogue.get(workflow_id)
            if spec is None:
                # Kept in the file, in case the catalogue is only switched
                # for a while.
                continue
            staged: dict[SourceName, JobConfig] = {}
            for source, config in persisted.staged.items():
                if source not in self._source_rank[workflow_id]:
                    self._restore_warning(
                        f"dropped the saved config of {source!r} for {spec.title!r}:"
                        " not a source of the workflow any more"
                    )
                    continue
                try:
                    staged[source] = JobConfig(
                        spec.validate_params(config.params),
                        spec.validate_aux_sources(config.aux_source_names),
                    )
                except ParameterError as exc:
                    self._restore_warning(
                        f"dropped the saved config of {source!r} for {spec.title!r}:"
                        f" {exc}"
                    )
            self._states[workflow_id].staged_jobs = self._in_source_order(
                workflow_id, staged
            )
            self._update_persisted(workflow_id)

    def _restore_warning(self, text: str) -> None:
        logger.warning("%s", text)
        self._restore_warnings.append(text)

    def _update_persisted(self, workflow_id: WorkflowId) -> None:
        """Update the file content of one workflow. Hold the lock.

        The committed JobSet stays in the file until the next commit, whatever
        happens to it meanwhile, so that a restart can recognise its jobs.
        """
        key = str(workflow_id)
        state = self._states[workflow_id]
        current = state.current
        previous = self._persisted.get(key)
        if current is not None and current.committed_at is not None:
            committed: PersistedJobSet | None = PersistedJobSet(
                job_number=current.job_number,
                jobs={
                    source: _persisted_config(job)
                    for source, job in current.jobs.items()
                    if job.config_known
                },
            )
        else:
            committed = previous.current if previous is not None else None
        entry = PersistedWorkflow(
            staged={s: _persisted_config(j) for s, j in state.staged_jobs.items()},
            current=committed,
        )
        if entry.staged or entry.current is not None:
            self._persisted[key] = entry
        else:
            self._persisted.pop(key, None)

    def _save_request(self) -> tuple[int, PersistedState | None]:
        """The file content to write, numbered in order. Hold the lock."""
        if self._store is None:
            return 0, None
        self._save_seq += 1
        return self._save_seq, PersistedState(workflows=dict(self._persisted))

    def _save(self, seq: int, state: PersistedState | None) -> None:
        """Write ``state`` unless a newer one was written; outside the lock."""
        if self._store is None or state is None:
            return
        with self._save_lock:
            if seq <= self._saved_seq:
                return
            self._store.save(state)
            self._saved_seq = seq

    def _in_source_order(
        self, workflow_id: WorkflowId, jobs: dict[SourceName, JobConfig]
    ) -> dict[SourceName, JobConfig]:
        """``jobs`` in catalogue source order; unknown sources last, by name."""
        rank = self._source_rank[workflow_id]
        last = len(rank)
        return dict(
            sorted(jobs.items(), key=lambda item: (rank.get(item[0], last), item[0]))
        )


def _set_with_number(state: WorkflowState, number: JobNumber) -> JobSet | None:
    for job_set in (state.current, state.previous):
        if job_set is not None and job_set.job_number == number:
            return job_set
    return state.orphans.get(number)


def _ours(job_set: JobSet) -> bool:
    """Committed here, or adopted with the config this dashboard persisted."""
    return not job_set.adopted or job_set.config_known


def _last_heard(job_set: JobSet) -> int:
    seen = [job.last_seen for job in job_set.jobs.values() if job.last_seen is not None]
    return max(seen, default=job_set.retired_at or 0)


def _job_commands(job_set: JobSet | None, action: JobAction) -> list[Command]:
    """One ``action`` command per job of ``job_set`` not reported stopped."""
    if job_set is None:
        return []
    return [
        JobCommand(
            job_id=JobIdentifier(source_name=source, job_number=job_set.job_number),
            action=action,
        )
        for source, job in job_set.jobs.items()
        if job.state is not JobState.stopped
    ]


def _stop_commands(job_set: JobSet | None) -> list[Command]:
    return _job_commands(job_set, JobAction.stop)


def _persisted_config(job: JobConfig) -> PersistedJobConfig:
    return PersistedJobConfig(params=job.params, aux_source_names=job.aux_source_names)
