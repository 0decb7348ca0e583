"""A jobdash served in this process, over a synthetic instrument, for benchmarks.

The browser benchmarks (``benchmarks/freshness.py``, ``sessions.py``,
``scale.py``) and the browser smoke test
(``tests/browser/test_freshness_smoke.py``) need three things a ``panel
serve`` subprocess would hide:

* the :class:`~jobdash.app.Services` themselves, to inject faults and send
  commands at known times and to read the services' own state;
* the moment the simulated backend *emitted* the heartbeat that carries an
  injected change (a change reaches the dashboard only with a heartbeat, and
  the dashboard cannot be faster than that), recorded by
  :class:`EmissionRecorder`, a ``MessageSource`` wrapped around the backend;
* the server's own CPU time and memory, read from ``/proc`` for this process,
  per thread (``benchmarks/_process_stats.py``).

So the app is built with the real composition root (``build_services``) and
the real page (``build_page``), and served with ``pn.serve(..., threaded=True)``
on a free loopback port, exactly as ``panel serve app.py`` serves it, except
that the ingestion thread reads the backend through the recorder.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import panel as pn

from jobdash.app import Services, build_services
from jobdash.domain.ids import JobId, WorkflowId
from jobdash.domain.job_state import JobState
from jobdash.domain.job_status import JobStatus
from jobdash.domain.streams import StreamId
from jobdash.services.workflow_state import SourceConfig
from jobdash.settings import Settings
from jobdash.testing.ports import LOOPBACK, free_port, is_listening
from jobdash.testing.waiting import wait_until
from jobdash.transport.codec import DecodeError, decode_status
from jobdash.transport.ingestion import IngestionThread
from jobdash.transport.message_source import Message, MessageSource
from jobdash.transport.simulated import SimulatedBackend
from jobdash.ui.page import build_page

__all__ = [
    "INSTRUMENT",
    "EmissionRecorder",
    "Emitted",
    "ServedDashboard",
    "serve_dashboard",
    "workflow_name",
    "write_catalogue",
]

INSTRUMENT = "bench"


def workflow_name(index: int) -> str:
    """``WorkflowId.name`` of the synthetic workflow number ``index``."""
    return f"wf_{index:04d}"


def write_catalogue(path: Path, workflows: int, sources: int) -> Path:
    """A catalogue of ``workflows`` x ``sources`` jobs, written as JSON.

    Each workflow has its own sources (``bank_<w>_<s>``), so every job's
    source name is unique and a row of the job table is easy to find by it,
    and two parameters, so cards and staging forms have something to show.
    """
    catalogue = {
        "instrument": INSTRUMENT,
        "workflows": [
            {
                "id": f"{INSTRUMENT}/{workflow_name(w)}/1",
                "title": f"Workflow {w}",
                "description": "Synthetic workflow of the performance benchmarks.",
                "source_names": [f"bank_{w:04d}_{s}" for s in range(sources)],
                "parameters": [
                    {"name": "bins", "type": "int", "default": 100, "min": 1},
                    {"name": "window", "type": "float", "default": 10.0},
                ],
            }
            for w in range(workflows)
        ],
    }
    path.write_text(json.dumps(catalogue), encoding="utf-8")
    return path


# --- emission times -----------------------------------------------------------------


@dataclass(frozen=True)
class Emitted:
    """A heartbeat the recorder was asked to look out for, as it was emitted.

    ``stamped`` is the backend's own time for the message (its envelope
    timestamp, when the simulated backend produced it); ``handed_over`` is
    when ``get_messages`` returned it to the ingestion thread. Both are
    seconds since the epoch (``time.time()``'s clock, which is also the
    browser's ``Date.now()`` clock on this machine).
    """

    job_id: JobId
    state: JobState
    stamped: float
    handed_over: float


@dataclass
class _Watch:
    job_id: JobId
    state: JobState
    needle: bytes
    done: threading.Event = field(default_factory=threading.Event)
    emitted: Emitted | None = None


class EmissionRecorder:
    """A ``MessageSource`` that passes on another's messages and times some.

    :meth:`watch` arms a watch for "the next heartbeat of job J in state S";
    the first such heartbeat the backend emits is recorded. The check is a
    byte search for the job number in each payload, and a decode only on a
    hit, so an armed watch costs next to nothing per message.

    It also counts messages per stream and the CPU time the wrapped source
    spends inside ``get_messages`` (thread time of the ingestion thread): with
    the simulated backend that is the *backend's* work (building and encoding
    heartbeats and histograms), which a real deployment does elsewhere.
    """

    def __init__(self, inner: MessageSource) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self._watches: list[_Watch] = []
        self.counts: Counter[StreamId] = Counter()
        self.source_cpu_s = 0.0
        # Hand-over times of batches with a watched heartbeat, until the
        # ingestion thread's next poll shows they were applied; then the
        # time of that poll, by hand-over time.
        self._unapplied: list[float] = []
        self._applied: dict[float, float] = {}

    def start(self) -> None:
        self._inner.start()

    def stop(self) -> None:
        self._inner.stop()

    def get_messages(self, timeout: float) -> list[Message]:
        if self._unapplied:
            # The ingestion thread asks again only after routing the last
            # batch and closing its services' batch (versions bumped).
            polled = time.time()
            with self._lock:
                for handed_over in self._unapplied:
                    self._applied[handed_over] = polled
                self._unapplied.clear()
        began = time.thread_time()
        batch = self._inner.get_messages(timeout)
        handed_over = time.time()
        self.source_cpu_s += time.thread_time() - began
        if not batch:
            return batch
        counts = self.counts
        for message in batch:
            counts[message.stream] += 1
        with self._lock:
            watches = self._watches
        if watches:
            self._check(batch, watches, handed_over)
        return batch

    def watch(self, job_id: JobId, state: JobState) -> _Watch:
        """Record the next emitted heartbeat of ``job_id`` in ``state``."""
        armed = _Watch(job_id, state, str(job_id.job_number).encode())
        with self._lock:
            self._watches = [*self._watches, armed]
        return armed

    def applied_after(self, handed_over: float) -> float | None:
        """When the batch handed over at ``handed_over`` had been applied."""
        with self._lock:
            return self._applied.get(handed_over)

    def emitted(self, armed: _Watch, timeout: float) -> Emitted | None:
        """The recorded emission of ``armed``; ``None`` if none within ``timeout``."""
        armed.done.wait(timeout)
        return armed.emitted

    def _check(self, batch: list[Message], watches: list[_Watch], at: float) -> None:
        hit: list[_Watch] = []
        for armed in watches:
            for message in batch:
                if message.stream is not StreamId.status:
                    continue
                if armed.needle not in message.payload:
                    continue
                try:
                    status = decode_status(message.payload, message.timestamp)
                except DecodeError:
                    continue
                if (
                    isinstance(status, JobStatus)
                    and status.job_id == armed.job_id
                    and status.state is armed.state
                ):
                    armed.emitted = Emitted(
                        armed.job_id, armed.state, message.timestamp / 1e9, at
                    )
                    armed.done.set()
                    hit.append(armed)
                    break
        if hit:
            with self._lock:
                self._watches = [w for w in self._watches if w not in hit]
                self._unapplied.append(at)


# --- the served app -----------------------------------------------------------------


@dataclass
class ServedDashboard:
    """A running jobdash: its services, recorder, address and jobs.

    Attributes
    ----------
    services
        The process's services, ingestion reading through ``recorder``.
    recorder
        Emission times of watched heartbeats; message counts.
    url
        The page (``http://127.0.0.1:<port>/app``).
    jobs
        Every committed job with its workflow, in commit order (the order
        the job table lists them in, as each job's first heartbeat comes in
        that order).
    """

    services: Services
    recorder: EmissionRecorder
    url: str
    jobs: list[tuple[JobId, WorkflowId]]
    server_id: str

    @property
    def simulator(self) -> SimulatedBackend:
        assert self.services.simulator is not None
        return self.services.simulator

    def session_callbacks(self) -> tuple[int, int]:
        """(open Bokeh sessions, periodic/timeout callbacks of their documents).

        Read from the Bokeh server that ``pn.serve`` registered under
        ``server_id``, from this (another) thread: a snapshot that may be a
        tick out of date, good enough to count.
        """
        bokeh_server = pn.state._servers[self.server_id][0]
        sessions = list(bokeh_server.get_sessions())
        callbacks = sum(
            len(session.document.callbacks.session_callbacks) for session in sessions
        )
        return len(sessions), callbacks


def commit_every_workflow(services: Services) -> list[tuple[JobId, WorkflowId]]:
    """Commit every source of every workflow with its defaults, as an operator.

    Through the real action path (one ``commit_workflow`` with a draft per
    workflow: one locked step, one config-file write, every command tracked
    and audited), before the services start; returns every job, in catalogue
    order.
    """
    orchestrator = services.job_orchestrator
    actor = services.policy.actor_for(None)
    jobs: list[tuple[JobId, WorkflowId]] = []
    for spec in services.catalogue.workflows:
        draft = dict.fromkeys(spec.source_names, SourceConfig())
        number = orchestrator.commit_workflow(
            spec.workflow_id, actor=actor, draft=draft
        )
        jobs.extend((JobId(s, number), spec.workflow_id) for s in spec.source_names)
    return jobs


def _all_active(services: Services, count: int) -> bool:
    job_service = services.job_service
    assert job_service is not None
    rows = job_service.snapshot().rows
    return len(rows) >= count and all(
        row.status.state is JobState.active for row in rows
    )


@contextmanager
def serve_dashboard(
    workflows: int,
    sources: int,
    *,
    heartbeat_interval: float = 2.0,
    results: bool = False,
    startup_timeout: float = 300.0,
    **settings: Any,
) -> Iterator[ServedDashboard]:
    """Serve jobdash over ``workflows`` x ``sources`` running jobs; stop it after.

    Every workflow is committed before the server takes its first session,
    and the block starts once every job has reported ``active``. ``settings``
    are further :class:`~jobdash.settings.Settings` fields.

    ``results``: let the simulated backend publish its 50-bin histogram of
    every active job every second, as it does by default. Off (the default
    here), only heartbeats flow, as the issue's load is specified (500
    heartbeats a second for 1,000 jobs): the backend then spends no time
    encoding 1,000 da00 messages a second in this process, which a real
    backend does elsewhere, and the dashboard none decoding them. Jobs then
    show "no data" 30 s after they start, once.
    """
    # On tmpfs where there is one: the config store and audit log fsync.
    shm = Path("/dev/shm")
    base = shm if shm.is_dir() else None
    with tempfile.TemporaryDirectory(prefix="jobdash-bench-", dir=base) as workdir:
        work = Path(workdir)
        catalogue = write_catalogue(work / "catalogue.json", workflows, sources)
        config = Settings(
            instrument=INSTRUMENT,
            catalogue=catalogue,
            heartbeat_interval=heartbeat_interval,
            config_dir=work / "config",
            **settings,
        )
        built = build_services(config)
        recorder = EmissionRecorder(built.source)
        ingestion = IngestionThread(recorder, built.router, built.clock)
        services = dataclasses.replace(built, ingestion=ingestion)
        simulator = services.simulator
        if simulator is None:
            raise ValueError("the benchmarks need the simulated transport")
        if not results:
            for spec in services.catalogue.workflows:
                simulator.silence_data(spec.workflow_id)
        jobs = commit_every_workflow(services)
        services.start()
        server = None
        try:
            wait_until(
                lambda: _all_active(services, len(jobs)),
                timeout=startup_timeout,
                interval=0.1,
                message=f"{len(jobs)} jobs to report active",
            )
            port = free_port()
            server_id = uuid.uuid4().hex
            server = pn.serve(  # type: ignore[no-untyped-call]
                {"app": lambda: build_page(services)},
                port=port,
                address=LOOPBACK,
                websocket_origin=[f"{LOOPBACK}:{port}"],
                show=False,
                start=True,
                threaded=True,
                title="jobdash benchmark",
                server_id=server_id,
            )
            wait_until(
                lambda: is_listening(port),
                timeout=60,
                interval=0.05,
                message=f"the dashboard to listen on port {port}",
            )
            yield ServedDashboard(
                services, recorder, f"http://{LOOPBACK}:{port}/app", jobs, server_id
            )
        finally:
            if server is not None:
                server.stop()
                server.join(timeout=10)
            services.stop()
