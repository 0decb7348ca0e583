# mypy: untyped-calls-exclude=panel
"""One workflow's card: status, sources, the previous JobSet, staging and actions.

A card is built once per session and then only patched: :meth:`WorkflowCard.update`
takes a new :class:`~jobdash.services.snapshots.WorkflowSnapshot` and sets the
text of the panes whose markup changed; :meth:`WorkflowCard.tick` refreshes
the time-dependent texts (uptime, heartbeat ages, "no data"). Nothing is ever
rebuilt, least of all in response to the card's own action: the operator's
form keeps its values and focus while the commit's effects arrive.

The body is built lazily (decision 0006). A card starts as a header row:
the header (title, version, badge, job number, uptime), the one action an
operator needs most — Start on a stopped card, Stop on a running one — and
Show details. Its body — source chips, messages, outputs, Commit & Restart,
Reset, Configure — is built the first time the workflow has something
running or the operator opens it; the orphan list and the staging form when
first needed. The confirm bar sits under the header row (built on first
use), so the header's actions ask even on a folded card.

Actions go to the orchestrator, in the session actor's name; it checks,
validates, sends and tracks them. A refusal (``ParameterError``,
``PermissionDeniedError`` — which includes ``ReadOnlyError`` — or another
``ValueError`` such as a reset the workflow does not support) is shown on the
card and added to the notification log. Destructive actions — a restart that
stops running jobs, a stop — ask first, in an inline bar (never a browser
dialog); so does every Stop, Reset and Restart of a workflow whose catalogue
entry says ``confirm_actions``, and any commit while orphans run: the bar
then lists them, each with a checkbox (ticked for those this dashboard
started), and the commit stops the ticked ones.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from html import escape
from typing import Any

import panel as pn

from jobdash.domain.access import Actor, PermissionDeniedError
from jobdash.domain.clock import Clock
from jobdash.domain.ids import JobId
from jobdash.domain.job_state import JobState
from jobdash.domain.workflow_catalogue import ParameterError
from jobdash.domain.workflow_status import WorkflowAggregate
from jobdash.services.data_service import DataService
from jobdash.services.job_orchestrator import JobOrchestrator
from jobdash.services.notifications import NotificationLog
from jobdash.services.snapshots import JobSetSnapshot, JobSnapshot, WorkflowSnapshot
from jobdash.ui.live_html import LiveHTML
from jobdash.ui.workflows.staging_draft import (
    StagingDraft,
    draft_differences,
    initial_draft,
)
from jobdash.ui.workflows.staging_form import StagingForm
from jobdash.ui.workflows.workflow_css import card_header_css, workflow_css
from jobdash.ui.workflows.workflow_markup import (
    header_html,
    message_html,
    no_reset_html,
    orphan_choice_label,
    outputs_html,
    short_number,
    status_html,
)

__all__ = ["WorkflowCard", "card_css_name"]

_RUNNING = frozenset({JobState.active, JobState.finishing})
_NS = 1_000_000_000

# The header's action by role: label, button colour, CSS hook.
_ORPHANS_QUESTION = (
    '<span class="jd-orphan-question">Also stop these orphans '
    "(jobs of this workflow under another job number)?</span>"
)

_HEAD_ACTIONS = {
    "start": ("Start", "primary", "jd-start"),
    "stop": ("Stop", "warning", "jd-stop"),
}


def card_css_name(snapshot_or_name: WorkflowSnapshot | str) -> str:
    """The ``jd-wf-<name>`` class of a card (``WorkflowId.name``, made class-safe)."""
    name = (
        snapshot_or_name
        if isinstance(snapshot_or_name, str)
        else snapshot_or_name.workflow_id.name
    )
    safe = "".join(c if c.isalnum() or c in "_-" else "-" for c in name)
    return f"jd-wf-{safe}"


def _is_live(snapshot: WorkflowSnapshot) -> bool:
    """Something runs or winds down: the card shows its body and ticks."""
    return (
        snapshot.current is not None
        or snapshot.previous is not None
        or bool(snapshot.orphans)
    )


def _is_running(current: JobSetSnapshot | None) -> bool:
    """A commit would stop jobs that are meant to run (so it needs confirming)."""
    return (
        current is not None
        and not current.stop_requested
        and current.aggregate.aggregate is not WorkflowAggregate.STOPPED
    )


_PAUSABLE = frozenset({JobState.active, JobState.finishing, JobState.warning})


def _hold_role(
    current: JobSetSnapshot | None,
    support: Callable[[str], frozenset[str]] | None,
) -> str | None:
    """``"resume"``, ``"pause"`` or ``None``: what the header's hold offers."""
    if support is None or current is None or current.stop_requested:
        return None
    states = {job.source_name: job.state for job in current.jobs}
    if any(state is JobState.paused for state in states.values()):
        resumable = support("resume")
        if any(
            s in resumable for s, state in states.items() if state is JobState.paused
        ):
            return "resume"
    pausable = support("pause")
    if any(s in pausable for s, state in states.items() if state in _PAUSABLE):
        return "pause"
    return None


def _live_orphans(snapshot: WorkflowSnapshot) -> list[JobSnapshot]:
    """Orphan jobs a commit could stop (not reported ``stopped``)."""
    return [job for job in snapshot.orphan_jobs if job.state is not JobState.stopped]


def _set_text(pane: pn.pane.HTML, text: str, *, hide_empty: bool = True) -> None:
    """Send new markup only if it differs; hide the pane while it is empty.

    ``hide_empty=False`` for panes that come and go often (the message box):
    a change of ``visible`` makes BokehJS lay out the whole page root again
    (~0.2 s of the browser's main thread with a page of cards), whereas
    empty markup in a margin-less pane simply takes no room.
    """
    if pane.object != text:
        pane.object = text
    if hide_empty:
        visible = bool(text)
        if pane.visible != visible:
            pane.visible = visible


class WorkflowCard(pn.viewable.Viewer):
    """The card of one workflow.

    Parameters
    ----------
    job_orchestrator
        Source of the snapshots and target of the actions.
    snapshot
        The workflow as first shown.
    clock
        "Now" for uptime, heartbeat ages and "no data".
    actor
        Who acts in this session (``AccessPolicy.actor_for(pn.state.user)``,
        a viewer for everyone in a read-only deployment); passed with every
        action. A viewer's card has every action and input disabled; only
        cosmetic, the orchestrator refuses a viewer and says why.
    data_service
        When each job last produced data; ``None`` disables "no data" flags.
    notifications
        Where refused actions are reported besides the card; optional.
    no_data_after
        Seconds an active job may go without data before it is flagged.
    action_support
        The sources a fresh backend worker accepts an action for
        (``WorkerRegistry.sources_supporting``): the header offers Pause on
        a running card, Resume on a paused one, only for those sources.
        ``None``: never (docs/decisions/0011-paused-aggregate-and-action-support.md).

    The card styles itself (``workflow_css``); the view around it styles the
    card's frame (``.jd-workflow-card``).
    """

    def __init__(
        self,
        job_orchestrator: JobOrchestrator,
        snapshot: WorkflowSnapshot,
        clock: Clock,
        *,
        actor: Actor,
        data_service: DataService | None = None,
        notifications: NotificationLog | None = None,
        no_data_after: float = 30.0,
        action_support: Callable[[str], frozenset[str]] | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # Viewer is untyped
        self._action_support = action_support
        # Pause or Resume, built (into the header row) when first offered.
        self._hold: pn.widgets.Button | None = None
        self._hold_role: str | None = None
        self._orchestrator = job_orchestrator
        self._clock = clock
        self._data_service = data_service
        self._notifications = notifications
        self._actor = actor
        self._may_act = actor.is_operator
        self._no_data_ns = round(no_data_after * _NS)
        self._css = [workflow_css()]
        self._snapshot = snapshot
        self._spec = snapshot.spec
        self._rendered_version = snapshot.version
        self._was_live = False
        self._orphan_key: tuple[Any, ...] = ()
        self._pending: Callable[[], None] | None = None

        self._header = LiveHTML(
            "",
            css_classes=["jd-wf-header"],
            stylesheets=[card_header_css()],
            sizing_mode="stretch_width",
            margin=(2, 6),
        )
        self._expand = pn.widgets.Button(
            label="Show details",
            color="light",
            # No description: its tooltip costs two more models per card.
            css_classes=["jd-expand"],
            margin=(4, 4),
        )
        self._expand.on_click(lambda _event: self.set_expanded(not self.expanded))
        # Start or Stop, whichever the workflow's state calls for: one button
        # whose role changes (_update_controls), not two of which one hides.
        self._head_role = "start"
        self._action = self._button("Start", "jd-start", color="primary")
        self._action.css_classes = ["jd-head-action", "jd-start"]
        self._action.on_click(self._on_head_action)
        # Built on first expansion (see the module docstring): an idle card is
        # four components, a header and its two buttons in a row.
        self._body: pn.Column | None = None
        self._staging: StagingForm | None = None
        self._orphans: pn.Column | None = None
        self._confirm_bar: pn.Column | None = None
        self._offered: list[tuple[JobId, pn.widgets.Checkbox]] = []
        self._feedback: tuple[str, str] | None = None
        # The header's row: more header actions go before Show details.
        self._header_row = pn.Row(
            self._header,
            self._action,
            self._expand,
            css_classes=["jd-wf-headrow"],
            sizing_mode="stretch_width",
            margin=0,
        )
        self._layout = pn.Column(
            self._header_row,
            css_classes=["jd-workflow-card", card_css_name(snapshot)],
            sizing_mode="stretch_width",
        )
        self.update(snapshot)

    def __panel__(self) -> pn.Column:
        return self._layout

    # --- state ----------------------------------------------------------------

    @property
    def snapshot(self) -> WorkflowSnapshot:
        """The snapshot the card shows."""
        return self._snapshot

    @property
    def rendered_version(self) -> int:
        """The workflow version of that snapshot."""
        return self._rendered_version

    @property
    def live(self) -> bool:
        """Whether time-dependent texts need :meth:`tick`."""
        return self._was_live

    @property
    def expanded(self) -> bool:
        return self._body is not None and self._body.visible

    @property
    def body_built(self) -> bool:
        """Whether the body's panes and buttons exist yet (they are built lazily)."""
        return self._body is not None

    @property
    def staging(self) -> StagingForm | None:
        """The staging form, or ``None`` until the operator first configures."""
        return self._staging

    @property
    def header(self) -> pn.pane.HTML:
        """The header pane: title, version, badge, job number and uptime."""
        return self._header

    @property
    def header_action(self) -> pn.widgets.Button:
        """The header's button: Start on a stopped card, Stop on a running one."""
        return self._action

    # --- updates ------------------------------------------------------------

    def update(self, snapshot: WorkflowSnapshot, now: int | None = None) -> None:
        """Show ``snapshot``, patching only the panes whose content changed."""
        now = self._clock.now_ns() if now is None else now
        self._snapshot = snapshot
        self._rendered_version = snapshot.version
        live = _is_live(snapshot)
        if live and not self._was_live and not self.expanded:
            # Something started (here, elsewhere, or adopted): show it. Not
            # repeated while it stays live, so an operator's "hide" sticks.
            self.set_expanded(True)
        self._was_live = live
        self.tick(now)
        self._update_controls(snapshot)
        if self._body is not None:
            _set_text(self._message, message_html(snapshot.current), hide_empty=False)
            self._update_orphans(snapshot)
            self._update_notes()

    def retime(self, snapshot: WorkflowSnapshot, now: int) -> None:
        """Show the times of ``snapshot`` (ages, uptime, "no data").

        For the once-a-second refresh of a card whose workflow did not
        change: a snapshot of the version shown differs only in when each job
        was last seen, so only the time-dependent panes are re-rendered (the
        body's message, controls and notes cost every session's card a
        re-render a second for nothing). Any other version is a full
        :meth:`update`.
        """
        if snapshot.version != self._rendered_version:
            self.update(snapshot, now)
            return
        self._snapshot = snapshot
        self.tick(now)
        self._update_hold(snapshot)  # a worker's support may have changed

    def tick(self, now: int | None = None) -> None:
        """Refresh uptime, heartbeat ages and "no data" flags to ``now``."""
        now = self._clock.now_ns() if now is None else now
        snapshot = self._snapshot
        _set_text(
            self._header,
            header_html(self._spec, snapshot.aggregate, snapshot.current, now),
        )
        if self._body is not None:
            _set_text(
                self._status,
                status_html(
                    snapshot.current, snapshot.previous, now, self._silent_jobs(now)
                ),
            )

    def set_expanded(self, expanded: bool) -> None:
        """Show or hide the body, building it the first time it is shown.

        Opening an idle card also opens its configuration: configuring and
        starting is all one can do with it.
        """
        if expanded and self._body is None:
            self._build_body()
            if not _is_live(self._snapshot):
                self.set_configuring(True)
        if self._body is not None:
            self._body.visible = expanded
        self._expand.label = "Hide details" if expanded else "Show details"

    # --- body -------------------------------------------------------------------

    def _html(self, text: str, css_class: str, **params: Any) -> pn.pane.HTML:
        params.setdefault("margin", (2, 6))
        return LiveHTML(text, css_classes=[css_class], stylesheets=self._css, **params)

    def _button(self, label: str, css_class: str, **params: Any) -> pn.widgets.Button:
        return pn.widgets.Button(
            label=label,
            css_classes=[css_class],
            disabled=not self._may_act,
            margin=(4, 4),
            **params,
        )

    def _build_body(self) -> None:
        """Build what an expanded card always shows; the rest waits for its need.

        Always: source chips, the message box, the outputs, the buttons, one
        line of notes (action feedback, differences from running). Built when
        first needed: the orphan list, the staging form. Buttons carry no
        description: each tooltip is two more models per card (a workflow
        without reset says why in the title of a plain text instead).
        """
        now = self._clock.now_ns()
        self._status = self._html("", "jd-wf-status", sizing_mode="stretch_width")
        # Never hidden and without a margin (see _set_text): the box's own
        # margin is in the stylesheet, so an empty pane takes no room.
        self._message = self._html(
            "", "jd-wf-message", sizing_mode="stretch_width", margin=0
        )
        # Only while something runs: a stopped card starts from its header.
        self._restart = self._button(
            "Commit & Restart", "jd-commit", color="primary", visible=False
        )
        self._restart.on_click(self._on_start)
        self._reset: pn.widgets.Button | None = None
        reset: Any
        refusal = self._spec.reset_refusal
        if refusal is None:
            reset = self._reset = self._button("Reset", "jd-reset")
            self._reset.on_click(self._on_reset)
        else:
            reset = self._html(no_reset_html(refusal), "jd-no-reset-pane")
        self._configure = pn.widgets.Button(
            label="Configure",
            color="light",
            css_classes=["jd-configure"],
            margin=(4, 4),
        )
        self._configure.on_click(lambda _e: self.set_configuring(not self.configuring))
        self._notes = self._html("", "jd-wf-notes", visible=False)
        self._controls = pn.Row(
            self._restart,
            reset,
            self._configure,
            css_classes=["jd-wf-controls"],
            sizing_mode="stretch_width",
            margin=0,
        )
        outputs = outputs_html(self._spec)
        self._body = pn.Column(
            self._status,
            self._message,
            *([self._html(outputs, "jd-wf-outputs-pane")] if outputs else []),
            self._controls,
            self._notes,
            css_classes=["jd-wf-body"],
            stylesheets=self._css,
            sizing_mode="stretch_width",
            margin=0,
        )
        self._layout.append(self._body)
        snapshot = self._snapshot
        _set_text(self._message, message_html(snapshot.current), hide_empty=False)
        self._update_orphans(snapshot)
        self._update_controls(snapshot)
        self._update_notes()
        self.tick(now)

    @property
    def configuring(self) -> bool:
        """Whether the staging form is shown."""
        return self._staging is not None and self._staging_view.visible

    def set_configuring(self, show: bool) -> None:
        """Show or hide the staging form, building it (and the body) if needed."""
        if self._body is None:
            self.set_expanded(True)
        if show and self._staging is None:
            self._staging = StagingForm(
                self._spec,
                initial_draft(self._snapshot),
                disabled=not self._may_act,
                stylesheets=self._css,
            )
            self._staging.on_change(self._update_notes)
            self._staging_view = self._staging.__panel__()
            assert self._body is not None
            self._body.append(self._staging_view)
        if self._staging is not None:
            self._staging_view.visible = show
        self._configure.label = "Hide configuration" if show else "Configure"
        self._update_notes()

    def _open_staging(self) -> StagingForm:
        """Show the staging form (building it if needed) and return it."""
        self.set_configuring(True)
        assert self._staging is not None  # set_configuring(True) built it
        return self._staging

    def _update_controls(self, snapshot: WorkflowSnapshot) -> None:
        """The header's action (Stop while running, else Start) and, in the
        body, Commit & Restart (while running) and Reset."""
        running = _is_running(snapshot.current)
        role = "stop" if running else "start"
        # Compared first: even an unchanged param assignment costs Panel work.
        if role != self._head_role:
            self._head_role = role
            label, color, hook = _HEAD_ACTIONS[role]
            self._action.param.update(
                label=label, button_type=color, css_classes=["jd-head-action", hook]
            )
        self._update_hold(snapshot)
        if self._body is None:
            return
        if self._restart.visible != running:
            self._restart.visible = running
        reset = self._reset
        if reset is not None and self._may_act and reset.disabled == running:
            reset.disabled = not running

    def _update_orphans(self, snapshot: WorkflowSnapshot) -> None:
        """Rebuild the (rare, short) orphan list only when it changed."""
        key = tuple(
            (job.job_id, None if job.status is None else job.status.state)
            for job in snapshot.orphan_jobs
        )
        if key == self._orphan_key:
            return
        self._orphan_key = key
        rows: list[Any] = []
        for job in snapshot.orphan_jobs:
            state = "waiting" if job.status is None else job.status.state.value
            number = job.job_id.job_number
            label = (
                f'<span class="jd-orphan">orphan <b>{escape(job.source_name)}</b> '
                f'<span class="jd-mono" title="{escape(str(number))}">'
                f"{short_number(number)}</span>: {escape(state)}</span>"
            )
            stop = self._button("Stop", "jd-orphan-stop", color="warning")
            stop.on_click(partial(self._stop_orphan, job.job_id))
            rows.append(pn.Row(self._html(label, "jd-orphan-label"), stop, margin=0))
        if self._orphans is None:
            self._orphans = pn.Column(*rows, css_classes=["jd-orphans"], margin=0)
            assert self._body is not None
            self._body.insert(self._body.objects.index(self._controls), self._orphans)
        else:
            self._orphans.objects = rows
        self._orphans.visible = bool(rows)

    def _draft(self) -> StagingDraft:
        """What a Start would stage: the form if built, else the initial draft."""
        if self._staging is not None:
            return self._staging.draft()
        return initial_draft(self._snapshot)

    def _update_notes(self) -> None:
        """Show the last action's outcome and how the draft differs from running.

        Before the body exists (an action from the header of a card never
        opened) the outcome waits for it.
        """
        if self._body is None:
            return
        labels = {spec.name: spec.label for spec in self._spec.parameters}
        differences = draft_differences(self._draft(), self._snapshot.current, labels)
        if self._staging is not None:
            self._staging.mark_differences(differences)
        parts = []
        if self._feedback is not None:
            text, level = self._feedback
            parts.append(
                f'<div class="jd-feedback jd-feedback-{level}">{escape(text)}</div>'
            )
        # With the form closed and nothing staged, the draft is the defaults:
        # nobody asked for them, so comparing them with what runs is noise.
        if differences and (self.configuring or self._snapshot.staged):
            what = "configuration" if self.configuring else "staged configuration"
            notes = "; ".join(differences.notes)
            parts.append(
                f'<div class="jd-diff">{what} differs from running: '
                f"{escape(notes)}</div>"
            )
        _set_text(self._notes, "".join(parts))

    def _silent_jobs(self, now: int) -> dict[JobId, int]:
        """Active current jobs without data for ``no_data_after``, with since when."""
        current = self._snapshot.current
        if self._data_service is None or current is None:
            return {}
        silent: dict[JobId, int] = {}
        for job in current.jobs:
            status = job.status
            if status is None or job.stale or status.state not in _RUNNING:
                continue
            since = self._data_service.last_data_time(job.job_id)
            if since is None:
                since = status.start_time or current.committed_at or job.last_seen
            if since is not None and now - since > self._no_data_ns:
                silent[job.job_id] = since
        return silent

    # --- actions --------------------------------------------------------------------

    @property
    def hold_action(self) -> pn.widgets.Button | None:
        """The header's Pause/Resume button; ``None`` until first offered."""
        return self._hold

    def _update_hold(self, snapshot: WorkflowSnapshot) -> None:
        """Offer Resume while a job a worker can resume is paused, else Pause
        while one it can pause runs; hide it otherwise (no stop requested)."""
        role = _hold_role(snapshot.current, self._action_support)
        if role == self._hold_role:
            return
        self._hold_role = role
        if self._hold is None:
            if role is None:
                return
            self._hold = self._button("Pause", "jd-pause", color="light")
            self._hold.on_click(self._on_hold)
            self._header_row.insert(2, self._hold)
        if role is None:
            self._hold.visible = False
            return
        self._hold.param.update(
            label=role.capitalize(),
            css_classes=["jd-head-hold", f"jd-{role}"],
            visible=True,
        )

    def _on_hold(self, _event: object) -> None:
        role, wid = self._hold_role, self._snapshot.workflow_id
        if role is None:
            return
        send = (
            self._orchestrator.pause_workflow
            if role == "pause"
            else self._orchestrator.resume_workflow
        )
        self._act(
            lambda: send(wid, actor=self._actor),
            lambda sent: f"{role.capitalize()} sent to {sent} job(s).",
        )

    def _on_head_action(self, _event: object) -> None:
        if self._head_role == "stop":
            self._on_stop(_event)
        else:
            self._on_start(_event)

    def _on_start(self, _event: object) -> None:
        """Start (or Commit & Restart): ask first if it stops running jobs,
        if the catalogue asks for confirmation of a restart, or if orphans
        run (the question offers to stop them)."""
        self._cancel_confirmation()
        draft = self._validated_draft()
        if draft is None:
            return
        current = self._snapshot.current
        orphans = _live_orphans(self._snapshot)
        new = len(draft.sources)
        if _is_running(current) or (
            self._spec.confirm_actions
            and current is not None
            and current.aggregate.aggregate is not WorkflowAggregate.STOPPED
        ):
            assert current is not None
            question = (
                f"Stop the {len(current.jobs)} running job(s) of "
                f"{self._spec.title} and start {new} new one(s)?"
            )
        elif orphans:
            question = f"Start {new} job(s) of {self._spec.title}?"
        else:
            self._commit()
            return
        self._ask(question, self._commit, orphans=orphans)

    def _on_stop(self, _event: object) -> None:
        self._cancel_confirmation()
        current = self._snapshot.current
        count = 0 if current is None else len(current.jobs)
        self._ask(f"Stop the {count} job(s) of {self._spec.title}?", self._stop_all)

    def _on_reset(self, _event: object) -> None:
        self._cancel_confirmation()
        if self._spec.confirm_actions:
            current = self._snapshot.current
            count = 0 if current is None else len(current.jobs)
            self._ask(
                f"Reset the {count} job(s) of {self._spec.title}?", self._reset_all
            )
        else:
            self._reset_all()

    def _reset_all(self) -> None:
        wid = self._snapshot.workflow_id
        self._act(
            lambda: self._orchestrator.reset_workflow(wid, actor=self._actor),
            lambda sent: f"Reset sent to {sent} job(s).",
        )

    def _commit(self) -> None:
        """Commit the draft, stopping the orphans ticked in the confirm bar."""
        draft = self._validated_draft()
        if draft is None:
            return
        wid = self._snapshot.workflow_id
        configs = draft.source_configs()
        chosen = [job_id for job_id, box in self._offered if box.value]
        self._offered = []
        # One call: the draft is staged and committed (and the orphans
        # stopped) under the orchestrator's lock, so another session's
        # staging cannot slip in between.
        started = self._act(
            lambda: short_number(
                self._orchestrator.commit_workflow(
                    wid, actor=self._actor, draft=configs, stop_orphans=chosen
                )
            ),
            lambda number: (
                f"Started job {number} for {len(draft.sources)} source(s)"
                + (f"; stop sent to {len(chosen)} orphan(s)." if chosen else ".")
            ),
        )
        if started and self.configuring:
            # Done configuring: the card now shows the jobs starting. The form
            # keeps the draft (Configure opens it again as it was).
            self.set_configuring(False)

    def _stop_all(self) -> None:
        wid = self._snapshot.workflow_id
        self._act(
            lambda: self._orchestrator.stop_workflow(wid, actor=self._actor),
            lambda sent: f"Stop sent to {sent} job(s).",
        )

    def _stop_orphan(self, job_id: JobId, _event: object = None) -> None:
        if self._spec.confirm_actions and _event is not None:
            self._cancel_confirmation()
            self._ask(
                f"Stop orphan {job_id.source_name} {job_id.short} of "
                f"{self._spec.title}?",
                partial(self._stop_orphan, job_id),
            )
            return
        self._act(
            lambda: self._orchestrator.stop_job(job_id, actor=self._actor),
            lambda _none: f"Stop sent to orphan {job_id.source_name} {job_id.short}.",
        )

    def _act(self, action: Callable[[], Any], describe: Callable[[Any], str]) -> bool:
        """Run an orchestrator action; show its outcome or its refusal.

        Returns whether the orchestrator accepted it.
        """
        self._show_feedback("", "info")
        try:
            result = action()
        except ParameterError as error:
            self._refused(error)
            self._open_staging().show_error(error)
        except (PermissionDeniedError, ValueError, KeyError) as error:
            self._refused(error)
        else:
            self._show_feedback(describe(result), "info")
            return True
        return False

    def _validated_draft(self) -> StagingDraft | None:
        """The draft, checked against the schema; ``None`` (and shown) if refused."""
        if self._staging is not None:
            try:
                return self._staging.validate()
            except ParameterError as error:
                self._refused(error)
                return None
        try:
            return initial_draft(self._snapshot).validated(self._spec)
        except ParameterError as error:
            # The staged values no longer fit the catalogue: open the form
            # with them, so the operator sees which field (of which group) to fix.
            self._refused(error)
            self._open_staging().show_error(error)
            return None

    def _refused(self, error: Exception) -> None:
        text = str(error.args[0]) if isinstance(error, KeyError) else str(error)
        if self._body is None:
            self.set_expanded(True)  # the card says why, under its header
        self._show_feedback(text, "error")
        if self._notifications is not None:
            self._notifications.add("error", f"{self._spec.title}: {text}")

    def _show_feedback(self, text: str, level: str) -> None:
        """Say how the last action went (``""``: nothing to say)."""
        self._feedback = (text, level) if text else None
        self._update_notes()

    # --- confirmation -------------------------------------------------------------

    def _ask(
        self,
        question: str,
        action: Callable[[], None],
        *,
        orphans: list[JobSnapshot] | None = None,
    ) -> None:
        """Show the confirm bar (built on first use) asking ``question``.

        With ``orphans``, the bar also lists them, one checkbox each, ticked
        for those this dashboard started: ``action`` (a commit) stops the
        ticked ones.
        """
        if self._confirm_bar is None:
            self._confirm_text = self._html("", "jd-confirm-text")
            self._orphan_choices = pn.Column(
                css_classes=["jd-orphan-choices"], margin=(0, 6), visible=False
            )
            confirm = self._button("Confirm", "jd-confirm", color="danger")
            cancel = pn.widgets.Button(
                label="Cancel", css_classes=["jd-cancel"], margin=(4, 4)
            )
            confirm.on_click(lambda _e: self._confirmed())
            cancel.on_click(lambda _e: self._cancel_confirmation())
            self._confirm_bar = pn.Column(
                pn.Row(
                    self._confirm_text,
                    confirm,
                    cancel,
                    css_classes=["jd-confirm-row"],
                    margin=0,
                ),
                self._orphan_choices,
                css_classes=["jd-confirm-bar"],
                stylesheets=self._css,
                sizing_mode="stretch_width",
                margin=0,
            )
            # Under the header row: the header's actions ask on a folded card.
            self._layout.insert(1, self._confirm_bar)
        self._pending = action
        self._offered = [
            (
                job.job_id,
                pn.widgets.Checkbox(
                    label=orphan_choice_label(
                        job, started_here=self._snapshot.started_here(job.job_id)
                    ),
                    value=self._snapshot.started_here(job.job_id),
                    disabled=not self._may_act,
                    css_classes=["jd-orphan-choice"],
                    margin=(2, 4),
                ),
            )
            for job in orphans or ()
        ]
        self._orphan_choices.objects = (
            [self._html(_ORPHANS_QUESTION, "jd-orphan-question")]
            + [box for _, box in self._offered]
            if self._offered
            else []
        )
        self._orphan_choices.visible = bool(self._offered)
        self._confirm_text.object = (
            f'<span class="jd-question">{escape(question)}</span>'
        )
        self._confirm_bar.visible = True

    def _confirmed(self) -> None:
        action, self._pending = self._pending, None
        if self._confirm_bar is not None:
            self._confirm_bar.visible = False
        if action is not None:
            action()
        self._offered = []

    def _cancel_confirmation(self) -> None:
        self._pending = None
        self._offered = []
        if self._confirm_bar is not None and self._confirm_bar.visible:
            self._confirm_bar.visible = False

    @property
    def offered_orphans(self) -> dict[JobId, bool]:
        """The orphans the confirm bar offers to stop, and whether each is ticked."""
        return {job_id: box.value for job_id, box in self._offered}

    @property
    def awaiting_confirmation(self) -> bool:
        """Whether the confirm bar asks about an action."""
        return self._pending is not None
