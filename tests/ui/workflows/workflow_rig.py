"""A real JobOrchestrator over an in-memory sink and a manual clock, for the
workflow view's tests, with helpers that play the backend's part.

Imported as ``workflow_rig`` by the tests next to it (pytest puts a test's
directory on the import path; the test directories have no ``__init__.py``).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from html import unescape
from typing import Any

from jobdash.catalogue_file import shipped_catalogue
from jobdash.domain.access import AccessPolicy, Actor
from jobdash.domain.clock import ManualClock
from jobdash.domain.commands import JobCommand, WorkflowConfigCommand
from jobdash.domain.ids import JobNumber, WorkflowId
from jobdash.domain.job_state import JobState
from jobdash.domain.job_status import JobStatus
from jobdash.domain.workflow_catalogue import WorkflowCatalogue
from jobdash.services.command_dispatcher import CommandDispatcher
from jobdash.services.data_service import DataService
from jobdash.services.job_orchestrator import JobOrchestrator
from jobdash.services.notifications import NotificationLog
from jobdash.testing.actors import OPERATOR
from jobdash.transport.in_memory_sink import InMemoryCommandSink

DETECTOR = WorkflowId("dream", "detector_view", 1)
MONITORS = WorkflowId("dream", "monitor_histogram", 1)
POWDER = WorkflowId("dream", "focussed_dspacing", 2, "powder")
SANS = WorkflowId("dream", "sans_iofq", 1)
BANKS = (
    "mantle_detector",
    "endcap_backward_detector",
    "endcap_forward_detector",
    "high_resolution_detector",
)

_CATALOGUE = shipped_catalogue("dream")


@dataclass
class Rig:
    """Everything a workflow view needs, all of it real except the transport.

    ``read_only`` is a read-only deployment (``AccessPolicy(read_only=True)``)
    unless a ``policy`` is given.
    """

    catalogue: WorkflowCatalogue = _CATALOGUE
    clock: ManualClock = field(default_factory=ManualClock)
    sink: InMemoryCommandSink = field(default_factory=InMemoryCommandSink)
    read_only: bool = False
    stale_after: float = 6.0
    policy: AccessPolicy | None = None

    def __post_init__(self) -> None:
        if self.policy is None:
            self.policy = AccessPolicy(read_only=self.read_only)
        self.orchestrator = JobOrchestrator(
            self.catalogue,
            CommandDispatcher(self.sink, policy=self.policy),
            self.clock,
            stale_after=self.stale_after,
        )
        self.data = DataService(self.clock)
        self.notifications = NotificationLog(self.clock)
        self._timestamps = itertools.count(1)

    def actor_for(self, user: str | None = None) -> Actor:
        """The actor the page gives a session of ``user`` (``None``: no login)."""
        assert self.policy is not None
        return self.policy.actor_for(user)

    def commit(
        self,
        workflow_id: WorkflowId = DETECTOR,
        sources: tuple[str, ...] = BANKS,
        **params: Any,
    ) -> JobNumber:
        """Stage ``sources`` with ``params`` and commit, as another session would."""
        self.orchestrator.clear_staged_configs(workflow_id, actor=OPERATOR)
        for source in sources:
            self.orchestrator.stage_config(workflow_id, source, params, actor=OPERATOR)
        return self.orchestrator.commit_workflow(workflow_id, actor=OPERATOR)

    def beat(
        self,
        workflow_id: WorkflowId = DETECTOR,
        state: JobState = JobState.active,
        *,
        sources: tuple[str, ...] | None = None,
        which: str = "current",
        **fields: Any,
    ) -> None:
        """A heartbeat from each job (or those of ``sources``) of a JobSet."""
        snapshot = self.orchestrator.snapshot(workflow_id)
        job_set = snapshot.current if which == "current" else snapshot.previous
        assert job_set is not None, f"no {which} JobSet for {workflow_id}"
        for job in job_set.jobs:
            if sources is None or job.source_name in sources:
                # A job keeps its start time from heartbeat to heartbeat.
                started = None if job.status is None else job.status.start_time
                job_fields = {"start_time": started or self.clock.now_ns(), **fields}
                self.orchestrator.status_updated(
                    JobStatus(
                        job.job_id,
                        workflow_id,
                        state,
                        timestamp=next(self._timestamps),
                        **job_fields,
                    )
                )

    def heartbeat(self, status: JobStatus) -> None:
        self.orchestrator.status_updated(
            status._replace(timestamp=next(self._timestamps))
        )

    def starts(self) -> list[WorkflowConfigCommand]:
        return [c for c in self.sink.sent if isinstance(c, WorkflowConfigCommand)]

    def job_commands(self) -> list[JobCommand]:
        return [c for c in self.sink.sent if isinstance(c, JobCommand)]


def click(button: Any) -> None:
    """What a browser click does server-side: bump ``clicks``, run the callbacks."""
    button.clicks += 1


def text_of(markup: str) -> str:
    """The text a browser would show for ``markup`` (tags dropped, entities decoded)."""
    return unescape(re.sub(r"<[^>]+>", "", markup))


def badge_of(card: Any) -> str:
    """The text of a card's ``jd-status-badge``, e.g. ``ACTIVE 4/4``."""
    found = re.findall(
        r'<span class="jd-status-badge [^"]*">(.*?)</span>', card.header.object
    )
    assert len(found) == 1, card.header.object
    return text_of(found[0])


def meta_of(card: Any) -> str:
    """The header's job-number-and-uptime line ("" when nothing runs)."""
    found = re.findall(r'<div class="jd-wf-metaline">(.*?)</div>', card.header.object)
    return text_of(found[0]) if found else ""


def find(card: Any, css_class: str) -> Any:
    """The one component of a card (header row, confirm bar, body) carrying
    ``css_class``."""
    layout = card.__panel__()
    found = layout.select(lambda o: css_class in getattr(o, "css_classes", []))
    assert len(found) == 1, f"{len(found)} components with class {css_class}"
    return found[0]
