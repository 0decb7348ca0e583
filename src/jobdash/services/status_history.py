"""Recent state history of every job, for the status timeline.

The router feeds this model every heartbeat, beside ``JobService`` and
``JobOrchestrator`` (it is one more status consumer). It keeps, per job, the
*segments* of the last ``window`` seconds: stretches of time during which the
job reported the same state and message. Heartbeats that repeat the current
state only refresh the job's last-seen time, so the per-heartbeat cost is a
few dictionary operations and memory grows with state *changes*, not with
heartbeats.

Readers (one timeline per browser session) read incrementally: every change
(a segment opened, closed, or dropped) is one numbered entry in a change log;
a reader keeps the number it has seen (its *cursor*) and asks for
:meth:`StatusHistory.changes_since` it. A reader that fell further behind than
the log reaches gets a full reset instead.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import NamedTuple

from jobdash.domain.clock import Clock
from jobdash.domain.ids import JobId, WorkflowId
from jobdash.domain.job_state import JobState
from jobdash.domain.job_status import JobStatus
from jobdash.services.versioned import VersionedModel

__all__ = ["HistoryDelta", "HistorySnapshot", "Segment", "StatusHistory"]


class Segment(NamedTuple):
    """A stretch of time in which one job reported one state and message.

    Attributes
    ----------
    seq
        Identity of the segment, unique and increasing within one history;
        a segment keeps it when it is closed.
    job_id, workflow_id
        Whose segment.
    state, message
        What the job reported (``message`` is the error, else the warning;
        untrusted text).
    start
        When the first heartbeat with this state and message was received
        (ns since the epoch, from the history's clock).
    end
        When it ended (the next different heartbeat, or the last heartbeat
        received before the job went silent), or ``None`` while current.
    """

    seq: int
    job_id: JobId
    workflow_id: WorkflowId
    state: JobState
    message: str | None
    start: int
    end: int | None


@dataclass(frozen=True, slots=True)
class HistorySnapshot:
    """Every segment kept, oldest first per job; ``cursor`` is where it stands.

    Pass ``cursor`` to :meth:`StatusHistory.changes_since` to read on
    incrementally from this snapshot.
    """

    version: int
    cursor: int
    segments: tuple[Segment, ...]


@dataclass(frozen=True, slots=True)
class HistoryDelta:
    """What changed between a reader's cursor and ``cursor``.

    Attributes
    ----------
    cursor
        The position to ask from next time.
    reset
        The reader's cursor was older than the change log reaches (or not
        from this history): ``segments`` then holds *every* segment kept and
        the reader must drop what it had.
    segments
        Segments added or changed (closed) since the cursor, latest version of
        each, in change order.
    removed
        ``seq`` of segments dropped since the cursor (pruned out of the
        window, or evicted by the per-job cap) that the reader may hold.
    """

    cursor: int
    reset: bool
    segments: tuple[Segment, ...]
    removed: tuple[int, ...]

    @property
    def empty(self) -> bool:
        """Nothing to apply."""
        return not (self.reset or self.segments or self.removed)


class _Job:
    """Mutable per-job record; only touched with the history's lock held."""

    __slots__ = ("last_seen", "last_timestamp", "segments")

    def __init__(self, max_segments: int) -> None:
        self.segments: deque[Segment] = deque(maxlen=max_segments)
        self.last_seen = 0
        self.last_timestamp = 0


class _Change(NamedTuple):
    """One log entry: a segment created or changed, or dropped (``None``)."""

    seq: int
    segment: Segment | None
    created: bool = False


class StatusHistory(VersionedModel):
    """Per-job state segments of the last ``window`` seconds.

    A status consumer for the router (``status_updated``, ``batch_updates``,
    ``tick``, ``version``); readers call :meth:`snapshot` or
    :meth:`changes_since` from any thread and get immutable values.

    Parameters
    ----------
    clock
        Source of receipt times and of "now" for pruning.
    window
        Seconds of history to keep: :meth:`tick` drops segments that ended
        before ``now - window``, and forgets jobs silent that long.
    max_segments_per_job
        Cap on one job's segments (a job flapping between states every
        heartbeat); the oldest is dropped first.
    stale_after
        Seconds without a heartbeat after which :meth:`tick` closes a job's
        current segment at its last heartbeat, so a silent job does not look
        as if it were still running. Its next heartbeat opens a new segment.
    log_capacity
        How many changes the log keeps for incremental readers; a reader
        further behind gets a reset.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        window: float = 600.0,
        max_segments_per_job: int = 200,
        stale_after: float = 6.0,
        log_capacity: int = 20_000,
    ) -> None:
        if window <= 0:
            raise ValueError(f"window must be positive, got {window}")
        if max_segments_per_job < 1:
            raise ValueError(
                f"max_segments_per_job must be at least 1, got {max_segments_per_job}"
            )
        if stale_after <= 0:
            raise ValueError(f"stale_after must be positive, got {stale_after}")
        if log_capacity < 1:
            raise ValueError(f"log_capacity must be at least 1, got {log_capacity}")
        super().__init__()
        self._clock = clock
        self._window_ns = round(window * 1e9)
        self._stale_ns = round(stale_after * 1e9)
        self._max_segments = max_segments_per_job
        self._log_capacity = log_capacity
        self._jobs: dict[JobId, _Job] = {}
        # tick() walks the jobs only from _next_scan on: before it no open
        # segment can have gone silent and nothing can have left the window.
        # A heartbeat received before _last_scan (the clock went back) makes
        # the next tick walk them at once.
        self._last_scan = 0
        self._next_scan = 0
        self._next_seq = 1
        # Change number n is self._log[n - self._log_first]; numbers are
        # consecutive, so a cursor finds its place in O(1).
        self._log: list[_Change] = []
        self._log_first = 1

    @property
    def window(self) -> float:
        """Seconds of history kept."""
        return self._window_ns / 1e9

    # --- writer (ingestion thread) -------------------------------------------

    def status_updated(self, status: JobStatus) -> None:
        """Take one heartbeat: O(1); a new segment only on a change.

        A heartbeat older (by ``timestamp``) than the last one taken for its
        job arrived late and is ignored, as in ``JobService``.
        """
        job_id = status.job_id
        message = status.error_message or status.warning_message
        with self._lock:
            now = self._clock.now_ns()
            job = self._jobs.get(job_id)
            if job is None:
                job = self._jobs[job_id] = _Job(self._max_segments)
            elif status.timestamp < job.last_timestamp:
                return
            job.last_timestamp = status.timestamp
            job.last_seen = now
            if now < self._last_scan:
                self._next_scan = 0
            segments = job.segments
            if segments:
                current = segments[-1]
                if current.end is None:
                    if current.state is status.state and current.message == message:
                        return  # the common case: nothing new to record
                    self._replace_last(segments, current._replace(end=now))
            self._append(
                segments,
                Segment(
                    self._next_seq,
                    job_id,
                    status.workflow_id,
                    status.state,
                    message,
                    now,
                    None,
                ),
            )
            self._next_seq += 1
            self._mark_changed()

    def tick(self) -> None:
        """Close the segments of silent jobs; drop what left the window.

        Called 4 times a second, but walks the jobs (O(jobs + segments
        dropped)) only once something can be due: every heartbeat sets its
        job's ``last_seen`` to the receipt time, and segments close at the
        receipt time or, in this walk, at ``last_seen``; so the walk notes
        the earliest moment an open segment can go silent or a segment, or
        a job without segments, can leave the window, and the ticks before
        it return at once. Bumps ``version`` only if something changed.
        """
        with self._lock:
            now = self._clock.now_ns()
            if self._last_scan <= now < self._next_scan:
                return
            changed = False
            silent_since = now - self._stale_ns
            cutoff = now - self._window_ns
            # The oldest last_seen of a job with an open segment, the oldest
            # end of a job's first closed segment, the oldest last_seen of a
            # job without segments: what the next walk waits for.
            oldest_open = oldest_end = oldest_empty = now
            forgotten = []
            for job_id, job in self._jobs.items():
                segments = job.segments
                if segments:
                    current = segments[-1]
                    if current.end is None:
                        seen = job.last_seen
                        if seen < silent_since:
                            self._replace_last(segments, current._replace(end=seen))
                            changed = True
                        elif seen < oldest_open:
                            oldest_open = seen
                    while segments:
                        end = segments[0].end
                        if end is None:
                            break
                        if end >= cutoff:
                            if end < oldest_end:
                                oldest_end = end
                            break
                        self._log_change(_Change(segments.popleft().seq, None))
                        changed = True
                if not segments:
                    if job.last_seen < cutoff:
                        forgotten.append(job_id)
                    elif job.last_seen < oldest_empty:
                        oldest_empty = job.last_seen
            for job_id in forgotten:
                del self._jobs[job_id]
            self._last_scan = now
            self._next_scan = 1 + min(
                oldest_open + self._stale_ns,
                oldest_end + self._window_ns,
                oldest_empty + self._window_ns,
            )
            if changed:
                self._mark_changed()

    # --- readers (any thread) -------------------------------------------------

    def snapshot(self) -> HistorySnapshot:
        """Every segment kept, grouped by job in first-heard order."""
        with self._lock:
            return HistorySnapshot(self.version, self._cursor(), self._all_segments())

    def changes_since(self, cursor: int) -> HistoryDelta:
        """What changed after ``cursor`` (from a snapshot or an earlier delta).

        Costs O(changes since the cursor); with nothing new it returns an
        empty delta at once. ``cursor=0`` reads everything: as plain changes
        while the log still holds them all, else as a reset. A cursor the log
        no longer reaches (or not from this history) yields a reset carrying
        every segment.
        """
        with self._lock:
            head = self._cursor()
            if cursor == head:
                return HistoryDelta(head, False, (), ())
            if cursor < self._log_first - 1 or cursor > head:
                return HistoryDelta(head, True, self._all_segments(), ())
            changed: dict[int, Segment] = {}
            created: set[int] = set()
            removed: list[int] = []
            for seq, segment, is_new in self._log[cursor + 1 - self._log_first :]:
                if segment is None:
                    changed.pop(seq, None)
                    if seq not in created:
                        removed.append(seq)  # the reader holds it
                else:
                    if is_new:
                        created.add(seq)
                    # Re-inserting moves a re-changed segment to its latest place.
                    changed.pop(seq, None)
                    changed[seq] = segment
            return HistoryDelta(head, False, tuple(changed.values()), tuple(removed))

    def last_seen(self, job_id: JobId) -> int | None:
        """When the last heartbeat of ``job_id`` was taken, or ``None``."""
        with self._lock:
            job = self._jobs.get(job_id)
            return None if job is None else job.last_seen

    def __len__(self) -> int:
        """How many segments are kept (all jobs)."""
        with self._lock:
            return sum(len(job.segments) for job in self._jobs.values())

    # --- internals (hold the lock) -------------------------------------------

    def _cursor(self) -> int:
        return self._log_first + len(self._log) - 1

    def _all_segments(self) -> tuple[Segment, ...]:
        return tuple(segment for job in self._jobs.values() for segment in job.segments)

    def _append(self, segments: deque[Segment], segment: Segment) -> None:
        if len(segments) == segments.maxlen:
            # The deque evicts it on append.
            self._log_change(_Change(segments[0].seq, None))
        segments.append(segment)
        self._log_change(_Change(segment.seq, segment, created=True))

    def _replace_last(self, segments: deque[Segment], segment: Segment) -> None:
        segments[-1] = segment
        self._log_change(_Change(segment.seq, segment))

    def _log_change(self, change: _Change) -> None:
        self._log.append(change)
        overflow = len(self._log) - self._log_capacity
        if overflow > 0:
            # Drop in chunks (half the log) so trimming stays amortised O(1).
            drop = max(overflow, self._log_capacity // 2)
            del self._log[:drop]
            self._log_first += drop
