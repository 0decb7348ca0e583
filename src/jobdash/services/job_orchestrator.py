"""The workflow-level model: the lifecycle of every catalogued workflow.

``JobOrchestrator`` is what a workflow card shows and acts through. Operators
stage a config per source, commit (one job per staged source under a fresh job
number, replacing the running JobSet), stop and reset; every action names its
actor and goes through the one command path
(:mod:`jobdash.services.command_dispatcher`). Heartbeats, routed here
independently of ``JobService``, update the matching job
(:mod:`jobdash.services.heartbeat_tracking`, :mod:`jobdash.services.job_index`).
The JobSet transitions are :class:`~jobdash.services.workflow_state.WorkflowState`
methods; stops keep working (:mod:`jobdash.services.stop_retries`); staged
configs and committed job numbers persist
(:mod:`jobdash.services.workflow_persistence`). Rules:
``docs/decisions/0002-card-open-questions.md``,
``docs/decisions/0004-jobset-transitions-and-adoption.md``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Collection, Mapping
from types import MappingProxyType
from typing import Any

import param

from jobdash.domain.access import Actor
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
from jobdash.domain.job_status import JobStatus, message_summary
from jobdash.domain.workflow_catalogue import (
    WorkflowCatalogue,
    WorkflowSpec,
)
from jobdash.domain.workflow_status import AggregateStatus
from jobdash.services.command_dispatcher import CommandDispatcher
from jobdash.services.config_store import ConfigStore
from jobdash.services.heartbeat_tracking import HeartbeatTracking
from jobdash.services.job_index import JobIndex
from jobdash.services.notifications import NotificationLevel, NotificationLog
from jobdash.services.snapshots import (
    WorkflowSnapshot,
    build_workflow_snapshot,
    jobset_aggregate,
)
from jobdash.services.stop_retries import (
    JobProgress,
    StopRetries,
)
from jobdash.services.versioned import VersionedModel
from jobdash.services.workflow_persistence import (
    WorkflowPersistence,
)
from jobdash.services.workflow_state import (
    Dropped,
    JobConfig,
    JobSet,
    SourceConfig,
    WorkflowState,
    job_commands,
)

__all__ = ["JobOrchestrator"]

logger = logging.getLogger(__name__)


class JobOrchestrator(VersionedModel):
    """Workflow-level state of every catalogued workflow, and its actions.

    Threads: the ingestion thread calls :meth:`status_updated` and
    :meth:`tick`; UI threads call the actions; anyone calls the readers, which
    return deep copies or immutable snapshots. One re-entrant lock guards all
    state. Actions send their commands (and track and audit them) under that
    lock, so commands and state never disagree; the config file is written
    after it is released. Lock order: this lock, then the dispatcher's
    collaborators' (sink, tracker, audit log), never the reverse.

    Access: every action takes the acting user (``actor=``, required), is
    checked before anything changes (a refusal is audited and raises
    :class:`~jobdash.domain.access.PermissionDeniedError`) and is audited.

    Versions: ``version`` is bumped once per batch in which anything changed;
    each workflow's counter (:meth:`workflow_version`, or the read-only
    ``workflow_versions`` mapping, replaced together with ``version``) only if
    *that* workflow changed. Sessions poll ``version``, then re-read the
    workflows whose counters moved. A heartbeat that changes nothing a card
    shows does not bump; staleness flips are published by :meth:`tick`.

    Parameters
    ----------
    catalogue
        The workflows that exist; heartbeats of other workflows are ignored
        (and counted).
    commands
        The one command path: who may act, where commands go, their tracking
        for feedback, the audit trail.
    clock
        Source of receipt, commit and "now" times.
    config_store
        Persists staged configs and each workflow's committed job number and
        configs; loaded once here. ``None``: nothing is persisted.
    stale_after
        Seconds without a heartbeat before a job that is not stopped is stale.
    forget_after
        Seconds of silence after which an orphan job, or the memory of a
        stopped job (to ignore its late heartbeats), is dropped; default ten
        times ``stale_after``.
    new_job_number
        Makes the job number of each commit; default ``uuid.uuid4``. The
        simulated deployment passes a seeded generator so that a replayed
        scenario (and a screenshot of it) shows the same job numbers.
    stop_retry_interval
        Seconds after a stop (or its last re-send) at which a job whose
        heartbeats still say it runs gets its stop again.
    notifications
        Where job errors and the warning about a job that outlived every
        re-sent stop go; ``None``: they are only logged.
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
        commands: CommandDispatcher,
        clock: Clock,
        *,
        config_store: ConfigStore | None = None,
        stale_after: float = 6.0,
        forget_after: float | None = None,
        new_job_number: Callable[[], JobNumber] = uuid.uuid4,
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
        self._commands = commands
        self._guard = commands.guard
        self._clock = clock
        self._new_job_number = new_job_number
        self._stale_ns = round(stale_after * 1e9)
        self._forget_ns = round(forget_after * 1e9)
        self._notifications = notifications
        self._stop_retries = StopRetries(round(stop_retry_interval * 1e9))
        self._persistence = WorkflowPersistence(config_store, catalogue)

        self._states: dict[WorkflowId, WorkflowState] = {
            wid: WorkflowState() for wid in catalogue.workflow_ids
        }
        self._versions: dict[WorkflowId, int] = dict.fromkeys(self._states, 0)
        self._dirty_workflows: set[WorkflowId] = set()
        self._index = JobIndex()
        self._heartbeats = HeartbeatTracking(
            catalogue,
            self._states,
            self._index,
            self._persistence,
            stale_ns=self._stale_ns,
            forget=self._forget,
            on_error=None if notifications is None else self._notify_error,
        )
        restored = self._persistence.restore()
        for workflow_id, staged in restored.items():
            state = self._states[workflow_id]
            state.staged_jobs = staged
            state.committed_here.extend(
                self._persistence.committed_numbers(workflow_id)
            )
            self._persistence.update(workflow_id, state)
        self.param.update(workflow_versions=MappingProxyType(dict(self._versions)))

    # --- writer (ingestion thread) ---------------------------------------

    def status_updated(self, status: JobStatus) -> None:
        """Apply one heartbeat (:mod:`jobdash.services.heartbeat_tracking`);
        publish its workflow if its card would show a difference."""
        now = self._clock.now_ns()
        with self._lock:
            wid = self._heartbeats.apply(status, now)
            if wid is None:
                return
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
            self._dirty_workflows |= self._index.refresh_stale(now, self._stale_ns)
            if self._stop_retries:
                warnings = self._stop_retries.resend_due(
                    now, self._progress_of, self._commands
                )
            for wid, state in self._states.items():
                previous = state.previous
                if previous is not None:
                    self._forget(
                        state.drop_previous_if_wound_down(now, self._stale_ns), now
                    )
                    if state.previous is None:
                        self._dirty_workflows.add(wid)
                if state.orphans:
                    pruned = state.prune_orphans(now, self._stale_ns, self._forget_ns)
                    if pruned:
                        self._forget(pruned, now)
                        self._dirty_workflows.add(wid)
            self._index.expire_finished(now, self._forget_ns)
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
        actor: Actor,
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
        self._guard.authorize(
            actor, "stage configs", "stage_config", workflow=workflow_id
        )
        config = JobConfig(
            *self.get_spec(workflow_id).validate_config(
                source_name, params, aux_source_names or {}
            )
        )

        def stage(staged: dict[SourceName, JobConfig]) -> bool:
            staged[source_name] = config
            return True

        self._change_staged(workflow_id, stage, actor, "stage_config")

    def unstage_config(
        self, workflow_id: WorkflowId, source_name: SourceName, *, actor: Actor
    ) -> None:
        """Remove one source from the staged configs (no error if not staged).

        Raises
        ------
        PermissionDeniedError
            ``actor`` may not act (``ReadOnlyError`` if nobody may); audited.
        KeyError
            ``workflow_id`` is not in the catalogue.
        """
        self._guard.authorize(
            actor, "stage configs", "unstage_config", workflow=workflow_id
        )
        self.get_spec(workflow_id)

        def unstage(staged: dict[SourceName, JobConfig]) -> bool:
            return staged.pop(source_name, None) is not None

        self._change_staged(workflow_id, unstage, actor, "unstage_config")

    def clear_staged_configs(self, workflow_id: WorkflowId, *, actor: Actor) -> None:
        """Unstage every source of the workflow.

        Raises
        ------
        PermissionDeniedError
            ``actor`` may not act (``ReadOnlyError`` if nobody may); audited.
        KeyError
            ``workflow_id`` is not in the catalogue.
        """
        self._guard.authorize(
            actor, "stage configs", "clear_staged_configs", workflow=workflow_id
        )
        self.get_spec(workflow_id)

        def clear(staged: dict[SourceName, JobConfig]) -> bool:
            changed = bool(staged)
            staged.clear()
            return changed

        self._change_staged(workflow_id, clear, actor, "clear_staged_configs")

    def commit_workflow(
        self,
        workflow_id: WorkflowId,
        *,
        actor: Actor,
        draft: Mapping[SourceName, SourceConfig] | None = None,
        stop_orphans: Collection[JobId] = (),
    ) -> JobNumber:
        """Start one job per staged source under a fresh job number.

        With a ``draft``, the staged configs first become exactly the draft
        (validated, completed with defaults), in the same locked step as the
        commit and with one config-file save: another session's staging or
        commit cannot come between, so the jobs started carry this draft.

        ``stop_orphans``: orphan jobs of this workflow to stop in the same
        step (the operator ticked them in the commit's confirmation); those
        no longer orphans, or already ``stopped``, get nothing. Their stops
        are tracked as ``"Stopped"`` for ``"orphans of <title>"``. The new
        job number is remembered as committed here
        (``WorkflowSnapshot.orphans_started_here``).

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
        ParameterError
            The draft names a source the workflow lacks, or a value or
            auxiliary source the schema refuses (nothing is staged or sent).
        ValueError
            Nothing is staged, or the draft is empty.
        """
        self._guard.authorize(
            actor, "commit workflows", "commit_workflow", workflow=workflow_id
        )
        spec = self.get_spec(workflow_id)
        drafted: dict[SourceName, JobConfig] | None = None
        if draft is not None:
            if not draft:
                raise ValueError(f"the draft for {spec.title!r} has no source")
            drafted = spec.in_source_order(
                {
                    source: JobConfig(
                        *spec.validate_config(
                            source, config.params, config.aux_source_names
                        )
                    )
                    for source, config in draft.items()
                },
            )
        identifier = WorkflowIdentifier.from_domain(workflow_id)
        with self._lock:
            state = self._states[workflow_id]
            if drafted is not None:
                state.staged_jobs = drafted
            if not state.staged_jobs:
                raise ValueError(f"nothing is staged for {spec.title!r}")
            now = self._clock.now_ns()
            job_number = self._new_job_number()
            new = JobSet(
                job_number,
                {src: job.copy() for src, job in state.staged_jobs.items()},
                committed_at=now,
            )
            stops = job_commands(state.current, JobAction.stop)
            orphan_stops = state.stop_orphans(stop_orphans)
            starts: list[Command] = [
                WorkflowConfigCommand(
                    identifier=identifier,
                    job_id=JobIdentifier(source_name=source, job_number=job_number),
                    aux_source_names=job.aux_source_names,
                    params=job.params,
                )
                for source, job in new.jobs.items()
            ]
            self._forget(state.retire_current(now), now)
            state.current = new
            state.remember_commit(job_number)
            self._index.add_set(workflow_id, new)
            self._persistence.update(workflow_id, state)
            save = self._persistence.save_request()
            self._touch(workflow_id)
            for commands, verb, subject in (
                (stops, "Stopped", spec.title),
                (orphan_stops, "Stopped", f"orphans of {spec.title}"),
                (starts, "Started", spec.title),
            ):
                self._commands.dispatch(
                    commands,
                    verb=verb,
                    subject=subject,
                    actor=actor,
                    action="commit_workflow",
                    workflow=workflow_id,
                )
            self._stop_retries.remember(
                stops + orphan_stops, actor, now, self._index.entries
            )
        self._persistence.save(save)
        logger.info(
            "committed %s as job number %s: %d job(s), %d stop(s), %d orphan stop(s)",
            workflow_id,
            job_number,
            len(starts),
            len(stops),
            len(orphan_stops),
        )
        return job_number

    def stop_workflow(self, workflow_id: WorkflowId, *, actor: Actor) -> int:
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
        self._guard.authorize(
            actor, "stop workflows", "stop_workflow", workflow=workflow_id
        )
        spec = self.get_spec(workflow_id)
        with self._lock:
            state = self._states[workflow_id]
            commands: list[Command] = []
            for job_set in (state.current, *state.orphans.values()):
                if job_set is not None:
                    commands += job_commands(job_set, JobAction.stop)
                    job_set.stop_requested = True
            if state.current is None and not state.orphans:
                return 0
            self._touch(workflow_id)
            self._commands.dispatch(
                commands,
                verb="Stopped",
                subject=spec.title,
                actor=actor,
                action="stop_workflow",
                workflow=workflow_id,
            )
            self._stop_retries.remember(
                commands, actor, self._clock.now_ns(), self._index.entries
            )
        logger.info("stop of %s: %d command(s)", workflow_id, len(commands))
        return len(commands)

    def reset_workflow(self, workflow_id: WorkflowId, *, actor: Actor) -> int:
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
        ActionRefusedError
            The catalogue says the workflow has no reset
            (``supports_reset: false``); audited ``refused: <why>``, nothing
            sent.
        """
        self._guard.authorize(
            actor, "reset workflows", "reset_workflow", workflow=workflow_id
        )
        spec = self.get_spec(workflow_id)
        if (why := spec.reset_refusal) is not None:
            reason = f"{spec.title} cannot be reset: {why}"
            self._guard.refuse(actor, "reset_workflow", reason, workflow=workflow_id)
        with self._lock:
            current = self._states[workflow_id].current
            commands = job_commands(current, JobAction.reset)
            self._commands.dispatch(
                commands,
                verb="Reset",
                subject=spec.title,
                actor=actor,
                action="reset_workflow",
                workflow=workflow_id,
            )
        logger.info("reset of %s: %d command(s)", workflow_id, len(commands))
        return len(commands)

    def pause_workflow(self, workflow_id: WorkflowId, *, actor: Actor) -> int:
        """Ask the current JobSet's jobs to pause; as :meth:`resume_workflow`."""
        return self._job_action(workflow_id, JobAction.pause, "Paused", actor)

    def resume_workflow(self, workflow_id: WorkflowId, *, actor: Actor) -> int:
        """Ask every job of the current JobSet that is not stopped to resume.

        Only jobs whose source a fresh worker accepts the action for get a
        command (``CommandDispatcher.dispatch_supported``). Returns how many
        were sent. Raises ``PermissionDeniedError`` (audited), ``KeyError``
        (not catalogued), ``ActionRefusedError`` (no job supported; audited).
        """
        return self._job_action(workflow_id, JobAction.resume, "Resumed", actor)

    def _job_action(
        self, wid: WorkflowId, action: JobAction, verb: str, actor: Actor
    ) -> int:
        name = f"{action.value}_workflow"
        self._guard.authorize(actor, f"{action.value} workflows", name, workflow=wid)
        title = self.get_spec(wid).title
        supporting = self._commands.supporting(action)  # before our lock
        with self._lock:
            commands = job_commands(self._states[wid].current, action)
            sent = self._commands.dispatch_supported(
                commands, supporting, verb=verb, subject=title, actor=actor,
                action=name, workflow=wid,
            )  # fmt: skip
        logger.info("%s of %s: %d command(s)", action.value, wid, sent)
        return sent

    def stop_job(self, job_id: JobId, *, actor: Actor) -> None:
        """Ask one job to stop: meant for orphans and adopted jobs.

        Raises
        ------
        PermissionDeniedError
            ``actor`` may not act (``ReadOnlyError`` if nobody may); audited
            with the job's workflow when the job is tracked.
        KeyError
            The job is not current, previous or orphan of any workflow.
        """
        with self._lock:
            workflow = self._index.workflow_of(job_id)
        self._guard.authorize(
            actor, f"stop job {job_id}", "stop_job", workflow=workflow, job=job_id
        )
        with self._lock:
            entry = self._index.entries.get(job_id)
            if entry is None:
                raise KeyError(f"no job {job_id} is being tracked")
            workflow_id, job_set, _ = entry
            if job_set.job_number in self._states[workflow_id].orphans:
                job_set.stop_requested = True
                self._touch(workflow_id)
            command = JobCommand(
                job_id=JobIdentifier.from_domain(job_id), action=JobAction.stop
            )
            self._commands.dispatch(
                [command],
                verb="Stopped",
                subject=self.get_spec(workflow_id).title,
                actor=actor,
                action="stop_job",
                workflow=workflow_id,
            )
            self._stop_retries.remember(
                [command], actor, self._clock.now_ns(), self._index.entries
            )
        logger.info("stop of job %s", job_id)

    # --- readers (any thread) --------------------------------------------

    @property
    def workflow_ids(self) -> list[WorkflowId]:
        """Every workflow of the catalogue, in catalogue order."""
        return self._catalogue.workflow_ids

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
            entry = self._index.entries.get(job_id)
            return entry is not None and entry[2].is_stale(
                self._clock.now_ns(), self._stale_ns
            )

    def snapshot(self, workflow_id: WorkflowId) -> WorkflowSnapshot:
        """An immutable view of one workflow."""
        spec = self.get_spec(workflow_id)
        with self._lock:
            return self._snapshot(spec, self._clock.now_ns())

    def snapshots(self) -> list[WorkflowSnapshot]:
        """Every workflow, in catalogue order, as of one instant."""
        with self._lock:
            now = self._clock.now_ns()
            return [self._snapshot(spec, now) for spec in self._catalogue.workflows]

    def _snapshot(self, spec: WorkflowSpec, now: int) -> WorkflowSnapshot:
        wid = spec.workflow_id
        state, version = self._states[wid], self._versions[wid]
        return build_workflow_snapshot(spec, state, version, now, self._stale_ns)

    def counters(self) -> dict[str, int]:
        """Heartbeats ignored, by reason, JobSets adopted (see
        :attr:`HeartbeatTracking.counters`), and stops re-sent
        (``stop_retries``) or given up on (``stop_retries_exhausted``)."""
        with self._lock:
            return {
                **self._heartbeats.counters,
                "stop_retries": self._stop_retries.retries,
                "stop_retries_exhausted": self._stop_retries.exhausted,
            }

    @property
    def warnings(self) -> list[str]:
        """Problems with the persisted configs (store and restore), oldest first."""
        with self._lock:
            return self._persistence.warnings

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

    def _forget(self, dropped: Dropped, now: int) -> None:
        """Stop tracking jobs a transition let go of. Hold the lock."""
        self._index.forget(dropped, now)
        for job_id, _ in dropped:
            self._stop_retries.forget(job_id)

    # --- staging (the lock is taken here) -----------------------------------

    def _change_staged(
        self,
        workflow_id: WorkflowId,
        change: Callable[[dict[SourceName, JobConfig]], bool],
        actor: Actor,
        action: str,
    ) -> None:
        """Apply ``change`` to a copy of the staged configs; persist if it says
        it changed something; audit the (authorized) action either way."""
        with self._lock:
            state = self._states[workflow_id]
            staged = dict(state.staged_jobs)
            changed = change(staged)
            if changed:
                state.staged_jobs = self.get_spec(workflow_id).in_source_order(staged)
                self._persistence.update(workflow_id, state)
                save = self._persistence.save_request()
                self._touch(workflow_id)
        if changed:
            self._persistence.save(save)
        self._guard.done(actor, action, workflow=workflow_id)

    def _progress_of(self, job_id: JobId) -> JobProgress | None:
        """What a stop retry needs to know of a job. Hold the lock."""
        entry = self._index.entries.get(job_id)
        if entry is None:  # not normally reached: _forget forgets it
            return None
        return JobProgress(
            entry[0],
            self.get_spec(entry[0]).title,
            entry[2].state,
            job_id in self._index.stale,
        )
