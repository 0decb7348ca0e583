"""State changes injected into a served jobdash, timed until browsers show them.

Shared by ``benchmarks/freshness.py`` (5 sessions, 1,000 jobs, 20 changes)
and the browser smoke test ``tests/browser/test_freshness_smoke.py``.

Method. A change is injected on the server (a fault on one job through the
simulated backend, or a stop of a whole workflow through the orchestrator,
as the Stop button does), and the
:class:`~jobdash.testing.served_app.EmissionRecorder` is
told which heartbeat carries it. From before the first change, every
browser session watches the target rows (the job's state cell) and badges:
the in-page probe records every distinct text each one shows, and when
(``probe.js``, see :mod:`jobdash.testing.browser`). The changes of one row
or badge are matched in order to
what it showed. The latency of one widget in one session is

    (time the session's DOM first shows the change) - (time the backend
    emitted the heartbeat that carries it),

both on this machine's wall clock. For a badge that needs several
heartbeats (STOPPED needs every job's ``stopped``) it is measured from the
last of them. Measuring from emission, not from the injection call, leaves
out the backend's own latency (a stop takes effect after the command's
latency and a transition; a real backend's next heartbeat can be up to a
heartbeat interval away), which the dashboard cannot influence.

Each change is also split into stages on the server: emission → the batch
handed to the ingestion thread (``handover``) → the batch applied to every
service (``applied``, when the ingestion thread next asks for messages) →
DOM (the session's refresh tick, the patch, the websocket, the browser).

With a :class:`~jobdash.testing.frame_log.FrameLog` installed, each sample
also has ``sent``: emission → the websocket frame that carries the change to
that session is written (the server's share; the browser's is
``latency - sent``). The carrier is the first document-patch frame written
to the session, after the change was injected (and after the frame matched
to the same widget's previous change), that shows the change: for a row, a
patch of the job table's ``state`` column (with its ``state_key``) at the
job's position on the page, with the expected state; for a badge, a new
text of the card header whose title is the workflow's and whose badge
shows the expected aggregate.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from jobdash.domain.ids import JobId, WorkflowId
from jobdash.domain.job_state import JobState
from jobdash.testing.actors import OPERATOR
from jobdash.testing.browser import Session
from jobdash.testing.frame_log import FrameLog, patch_events
from jobdash.testing.served_app import Emitted, ServedDashboard
from jobdash.ui.workflows.workflow_card import card_css_name

__all__ = [
    "Change",
    "Sample",
    "inject_changes",
    "plan_changes",
]

#: The changes made to each target workflow, in this order; every one
#: leaves something different on the page than the one before.
_CYCLE = ("error", "clear", "warning", "clear", "stop")


@dataclass
class Change:
    """One injected state change and what the pages must show for it.

    Attributes
    ----------
    name
        ``"<n>:<kind>:<workflow>"``, unique within a run.
    kind
        ``error``, ``clear``, ``warning`` or ``stop``.
    job_id, workflow_id
        The job whose row is watched, and its workflow (whose badge is).
    row_state
        The state its row must show (``error``, ``active``, ...).
    badge
        The aggregate its badge must start with (``ERROR``, ``ACTIVE``, ...).
    carriers
        The (job, state) heartbeats that carry the change; the badge's
        latency counts from the last of them, the row's from the watched
        job's.
    apply
        Makes the change on the server.
    """

    name: str
    kind: str
    job_id: JobId
    workflow_id: WorkflowId
    row_state: JobState
    badge: str
    carriers: list[tuple[JobId, JobState]]
    apply: Callable[[], None]
    injected: float = 0.0
    emitted: dict[JobId, Emitted] = field(default_factory=dict)

    def row_emitted(self) -> Emitted | None:
        return self.emitted.get(self.job_id)

    def badge_emitted(self) -> float | None:
        """When the last heartbeat the badge needs was emitted."""
        if len(self.emitted) < len(self.carriers):
            return None
        return max(e.stamped for e in self.emitted.values())


def plan_changes(app: ServedDashboard, count: int, workflows: int) -> list[Change]:
    """``count`` changes cycling through error, clear, warning, clear, stop.

    Each group of five goes to one workflow among the first ``workflows``
    (chosen so that their cards and their first job's row are on the first
    page of both views), watching its first job.
    """
    simulator = app.simulator
    orchestrator = app.services.job_orchestrator
    first_jobs: list[tuple[JobId, WorkflowId]] = []
    seen: set[WorkflowId] = set()
    for job_id, workflow_id in app.jobs:
        if workflow_id not in seen:
            seen.add(workflow_id)
            first_jobs.append((job_id, workflow_id))
    targets = first_jobs[:workflows]
    if count > len(targets) * len(_CYCLE):
        raise ValueError(f"{count} changes need more than {workflows} workflows")
    changes = []
    for n in range(count):
        job_id, workflow_id = targets[n // len(_CYCLE)]
        kind = _CYCLE[n % len(_CYCLE)]
        all_jobs = [j for j, w in app.jobs if w == workflow_id]
        name = f"{n}:{kind}:{workflow_id.name}"
        apply: Callable[[], None]
        if kind == "error":
            apply = _bind(simulator.inject_error, job_id, "benchmark: injected error")
            row, badge, carriers = JobState.error, "ERROR", [(job_id, JobState.error)]
        elif kind == "warning":
            apply = _bind(simulator.inject_warning, job_id, "benchmark: slow")
            row, badge = JobState.warning, "WARNING"
            carriers = [(job_id, JobState.warning)]
        elif kind == "clear":
            apply = _bind(simulator.clear_fault, job_id)
            row, badge = JobState.active, "ACTIVE"
            carriers = [(job_id, JobState.active)]
        else:
            apply = _bind(orchestrator.stop_workflow, workflow_id, actor=OPERATOR)
            row, badge = JobState.stopped, "STOPPED"
            carriers = [(j, JobState.stopped) for j in all_jobs]
        changes.append(
            Change(name, kind, job_id, workflow_id, row, badge, carriers, apply)
        )
    return changes


def _bind(
    function: Callable[..., object], *args: object, **kwargs: object
) -> Callable[[], None]:
    def call() -> None:
        function(*args, **kwargs)

    return call


@dataclass(frozen=True)
class Sample:
    """One change seen by one widget of one session.

    ``latency`` is emission → DOM in seconds (``None``: never shown within
    the deadline, or shown before it was injected, which means the
    measurement is broken); ``applied`` is emission → applied to the
    services (``None`` for badges, which take several heartbeats);
    ``sent`` is emission → the websocket frame carrying it written to the
    session (``None`` without a frame log, or if no frame matched).
    """

    change: str
    widget: str
    session: int
    latency: float | None
    applied: float | None
    already: bool = False
    sent: float | None = None


def inject_changes(
    app: ServedDashboard,
    sessions: Sequence[Session],
    changes: Sequence[Change],
    *,
    spacing: float,
    deadline: float,
    frame_log: FrameLog | None = None,
) -> list[Sample]:
    """Make each change ``spacing`` s after the previous; time every widget.

    Every session watches each target row and badge before the first change
    (see ``probe.js``); waits at most ``deadline`` seconds after the last
    change for the pages to show the final state of each. With
    ``frame_log`` (installed before the first session opened), frames are
    recorded meanwhile and every sample gets its ``sent`` share.
    """
    recorder = app.recorder
    for session in sessions:
        for key, spec in _watched(changes).items():
            session.watch(key, **spec)
    if frame_log is not None:
        frame_log.recording = True
    watches = []
    for change in changes:
        armed = [recorder.watch(job, state) for job, state in change.carriers]
        change.injected = time.time()
        change.apply()
        watches.append((change, armed))
        # The pace of the load, not a wait for something to happen.
        time.sleep(spacing)
    until = time.monotonic() + deadline
    for change, armed in watches:
        for watch in armed:
            emitted = recorder.emitted(watch, max(0.0, until - time.monotonic()))
            if emitted is not None:
                change.emitted[emitted.job_id] = emitted
    _wait_for_pages(sessions, changes, until)
    if frame_log is not None:
        frame_log.recording = False
    samples = _samples(app, sessions, changes)
    if frame_log is None:
        return samples
    return _with_sent(samples, app, changes, frame_log, len(sessions))


def _row_key(change: Change) -> str:
    return f"row:{change.job_id.short}"


def _badge_key(change: Change) -> str:
    return f"badge:{card_css_name(change.workflow_id.name)}"


def _watched(changes: Sequence[Change]) -> dict[str, dict[str, str]]:
    """What each session watches: every target row and badge, by key."""
    watched: dict[str, dict[str, str]] = {}
    for change in changes:
        watched[_row_key(change)] = {"kind": "row", "short": change.job_id.short}
        watched[_badge_key(change)] = {
            "kind": "badge",
            "card": card_css_name(change.workflow_id.name),
        }
    return watched


def _expected(change: Change) -> tuple[tuple[str, str, str], ...]:
    """(widget, key, text the widget must show) of one change."""
    return (
        ("row", _row_key(change), change.row_state.value),
        ("badge", _badge_key(change), change.badge),
    )


def _shows(text: str, state: str) -> bool:
    """A row label ("active · stale") or badge ("ERROR 1/4") shows ``state``."""
    return text == state or text.startswith(state + " ")


def _wait_for_pages(
    sessions: Sequence[Session], changes: Sequence[Change], until: float
) -> None:
    """Until every page shows the last change of every row and badge, or ``until``."""
    final: dict[str, str] = {}
    for change in changes:
        for _widget, key, state in _expected(change):
            final[key] = state
    last = max(change.injected for change in changes)
    for session in sessions:
        while time.monotonic() < until:
            histories = session.histories()
            if all(
                histories.get(key)
                and histories[key][-1][0] >= last
                and _shows(histories[key][-1][1], state)
                for key, state in final.items()
            ):
                break
            time.sleep(0.2)  # polling the pages' probes, with a deadline


def _samples(
    app: ServedDashboard, sessions: Sequence[Session], changes: Sequence[Change]
) -> list[Sample]:
    """One sample per change, widget and session, from the pages' histories.

    Per watched row or badge, the changes are matched in order: each to the
    first text shown after it was injected, and after the text matched to
    the previous change, that shows its state. A state a page never showed
    (or showed before its heartbeat was emitted) has no latency.
    """
    applied_at = app.recorder.applied_after
    samples = []
    for index, session in enumerate(sessions):
        histories = session.histories()
        cursor: dict[str, int] = {}
        for change in changes:
            row = change.row_emitted()
            row_applied = None
            if row is not None:
                done = applied_at(row.handed_over)
                row_applied = None if done is None else done - row.stamped
            emitted_at = {
                "row": None if row is None else row.stamped,
                "badge": change.badge_emitted(),
            }
            for widget, key, state in _expected(change):
                history = histories.get(key, [])
                shown_at = None
                for position in range(cursor.get(key, 0), len(history)):
                    at, text = history[position]
                    if at >= change.injected and _shows(text, state):
                        shown_at = at
                        cursor[key] = position + 1
                        break
                emitted = emitted_at[widget]
                latency = None
                already = False
                if shown_at is not None and emitted is not None:
                    already = shown_at < emitted
                    latency = None if already else shown_at - emitted
                samples.append(
                    Sample(
                        change.name,
                        widget,
                        index,
                        latency,
                        row_applied if widget == "row" else None,
                        already,
                    )
                )
    return samples


# --- the server's share: the frame that carried each change ---------------------------

_BADGE = re.compile(r'class="jd-status-badge[^"]*">([^<]*)<')
_TITLE = re.compile(r'class="jd-wf-title"[^>]*>([^<]*)<')


def _with_sent(
    samples: list[Sample],
    app: ServedDashboard,
    changes: Sequence[Change],
    frame_log: FrameLog,
    sessions: int,
) -> list[Sample]:
    """``samples`` with ``sent`` from the frames written to each session.

    Session ``n`` is connection ``n`` of the log (the sessions were opened
    one after the other); the rows' positions are those of the shared job
    table (every session shows the same first page, unsorted).
    """
    table_rows = app.services.job_table_rows
    assert table_rows is not None
    keys = list(table_rows.read(time.time_ns()).shown)
    position = {str(job_id): keys.index(str(job_id)) for job_id, _ in app.jobs}
    titles = {spec.workflow_id: spec.title for spec in app.services.catalogue.workflows}
    sent: dict[tuple[str, str, int], float] = {}
    for session in range(min(sessions, frame_log.connections)):
        frames = [(f, patch_events(f)) for f in frame_log.frames(session)]
        cursor: dict[str, int] = {}
        for change in changes:
            row = change.row_emitted()
            emitted_at = {
                "row": None if row is None else row.stamped,
                "badge": change.badge_emitted(),
            }
            for widget, key, state in _expected(change):
                emitted = emitted_at[widget]
                if emitted is None:
                    continue
                if widget == "row":
                    where: object = position[str(change.job_id)]
                else:
                    where = titles[change.workflow_id]
                for index in range(cursor.get(key, 0), len(frames)):
                    frame, events = frames[index]
                    if frame.at < change.injected:
                        continue
                    if _carries(events, widget, where, state):
                        cursor[key] = index + 1
                        if frame.at >= emitted:
                            sent[(change.name, widget, session)] = frame.at - emitted
                        break
    return [
        _replace_sent(s, sent.get((s.change, s.widget, s.session))) for s in samples
    ]


def _replace_sent(sample: Sample, sent: float | None) -> Sample:
    return Sample(
        sample.change,
        sample.widget,
        sample.session,
        sample.latency,
        sample.applied,
        sample.already,
        sent,
    )


def _carries(
    events: list[dict[str, Any]], widget: str, where: object, state: str
) -> bool:
    """Whether a frame's events show ``state`` in the watched row or badge.

    ``where`` is the row's position on the table's page, or the workflow's
    title (what its card header shows).
    """
    for event in events:
        if widget == "row" and event.get("kind") == "ColumnsPatched":
            patches = _entries(event.get("patches"))
            if "state_key" not in patches:
                continue  # not the job table (the timeline has a state too)
            for at, text in patches.get("state", []):
                if at == where and isinstance(text, str) and _shows(text, state):
                    return True
        elif widget == "badge" and event.get("kind") == "ModelChanged":
            new = event.get("new")
            if event.get("attr") != "text" or not isinstance(new, str):
                continue
            if "jd-status-badge" not in new:
                continue
            markup = html.unescape(new)
            title, badge = _TITLE.search(markup), _BADGE.search(markup)
            if (
                title is not None
                and badge is not None
                and html.unescape(title.group(1)) == where
                and _shows(html.unescape(badge.group(1)).strip(), state)
            ):
                return True
    return False


def _entries(value: object) -> dict[str, Any]:
    """A Bokeh-serialised map (``{"type": "map", "entries": [...]}``) as a dict."""
    if isinstance(value, dict):
        if value.get("type") == "map":
            return dict(value.get("entries", []))
        return value
    return {}
