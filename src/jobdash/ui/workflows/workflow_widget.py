# mypy: untyped-calls-exclude=panel
"""The workflow-level view: one card per catalogued workflow, a page at a time.

Built per browser session over the shared ``JobOrchestrator``. The session's
refresher calls :meth:`WorkflowWidget.refresh` on the session's IOLoop; it
compares the orchestrator's ``version`` with the one last rendered and, only
if it moved, looks at the workflows whose own version moved: a shown card is
patched in place from a new snapshot, a hidden workflow only has its
aggregate recorded (for the summary and the filter). Time-dependent texts
(uptime, heartbeat ages, "no data") are refreshed at most once per second,
and only on shown cards with something running; they are worded coarsely
enough (see :mod:`jobdash.ui.durations`) that a healthy card sends nothing most
seconds.

Cards are built for the workflows of the current page only, and kept when
the page changes (an operator's half-edited form survives paging). A
catalogue that fits on one page — the usual case — shows no paging controls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import panel as pn

from jobdash.domain.access import Actor
from jobdash.domain.clock import Clock
from jobdash.domain.ids import WorkflowId
from jobdash.services.data_service import DataService
from jobdash.services.job_orchestrator import JobOrchestrator
from jobdash.services.notifications import NotificationLog
from jobdash.services.snapshots import WorkflowSnapshot
from jobdash.ui.workflows.workflow_card import WorkflowCard
from jobdash.ui.workflows.workflow_css import workflow_css
from jobdash.ui.workflows.workflow_pager import WorkflowPager
from jobdash.ui.workflows.workflow_toolbar import WorkflowToolbar

__all__ = ["WorkflowWidget"]

_TICK_NS = 1_000_000_000
"""Time-dependent texts change at most this often (1 s)."""


class WorkflowWidget(pn.viewable.Viewer):
    """Cards of the orchestrator's workflows, in catalogue order, one page at a time.

    Parameters
    ----------
    job_orchestrator
        The shared workflow-level model.
    clock
        The injected clock ("now" for uptimes and ages).
    actor
        Who acts in this session (``AccessPolicy.actor_for(pn.state.user)``,
        a viewer for everyone in a read-only deployment); passed with every
        action. A viewer's cards have their controls disabled.
    data_service
        Optional; lets cards flag active jobs that send no data.
    notifications
        Optional; refused actions are added to it as errors.
    no_data_after
        Seconds an active job may go without data before it is flagged.
    page_size
        Cards per page. A larger catalogue gets a summary, a filter, a search
        field and paging controls.
    action_support
        The sources a fresh backend worker accepts an action for
        (``WorkerRegistry.sources_supporting``): a card offers Pause/Resume
        only for those. ``None``: no card offers them.
    """

    def __init__(
        self,
        job_orchestrator: JobOrchestrator,
        clock: Clock,
        *,
        actor: Actor,
        data_service: DataService | None = None,
        notifications: NotificationLog | None = None,
        no_data_after: float = 30.0,
        page_size: int = 24,
        action_support: Callable[[str], frozenset[str]] | None = None,
    ) -> None:
        if no_data_after <= 0:
            raise ValueError(f"no_data_after must be positive, got {no_data_after}")
        super().__init__()  # type: ignore[no-untyped-call]  # Viewer is untyped
        self._orchestrator = job_orchestrator
        self._clock = clock
        self._data_service = data_service
        self._notifications = notifications
        self._actor = actor
        self._no_data_after = no_data_after
        self._action_support = action_support
        # The version is read before the snapshots: a change in between is
        # then seen by the next refresh instead of being lost.
        self._rendered_version = job_orchestrator.version
        snapshots = {s.workflow_id: s for s in job_orchestrator.snapshots()}
        self._pager = WorkflowPager(
            ((wid, s.title) for wid, s in snapshots.items()), page_size
        )
        # Per workflow, the version last looked at (shown or not).
        self._versions: dict[WorkflowId, int] = {}
        for workflow_id, snapshot in snapshots.items():
            self._versions[workflow_id] = snapshot.version
            self._pager.set_aggregate(workflow_id, snapshot.aggregate.aggregate)
        self._cards: dict[WorkflowId, WorkflowCard] = {}
        self._shown: list[WorkflowId] = []
        self._last_tick = clock.now_ns()
        self._box = pn.FlexBox(
            css_classes=["jd-workflow-cards"],
            # Styles the cards' frames: they are this layout's children.
            stylesheets=[workflow_css()],
            gap="10px",
            sizing_mode="stretch_width",
        )
        self._toolbar: WorkflowToolbar | None = None
        if self._pager.paged:
            self._toolbar = WorkflowToolbar(self._pager, self._show_page)
        self._show_page(snapshots)
        self._layout = pn.Column(
            *([self._toolbar] if self._toolbar is not None else []),
            self._box,
            css_classes=["jd-workflow-widget"],
            sizing_mode="stretch_width",
        )

    def __panel__(self) -> pn.Column:
        return self._layout

    @property
    def cards(self) -> Mapping[WorkflowId, WorkflowCard]:
        """The cards built so far, shown or not (a copy of the mapping)."""
        return dict(self._cards)

    def card(self, workflow_id: WorkflowId) -> WorkflowCard:
        """The card of ``workflow_id``; ``KeyError`` if it was never shown."""
        return self._cards[workflow_id]

    @property
    def shown(self) -> list[WorkflowId]:
        """The workflows whose cards are on the current page, in order."""
        return list(self._shown)

    @property
    def pager(self) -> WorkflowPager:
        return self._pager

    @property
    def toolbar(self) -> WorkflowToolbar | None:
        """The paging controls, or ``None`` when every card fits on one page."""
        return self._toolbar

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
            shown = set(self._shown)
            membership_changed = counts_changed = False
            # One read of every workflow's counter (a mapping replaced, never
            # mutated, by the orchestrator), so the scan takes no lock per card.
            for workflow_id, workflow_version in orchestrator.workflow_versions.items():
                if self._versions.get(workflow_id) == workflow_version:
                    continue
                if workflow_id not in self._versions:  # a catalogue that grew
                    self._pager.add(
                        workflow_id, orchestrator.get_spec(workflow_id).title
                    )
                    membership_changed = True
                self._versions[workflow_id] = workflow_version
                if workflow_id in shown:
                    snapshot = orchestrator.snapshot(workflow_id)
                    self._cards[workflow_id].update(snapshot, now)
                    touched.add(workflow_id)
                    aggregate = snapshot.aggregate.aggregate
                else:
                    aggregate = orchestrator.get_workflow_status(workflow_id).aggregate
                counts_changed |= self._pager.aggregate(workflow_id) is not aggregate
                membership_changed |= self._pager.set_aggregate(workflow_id, aggregate)
            if membership_changed:
                self._show_page()
            if self._toolbar is not None and (counts_changed or membership_changed):
                self._toolbar.update()
        if now - self._last_tick >= _TICK_NS:
            self._last_tick = now
            for workflow_id in self._shown:
                card = self._cards[workflow_id]
                if card.live and workflow_id not in touched:
                    # A fresh snapshot, not just a re-render: heartbeats that
                    # change nothing visible do not bump versions, yet move
                    # each job's last_seen, which the ages are measured from.
                    card.retime(orchestrator.snapshot(workflow_id), now)

    def _show_page(
        self, snapshots: Mapping[WorkflowId, WorkflowSnapshot] | None = None
    ) -> None:
        """Show the pager's current page, building cards not built before."""
        visible = list(self._pager.visible())
        if visible == self._shown:
            return
        orchestrator = self._orchestrator
        now = self._clock.now_ns()
        cards = []
        for workflow_id in visible:
            card = self._cards.get(workflow_id)
            if card is None:
                snapshot = (snapshots or {}).get(workflow_id) or orchestrator.snapshot(
                    workflow_id
                )
                card = self._cards[workflow_id] = self._new_card(snapshot)
            elif card.rendered_version != self._versions[workflow_id]:
                card.update(orchestrator.snapshot(workflow_id), now)
            cards.append(card)
        self._box.objects = cards
        self._shown = visible

    def _new_card(self, snapshot: WorkflowSnapshot) -> WorkflowCard:
        return WorkflowCard(
            self._orchestrator,
            snapshot,
            self._clock,
            actor=self._actor,
            data_service=self._data_service,
            notifications=self._notifications,
            no_data_after=self._no_data_after,
            action_support=self._action_support,
        )
