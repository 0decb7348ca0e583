# mypy: untyped-calls-exclude=panel
"""The workflow-level view: one card per catalogued workflow.

Built per browser session over the shared ``JobOrchestrator``. The session's
refresher calls :meth:`WorkflowWidget.refresh` on the session's IOLoop; it
compares the orchestrator's ``version`` with the one last rendered and, only
if it moved, re-reads the snapshots of the workflows whose own version moved
and patches those cards in place. Time-dependent texts (uptime, heartbeat
ages, "no data") are refreshed at most once per second, and only on cards
that have something running; they are worded coarsely enough (see
``workflow_markup``) that a healthy card sends nothing most seconds.
"""

from __future__ import annotations

from collections.abc import Mapping

import panel as pn

from jobdash.domain.clock import Clock
from jobdash.domain.ids import WorkflowId
from jobdash.services.data_service import DataService
from jobdash.services.job_orchestrator import JobOrchestrator
from jobdash.services.notifications import NotificationLog
from jobdash.services.snapshots import WorkflowSnapshot
from jobdash.ui.workflow_card import WorkflowCard
from jobdash.ui.workflow_css import workflow_css

__all__ = ["WorkflowWidget"]

_TICK_NS = 1_000_000_000
"""Time-dependent texts change at most this often (1 s)."""


class WorkflowWidget(pn.viewable.Viewer):
    """Cards of every workflow of the orchestrator's catalogue, in catalogue order.

    Parameters
    ----------
    job_orchestrator
        The shared workflow-level model.
    clock
        The injected clock ("now" for uptimes and ages).
    data_service
        Optional; lets cards flag active jobs that send no data.
    notifications
        Optional; refused actions are added to it as errors.
    read_only
        Disable every action control (also taken from the orchestrator).
    no_data_after
        Seconds an active job may go without data before it is flagged.
    """

    def __init__(
        self,
        job_orchestrator: JobOrchestrator,
        clock: Clock,
        *,
        data_service: DataService | None = None,
        notifications: NotificationLog | None = None,
        read_only: bool = False,
        no_data_after: float = 30.0,
    ) -> None:
        if no_data_after <= 0:
            raise ValueError(f"no_data_after must be positive, got {no_data_after}")
        super().__init__()  # type: ignore[no-untyped-call]  # Viewer is untyped
        self._orchestrator = job_orchestrator
        self._clock = clock
        self._data_service = data_service
        self._notifications = notifications
        self._read_only = read_only or job_orchestrator.read_only
        self._no_data_after = no_data_after
        # The version is read before the snapshots: a change in between is
        # then seen by the next refresh instead of being lost.
        self._rendered_version = job_orchestrator.version
        self._cards: dict[WorkflowId, WorkflowCard] = {}
        for snapshot in job_orchestrator.snapshots():
            self._cards[snapshot.workflow_id] = self._new_card(snapshot)
        self._last_tick = clock.now_ns()
        self._layout = pn.FlexBox(
            *self._cards.values(),
            css_classes=["jd-workflow-widget"],
            # Styles the cards' frames: they are this layout's children.
            stylesheets=[workflow_css()],
            gap="10px",
            sizing_mode="stretch_width",
        )

    def __panel__(self) -> pn.FlexBox:
        return self._layout

    @property
    def cards(self) -> Mapping[WorkflowId, WorkflowCard]:
        """The card of each workflow (a copy of the mapping)."""
        return dict(self._cards)

    def card(self, workflow_id: WorkflowId) -> WorkflowCard:
        return self._cards[workflow_id]

    def refresh(self) -> None:
        """Patch the cards of workflows that changed; tick times once a second.

        Cheap when nothing changed: one integer comparison and one clock read.
        """
        orchestrator = self._orchestrator
        now = self._clock.now_ns()
        version = orchestrator.version
        touched: set[WorkflowId] = set()
        if version != self._rendered_version:
            self._rendered_version = version
            # One read of every workflow's counter (a mapping replaced, never
            # mutated, by the orchestrator), so the scan takes no lock per card.
            versions = orchestrator.workflow_versions
            for workflow_id, workflow_version in versions.items():
                card = self._cards.get(workflow_id)
                if card is None:
                    self._add_card(orchestrator.snapshot(workflow_id))
                elif workflow_version != card.rendered_version:
                    card.update(orchestrator.snapshot(workflow_id), now)
                    touched.add(workflow_id)
        if now - self._last_tick >= _TICK_NS:
            self._last_tick = now
            for workflow_id, card in self._cards.items():
                if card.live and workflow_id not in touched:
                    # A fresh snapshot, not just a re-render: heartbeats that
                    # change nothing visible do not bump versions, yet move
                    # each job's last_seen, which the ages are measured from.
                    card.update(orchestrator.snapshot(workflow_id), now)

    def _new_card(self, snapshot: WorkflowSnapshot) -> WorkflowCard:
        return WorkflowCard(
            self._orchestrator,
            snapshot,
            self._clock,
            data_service=self._data_service,
            notifications=self._notifications,
            read_only=self._read_only,
            no_data_after=self._no_data_after,
        )

    def _add_card(self, snapshot: WorkflowSnapshot) -> None:
        # Catalogues are fixed at start-up, so this is a safeguard, not a path
        # the dashboard normally takes.
        card = self._new_card(snapshot)
        self._cards[snapshot.workflow_id] = card
        self._layout.append(card)
