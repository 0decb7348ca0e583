# mypy: disallow-untyped-calls=False
# (Panel's constructors and methods are not annotated.)
"""The legacy job-level view: one table row per job, with row actions.

Built per browser session over the shared ``JobService`` (read) and
``JobController`` (stop/reset). The session's refresher calls
:meth:`JobStatusWidget.refresh`; it compares the service's ``display_version``
with the one it rendered and returns at once when nothing shown changed, so
an idle tick costs two integer comparisons, and heartbeats that only move a
receipt time are read once a second (for the ages), not on every tick.

Update strategy (what reaches the browser):

* The table uses **remote pagination** (25 rows a page): filtering, sorting and
  paging run in pandas on the server and the browser only ever holds one page.
  With 1,000+ jobs a change costs one page of data at most, whereas virtual
  scrolling would ship every row on load and on every full update.
* A heartbeat that changes nothing visible (same state, message, staleness)
  changes nothing: rows are diffed on their *displayed* cells, not on the
  ``JobRow`` (whose receipt time changes with every heartbeat).
* Rows whose cells changed are sent with ``Tabulator.patch`` (only the changed
  cells), unless more than a page of rows changed at once (then a full update
  is cheaper). Rows added or removed replace ``value`` as a whole:
  ``Tabulator.stream`` needs an integer index, ours is the JobId text, and with
  remote pagination a full update sends one page anyway.
* Ages (heartbeat, last data) are recomputed at most once a second, and
  shown coarsely: "< 5 s" while fresh, then in 5 s steps, then in minutes.
  Panel's Tabulator redraws its whole page in the browser for any patch
  (~0.1 s of the browser's main thread for 50 rows), so ages in whole seconds
  meant a redraw every second that delayed every real change behind it.
  Coarse, healthy rows never change; the frame's age columns are rewritten
  in place, and only the cells on the visible page that changed are patched.

Untrusted text (source names, workflow ids, messages) only ever reaches the
browser through Tabulator's escaping ``plaintext`` formatter or ``<%- %>``
(escaping) template fields, and through ``html.escape`` in the detail pane.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import panel as pn
from bokeh.models.widgets.tables import HTMLTemplateFormatter

from jobdash.assets import asset
from jobdash.domain.clock import Clock
from jobdash.domain.ids import JobId
from jobdash.domain.job_state import JobState
from jobdash.domain.job_status import message_summary
from jobdash.services.access import Actor, PermissionDeniedError
from jobdash.services.job_controller import JobController
from jobdash.services.job_service import JobRow, JobService
from jobdash.ui.live_html import LiveHTML

__all__ = ["STALE_FILTER", "JobStatusWidget", "first_line", "format_utc"]

_NS = 1_000_000_000

#: The state-filter option that selects stale jobs, whatever their state.
STALE_FILTER = "stale"

#: Longest first line shown in the message column; the detail pane has it all.
_MESSAGE_CHARS = 160

# Columns of the table's frame. The visible ones:
_STATE = "state"  # label: "active", "active · stale"
_SOURCE = "source"
_WORKFLOW = "workflow"
_JOB = "job"  # first 8 hex digits of the job number
_START = "start"  # "MM-DD HH:MM:SS" (UTC), "" if unknown
_HEARTBEAT = "heartbeat"  # seconds since the last heartbeat (int, coarse)
_DATA = "data"  # seconds since the last result (float, coarse; NaN if none)
_MESSAGE = "message"  # first line of the error, else of the warning
# Hidden, read by the cell templates and the filters (never untrusted text):
_STATE_KEY = "state_key"  # CSS suffix: the JobState value, or "stale"
_STATE_VALUE = "state_value"  # the JobState value
_STALE = "stale"
_NO_DATA = "no_data"  # active, and no result for longer than no_data_after
_JOB_NUMBER = "job_number"  # the full job number, for the tooltip

#: Cells that change only with the job's status (diffed per version change),
#: in the order :func:`_status_cells` returns them.
_STATUS_COLUMNS = (
    _STATE,
    _STATE_KEY,
    _STATE_VALUE,
    _STALE,
    _SOURCE,
    _WORKFLOW,
    _JOB,
    _JOB_NUMBER,
    _START,
    _MESSAGE,
)
#: Cells that change with time (recomputed at most once a second).
_AGE_COLUMNS = (_HEARTBEAT, _DATA, _NO_DATA)
# Display order: which job, then what is wrong with it, so both are visible in
# a half-width section without scrolling sideways.
_COLUMNS = (
    _STATE,
    _SOURCE,
    _WORKFLOW,
    _JOB,
    _MESSAGE,
    _HEARTBEAT,
    _DATA,
    _START,
    _STATE_KEY,
    _STATE_VALUE,
    _STALE,
    _NO_DATA,
    _JOB_NUMBER,
)
_HIDDEN = [_STATE_KEY, _STATE_VALUE, _STALE, _NO_DATA, _JOB_NUMBER]
_DTYPES = {
    _HEARTBEAT: "int64",
    _DATA: "float64",
    _STALE: "bool",
    _NO_DATA: "bool",
}

_TITLES = {
    _STATE: "State",
    _SOURCE: "Source",
    _WORKFLOW: "Workflow",
    _JOB: "Job",
    _START: "Started",
    _HEARTBEAT: "Beat",
    _DATA: "Data",
    _MESSAGE: "Error / warning",
}
#: Column widths, as shares of the table's width (the rest is the row
#: selection checkbox): all eight columns stay in view in half a screen.
_WIDTHS = {
    _STATE: "13%",
    _SOURCE: "14%",
    _WORKFLOW: "10%",
    _JOB: "10%",
    _MESSAGE: "15%",
    _HEARTBEAT: "8%",
    _DATA: "9%",
    _START: "14%",
}
_HEADER_TOOLTIPS = {
    _JOB: "First 8 digits of the job number; hover a cell for all of it",
    _HEARTBEAT: "Time since the last heartbeat (5 s steps, then minutes)",
    _START: "When the job started (UTC)",
    _DATA: (
        "Time since the last result (5 s steps, then minutes); — if none yet;"
        " 'no data' if an active job has sent none for a while"
    ),
    _MESSAGE: "First line; select the row for the full text",
}

#: Ages are shown to this many seconds under a minute, then to the minute.
_AGE_STEP_S = 5
# An age cell's text from its coarse value in seconds (see _coarse_seconds).
_AGE_TEXT = (
    f"<% if (value < {_AGE_STEP_S}) {{ %>&lt; {_AGE_STEP_S} s"
    "<% } else if (value < 60) { %><%- value %> s"
    "<% } else { %><%- Math.floor(value / 60) %> min<% } %>"
)

# Cell templates (Underscore syntax, evaluated by Bokeh in the browser).
# ``<%- %>`` escapes; the only fields interpolated are values this module
# computes (state names, numbers, UUIDs), never backend text.
_TEMPLATES = {
    _STATE: '<span class="jd-state jd-state-<%- state_key %>"><%- value %></span>',
    _JOB: '<span class="jd-mono" title="<%- job_number %>"><%- value %></span>',
    _HEARTBEAT: (
        '<span class="jd-mono<% if (stale) { %> jd-age-stale<% } %>">'
        + _AGE_TEXT
        + "</span>"
    ),
    # An active job without recent data shows the flag instead of the age
    # (the column is narrow; the card has the same flag).
    _DATA: (
        '<% if (no_data) { %><span class="jd-no-data">no data</span>'
        '<% } else { %><span class="jd-mono"><% if (isNaN(value)) { %>—'
        "<% } else { %>" + _AGE_TEXT + "<% } %></span><% } %>"
    ),
}


@cache
def _stylesheet() -> str:
    return asset("css", "job_status_widget.css").read_text(encoding="utf-8")


def _table_time(time_ns: int | None) -> str:
    """``MM-DD HH:MM:SS`` in UTC (the table's narrow Started column), or ``""``."""
    if time_ns is None:
        return ""
    return datetime.fromtimestamp(time_ns / _NS, tz=UTC).strftime("%m-%d %H:%M:%S")


def format_utc(time_ns: int | None) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in UTC, or ``""`` for no time."""
    if time_ns is None:
        return ""
    return datetime.fromtimestamp(time_ns / _NS, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def first_line(text: str | None, limit: int = _MESSAGE_CHARS) -> str:
    """The line of ``text`` that says what went wrong, cut to ``limit`` characters.

    The first non-blank line, except for a Python traceback, whose first line
    ("Traceback (most recent call last):") says nothing: then its last line,
    the exception (:func:`~jobdash.domain.job_status.message_summary`). An
    ellipsis marks that there is more (more lines, or a longer line).
    """
    if not text:
        return ""
    line = message_summary(text, limit)
    more_lines = sum(1 for part in text.splitlines() if part.strip()) > 1
    if more_lines and not line.endswith("…"):
        line += " …"
    return line


def _status_cells(row: JobRow) -> tuple[Any, ...]:
    """The cells of :data:`_STATUS_COLUMNS` for one row."""
    status = row.status
    state = status.state.value
    return (
        f"{state} · stale" if row.stale else state,
        STALE_FILTER if row.stale else state,
        state,
        row.stale,
        row.job_id.source_name,
        str(status.workflow_id),
        row.job_id.short,
        str(row.job_id.job_number),
        _table_time(status.start_time),
        first_line(status.message),
    )


def _same_display(old: JobRow, new: JobRow) -> bool:
    """Whether ``new`` shows exactly as ``old`` (ages aside)."""
    a, b = old.status, new.status
    return (
        a.state is b.state
        and old.stale == new.stale
        and a.error_message == b.error_message
        and a.warning_message == b.warning_message
        and a.start_time == b.start_time
        and a.workflow_id == b.workflow_id
    )


class _Shown:
    """What the table shows for one job, and the latest row it stands for.

    ``row`` is replaced in place by rows that display the same (a heartbeat
    moves only the receipt time); ``cells`` and ``search`` never change.
    """

    __slots__ = ("cells", "row", "search")

    def __init__(self, row: JobRow) -> None:
        status = row.status
        self.row = row
        self.cells = _status_cells(row)
        # Casefolded source, workflow and full messages, for the text filter.
        self.search = "\n".join(
            (
                row.job_id.source_name,
                str(status.workflow_id),
                status.error_message or "",
                status.warning_message or "",
            )
        ).casefold()


class JobStatusWidget(pn.viewable.Viewer):
    """The job table with filters, row actions and a detail pane.

    Parameters
    ----------
    job_service
        The shared job model (read through immutable snapshots).
    controller
        Sends stop/reset, and decides on the server whether this session's
        actor may (it refuses and audits otherwise).
    clock
        "Now" for ages (the same clock the services use).
    read_only
        Hide and disable the actions. Hiding is cosmetic: stop/reset are
        refused by the controller, Remove by this widget, whatever the
        browser sends.
    actor
        Who acts in this session (``AccessPolicy.actor_for(pn.state.user)``);
        passed with every stop/reset. A viewer sees no actions, as if
        read-only. Default: :meth:`Actor.system`.
    page_size
        Rows per page of the remotely paginated table.
    no_data_after
        Seconds after which an active job without a result (since its last
        one, or since it started) is flagged "no data"; ``None`` disables it.
    """

    def __init__(
        self,
        job_service: JobService,
        controller: JobController,
        clock: Clock,
        *,
        read_only: bool = False,
        actor: Actor | None = None,
        page_size: int = 25,
        no_data_after: float | None = 30.0,
    ) -> None:
        super().__init__()
        self._service = job_service
        self._controller = controller
        self._clock = clock
        self._actor = actor if actor is not None else Actor.system()
        self._read_only = read_only
        self._may_act = not read_only and self._actor.is_operator
        self._no_data_ns = None if no_data_after is None else round(no_data_after * _NS)
        self._version = -1
        # Beyond this many changed rows, one full update is cheaper than a
        # patch (pandas assigns a patched cell in ~0.2 ms; rebuilding a frame
        # of 1,000 rows takes ~30 ms, and the browser gets one page either way).
        self._patch_limit = page_size
        self._ages_at: int | None = None
        # The last rendered row per job, keyed like the table's index.
        self._shown: dict[str, _Shown] = {}
        self._keys: dict[JobId, str] = {}
        css = _stylesheet()

        self._state_filter = pn.widgets.MultiChoice(
            label="State",
            options=[state.value for state in JobState] + [STALE_FILTER],
            placeholder="All states",
            width=220,
            css_classes=["jd-job-state-filter"],
        )
        self._text_filter = pn.widgets.TextInput(
            label="Search",
            placeholder="Source, workflow or message",
            width=240,
            css_classes=["jd-job-text-filter"],
        )
        # remove_filter() matches by identity: keep one bound method.
        self._mask_filter: Callable[[pd.DataFrame], Any] = self._filter_mask
        self._filter_installed = False
        self._state_filter.param.watch(self._filters_changed, "value")
        self._text_filter.param.watch(self._filters_changed, "value_input")

        self._table = pn.widgets.Tabulator(
            _empty_frame(),
            pagination="remote",
            page_size=page_size,
            selectable="checkbox",
            show_index=False,
            disabled=True,
            sortable=True,
            hidden_columns=list(_HIDDEN),
            titles=dict(_TITLES),
            header_tooltips=dict(_HEADER_TOOLTIPS),
            formatters={
                **{
                    column: HTMLTemplateFormatter(template=template)
                    for column, template in _TEMPLATES.items()
                },
                _SOURCE: {"type": "plaintext"},
                _WORKFLOW: {"type": "plaintext"},
                _START: {"type": "plaintext"},
                _MESSAGE: {"type": "plaintext"},
            },
            text_align={_HEARTBEAT: "right", _DATA: "right"},
            # Fixed shares of the width the table has: every column stays in
            # view in half a screen, and the browser never sizes columns by
            # their contents (fit_data_* layouts measured every cell on
            # every update). Long text is cut with an ellipsis; the detail
            # pane has it in full.
            widths=dict(_WIDTHS),
            configuration={"placeholder": "No jobs have reported yet."},
            layout="fit_columns",
            sizing_mode="stretch_width",
            css_classes=["jd-job-table"],
            stylesheets=[css],
        )
        self._table.param.watch(self._selection_changed, "selection")

        self._stop = pn.widgets.Button(
            label="Stop",
            color="danger",
            css_classes=["jd-stop"],
            description="Stop the selected jobs",
        )
        self._reset = pn.widgets.Button(
            label="Reset",
            color="warning",
            css_classes=["jd-reset"],
            description="Reset the results of the selected jobs",
        )
        self._remove = pn.widgets.Button(
            label="Remove",
            color="light",
            css_classes=["jd-remove"],
            description="Remove the selected stopped jobs from this view",
        )
        self._stop.on_click(self._on_stop)
        self._reset.on_click(self._on_reset)
        self._remove.on_click(self._on_remove)
        for button in (self._stop, self._reset, self._remove):
            button.visible = self._may_act
        self._feedback = LiveHTML(
            "", css_classes=["jd-job-feedback"], stylesheets=[css], margin=(0, 5)
        )
        self._detail = LiveHTML(
            "",
            css_classes=["jd-job-details"],
            stylesheets=[css],
            sizing_mode="stretch_width",
        )
        self._update_actions()
        self._root = pn.Column(
            pn.Row(
                self._state_filter,
                self._text_filter,
                pn.Spacer(sizing_mode="stretch_width"),
                self._stop,
                self._reset,
                self._remove,
                css_classes=["jd-job-toolbar"],
                sizing_mode="stretch_width",
                align="end",
            ),
            self._feedback,
            self._table,
            self._detail,
            css_classes=["jd-job-status-widget"],
            stylesheets=[css],
            sizing_mode="stretch_width",
        )
        self.refresh()

    def __panel__(self) -> pn.Column:
        return self._root

    # Parts, for the page's layout and for tests (stable, read-only).

    @property
    def table(self) -> pn.widgets.Tabulator:
        """The job table (index: JobId text)."""
        return self._table

    @property
    def state_filter(self) -> pn.widgets.MultiChoice:
        """Which states to show (none selected: all); includes ``"stale"``."""
        return self._state_filter

    @property
    def text_filter(self) -> pn.widgets.TextInput:
        """Free text matched against source, workflow and message."""
        return self._text_filter

    @property
    def buttons(self) -> dict[str, pn.widgets.Button]:
        """The action buttons by action: ``stop``, ``reset``, ``remove``."""
        return {"stop": self._stop, "reset": self._reset, "remove": self._remove}

    @property
    def detail(self) -> pn.pane.HTML:
        """Everything about the selected job, messages in full."""
        return self._detail

    @property
    def feedback(self) -> pn.pane.HTML:
        """What the last action did."""
        return self._feedback

    def select(self, job_ids: Iterable[JobId]) -> None:
        """Select the rows of ``job_ids`` (those shown), as a click would."""
        keys = [self._keys.get(job_id, str(job_id)) for job_id in job_ids]
        positions = self._table.value.index.get_indexer(keys)
        self._table.selection = [int(p) for p in positions if p >= 0]

    # --- refresh (session IOLoop) -------------------------------------------

    def refresh(self) -> None:
        """Bring the table up to date; returns at once if nothing is due.

        Reads a snapshot only when something the table shows changed (the
        service's ``display_version``), or once a second for the ages.
        """
        version = self._service.display_version
        now = self._clock.now_ns()
        ages_due = self._ages_at is None or not 0 <= now - self._ages_at < _NS
        if version == self._version and not ages_due:
            return
        snapshot = self._service.snapshot()
        self._version = snapshot.display_version
        self._apply_rows(snapshot.rows, now, ages_due)

    def _apply_rows(self, rows: Iterable[JobRow], now: int, ages_due: bool) -> None:
        previous = self._shown
        shown: dict[str, _Shown] = {}
        changed: list[str] = []
        keys = self._keys
        # Per job and per version change: keep this loop lean (1,000+ jobs).
        for row in rows:
            key = keys.get(row.job_id)
            if key is None:
                key = keys[row.job_id] = str(row.job_id)
            old = previous.get(key)
            if old is not None and _same_display(old.row, row):
                old.row = row
                shown[key] = old
            else:
                shown[key] = _Shown(row)
                if old is not None:
                    changed.append(key)
        self._shown = shown
        if len(keys) > 2 * len(shown) + 64:
            # Forget the text form of jobs gone long ago (bounded memory).
            self._keys = {row.row.job_id: key for key, row in shown.items()}
        if shown.keys() != previous.keys() or len(changed) > self._patch_limit:
            self._replace_value(now)
        else:
            patch = self._status_patch(changed, previous)
            if ages_due:
                self._apply_ages(now, set(changed), patch)
            else:
                self._add_ages(patch, changed, now)
                self._send(patch)
        if changed or shown.keys() != previous.keys():
            self._update_actions()

    def _status_patch(
        self, changed: list[str], previous: dict[str, _Shown]
    ) -> dict[str, list[tuple[str, Any]]]:
        patch: dict[str, list[tuple[str, Any]]] = {}
        for key in changed:
            old, new = previous[key].cells, self._shown[key].cells
            for column, before, after in zip(_STATUS_COLUMNS, old, new, strict=True):
                if before != after:
                    patch.setdefault(column, []).append((key, after))
        return patch

    def _add_ages(
        self, patch: dict[str, list[tuple[str, Any]]], keys: list[str], now: int
    ) -> None:
        """Add the fresh ages of ``keys`` (rows whose status changed) to ``patch``."""
        if not keys:
            return
        value = self._table.value
        after = _age_arrays([self._shown[k].row for k in keys], now, self._no_data_ns)
        positions = value.index.get_indexer(keys)
        for column in _AGE_COLUMNS:
            differs = _differs(value[column].to_numpy()[positions], after[column])
            for i in np.flatnonzero(differs):
                patch.setdefault(column, []).append((keys[i], after[column][i].item()))

    def _apply_ages(
        self,
        now: int,
        include: set[str],
        patch: dict[str, list[tuple[str, Any]]] | None = None,
    ) -> None:
        """Recompute every age; patch those that changed on the visible page.

        The frame's age columns are rewritten in place (no event): rows off
        the page are read from it when the operator pages, sorts or filters.
        ``include`` are rows patched regardless of the page (their status
        changed, so they are patched anyway).
        """
        self._ages_at = now
        patch = {} if patch is None else patch
        value = self._table.value
        if len(value):
            shown = self._shown
            rows = [shown[key].row for key in value.index]
            after = _age_arrays(rows, now, self._no_data_ns)
            visible: set[str] | None = None
            for column in _AGE_COLUMNS:
                new = after[column]
                differs = _differs(value[column].to_numpy(), new)
                if not differs.any():
                    continue
                value[column] = new
                if visible is None:
                    visible = self._visible_keys() | include
                for position in np.flatnonzero(differs):
                    key = value.index[position]
                    if key in visible:
                        patch.setdefault(column, []).append((key, new[position].item()))
        self._send(patch)

    def _send(self, patch: dict[str, list[tuple[str, Any]]]) -> None:
        if patch:
            self._table.patch(patch, as_index=True)

    def _visible_keys(self) -> set[str]:
        """Index keys of the rows on the page the browser shows."""
        table = self._table
        view = table.current_view
        if view is None:
            return set()
        size = table.page_size or table.initial_page_size
        start = (table.page - 1) * size
        return set(view.index[start : start + size])

    def _replace_value(self, now: int) -> None:
        """Send the whole table (rows were added or removed)."""
        selected = self._selected_keys()
        self._ages_at = now
        frame = self._frame(now)
        table = self._table
        table.value = frame
        if selected:
            positions = [frame.index.get_loc(k) for k in selected if k in frame.index]
            table.selection = positions
        size = table.page_size or table.initial_page_size
        view = table.current_view
        last_page = max(1, -(-len(view) // size)) if view is not None else 1
        if table.page > last_page:
            table.page = last_page

    def _frame(self, now: int) -> pd.DataFrame:
        if not self._shown:
            return _empty_frame()
        shown = list(self._shown.values())
        frame = pd.DataFrame.from_records(
            [s.cells for s in shown],
            index=pd.Index(list(self._shown), name="job_id"),
            columns=_STATUS_COLUMNS,
        )
        ages = _age_arrays([s.row for s in shown], now, self._no_data_ns)
        for column in _AGE_COLUMNS:
            frame[column] = ages[column]
        return frame[list(_COLUMNS)].astype(_DTYPES)

    # --- filters ---------------------------------------------------------------

    def _filter_mask(self, frame: pd.DataFrame) -> Any:
        """Rows matching the state and text filters (a boolean mask)."""
        mask = np.ones(len(frame), dtype=bool)
        states = set(self._state_filter.value)
        if states:
            match = frame[_STATE_VALUE].isin(states).to_numpy()
            if STALE_FILTER in states:
                match = match | frame[_STALE].to_numpy(dtype=bool)
            mask = mask & match
        needle = (self._text_filter.value_input or "").strip().casefold()
        if needle:
            shown = self._shown
            mask &= np.fromiter(
                (key in shown and needle in shown[key].search for key in frame.index),
                dtype=bool,
                count=len(frame),
            )
        return pd.Series(mask, index=frame.index)

    def _filters_changed(self, *_: object) -> None:
        active = bool(self._state_filter.value) or bool(
            (self._text_filter.value_input or "").strip()
        )
        table = self._table
        with pn.io.hold():
            # Re-adding is the public way to re-run a function filter.
            if self._filter_installed:
                table.remove_filter(self._mask_filter)
            if active:
                table.add_filter(self._mask_filter)
            self._filter_installed = active
            table.page = 1

    # --- selection, actions ----------------------------------------------------

    def _selected_keys(self) -> list[str]:
        value = self._table.value
        return [value.index[i] for i in self._table.selection if i < len(value)]

    def _selected(self) -> list[_Shown]:
        return [self._shown[k] for k in self._selected_keys() if k in self._shown]

    def _selection_changed(self, *_: object) -> None:
        self._update_actions()

    def _update_actions(self) -> None:
        selected = self._selected()
        running = [s for s in selected if s.row.status.state is not JobState.stopped]
        stopped = len(selected) - len(running)
        enabled = self._may_act
        self._stop.label = f"Stop ({len(running)})" if running else "Stop"
        self._reset.label = f"Reset ({len(running)})" if running else "Reset"
        self._remove.label = f"Remove ({stopped})" if stopped else "Remove"
        self._stop.disabled = not (enabled and running)
        self._reset.disabled = not (enabled and running)
        self._remove.disabled = not (enabled and stopped)
        self._detail.object = _detail_html(selected)

    def _on_stop(self, _: object = None) -> None:
        self._command("Stop", self._controller.stop_job)

    def _on_reset(self, _: object = None) -> None:
        self._command("Reset", self._controller.reset_job)

    def _command(self, verb: str, send: Callable[..., bool]) -> None:
        targets = [
            s.row
            for s in self._selected()
            if s.row.status.state is not JobState.stopped
        ]
        if not targets:
            return
        # No check here: the controller refuses (and audits the refusal) if
        # this actor may not act, even when the browser forged the click.
        sent = failed = 0
        for row in targets:
            try:
                ok = send(row.job_id, row.status.workflow_id, actor=self._actor)
            except PermissionDeniedError as exc:
                self._say(f"{verb} refused: {exc}")
                return
            sent += ok
            failed += not ok
        text = f"{verb} sent for {_jobs(sent)}."
        if failed:
            text += f" {_jobs(failed).capitalize()} could not be sent."
        self._say(text)

    def _on_remove(self, _: object = None) -> None:
        if not self._may_act:
            # Removal changes every session's table: not for viewers either.
            actor = self._actor
            reason = (
                "this dashboard is read-only"
                if self._read_only
                else f"{actor.role.value} {actor.name!r} may not remove jobs"
            )
            self._say(f"Remove refused: {reason}.")
            return
        removed = 0
        for shown in self._selected():
            job_id = shown.row.job_id
            # Decide on the service's current state, not on what was shown.
            status = self._service.get_job_status(job_id)
            if status is not None and status.state is JobState.stopped:
                self._service.remove_job(job_id)
                removed += 1
        if removed:
            self._say(f"Removed {_jobs(removed)} from the view.")
        self._table.selection = []
        self.refresh()

    def _say(self, text: str) -> None:
        self._feedback.object = html.escape(text)


def _jobs(count: int) -> str:
    return f"{count} job" if count == 1 else f"{count} jobs"


def _age_arrays(
    rows: list[JobRow], now: int, no_data_ns: int | None
) -> dict[str, np.ndarray]:
    """The age columns of ``rows`` at ``now``: coarse seconds, NaN for no data.

    ``no_data``: the job is active, and its last result (or, without one, its
    start) is older than ``no_data_ns``.
    """
    n = len(rows)
    last_update = np.fromiter((r.last_update for r in rows), np.int64, n)
    has_data = np.fromiter((r.last_data is not None for r in rows), bool, n)
    last_data = np.fromiter((r.last_data or 0 for r in rows), np.int64, n)
    heartbeat = _coarse_seconds(np.maximum(now - last_update, 0) // _NS)
    data = np.where(
        has_data, _coarse_seconds(np.maximum(now - last_data, 0) // _NS), np.nan
    )
    no_data = np.zeros(n, dtype=bool)
    if no_data_ns is not None:
        start = np.fromiter((r.status.start_time or 0 for r in rows), np.int64, n)
        has_start = np.fromiter(
            (r.status.start_time is not None for r in rows), bool, n
        )
        active = np.fromiter((r.status.state is JobState.active for r in rows), bool, n)
        since = np.where(has_data, last_data, start)
        no_data = active & (has_data | has_start) & (now - since > no_data_ns)
    return {_HEARTBEAT: heartbeat, _DATA: data.astype(np.float64), _NO_DATA: no_data}


def _coarse_seconds(seconds: np.ndarray) -> np.ndarray:
    """Ages in whole seconds, floored to what the table shows.

    0 while under :data:`_AGE_STEP_S` (shown "< 5 s"), then multiples of the
    step under a minute, then whole minutes (in seconds). A healthy job's age
    thus never changes, and a stale one's changes every 5 s, then every minute.
    """
    step = _AGE_STEP_S
    return np.where(seconds < 60, seconds // step * step, seconds // 60 * 60)


def _differs(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Element-wise ``old != new``, with NaN equal to NaN."""
    if new.dtype.kind == "f":
        return np.asarray(~((old == new) | (np.isnan(old) & np.isnan(new))))
    return np.asarray(old != new)


def _empty_frame() -> pd.DataFrame:
    frame = pd.DataFrame(
        {column: pd.Series(dtype=_DTYPES.get(column, "object")) for column in _COLUMNS},
        index=pd.Index([], name="job_id", dtype="object"),
    )
    return frame


def _detail_html(selected: list[_Shown]) -> str:
    """The detail pane: every field of one selected job, escaped."""
    if not selected:
        text = "Select a job to see its full error or warning."
    elif len(selected) > 1:
        text = f"{len(selected)} jobs selected."
    else:
        row = selected[0].row
        status = row.status
        state = status.state.value + (" (stale)" if row.stale else "")
        lines = [
            f"Job        {row.job_id}",
            f"Workflow   {status.workflow_id}",
            f"State      {state}",
            f"Started    {format_utc(status.start_time) or '—'}",
            f"Ended      {format_utc(status.end_time) or '—'}",
        ]
        if status.error_message:
            lines += ["", "Error:", status.error_message]
        if status.warning_message:
            lines += ["", "Warning:", status.warning_message]
        if not status.message:
            lines += ["", "No error or warning."]
        text = "\n".join(lines)
    return f'<pre class="jd-job-detail">{html.escape(text)}</pre>'
