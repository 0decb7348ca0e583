"""An in-process backend that runs jobs on demand: the default message source.

``SimulatedBackend`` is both the ``MessageSource`` the ingestion thread drains
and the ``CommandSink`` the UI's actions go to. It behaves like a fleet of ESS
livedata workers: a started job heartbeats ``scheduled``, then ``active``; a
stopped job sends a final ``stopped`` heartbeat and falls silent; every command
is acknowledged after a latency; active jobs publish a drifting histogram.
Everything leaves as real wire bytes (x5f2, JSON, da00) through
:mod:`jobdash.transport.codec`, so the dashboard's decoding is exercised too.

Determinism: time comes only from the injected clock and randomness only from
one seeded ``numpy.random.Generator``; pending work is a heap ordered by (due
time, sequence number). The same seed, clock steps and commands therefore give
a byte-identical message sequence, which screenshot tests rely on.

Events are processed lazily, when ``get_messages`` is called: nothing runs in
the background and nothing accumulates while nobody polls. A periodic event
that fell several periods behind (a clock jump) fires once and keeps its
phase rather than replaying every missed beat.

Fault scenarios (``scenario=``; each ingredient is also a method, for the
Simulator panel and browser tests):

================  ============================================================
``none``          a healthy backend (default)
``warnings``      the first source of the first workflow reports ``warning``
                  (:meth:`~SimulatedBackend.inject_warning`)
``errors``        the first source of the first workflow reports ``error``
                  with a multi-line traceback (``inject_error``)
``dying-backend`` alive 15 heartbeat intervals, dead 10, repeating: every
                  heartbeat and ack stops, jobs go stale (``kill``/``revive``)
``lagging-stop``  a stopped job heartbeats ``active`` for 5 more intervals
                  before ``stopped`` (``lag_stops``)
``no-data``       the first source of the first workflow is active but
                  publishes no results (``silence_data``)
``flaky``         20 % of job heartbeats duplicated or delivered late (out of
                  order), 30 % of acks lost (``duplicate_and_reorder``,
                  ``drop_acks``)
``adoption``      at start-up, jobs the dashboard never started run for two
                  workflows, one with two job numbers of different start
                  times (``adopt_on_start``)
``chaos``         warnings (1st workflow), errors (2nd), no data (3rd),
                  stops lagging 3 intervals, 10 % duplicates/late, 10 % acks
                  lost, and adoption
================  ============================================================

Besides jobs, simulated workers (``data_reduction``/``worker-0``,
``worker-1``, …) send service heartbeats every heartbeat interval, with their
version, the catalogue sources each serves (a source's jobs run on its
worker) and the job actions they accept (all of ``JobAction``). An
instrument's catalogue gets two; a catalogue of more than
``2 * SOURCES_PER_WORKER`` sources (the scale benchmarks') one per
``SOURCES_PER_WORKER``, as a real deployment would scale out, so that no
heartbeat's list of sources outgrows the codec's size limit.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

import numpy as np

from jobdash import __version__
from jobdash.domain.clock import Clock
from jobdash.domain.command_sink import CommandSendError
from jobdash.domain.commands import (
    Acknowledgement,
    Command,
    JobAction,
    JobCommand,
    WorkflowConfigCommand,
)
from jobdash.domain.data_result import DataResult
from jobdash.domain.ids import JobId, JobNumber, SourceName, WorkflowId
from jobdash.domain.job_state import JobState
from jobdash.domain.job_status import JobStatus, ServiceStatus
from jobdash.domain.streams import StreamId
from jobdash.domain.workflow_catalogue import (
    ParameterError,
    WorkflowCatalogue,
    WorkflowSpec,
)
from jobdash.transport.codec import (
    decode_command,
    encode_ack,
    encode_command,
    encode_result,
    encode_status,
)
from jobdash.transport.message_source import Message
from jobdash.transport.simulated_scenarios import (
    DEFAULT_ERROR,
    DEFAULT_WARNING,
    FaultKey,
    FaultKind,
    FaultTable,
    FaultTarget,
    SimulatedJob,
    SimulatorStatus,
    SimulatorSummary,
    keys_of,
    scenario_named,
)

__all__ = [
    "HISTOGRAM_BINS",
    "OUTPUT_NAME",
    "SIMULATED_VERSION",
    "SOURCES_PER_WORKER",
    "SUPPORTED_ACTIONS",
    "WORKERS",
    "SimulatedBackend",
    "simulated_workers",
]

#: Bins of the histogram every active job publishes.
HISTOGRAM_BINS = 50
#: The ``output_name`` of that histogram.
OUTPUT_NAME = "histogram"
#: Sources per simulated worker, on average (sources are hashed onto workers;
#: a heartbeat lists them all, and ~500 names of ~30 bytes stay far below the
#: codec's 64 KiB limit).
SOURCES_PER_WORKER = 500
#: (service name, worker id) of the simulated workers of an instrument's
#: catalogue (up to ``2 * SOURCES_PER_WORKER`` sources); jobs are spread over them.
WORKERS = (("data_reduction", "worker-0"), ("data_reduction", "worker-1"))
#: The backend version the simulated workers report.
SIMULATED_VERSION = f"jobdash-simulated {__version__}"
#: The job actions the simulated workers accept (and report in their heartbeats).
SUPPORTED_ACTIONS = frozenset(action.value for action in JobAction)

# A job turns active, or stopped, this many heartbeat intervals after the
# command is received: long enough for PENDING/STOPPING to show.
_TRANSITION_INTERVALS = 0.5
# Never wait less than this for the next due event (avoids a busy loop when a
# scaled clock makes the remaining time round to zero).
_MIN_WAIT_S = 0.001
_BIN_CENTRES = np.arange(HISTOGRAM_BINS, dtype=np.float64)


@dataclass(eq=False)
class _Job:
    """A running job; ``state`` is its own state, before injected faults."""

    job_id: JobId
    workflow_id: WorkflowId
    state: JobState
    worker: int
    counts: np.ndarray
    peak: float
    start_time: int | None = None
    end_time: int | None = None
    stopping: bool = False
    # The last heartbeat payload and what it said: a heartbeat's bytes change
    # only with its content (the time travels in the envelope), and encoding
    # x5f2 is most of the simulator's CPU with thousands of jobs.
    payload_key: tuple[object, ...] | None = None
    payload: bytes = b""


class SimulatedBackend:
    """A seeded, clock-driven backend behind the ``MessageSource`` and
    ``CommandSink`` protocols.

    Thread-safe: UI threads call :meth:`send` and the fault methods, the
    ingestion thread :meth:`get_messages`; one condition variable guards all
    state and wakes a waiting poll when new work is scheduled.

    Parameters
    ----------
    catalogue
        Workflows it can run; a start of anything else is answered ``ERR``.
    clock
        Source of time. With a ``ManualClock``, ``get_messages(0)`` returns
        what is due now and tests advance the clock.
    seed
        Seed of the random generator (histograms, job numbers, flakiness).
    heartbeat_interval
        Seconds between heartbeats of a job, and of a worker.
    ack_latency
        Seconds between a command being sent and the backend acting on it
        and acknowledging it.
    scenario
        A fault scenario by name (see the module docstring).
    data_interval
        Seconds between results of an active job.
    """

    def __init__(
        self,
        catalogue: WorkflowCatalogue,
        clock: Clock,
        *,
        seed: int = 0,
        heartbeat_interval: float = 2.0,
        ack_latency: float = 0.3,
        scenario: str = "none",
        data_interval: float = 1.0,
    ) -> None:
        if heartbeat_interval <= 0 or data_interval <= 0:
            raise ValueError("heartbeat and data intervals must be positive")
        if ack_latency < 0:
            raise ValueError(f"ack latency must not be negative, got {ack_latency}")
        self._catalogue = catalogue
        self._clock = clock
        self._scenario = scenario_named(scenario)
        self._rng = np.random.default_rng(seed)
        self._interval_ns = _ns(heartbeat_interval)
        self._interval_ms = max(1, round(heartbeat_interval * 1000))
        self._data_interval_ns = _ns(data_interval)
        self._ack_latency_ns = _ns(ack_latency)
        self._transition_ns = max(1, round(self._interval_ns * _TRANSITION_INTERVALS))

        self._cond = threading.Condition(threading.RLock())
        self._events: list[tuple[int, int, Callable[[int], None]]] = []
        self._sequence = itertools.count()
        self._outbox: list[Message] = []
        self._now = clock.now_ns()
        self._jobs: dict[JobId, _Job] = {}
        self._faults = FaultTable.for_scenario(self._scenario, catalogue)
        self._alive = True
        self._started = False
        self._stopped = False
        self._started_at: int | None = None
        self._stop_lag_ns = round(self._scenario.stop_lag_intervals * self._interval_ns)
        self._duplicate_probability = self._scenario.duplicate_probability
        self._drop_ack_probability = self._scenario.drop_ack_probability
        self._adopt_on_start = self._scenario.adoption
        # The sources each worker serves, as its service heartbeat lists them.
        sources = sorted(
            {name for spec in catalogue.workflows for name in spec.source_names}
        )
        self._workers = simulated_workers(len(sources))
        served: list[list[SourceName]] = [[] for _ in self._workers]
        for source_name in sources:
            served[self._worker_of(source_name)].append(source_name)
        self._served = tuple(tuple(names) for names in served)

    # --- MessageSource -------------------------------------------------------

    def start(self) -> None:
        """Begin: worker heartbeats, the scenario's timed faults, adoption."""
        with self._cond:
            if self._started:
                return
            self._started = True
            now = self._clock.now_ns()
            self._started_at = now
            self._schedule(now, self._worker_heartbeats)
            if self._adopt_on_start:
                self._schedule(now, self._spawn_running_jobs)
            if self._scenario.dying is not None:
                alive, _ = self._scenario.dying
                self._schedule(now + round(alive * self._interval_ns), self._die)
            self._cond.notify_all()

    def stop(self) -> None:
        """Stop producing; wakes a waiting poll, which then returns nothing."""
        with self._cond:
            self._stopped = True
            self._events.clear()
            self._outbox.clear()
            self._cond.notify_all()

    def get_messages(self, timeout: float) -> list[Message]:
        """Everything due by the clock's now, waiting up to ``timeout`` s for some.

        The wait (real time) ends early when :meth:`send` or a fault method
        schedules work; between wake-ups it sleeps until the next due event.
        """
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._cond:
            while not self._stopped:
                self._advance(self._clock.now_ns())
                if self._outbox:
                    batch, self._outbox = self._outbox, []
                    return batch
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                if self._events:
                    until_due = (self._events[0][0] - self._clock.now_ns()) / 1e9
                    remaining = min(remaining, max(until_due, _MIN_WAIT_S))
                self._cond.wait(remaining)
        return []

    # --- CommandSink -------------------------------------------------------------

    def send(self, command: Command) -> None:
        """Receive a command; it takes effect, and is answered, after the latency.

        The command goes through the wire codec first, so the backend sees
        exactly what a real one would.

        Raises
        ------
        CommandSendError
            The backend was stopped.
        """
        received = decode_command(encode_command(command))
        with self._cond:
            if self._stopped:
                raise CommandSendError("the simulated backend is stopped")
            due = self._clock.now_ns() + self._ack_latency_ns
            self._schedule(due, partial(self._receive, received))
            self._cond.notify_all()

    # --- faults, at run time ----------------------------------------------------

    def inject_warning(
        self,
        target: FaultTarget,
        text: str | None = None,
        *,
        source_name: SourceName | None = None,
    ) -> None:
        """Make the target's active jobs report ``warning`` with ``text``.

        A workflow target covers its present and future jobs (only those of
        ``source_name``, if given); a job target, that job.
        """
        self._set_fault(target, source_name, FaultKind.warning, text or DEFAULT_WARNING)

    def inject_error(
        self,
        target: FaultTarget,
        text: str | None = None,
        *,
        source_name: SourceName | None = None,
    ) -> None:
        """Make the target's active jobs report ``error`` (default: a traceback)."""
        self._set_fault(target, source_name, FaultKind.error, text or DEFAULT_ERROR)

    def silence_data(
        self, target: FaultTarget, *, source_name: SourceName | None = None
    ) -> None:
        """Keep the target's jobs ``active`` but stop their results."""
        self._set_fault(target, source_name, FaultKind.no_data, None)

    def clear_fault(
        self,
        target: FaultTarget | None = None,
        kind: FaultKind | None = None,
        *,
        source_name: SourceName | None = None,
    ) -> None:
        """Remove faults: of ``kind`` (default: all kinds) on ``target``
        (default: every target). Affected jobs heartbeat at once."""
        with self._cond:
            self._refresh(self._faults.clear(target, kind, source_name))

    def kill(self) -> None:
        """The backend dies: no heartbeats, acks or data until :meth:`revive`.

        Commands received while dead are lost. Jobs keep their state and
        resume heartbeating on revival, as after a network partition.
        """
        with self._cond:
            self._alive = False

    def revive(self) -> None:
        """Undo :meth:`kill`; every job heartbeats at once."""
        with self._cond:
            self._alive = True
            self._refresh(None)

    @property
    def alive(self) -> bool:
        with self._cond:
            return self._alive

    def lag_stops(self, seconds: float) -> None:
        """Stopped jobs heartbeat ``active`` for ``seconds`` before ``stopped``.

        Applies to stops received from now on; ``0`` makes stops prompt again.
        """
        if seconds < 0:
            raise ValueError(f"stop lag must not be negative, got {seconds}")
        with self._cond:
            self._stop_lag_ns = _ns(seconds)

    def duplicate_and_reorder(self, probability: float) -> None:
        """Each job heartbeat is, with ``probability``, duplicated or held back.

        Half of the affected ones are delivered now *and* again later, half
        only later; a late copy keeps its original timestamp and arrives after
        the job's newer heartbeats (between 0.5 and 1.5 intervals late).
        """
        with self._cond:
            self._duplicate_probability = _probability(probability)

    def drop_acks(self, probability: float) -> None:
        """Lose each acknowledgement with ``probability``."""
        with self._cond:
            self._drop_ack_probability = _probability(probability)

    def adopt_on_start(self, enabled: bool = True) -> None:
        """Run jobs the dashboard does not know from start-up.

        Two workflows get running jobs under fresh job numbers; the first gets
        two job numbers started at different times, so that the dashboard's
        "latest start is current, the rest are orphans" rule is exercised. If
        the backend already started, the jobs are spawned now.
        """
        with self._cond:
            self._adopt_on_start = enabled
            if enabled and self._started:
                self._schedule(self._clock.now_ns(), self._spawn_running_jobs)
                self._cond.notify_all()

    def status(self) -> SimulatorStatus:
        """A copy of the run-time settings, faults and jobs (for the UI)."""
        with self._cond:
            jobs = tuple(
                SimulatedJob(job.job_id, job.workflow_id, job.state, job.stopping)
                for job in self._jobs.values()
            )
            return SimulatorStatus(
                scenario=self._scenario.name,
                alive=self._alive,
                stop_lag=self._stop_lag_ns / 1e9,
                duplicate_probability=self._duplicate_probability,
                drop_ack_probability=self._drop_ack_probability,
                faults=self._faults.infos(),
                jobs=jobs,
            )

    def summary(self) -> SimulatorSummary:
        """The settings and how many faults and jobs there are (cheap, no copies)."""
        with self._cond:
            return SimulatorSummary(
                scenario=self._scenario.name,
                alive=self._alive,
                stop_lag=self._stop_lag_ns / 1e9,
                faults=len(self._faults),
                jobs=len(self._jobs),
            )

    # --- the event heap -------------------------------------------------------------

    def _schedule(self, due: int, action: Callable[[int], None]) -> None:
        heapq.heappush(self._events, (due, next(self._sequence), action))

    def _advance(self, now: int) -> None:
        """Run every event due by ``now``, in (due, sequence) order."""
        self._now = now
        events = self._events
        while events and events[0][0] <= now:
            due, _, action = heapq.heappop(events)
            action(due)

    def _next_beat(self, due: int, period: int) -> int:
        """The next beat after ``due``, skipping beats already in the past."""
        following = due + period
        if following <= self._now:
            following += ((self._now - following) // period + 1) * period
        return following

    def _emit(self, stream: StreamId, payload: bytes) -> None:
        if self._alive:
            self._outbox.append(Message(stream, payload, self._now))

    # --- commands ------------------------------------------------------------------------

    def _receive(self, command: Command, due: int) -> None:
        if not self._alive:
            return  # a dead backend never saw it: the dashboard hears nothing
        if isinstance(command, WorkflowConfigCommand):
            self._configure(command)
        else:
            self._act(command)

    def _configure(self, command: WorkflowConfigCommand) -> None:
        workflow_id = command.identifier.to_domain()
        job_id = command.job_id.to_domain()
        spec = self._catalogue.get(workflow_id)
        if spec is None:
            self._ack(command, job_id, f"unknown workflow {workflow_id}")
            return
        if job_id.source_name not in spec.source_names:
            self._ack(
                command, job_id, f"{workflow_id} has no source {job_id.source_name!r}"
            )
            return
        try:
            spec.validate_params(command.params)
            spec.validate_aux_sources(command.aux_source_names)
        except ParameterError as exc:
            self._ack(command, job_id, str(exc))
            return
        existing = self._jobs.get(job_id)
        if existing is not None and not existing.stopping:
            existing.counts[:] = 0.0  # reconfigured: accumulation restarts
            self._heartbeat(existing)
        else:
            job = self._new_job(job_id, workflow_id, JobState.scheduled)
            self._heartbeat(job)
            self._schedule(
                self._now + self._transition_ns, partial(self._activate, job)
            )
            self._schedule(self._now + self._interval_ns, partial(self._beat, job))
        self._ack(command, job_id, None)

    def _act(self, command: JobCommand) -> None:
        if command.job_id is not None:
            job_id = command.job_id.to_domain()
            job = self._jobs.get(job_id)
            if job is None:
                self._ack(command, job_id, f"unknown job {job_id}")
                return
            targets = [job]
        elif command.workflow_id is not None:
            workflow_id = command.workflow_id.to_domain()
            # Silence when no job of the workflow runs here: nobody owns it.
            targets = [j for j in self._jobs.values() if j.workflow_id == workflow_id]
        else:
            return  # addressed to nobody
        for job in targets:
            self._ack(command, job.job_id, self._apply(command.action, job))

    def _apply(self, action: JobAction, job: _Job) -> str | None:
        """Carry out ``action`` on ``job``; return an error text to answer, if any."""
        if action is JobAction.stop:
            if not job.stopping:
                job.stopping = True
                delay = max(self._stop_lag_ns, self._transition_ns)
                self._schedule(self._now + delay, partial(self._finish, job))
            return None
        if job.stopping:
            return f"job {job.job_id} is stopping"
        if action is JobAction.reset:
            job.counts[:] = 0.0
        elif action is JobAction.pause and job.state is JobState.active:
            job.state = JobState.paused
        elif action is JobAction.resume and job.state is JobState.paused:
            job.state = JobState.active
        self._heartbeat(job)
        return None

    def _ack(self, command: Command, job_id: JobId, error: str | None) -> None:
        if (
            self._drop_ack_probability
            and self._rng.random() < self._drop_ack_probability
        ):
            return
        ack = Acknowledgement(
            message_id=command.message_id,
            device=str(job_id),
            response="ACK" if error is None else "ERR",
            message=error,
        )
        self._emit(StreamId.responses, encode_ack(ack))

    # --- jobs -----------------------------------------------------------------------

    def _new_job(
        self,
        job_id: JobId,
        workflow_id: WorkflowId,
        state: JobState,
        start_time: int | None = None,
    ) -> _Job:
        job = _Job(
            job_id=job_id,
            workflow_id=workflow_id,
            state=state,
            worker=self._worker_of(job_id.source_name),
            counts=np.zeros(HISTOGRAM_BINS),
            peak=float(self._rng.uniform(10.0, HISTOGRAM_BINS - 10.0)),
            start_time=start_time,
        )
        self._jobs[job_id] = job
        return job

    def _current(self, job: _Job) -> bool:
        """Whether ``job`` still runs (events of replaced or finished jobs lapse)."""
        return self._jobs.get(job.job_id) is job

    def _activate(self, job: _Job, due: int) -> None:
        if (
            not self._current(job)
            or job.stopping
            or job.state is not JobState.scheduled
        ):
            return
        job.state = JobState.active
        job.start_time = self._now
        self._heartbeat(job)
        self._schedule(self._now + self._data_interval_ns, partial(self._publish, job))

    def _finish(self, job: _Job, due: int) -> None:
        if not self._current(job):
            return
        job.state = JobState.stopped
        job.end_time = self._now
        self._heartbeat(job)
        del self._jobs[job.job_id]

    def _beat(self, job: _Job, due: int) -> None:
        if not self._current(job):
            return
        self._heartbeat(job)
        self._schedule(
            self._next_beat(due, self._interval_ns), partial(self._beat, job)
        )

    def _publish(self, job: _Job, due: int) -> None:
        if not self._current(job):
            return
        state, _, _ = self._reported(job)
        silenced = FaultKind.no_data in self._faults.of(job.job_id, job.workflow_id)
        if state in (JobState.active, JobState.warning) and not silenced:
            self._publish_histogram(job)
        following = self._next_beat(due, self._data_interval_ns)
        self._schedule(following, partial(self._publish, job))

    def _publish_histogram(self, job: _Job) -> None:
        if not self._alive:
            return  # a dead backend computes nothing
        rng = self._rng
        job.peak = float(
            np.clip(job.peak + rng.normal(0.0, 0.5), 5.0, HISTOGRAM_BINS - 5.0)
        )
        expected = 2.0 + 40.0 * np.exp(-0.5 * ((_BIN_CENTRES - job.peak) / 3.0) ** 2)
        job.counts += rng.poisson(expected)
        result = DataResult(
            job.job_id, job.workflow_id, OUTPUT_NAME, self._now, job.counts
        )
        self._emit(StreamId.data, encode_result(result))

    def _heartbeat(self, job: _Job) -> None:
        if not self._alive:
            return
        state, warning, error = self._reported(job)
        key = (state, warning, error, job.start_time, job.end_time)
        if key != job.payload_key:
            status = JobStatus(
                job.job_id,
                job.workflow_id,
                state,
                error,
                warning,
                job.start_time,
                job.end_time,
            )
            job.payload = encode_status(
                status,
                host_name=f"sim-{self._workers[job.worker][1]}",
                update_interval_ms=self._interval_ms,
            )
            job.payload_key = key
        message = Message(StreamId.status, job.payload, self._now)
        probability = self._duplicate_probability
        if probability:
            draw = self._rng.random()
            if draw < probability:
                late = self._now + round(self._interval_ns * (0.5 + self._rng.random()))
                self._schedule(late, partial(self._deliver_late, message))
                if draw < probability / 2:
                    self._outbox.append(message)  # duplicated: now and later
                return
        self._outbox.append(message)

    def _deliver_late(self, message: Message, due: int) -> None:
        if self._alive:
            self._outbox.append(message)

    def _spawn_running_jobs(self, due: int) -> None:
        specs = self._catalogue.workflows
        hour = _ns(timedelta(hours=1).total_seconds())
        # The first workflow runs twice: an older JobSet, and the latest one
        # that adoption must pick as current.
        self._spawn(specs[0], self._now - 2 * hour)
        self._spawn(specs[0], self._now - hour // 2)
        if len(specs) > 1:
            self._spawn(specs[1], self._now - hour // 3)

    def _spawn(self, spec: WorkflowSpec, start_time: int) -> None:
        number = self._new_job_number()
        for source_name in spec.source_names:
            job = self._new_job(
                JobId(source_name, number),
                spec.workflow_id,
                JobState.active,
                start_time,
            )
            self._heartbeat(job)
            self._schedule(self._now + self._interval_ns, partial(self._beat, job))
            self._schedule(
                self._now + self._data_interval_ns, partial(self._publish, job)
            )

    def _new_job_number(self) -> JobNumber:
        return uuid.UUID(bytes=self._rng.bytes(16), version=4)

    # --- workers ----------------------------------------------------------------------

    def _worker_of(self, source_name: SourceName) -> int:
        """The index in ``self._workers`` of the worker that serves ``source_name``."""
        return zlib.crc32(source_name.encode()) % len(self._workers)

    def _worker_heartbeats(self, due: int) -> None:
        counts = [0] * len(self._workers)
        for job in self._jobs.values():
            counts[job.worker] += 1
        for (service_name, worker_id), count, served in zip(
            self._workers, counts, self._served, strict=True
        ):
            status = ServiceStatus(
                instrument=self._catalogue.instrument,
                service_name=service_name,
                worker_id=worker_id,
                state="running",
                started_at=self._started_at,
                active_job_count=count,
                version=SIMULATED_VERSION,
                source_names=served,
                supported_actions=SUPPORTED_ACTIONS,
            )
            payload = encode_status(
                status,
                host_name=f"sim-{worker_id}",
                update_interval_ms=self._interval_ms,
            )
            self._emit(StreamId.status, payload)
        self._schedule(self._next_beat(due, self._interval_ns), self._worker_heartbeats)

    def _die(self, due: int) -> None:
        assert self._scenario.dying is not None
        self._alive = False
        self._schedule(
            due + round(self._scenario.dying[1] * self._interval_ns), self._rise
        )

    def _rise(self, due: int) -> None:
        assert self._scenario.dying is not None
        self._alive = True
        self._refresh(None)
        self._schedule(
            due + round(self._scenario.dying[0] * self._interval_ns), self._die
        )

    # --- faults -----------------------------------------------------------------------

    def _set_fault(
        self,
        target: FaultTarget,
        source_name: SourceName | None,
        kind: FaultKind,
        text: str | None,
    ) -> None:
        with self._cond:
            self._refresh(self._faults.set(target, source_name, kind, text))

    def _refresh(self, key: FaultKey | None) -> None:
        """Heartbeat the jobs ``key`` covers (all if ``None``) now, so a
        changed fault shows without waiting for the next beat. Hold the lock."""
        self._schedule(self._clock.now_ns(), partial(self._heartbeat_covered, key))
        self._cond.notify_all()

    def _heartbeat_covered(self, key: FaultKey | None, due: int) -> None:
        for job in list(self._jobs.values()):
            if key is None or key in keys_of(job.job_id, job.workflow_id):
                self._heartbeat(job)

    def _reported(self, job: _Job) -> tuple[JobState, str | None, str | None]:
        return self._faults.reported(job.state, job.job_id, job.workflow_id)


def simulated_workers(source_count: int) -> tuple[tuple[str, str], ...]:
    """(service name, worker id) of the workers that serve ``source_count`` sources.

    :data:`WORKERS` up to ``2 * SOURCES_PER_WORKER`` sources, one more worker
    per ``SOURCES_PER_WORKER`` beyond.
    """
    count = max(len(WORKERS), -(-source_count // SOURCES_PER_WORKER))
    return tuple(("data_reduction", f"worker-{index}") for index in range(count))


def _ns(seconds: float) -> int:
    return round(seconds * 1e9)


def _probability(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"probability must be within [0, 1], got {value}")
    return float(value)
