"""Applying heartbeats to the workflows' JobSets: match, adopt, ignore, count.

``JobOrchestrator`` holds its lock and hands every heartbeat to
:meth:`HeartbeatTracking.apply`; what it returns says which workflow's card
would now look different, so the orchestrator knows what to publish. The
rules (``docs/decisions/0004-jobset-transitions-and-adoption.md``):

- A heartbeat is matched on its full ``JobId`` through the
  :class:`~jobdash.services.job_index.JobIndex`; an older heartbeat than the
  stored one of the same job (by ``timestamp``) is ignored and counted.
- A heartbeat of an untracked job of a catalogued workflow is *adopted*:
  its job joins the JobSet of its job number, or a new JobSet is placed
  (:meth:`~jobdash.services.workflow_state.WorkflowState.place_adopted`),
  with its persisted config when it is the job number this dashboard
  committed before a restart. A ``stopped`` heartbeat of an untracked job,
  or one overtaken by the job's recorded stop, adopts nothing.
- A job of a retired JobSet that reports ``stopped`` lets its set wind down.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from jobdash.domain.ids import JobId, WorkflowId
from jobdash.domain.job_state import JobState
from jobdash.domain.job_status import JobStatus
from jobdash.domain.workflow_catalogue import WorkflowCatalogue
from jobdash.services.job_index import JobIndex
from jobdash.services.workflow_persistence import (
    WorkflowPersistence,
    persisted_configs,
)
from jobdash.services.workflow_state import Dropped, JobConfig, JobSet, WorkflowState

__all__ = ["MAX_JOBS_PER_SET", "HeartbeatTracking"]

logger = logging.getLogger(__name__)

MAX_JOBS_PER_SET = 256
"""Jobs adopted into one JobSet at most: heartbeats are untrusted input."""

ErrorListener = Callable[[WorkflowId, JobId, str], None]
"""Told of a job's new error text: its workflow, the job, the text."""


class HeartbeatTracking:
    """The heartbeat side of ``JobOrchestrator``. Not thread-safe: it locks.

    Parameters
    ----------
    catalogue
        Which workflows exist (heartbeats of others are counted and ignored).
    states
        The orchestrator's workflow states (shared, mutated here).
    index
        The orchestrator's job index (shared, mutated here).
    persistence
        Tells which job number this dashboard committed last (adoption).
    stale_ns
        The stale threshold: a retired set winds down once its jobs stopped
        or went stale.
    forget
        Takes jobs a transition let go of out of the orchestrator's books.
    on_error
        Told when a job reports a new error text; ``None``: nobody.
    """

    def __init__(
        self,
        catalogue: WorkflowCatalogue,
        states: dict[WorkflowId, WorkflowState],
        index: JobIndex,
        persistence: WorkflowPersistence,
        *,
        stale_ns: int,
        forget: Callable[[Dropped, int], None],
        on_error: ErrorListener | None = None,
    ) -> None:
        self._catalogue = catalogue
        self._states = states
        self._index = index
        self._persistence = persistence
        self._stale_ns = stale_ns
        self._forget = forget
        self._on_error = on_error
        self.counters = dict.fromkeys(
            (
                "unknown_workflow",
                "out_of_order",
                "late_after_stop",
                "stopped_unknown_job",
                "over_capacity",
                "adopted_sets",
            ),
            0,
        )
        """Heartbeats ignored, by reason, and JobSets adopted."""

    def apply(self, status: JobStatus, now: int) -> WorkflowId | None:
        """Apply one heartbeat received at ``now``; the workflow it changed.

        ``None`` when it changed nothing a card shows (same state, messages
        and times: only a later receipt time) or was ignored. The
        per-heartbeat hot path: an index lookup, the timestamp comparison,
        two assignments (and, for a job's first heartbeat, re-keying its
        index entry by the decoder's JobId object). Anything rarer is
        delegated.
        """
        job_id = status.job_id
        index = self._index
        entries = index.entries
        entry = entries.get(job_id)
        if entry is None:
            return self._apply_untracked(status, now)
        wid, job_set, job = entry
        old = job.status
        if old is None:
            visible = True
        elif status.timestamp < old.timestamp:
            self.counters["out_of_order"] += 1
            return None
        else:
            visible = (
                status.state is not old.state
                or status.error_message != old.error_message
                or status.warning_message != old.warning_message
                or status.start_time != old.start_time
                or status.end_time != old.end_time
            )
        if old is None or old.job_id is not job_id:
            # Key the entry by the decoder's JobId object, which its later
            # heartbeats share: a lookup with the very key object skips the
            # Python-level JobId equality (the commit built another object).
            del entries[job_id]
            entries[job_id] = entry
        job.status = status
        job.last_seen = now
        if now < index.last_scan:
            index.rescan()  # the clock went back
        stale = index.stale
        if stale and job_id in stale:  # heard from again (hash only if any)
            stale.discard(job_id)
            visible = True
        if not visible:
            return None
        if (
            status.error_message
            and self._on_error is not None
            and (old is None or status.error_message != old.error_message)
        ):
            self._on_error(wid, job_id, status.error_message)
        if status.state is JobState.stopped and job_set.retired_at is not None:
            state = self._states[wid]
            self._forget(
                state.retired_job_stopped(job_set, job_id, now, self._stale_ns), now
            )
        return wid

    def _apply_untracked(self, status: JobStatus, now: int) -> WorkflowId | None:
        workflow_id = status.workflow_id
        state = self._states.get(workflow_id)
        if state is None:
            self.counters["unknown_workflow"] += 1
            return None
        job_id = status.job_id
        if status.state is JobState.stopped:
            self.counters["stopped_unknown_job"] += 1
            return None
        if self._index.finished_before(job_id, status.timestamp):
            self.counters["late_after_stop"] += 1
            return None
        job_set = state.set_with_number(job_id.job_number)
        if job_set is None:
            job_set = self._adopt(workflow_id, state, status, now)
        job = job_set.jobs.get(job_id.source_name)
        if job is None:
            if len(job_set.jobs) >= MAX_JOBS_PER_SET:
                self.counters["over_capacity"] += 1
                return None
            job = JobConfig({}, {}, config_known=False)
            jobs = dict(job_set.jobs)
            jobs[job_id.source_name] = job
            job_set.jobs = self._catalogue[workflow_id].in_source_order(jobs)
            self._index.add(job_id, workflow_id, job_set)
        job.status = status
        job.last_seen = now
        return workflow_id

    def _adopt(
        self, workflow_id: WorkflowId, state: WorkflowState, status: JobStatus, now: int
    ) -> JobSet:
        """Place a JobSet for the unknown job number of ``status``; return it."""
        number = status.job_id.job_number
        known = self._persistence.committed(workflow_id)
        ours = known is not None and known.job_number == number
        new = JobSet(number, adopted=True)
        if known is not None and ours:
            spec = self._catalogue[workflow_id]
            new.jobs = spec.in_source_order(persisted_configs(known.jobs))
            self._index.add_set(workflow_id, new)
        self.counters["adopted_sets"] += 1
        role, dropped = state.place_adopted(new, status.start_time, ours, now)
        self._forget(dropped, now)
        logger.info(
            "adopted job number %s of %s as %s%s",
            number,
            workflow_id,
            role,
            " with its persisted config" if ours else ", config unknown",
        )
        return new
