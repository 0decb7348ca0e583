"""The workflow-level model's data: jobs, JobSets and a workflow's state.

These are the design card's ``JobConfig``/``JobSet``/``WorkflowState``, grown
by what status tracking needs (receipt time, how a JobSet came to be, its
orphans). They are mutable and internal to ``JobOrchestrator``, which owns
them under its lock; anything handed to another thread is a :meth:`copy` or
an immutable snapshot (``snapshots.py``).

The JobSet transitions (retire the current set, keep or drop the previous
one, orphan, prune, place an adopted set) are methods of
:class:`WorkflowState`. Each returns the jobs it let go of (:data:`Dropped`),
so the orchestrator can take them out of its index: a workflow's state never
sees the index, the index never sees a transition's rules.

Invariant the orchestrator keeps: the ``params`` and ``aux_source_names``
dicts of a ``JobConfig`` are never mutated after construction, only replaced,
so snapshots may wrap them in read-only proxies without copying.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from jobdash.domain.commands import Command, JobAction, JobCommand, JobIdentifier
from jobdash.domain.ids import JobId, JobNumber, SourceName
from jobdash.domain.job_state import JobState
from jobdash.domain.job_status import JobStatus

__all__ = [
    "MAX_COMMITS_REMEMBERED",
    "MAX_ORPHAN_SETS",
    "Dropped",
    "JobConfig",
    "JobSet",
    "SourceConfig",
    "WorkflowState",
    "job_commands",
]

MAX_ORPHAN_SETS = 32
"""Orphan JobSets kept per workflow; the least recently heard one goes first."""

MAX_COMMITS_REMEMBERED = 32
"""Job numbers a workflow remembers having committed (the newest are kept):
an orphan under one of them was started by this dashboard."""

Dropped = list[tuple[JobId, "JobConfig"]]
"""Jobs a transition let go of: no JobSet of the workflow holds them any more."""


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """What an operator asks one source's job to be started with.

    The input of staging and of a commit with a draft; validated and
    completed with defaults by the workflow's schema on the way in.
    """

    params: Mapping[str, Any] = field(default_factory=dict)
    aux_source_names: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class JobConfig:
    """What one job was (or will be) started with, and how it is doing.

    The card's option B: the runtime ``status`` lives beside the config, so the
    two can never fall out of step. Staged configs have ``status=None``.

    Attributes
    ----------
    params, aux_source_names
        The validated parameter values and auxiliary source choices.
    status
        The latest heartbeat, or ``None`` before the first one.
    last_seen
        When that heartbeat was *received* (ns, from the orchestrator's clock);
        staleness is measured from it, not from the backend's timestamp.
    config_known
        ``False`` for an adopted job whose parameters this dashboard never saw
        ("running, config unknown"); ``params`` are then empty.
    """

    params: dict[str, Any]
    aux_source_names: dict[str, str]
    status: JobStatus | None = None
    last_seen: int | None = None
    config_known: bool = True

    @property
    def state(self) -> JobState | None:
        """The last reported state, or ``None`` before the first heartbeat."""
        return None if self.status is None else self.status.state

    def is_stale(self, now: int, stale_ns: int) -> bool:
        """Had a heartbeat, is not stopped, and the last one arrived too long ago.

        A job that never reported is not stale (it is pending); a stopped one
        stopped heartbeating on purpose.
        """
        return (
            self.last_seen is not None
            and now - self.last_seen > stale_ns
            and self.status is not None
            and self.status.state is not JobState.stopped
        )

    def copy(self) -> JobConfig:
        """A copy that shares nothing mutable with this one."""
        return JobConfig(
            dict(self.params),
            dict(self.aux_source_names),
            self.status,
            self.last_seen,
            self.config_known,
        )


@dataclass(slots=True)
class JobSet:
    """The jobs of one commit (or one adopted job number) of a workflow.

    Attributes
    ----------
    job_number
        Shared by every job of the set.
    jobs
        One entry per source, in the catalogue's source order.
    committed_at
        When this dashboard committed it (ns); ``None`` if adopted.
    stop_requested
        The operator asked it to stop (a stop was sent for its jobs).
    adopted
        Found running rather than committed by this process: through
        heartbeats of a job number it did not know, possibly matched to the
        persisted config of the previous dashboard run.
    retired_at
        When it stopped being the current JobSet (ns), or ``None`` while it
        is current; jobs that never reported get this long to do so before
        the set can be dropped.
    """

    job_number: JobNumber = field(default_factory=uuid.uuid4)
    jobs: dict[SourceName, JobConfig] = field(default_factory=dict)
    committed_at: int | None = None
    stop_requested: bool = False
    adopted: bool = False
    retired_at: int | None = None

    def job_ids(self) -> list[JobId]:
        """The full id of every job of the set."""
        return [JobId(source, self.job_number) for source in self.jobs]

    @property
    def config_known(self) -> bool:
        """Whether the parameters of at least one job are known."""
        return any(job.config_known for job in self.jobs.values())

    @property
    def all_stopped(self) -> bool:
        """Every job has reported ``stopped`` (vacuously true when empty)."""
        return all(job.state is JobState.stopped for job in self.jobs.values())

    @property
    def started_at(self) -> int | None:
        """The earliest ``start_time`` its jobs reported, or ``None``."""
        starts = [
            job.status.start_time
            for job in self.jobs.values()
            if job.status is not None and job.status.start_time is not None
        ]
        return min(starts) if starts else None

    def indexed_jobs(self) -> Dropped:
        """Every job of the set with its full id."""
        number = self.job_number
        return [(JobId(source, number), job) for source, job in self.jobs.items()]

    def last_heard(self) -> int:
        """When any of its jobs was last heard from, else when it was retired."""
        seen = [
            job.last_seen for job in self.jobs.values() if job.last_seen is not None
        ]
        return max(seen, default=self.retired_at or 0)

    def wound_down(self, now: int, stale_ns: int) -> bool:
        """A retired set is done: every job stopped, stale, or never heard from
        within ``stale_ns`` of retirement."""
        retired_at = self.retired_at if self.retired_at is not None else now
        for job in self.jobs.values():
            if job.status is None:
                if now - retired_at <= stale_ns:
                    return False
            elif job.status.state is not JobState.stopped and not job.is_stale(
                now, stale_ns
            ):
                return False
        return True

    @property
    def ours(self) -> bool:
        """Committed here, or adopted with the config this dashboard persisted."""
        return not self.adopted or self.config_known

    def copy(self) -> JobSet:
        """A deep copy: new ``JobConfig`` objects and dicts."""
        return JobSet(
            self.job_number,
            {source: job.copy() for source, job in self.jobs.items()},
            self.committed_at,
            self.stop_requested,
            self.adopted,
            self.retired_at,
        )


@dataclass(slots=True)
class WorkflowState:
    """Everything the orchestrator holds for one workflow of the catalogue.

    Attributes
    ----------
    current
        The JobSet the card shows as running (committed or adopted), or
        ``None``.
    previous
        The JobSet the last commit replaced, kept while its jobs wind down
        (until all report ``stopped`` or go stale), then dropped.
    staged_jobs
        The configs the next commit will start, by source (``status`` unused).
        They stay staged after a commit, so "Commit & Restart" reuses them.
    orphans
        JobSets found running that are neither current nor previous (an older
        adopted job number, or a previous JobSet outlived by another commit),
        by job number; the operator can stop them.
    committed_here
        The job numbers this dashboard committed for the workflow, oldest
        first, at most :data:`MAX_COMMITS_REMEMBERED` (persisted, so a
        restart still knows its own): an orphan under one of them is ours to
        stop, one under another number was started by someone else.
    """

    current: JobSet | None = None
    previous: JobSet | None = None
    staged_jobs: dict[SourceName, JobConfig] = field(default_factory=dict)
    orphans: dict[JobNumber, JobSet] = field(default_factory=dict)
    committed_here: deque[JobNumber] = field(
        default_factory=lambda: deque(maxlen=MAX_COMMITS_REMEMBERED)
    )

    def copy(self) -> WorkflowState:
        """A deep copy, safe to hand to another thread."""
        return WorkflowState(
            None if self.current is None else self.current.copy(),
            None if self.previous is None else self.previous.copy(),
            {source: job.copy() for source, job in self.staged_jobs.items()},
            {number: orphan.copy() for number, orphan in self.orphans.items()},
            deque(self.committed_here, maxlen=MAX_COMMITS_REMEMBERED),
        )

    def remember_commit(self, job_number: JobNumber) -> None:
        """Note that this dashboard committed ``job_number`` (the oldest such
        memory goes past :data:`MAX_COMMITS_REMEMBERED`)."""
        if job_number not in self.committed_here:
            self.committed_here.append(job_number)

    def orphan_started_here(self, job_number: JobNumber) -> bool:
        """Whether the orphan JobSet ``job_number`` is one this dashboard committed."""
        return job_number in self.orphans and job_number in self.committed_here

    def stop_orphans(self, job_ids: Collection[JobId]) -> list[Command]:
        """Stop commands for those of ``job_ids`` that are orphans not yet
        ``stopped``; their JobSets are marked ``stop_requested``.

        Ids that are no orphan (any more: it stopped or was forgotten since
        the operator chose it) get nothing.
        """
        commands: list[Command] = []
        for job_id in job_ids:
            orphan = self.orphans.get(job_id.job_number)
            job = None if orphan is None else orphan.jobs.get(job_id.source_name)
            if orphan is None or job is None or job.state is JobState.stopped:
                continue
            orphan.stop_requested = True
            commands.append(
                JobCommand(
                    job_id=JobIdentifier.from_domain(job_id), action=JobAction.stop
                )
            )
        return commands

    def set_with_number(self, number: JobNumber) -> JobSet | None:
        """The current, previous or orphan JobSet with job number ``number``."""
        for job_set in (self.current, self.previous):
            if job_set is not None and job_set.job_number == number:
                return job_set
        return self.orphans.get(number)

    # --- transitions -------------------------------------------------------

    def retire_current(self, now: int) -> Dropped:
        """Make room for a new current: current → previous, previous → orphans.

        The older previous set's never-heard and stopped jobs go; its live
        ones stay visible as orphans (a never-heard job that starts late is
        adopted anyway). A current set that is all stopped is dropped rather
        than kept winding down.
        """
        dropped: Dropped = []
        older = self.previous
        if older is not None:
            self.previous = None
            for source, job in list(older.jobs.items()):
                if job.status is None or job.status.state is JobState.stopped:
                    del older.jobs[source]
                    dropped.append((JobId(source, older.job_number), job))
            if older.jobs:
                dropped += self.add_orphan(older, now)
        current = self.current
        if current is None:
            return dropped
        self.current = None
        if current.all_stopped:
            return dropped + current.indexed_jobs()
        current.retired_at = now
        current.stop_requested = True
        self.previous = current
        return dropped

    def add_orphan(self, job_set: JobSet, now: int) -> Dropped:
        """Keep ``job_set`` as an orphan; evict the least recently heard past
        :data:`MAX_ORPHAN_SETS` (a live one comes back with its next heartbeat)."""
        if job_set.retired_at is None:
            job_set.retired_at = now
        self.orphans[job_set.job_number] = job_set
        dropped: Dropped = []
        while len(self.orphans) > MAX_ORPHAN_SETS:
            evicted = min(self.orphans.values(), key=JobSet.last_heard)
            del self.orphans[evicted.job_number]
            dropped += evicted.indexed_jobs()
        return dropped

    def prune_orphans(self, now: int, stale_ns: int, forget_ns: int) -> Dropped:
        """Forget orphan jobs silent for ``forget_ns`` (never heard: ``stale_ns``
        after retirement), and orphan sets left empty."""
        dropped: Dropped = []
        for number, orphan in list(self.orphans.items()):
            retired_at = orphan.retired_at if orphan.retired_at is not None else now
            for source, job in list(orphan.jobs.items()):
                if job.last_seen is None:
                    gone = now - retired_at > stale_ns
                else:
                    gone = now - job.last_seen > forget_ns
                if gone:
                    del orphan.jobs[source]
                    dropped.append((JobId(source, number), job))
            if not orphan.jobs:
                del self.orphans[number]
        return dropped

    def drop_previous_if_wound_down(self, now: int, stale_ns: int) -> Dropped:
        """Drop the previous JobSet once :meth:`JobSet.wound_down`."""
        previous = self.previous
        if previous is None or not previous.wound_down(now, stale_ns):
            return []
        self.previous = None
        return previous.indexed_jobs()

    def retired_job_stopped(
        self, job_set: JobSet, job_id: JobId, now: int, stale_ns: int
    ) -> Dropped:
        """A job of the previous JobSet or of an orphan reported ``stopped``.

        The previous set goes as a whole once wound down; an orphan's stopped
        job goes at once (and the orphan set when it is empty).
        """
        if self.previous is job_set:
            return self.drop_previous_if_wound_down(now, stale_ns)
        job = job_set.jobs.pop(job_id.source_name)
        if not job_set.jobs:
            del self.orphans[job_set.job_number]
        return [(job_id, job)]

    def place_adopted(
        self, new: JobSet, start_time: int | None, ours: bool, now: int
    ) -> tuple[str, Dropped]:
        """Place a JobSet found running under an unknown job number.

        It becomes current when there is none (or only a stopped one), or
        when the current set is foreign and the new one is ours or started
        later; otherwise it is an orphan. Returns the role it got (for the
        log) and the jobs let go of.
        """
        current = self.current
        if current is None or current.all_stopped:
            self.current = new
            return "current", [] if current is None else current.indexed_jobs()
        if not current.ours and (ours or (start_time or 0) > (current.started_at or 0)):
            dropped = self.add_orphan(current, now)
            self.current = new
            return "current (the previous current is now an orphan)", dropped
        return "an orphan", self.add_orphan(new, now)


def job_commands(job_set: JobSet | None, action: JobAction) -> list[Command]:
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
