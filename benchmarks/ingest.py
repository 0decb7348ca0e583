"""Ingest benchmark: x5f2 heartbeats through the whole ingestion pipeline.

Pushes about 200,000 heartbeats of 3,000 jobs (300 workflows of 10 sources,
all committed, so every job is known) through what the ingestion thread runs
in production: ``IngestionThread.run_once`` → ``codec.decode_status`` → the
``MessagePump`` → ``JobService`` and ``JobOrchestrator`` as the composition
root (``jobdash.app.build_services``) builds them (``--full-router``: to every
heartbeat consumer it wires, the timeline's ``StatusHistory`` too), in polls
of ``--batch`` messages, with the router ticked every 0.25 s of the simulated
clock (which advances with the heartbeats' timestamps, 2 s per round of 3,000
jobs, as in production). Only the transport differs: prepared heartbeats from
memory, commands into an in-memory sink.

The mix is what backends send: mostly the same ``active`` heartbeat of each
job again and again (byte-identical payloads, only the envelope time moves),
a round of ``scheduled`` first, and every round 0.5 % of the jobs switching to
``warning`` with a message and back.

Baseline, measured in the same run over the same messages: the bare cost of
reading each heartbeat the obvious way, ``deserialise_x5f2`` then
``json.loads(status_json)``. The target is a pipeline at least 2.3 times as
fast as that bare decode (``ratio`` ≥ 2.3, issue "Performance"; 2.0 before
it, "Core" asked 1.5).

Memory: the process's current RSS after 50,000 and after all messages, and its
peak. Every service keeps one entry per job, so nothing may grow with the
number of heartbeats; what does grow a little is the decoder's memo of
distinct heartbeat payloads (bounded by its capacity), as more jobs show
their first warning, so its size is printed at both points too.

Usage: ``python benchmarks/ingest.py [--rounds N] [--batch N] [--profile]
[--full-router]``.
Figures are printed last, one per line, as ``name: value``. Exits non-zero if
a heartbeat failed to decode or route, or a service lost a job.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import pstats
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from streaming_data_types import deserialise_x5f2

from jobdash.app import build_services
from jobdash.domain.clock import ManualClock
from jobdash.domain.ids import JobId, WorkflowId
from jobdash.domain.job_state import JobState
from jobdash.domain.job_status import JobStatus
from jobdash.domain.streams import StreamId
from jobdash.domain.workflow_catalogue import WorkflowCatalogue
from jobdash.domain.workflow_status import WorkflowAggregate
from jobdash.services.job_orchestrator import JobOrchestrator
from jobdash.services.message_pump import MessagePump
from jobdash.services.workflow_state import SourceConfig
from jobdash.settings import Settings
from jobdash.testing.actors import OPERATOR
from jobdash.transport import codec
from jobdash.transport.codec import encode_status
from jobdash.transport.in_memory_sink import InMemoryCommandSink
from jobdash.transport.ingestion import IngestionThread
from jobdash.transport.message_source import Message

WORKFLOWS = 300
SOURCES = 10
HEARTBEAT_INTERVAL_NS = 2_000_000_000
TARGET_RATIO = 2.3
MEMORY_CHECKPOINT = 50_000
WARNING_EVERY = 200  # one job in this many warns in each round


def build_catalogue() -> WorkflowCatalogue:
    """300 workflows of 10 sources, each source name shared by every workflow."""
    return WorkflowCatalogue.model_validate(
        {
            "instrument": "bench",
            "workflows": [
                {
                    "id": f"bench/workflow_{w:03d}/1",
                    "title": f"Workflow {w}",
                    "source_names": [f"detector_{s}" for s in range(SOURCES)],
                }
                for w in range(WORKFLOWS)
            ],
        }
    )


def commit_everything(
    orchestrator: JobOrchestrator, catalogue: WorkflowCatalogue
) -> list[tuple[JobId, WorkflowId]]:
    """Commit every source of every workflow; return every job, in a fixed order."""
    jobs = []
    for spec in catalogue.workflows:
        draft = dict.fromkeys(spec.source_names, SourceConfig())
        number = orchestrator.commit_workflow(
            spec.workflow_id, actor=OPERATOR, draft=draft
        )
        jobs.extend((JobId(s, number), spec.workflow_id) for s in spec.source_names)
    return jobs


def build_messages(
    jobs: Sequence[tuple[JobId, WorkflowId]], rounds: int, t0: int
) -> list[Message]:
    """The heartbeats of ``rounds`` rounds; payloads encoded once per variant."""
    start = t0 - 60 * HEARTBEAT_INTERVAL_NS

    def payload(job_id: JobId, workflow_id: WorkflowId, state: JobState) -> bytes:
        warning = "Processing is 1.8 s behind" if state is JobState.warning else None
        status = JobStatus(
            job_id, workflow_id, state, warning_message=warning, start_time=start
        )
        return encode_status(status)

    variants = [
        {
            state: payload(job_id, workflow_id, state)
            for state in (JobState.scheduled, JobState.active, JobState.warning)
        }
        for job_id, workflow_id in jobs
    ]
    spacing = HEARTBEAT_INTERVAL_NS // len(jobs)
    messages = []
    for r in range(rounds):
        base = t0 + r * HEARTBEAT_INTERVAL_NS
        for k, by_state in enumerate(variants):
            if r == 0:
                state = JobState.scheduled
            elif (k * 7 + r) % WARNING_EVERY == 0:
                state = JobState.warning
            else:
                state = JobState.active
            messages.append(
                Message(StreamId.status, by_state[state], base + k * spacing)
            )
    return messages


class TickCountingRouter:
    """The router as is, with its ticks counted and timed.

    ``forward`` is the router's own bound method: no overhead per message.
    """

    def __init__(self, router: MessagePump) -> None:
        self.forward = router.forward
        self.batch_updates = router.batch_updates
        self._tick = router.tick
        self.ticks = 0
        self.seconds = 0.0

    def tick(self) -> None:
        began = time.perf_counter()
        self._tick()
        self.seconds += time.perf_counter() - began
        self.ticks += 1


class BatchSource:
    """A ``MessageSource`` replaying prepared polls; moves the clock with them."""

    def __init__(self, clock: ManualClock) -> None:
        self._batches: list[list[Message]] = []
        self._clock = clock
        self._next = 0

    def load(self, batches: list[list[Message]]) -> None:
        """What to replay (the heartbeats name job numbers the commits drew)."""
        self._batches = batches

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    @property
    def batches(self) -> list[list[Message]]:
        return self._batches

    def get_messages(self, timeout: float) -> list[Message]:
        if self._next == len(self._batches):
            return []
        batch = self._batches[self._next]
        self._next += 1
        self._clock.set(batch[-1].timestamp)
        return batch


def bare_decode(messages: Sequence[Message]) -> float:
    """Seconds to read every heartbeat with deserialise_x5f2 + json.loads."""
    loads = json.loads
    deserialise = deserialise_x5f2
    began = time.perf_counter()
    for message in messages:
        loads(deserialise(message.payload).status_json)
    return time.perf_counter() - began


def current_rss_mb() -> float:
    """Resident set size now (Linux ``VmRSS``), or the peak where it is unknown."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 2**10
    except (OSError, ValueError):
        pass
    return peak_rss_mb()


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=67, help="heartbeats per job")
    parser.add_argument("--batch", type=int, default=500, help="messages per poll")
    parser.add_argument(
        "--profile", action="store_true", help="profile the pipeline with cProfile"
    )
    parser.add_argument(
        "--full-router",
        action="store_true",
        help="route to every service the dashboard wires (adds the timeline)",
    )
    args = parser.parse_args()

    clock = ManualClock()
    catalogue = build_catalogue()
    sink = InMemoryCommandSink()
    source = BatchSource(clock)
    # On tmpfs where there is one: each commit writes the config file.
    shm = Path("/dev/shm")
    workdir = tempfile.TemporaryDirectory(
        prefix="jobdash-ingest-", dir=shm if shm.is_dir() else None
    )
    settings = Settings(instrument="bench", config_dir=workdir.name, audit_file="none")
    services = build_services(
        settings, clock=clock, catalogue=catalogue, transport=(source, sink)
    )
    job_orchestrator = services.job_orchestrator
    job_service = services.job_service
    assert job_service is not None  # the legacy view is built by default
    jobs = commit_everything(job_orchestrator, catalogue)
    commands = len(sink.sent)
    sink.clear()

    messages = build_messages(jobs, args.rounds, clock.now_ns())
    source.load(
        [messages[i : i + args.batch] for i in range(0, len(messages), args.batch)]
    )
    batches = source.batches
    # The figure the target is about routes to the two job models, as the
    # design card's router does; --full-router adds every other heartbeat
    # consumer the dashboard wires (the timeline's StatusHistory).
    router = (
        services.router
        if args.full_router
        else MessagePump(job_service=job_service, job_orchestrator=job_orchestrator)
    )
    counting = TickCountingRouter(router)
    ingestion = IngestionThread(source, counting, clock, tick_interval=0.25)

    # Both measurements alternate batch by batch, taking turns to go first,
    # so they share the machine's load and caches; the prepared messages are
    # frozen out of the garbage collector's sight, as they are not part of
    # what either measures.
    gc.collect()
    gc.freeze()
    checkpoint_batches = -(-MEMORY_CHECKPOINT // args.batch)
    rss_checkpoint = 0.0
    cache_checkpoint = 0
    pipeline_s = bare_s = 0.0
    profiler = cProfile.Profile() if args.profile else None
    for done, batch in enumerate(batches, start=1):
        if done % 2:
            bare_s += bare_decode(batch)
        began = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        ingestion.run_once()
        if profiler is not None:
            profiler.disable()
        pipeline_s += time.perf_counter() - began
        if not done % 2:
            bare_s += bare_decode(batch)
        if done == checkpoint_batches:
            gc.collect()
            rss_checkpoint = current_rss_mb()
            cache_checkpoint = len(codec._status_cache)
    gc.collect()
    rss_end = current_rss_mb()

    stats = ingestion.stats()
    aggregates = {
        job_orchestrator.get_workflow_status(spec.workflow_id).aggregate
        for spec in catalogue.workflows
    }
    problems = []
    if stats.applied != len(messages) or stats.decode_errors or stats.route_errors:
        problems.append(f"not every heartbeat was applied: {stats}")
    if len(job_service.job_statuses) != len(jobs):
        problems.append(f"JobService holds {len(job_service.job_statuses)} jobs")
    if not aggregates <= {WorkflowAggregate.ACTIVE, WorkflowAggregate.WARNING}:
        problems.append(f"unexpected workflow aggregates: {sorted(aggregates)}")
    if sink.sent:
        problems.append(f"ingestion sent {len(sink.sent)} commands")

    if profiler is not None:
        print("== cProfile of the pipeline (top 25 by own time)")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    for problem in problems:
        print(f"PROBLEM: {problem}")

    pipeline_rate = len(messages) / pipeline_s
    bare_rate = len(messages) / bare_s
    ratio = pipeline_rate / bare_rate
    figures = {
        "messages": len(messages),
        "jobs": len(jobs),
        "workflows": len(catalogue.workflows),
        "commit_commands": commands,
        "batch_size": args.batch,
        "router": "full" if args.full_router else "job models",
        "router_ticks": counting.ticks,
        "tick_seconds": f"{counting.seconds:.3f}",
        "pipeline_seconds": f"{pipeline_s:.3f}",
        "pipeline_msgs_per_s": f"{pipeline_rate:,.0f}",
        "bare_decode_seconds": f"{bare_s:.3f}",
        "bare_decode_msgs_per_s": f"{bare_rate:,.0f}",
        "ratio": f"{ratio:.2f}",
        "target_ratio": TARGET_RATIO,
        "target_met": "yes" if ratio >= TARGET_RATIO else "no",
        "per_message_us": f"{1e6 * pipeline_s / len(messages):.2f}",
        "rss_after_50k_mb": f"{rss_checkpoint:.1f}",
        "rss_after_all_mb": f"{rss_end:.1f}",
        "rss_growth_50k_to_all_mb": f"{rss_end - rss_checkpoint:+.1f}",
        # The kernel's peak lags its current count by up to a few hundred kB.
        "peak_rss_mb": f"{max(peak_rss_mb(), rss_end):.1f}",
        "decode_memo_entries_after_50k": cache_checkpoint,
        "decode_memo_entries_after_all": len(codec._status_cache),
        "out_of_order": job_orchestrator.counters()["out_of_order"],
        "problems": len(problems),
    }
    for name, value in figures.items():
        print(f"{name}: {value}")
    workdir.cleanup()
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
