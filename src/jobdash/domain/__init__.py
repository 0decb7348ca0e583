"""Pure data and rules: identifiers, job states, heartbeats, workflow aggregation.

Nothing here imports param, panel, bokeh or holoviews; everything is immutable
and cheap to construct, because the ingestion hot path builds these objects.
"""

from jobdash.domain.clock import Clock, ManualClock, ScaledClock, SystemClock
from jobdash.domain.data_result import DataResult
from jobdash.domain.ids import JobId, JobNumber, SourceName, WorkflowId
from jobdash.domain.job_state import JobState
from jobdash.domain.job_status import JobStatus, ServiceStatus
from jobdash.domain.workflow_status import (
    AggregateStatus,
    JobCondition,
    WorkflowAggregate,
    aggregate_status,
)

__all__ = [
    "AggregateStatus",
    "Clock",
    "DataResult",
    "JobCondition",
    "JobId",
    "JobNumber",
    "JobState",
    "JobStatus",
    "ManualClock",
    "ScaledClock",
    "ServiceStatus",
    "SourceName",
    "SystemClock",
    "WorkflowAggregate",
    "WorkflowId",
    "aggregate_status",
]
