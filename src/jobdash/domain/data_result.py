"""A result a job published on the data topic (da00)."""

from __future__ import annotations

from typing import Any, NamedTuple

from jobdash.domain.ids import JobId, WorkflowId


class DataResult(NamedTuple):
    """The latest output of one job, e.g. a histogram.

    The dashboard only needs to know *that* and *when* a job produced data (to
    tell "active but silent" from healthy); ``data`` is kept for display.
    """

    job_id: JobId
    workflow_id: WorkflowId
    output_name: str
    timestamp: int
    data: Any = None
