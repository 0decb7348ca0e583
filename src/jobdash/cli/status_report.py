"""``jobdash status`` output: what runs, per workflow and job, as text or JSON.

The report is built from the same immutable snapshots the dashboard's cards
and job table read, so the terminal and the browser always agree.

JSON (``jobdash status --json``), stable: fields are only ever added, and
``schema`` changes if one is removed or changes meaning::

    {
      "schema": 1,
      "instrument": "dream",
      "bootstrap_servers": "kafka:9092",
      "time": "2025-11-29T12:00:06.123456Z",      # when the report was made (UTC)
      "listened_s": 6.0,                          # heartbeats collected this long
      "kafka": "connected",                       # connecting | connected | disconnected
      "workflows": [                              # every catalogued workflow, in order
        {
          "id": "dream/detector_view/1",
          "name": "detector_view",
          "title": "Detector view",
          "status": "ACTIVE",                     # the §5 aggregate
          "count": 4, "total": 4,
          "label": "ACTIVE 4/4",                  # the dashboard's badge text
          "job_number": "6f1c…-uuid" | null,      # the current JobSet
          "adopted": true,                        # learnt from heartbeats
          "config_known": true,                   # started from this config file
          "started_at": "2025-…Z" | null,
          "jobs": [JOB, ...],                     # the current JobSet's jobs
          "orphans": [JOB, ...]                   # other job numbers still running
        }
      ],
      "other_jobs": [JOB, ...],                   # jobs of workflows not catalogued
      "workers": [{"key": "dream/data_reduction/worker-0", "state": "running",
                   "active_job_count": 2, "stale": false}]
    }

    JOB = {"source_name": "mantle_detector", "job_id": "mantle_detector/<uuid>",
           "job_number": "<uuid>", "workflow_id": "dream/detector_view/1",
           "state": "active" | null,              # null: not heard from yet
           "stale": false, "message": null | "first line of the error or warning",
           "error": null | "...", "warning": null | "...",
           "start_time": "2025-…Z" | null, "end_time": "…" | null,
           "last_seen_s": 0.4 | null}             # seconds since its last heartbeat
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from jobdash.domain.ids import JobId, WorkflowId
from jobdash.domain.job_status import JobStatus
from jobdash.services.job_service import JobServiceSnapshot
from jobdash.services.snapshots import JobSetSnapshot, JobSnapshot, WorkflowSnapshot
from jobdash.services.worker_registry import WorkerInfo
from jobdash.transport.kafka_health import KafkaHealthSnapshot

__all__ = ["SCHEMA", "build_report", "render_table"]

SCHEMA = 1

# Control characters (including ESC of terminal escape sequences) in untrusted
# text from heartbeats; shown as U+FFFD so a message cannot drive the terminal.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def build_report(
    *,
    instrument: str,
    bootstrap_servers: str,
    now: int,
    listened_s: float,
    health: KafkaHealthSnapshot,
    workflows: Sequence[WorkflowSnapshot],
    jobs: JobServiceSnapshot,
    workers: Iterable[WorkerInfo],
) -> dict[str, Any]:
    """The JSON-ready report (see the module documentation for its shape)."""
    catalogued = {snapshot.workflow_id for snapshot in workflows}
    return {
        "schema": SCHEMA,
        "instrument": instrument,
        "bootstrap_servers": bootstrap_servers,
        "time": _iso(now),
        "listened_s": round(listened_s, 3),
        "kafka": health.state.value,
        "workflows": [_workflow(snapshot, now) for snapshot in workflows],
        "other_jobs": [
            _status_job(row.status, row.stale, row.last_update, now)
            for row in jobs.rows
            if row.status.workflow_id not in catalogued
        ],
        "workers": [
            {
                "key": worker.key,
                "state": worker.state,
                "active_job_count": worker.active_job_count,
                "stale": worker.stale,
            }
            for worker in workers
        ],
    }


def render_table(report: dict[str, Any]) -> str:
    """The report as an aligned text table, one line per job.

    Columns: workflow (title and name), badge, job number (short), source,
    state (``(stale)``/``(orphan)`` appended), first line of the message.
    """
    header = ("WORKFLOW", "STATUS", "JOB", "SOURCE", "STATE", "MESSAGE")
    rows: list[tuple[str, ...]] = []
    for workflow in report["workflows"]:
        name = f"{workflow['title']} ({workflow['name']})"
        jobs = [(job, "") for job in workflow["jobs"]]
        jobs += [(job, " (orphan)") for job in workflow["orphans"]]
        if not jobs:
            rows.append((name, workflow["label"], "", "", "", ""))
        for index, (job, role) in enumerate(jobs):
            first = index == 0
            rows.append(
                (
                    name if first else "",
                    workflow["label"] if first else "",
                    job["job_number"][:8],
                    job["source_name"],
                    _state_text(job) + role,
                    job["message"] or "",
                )
            )
    for job in report["other_jobs"]:
        rows.append(
            (
                f"{job['workflow_id']} (not in the catalogue)",
                "",
                job["job_number"][:8],
                job["source_name"],
                _state_text(job),
                job["message"] or "",
            )
        )
    cells = [tuple(_printable(cell) for cell in row) for row in (header, *rows)]
    widths = [max(len(row[column]) for row in cells) for column in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in cells
    ]
    footer = (
        f"{report['instrument']} on Kafka {report['bootstrap_servers']} "
        f"({report['kafka']}); listened {report['listened_s']:g} s to the heartbeats; "
        f"as of {report['time']}"
    )
    return "\n".join([line.rstrip() for line in lines] + ["", footer])


# --- pieces ---------------------------------------------------------------------


def _workflow(snapshot: WorkflowSnapshot, now: int) -> dict[str, Any]:
    current = snapshot.current
    aggregate = snapshot.aggregate
    workflow_id = snapshot.workflow_id
    return {
        "id": str(workflow_id),
        "name": workflow_id.name,
        "title": snapshot.title,
        "status": aggregate.aggregate.value,
        "count": aggregate.count,
        "total": aggregate.total,
        "label": aggregate.label,
        "job_number": None if current is None else str(current.job_number),
        "adopted": None if current is None else current.adopted,
        "config_known": None if current is None else current.config_known,
        "started_at": None if current is None else _iso(current.started_at),
        "jobs": _jobs(current, workflow_id, now),
        "orphans": [
            _snapshot_job(job, workflow_id, now) for job in snapshot.orphan_jobs
        ],
    }


def _jobs(
    job_set: JobSetSnapshot | None, workflow_id: WorkflowId, now: int
) -> list[dict[str, Any]]:
    if job_set is None:
        return []
    return [_snapshot_job(job, workflow_id, now) for job in job_set.jobs]


def _snapshot_job(
    job: JobSnapshot, workflow_id: WorkflowId, now: int
) -> dict[str, Any]:
    return _job(job.job_id, workflow_id, job.status, job.stale, job.last_seen, now)


def _status_job(
    status: JobStatus, stale: bool, last_seen: int | None, now: int
) -> dict[str, Any]:
    return _job(status.job_id, status.workflow_id, status, stale, last_seen, now)


def _job(
    job_id: JobId,
    workflow_id: WorkflowId,
    status: JobStatus | None,
    stale: bool,
    last_seen: int | None,
    now: int,
) -> dict[str, Any]:
    message = None if status is None else status.message
    return {
        "source_name": job_id.source_name,
        "job_id": str(job_id),
        "job_number": str(job_id.job_number),
        "workflow_id": str(workflow_id),
        "state": None if status is None else status.state.value,
        "stale": stale,
        "message": message.splitlines()[0] if message else None,
        "error": None if status is None else status.error_message,
        "warning": None if status is None else status.warning_message,
        "start_time": None if status is None else _iso(status.start_time),
        "end_time": None if status is None else _iso(status.end_time),
        "last_seen_s": None if last_seen is None else round((now - last_seen) / 1e9, 3),
    }


def _state_text(job: dict[str, Any]) -> str:
    state = job["state"] or "not heard from"
    return f"{state} (stale)" if job["stale"] else state


def _printable(text: str) -> str:
    return _CONTROL.sub("\ufffd", text)


def _iso(ns: int | None) -> str | None:
    if ns is None:
        return None
    moment = datetime.fromtimestamp(ns / 1e9, tz=UTC)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")
