"""JobOrchestrator tells the operator when a job reports an error."""

from __future__ import annotations

from jobdash.catalogue_file import shipped_catalogue
from jobdash.domain import JobId, JobState, JobStatus, ManualClock
from jobdash.services.command_dispatcher import CommandDispatcher
from jobdash.services.job_orchestrator import JobOrchestrator
from jobdash.services.notifications import NotificationLevel, NotificationLog
from jobdash.testing.actors import OPERATOR
from jobdash.transport.in_memory_sink import InMemoryCommandSink

TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "reduce.py", line 3, in <module>\n'
    "ValueError: monitor normalisation is zero"
)


def running_orchestrator() -> tuple[JobOrchestrator, NotificationLog, JobId]:
    clock = ManualClock()
    notifications = NotificationLog(clock)
    catalogue = shipped_catalogue("dream")
    spec = catalogue.workflows[1]  # Beam monitors
    orchestrator = JobOrchestrator(
        catalogue,
        CommandDispatcher(InMemoryCommandSink()),
        clock,
        notifications=notifications,
    )
    orchestrator.stage_config(
        spec.workflow_id, spec.source_names[0], {}, actor=OPERATOR
    )
    number = orchestrator.commit_workflow(spec.workflow_id, actor=OPERATOR)
    return orchestrator, notifications, JobId(spec.source_names[0], number)


def heartbeat(job_id: JobId, timestamp: int, error: str | None) -> JobStatus:
    state = JobState.error if error else JobState.active
    workflow_id = shipped_catalogue("dream").workflows[1].workflow_id
    return JobStatus(
        job_id, workflow_id, state, error_message=error, timestamp=timestamp
    )


def errors(notifications: NotificationLog) -> list[str]:
    return [
        note.text
        for note in notifications.recent(100)
        if note.level is NotificationLevel.error
    ]


def test_a_job_entering_error_is_notified_once_with_its_exception_line():
    orchestrator, notifications, job_id = running_orchestrator()
    orchestrator.status_updated(heartbeat(job_id, 1, None))
    orchestrator.status_updated(heartbeat(job_id, 2, TRACEBACK))
    orchestrator.status_updated(heartbeat(job_id, 3, TRACEBACK))
    assert errors(notifications) == [
        "Beam monitors · monitor_bunker: ValueError: monitor normalisation is zero"
    ]


def test_a_new_error_text_is_notified_again():
    orchestrator, notifications, job_id = running_orchestrator()
    orchestrator.status_updated(heartbeat(job_id, 1, "disk full"))
    orchestrator.status_updated(heartbeat(job_id, 2, "disk still full"))
    assert errors(notifications) == [
        "Beam monitors · monitor_bunker: disk full",
        "Beam monitors · monitor_bunker: disk still full",
    ]
