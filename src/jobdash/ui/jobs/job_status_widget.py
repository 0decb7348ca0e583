# mypy: disallow-untyped-calls=False
# (Panel's constructors and methods are not annotated.)
"""The legacy job-level view: one table row per job, with row actions.

Built per browser session over the shared ``JobService`` (read) and
``JobController`` (stop/reset; pause/resume where a backend worker accepts
them). What every session shows the same — each
row's cells, the ages, the initial frame — comes from the process's one
:class:`~jobdash.ui.jobs.job_table_rows.JobTableRows`, built once per change; the
session's refresher calls :meth:`JobStatusWidget.refresh`, which returns at
once (an identity check) when those rows are the ones it applied, and
otherwise patches the rows whose shared objects changed.

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
* Ages (heartbeat, last data) are recomputed once a second for the rows on
  the page in view only (``docs/decisions/0015-job-table-pages-on-the-server.md``),
  and shown coarsely (:mod:`jobdash.ui.durations`): "< 5 s" while fresh,
  then in 5 s steps, then in minutes, so a healthy row never changes. Their
  patches go to the page alone (``_JobTable.patch_page``): Panel's ``patch``
  re-filters and re-sorts every row whenever a sort or filter is set. Only
  a table sorted by an age reads every row's ages (once a second).

Untrusted text (source names, workflow ids, messages) only ever reaches the
browser through Tabulator's escaping ``plaintext`` formatter or ``<%- %>``
(escaping) template fields, and through ``html.escape`` in the detail pane.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd
import panel as pn
from bokeh.models.widgets.tables import HTMLTemplateFormatter

from jobdash.domain.access import Actor, PermissionDeniedError
from jobdash.domain.clock import Clock
from jobdash.domain.ids import JobId
from jobdash.domain.job_state import JobState
from jobdash.services.action_guard import ActionRefusedError
from jobdash.services.job_controller import JobController
from jobdash.services.job_service import JobService
from jobdash.ui.durations import AGE_CELL_TEXT
from jobdash.ui.jobs.job_table_rows import (
    AGE_COLUMNS,
    DATA,
    HEARTBEAT,
    JOB,
    JOB_NUMBER,
    MESSAGE,
    NO_DATA,
    SOURCE,
    STALE,
    STALE_FILTER,
    START,
    STATE,
    STATE_KEY,
    STATE_VALUE,
    STATUS_COLUMNS,
    WORKFLOW,
    WORKFLOW_ID,
    JobTableRows,
    ShownJob,
    TableRows,
    empty_frame,
    first_line,
    format_utc,
)
from jobdash.ui.live_html import LiveHTML
from jobdash.ui.stylesheets import stylesheet_url

__all__ = ["STALE_FILTER", "JobStatusWidget", "first_line", "format_utc"]

#: States a Pause applies to (the backend pauses a running job).
_PAUSABLE = frozenset({JobState.active, JobState.finishing, JobState.warning})

_SECOND_NS = 1_000_000_000

_HIDDEN = [STATE_KEY, STATE_VALUE, STALE, NO_DATA, JOB_NUMBER, WORKFLOW_ID]

#: Header labels: one short word each, so that every header is legible in
#: half of a 1,400 px screen; the header tooltips give the full names.
_TITLES = {
    STATE: "State",
    SOURCE: "Source",
    WORKFLOW: "Workflow",
    JOB: "Job",
    START: "Started",
    HEARTBEAT: "Beat",
    DATA: "Data",
    MESSAGE: "Message",
}
_HEADER_TOOLTIPS = {
    STATE: "State of the job; 'stale' if no heartbeat came for a while",
    SOURCE: "Source name: the detector bank or monitor the job reduces",
    WORKFLOW: "Workflow name; hover a cell for the full workflow id",
    JOB: "Job: first 8 digits of the job number; hover a cell for all of it",
    HEARTBEAT: "Last heartbeat: time since it (5 s steps, then minutes)",
    START: "Started: when the job started (UTC, to the minute)",
    DATA: (
        "Last data: time since the last result (5 s steps, then minutes);"
        " — if none yet; 'no data' if an active job has sent none for a while"
    ),
    MESSAGE: "Error or warning: its first line; select the row for the full text",
}
#: Column sizes in px (Tabulator's ``fitColumns``): states, ages and times
#: are narrow and fixed; source, workflow and message share the rest, never
#: narrower than ``minWidth``: all eight fit in 628 px, the table's width in
#: a 700 px window (half of a 1,400 px screen). Source and workflow names
#: wrap between their words rather than being cut.
_COLUMN_SIZES: dict[str, dict[str, Any]] = {
    STATE: {"width": 84, "variableHeight": True},
    SOURCE: {"minWidth": 96, "widthGrow": 4, "variableHeight": True},
    WORKFLOW: {"minWidth": 80, "widthGrow": 2, "variableHeight": True},
    JOB: {"width": 72},
    MESSAGE: {"minWidth": 72, "widthGrow": 3},
    HEARTBEAT: {"width": 62},
    DATA: {"width": 66},
    START: {"width": 64, "variableHeight": True},
}
#: The row selection checkbox's column (Panel makes it 40 px).
_CHECKBOX_WIDTH = 30

#: A cell template's text with a line-break opportunity (``<wbr>``) after
#: each underscore: names like ``endcap_backward_detector`` wrap between their
#: words, and the cell's text stays the name.
_BREAK_AT_UNDERSCORES = (
    '<% String(value).split("_").forEach(function (part, i) { %>'
    "<% if (i > 0) { %>_<wbr><% } %><%- part %><% }) %>"
)

# Cell templates (Underscore syntax, evaluated by Bokeh in the browser).
# ``<%- %>`` escapes (quotes too, so it is safe in an attribute); backend
# text (the workflow's name and id) is only ever interpolated with it.
_TEMPLATES = {
    STATE: '<span class="jd-state jd-state-<%- state_key %>"><%- value %></span>',
    SOURCE: "<span>" + _BREAK_AT_UNDERSCORES + "</span>",
    WORKFLOW: '<span title="<%- workflow_id %>">' + _BREAK_AT_UNDERSCORES + "</span>",
    JOB: '<span class="jd-mono" title="<%- job_number %>"><%- value %></span>',
    HEARTBEAT: (
        '<span class="jd-mono<% if (stale) { %> jd-age-stale<% } %>">'
        + AGE_CELL_TEXT
        + "</span>"
    ),
    # An active job without recent data shows the flag instead of the age
    # (the column is narrow; the card has the same flag).
    DATA: (
        '<% if (no_data) { %><span class="jd-no-data">no data</span>'
        '<% } else { %><span class="jd-mono"><% if (isNaN(value)) { %>—'
        "<% } else { %>" + AGE_CELL_TEXT + "<% } %></span><% } %>"
    ),
}


def _stylesheet() -> str:
    # A URL: one linked file for every pane (as text, one copy per pane).
    return stylesheet_url("job_status_widget.css")


class _JobTable(pn.widgets.Tabulator):
    """Panel's Tabulator with :data:`_COLUMN_SIZES` applied to its columns.

    Panel 1.9 merges ``configuration["columns"]`` into its own column
    specifications by position, off by one when the row selection checkbox
    column comes first; so the sizes are set here, by field, on the
    configuration Panel computed.
    """

    def _get_configuration(self, columns: list[Any]) -> dict[str, Any]:
        configuration: dict[str, Any] = super()._get_configuration(columns)
        for column in configuration.get("columns", []):
            if column.get("formatter") == "rowSelection":
                column["width"] = column["minWidth"] = _CHECKBOX_WIDTH
            column.update(_COLUMN_SIZES.get(column.get("field"), {}))
        return configuration

    def patch_page(
        self, patch: dict[str, list[tuple[str, Any]]], page_keys: list[str]
    ) -> None:
        """Set cells by index key; send the browser those on the page.

        ``page_keys`` are the keys of the page's rows, in the order shown.
        Unlike :meth:`patch`, this never re-filters and re-sorts every row
        (Panel does, whenever a sort or filter is set): for cells that move
        no row in or out of the page, such as ages.
        """
        value = self.value
        where = {key: i for i, key in enumerate(page_keys)}
        page: dict[str, list[tuple[int, Any]]] = {}
        for column, cells in patch.items():
            for key, cell in cells:
                value.at[key, column] = cell
                if key in where:
                    page.setdefault(column, []).append((where[key], cell))
        if page:
            # The page's model, as Panel's own patch sends it.
            super(pn.widgets.Tabulator, self)._patch(page)


class JobStatusWidget(pn.viewable.Viewer):
    """The job table with filters, row actions and a detail pane.

    Parameters
    ----------
    job_service
        The shared job model (read through immutable snapshots); removes
        jobs, and decides on the server whether this session's actor may.
    controller
        Sends stop/reset, and decides on the server whether this session's
        actor may (it refuses and audits otherwise).
    clock
        "Now" for ages (the same clock the services use).
    actor
        Who acts in this session (``AccessPolicy.actor_for(pn.state.user)``,
        a viewer for everyone in a read-only deployment); passed with every
        action. A viewer sees no actions. Hiding is cosmetic: the services
        refuse a viewer's stop, reset or remove, whatever the browser sends,
        and say why.
    page_size
        Rows per page of the remotely paginated table.
    no_data_after
        Seconds after which an active job without a result (since its last
        one, or since it started) is flagged "no data"; ``None`` disables it.
        Used only without ``table_rows``.
    table_rows
        The rows every session shares (the page passes the process's one);
        by default, this widget's own over ``job_service``.
    action_support
        The sources a fresh backend worker accepts an action for
        (``WorkerRegistry.sources_supporting``): Pause and Resume are
        enabled only for selected jobs it names. ``None``: no Pause or
        Resume buttons (docs/decisions/0011-paused-aggregate-and-action-support.md).
    """

    def __init__(
        self,
        job_service: JobService,
        controller: JobController,
        clock: Clock,
        *,
        actor: Actor,
        page_size: int = 25,
        no_data_after: float | None = 30.0,
        table_rows: JobTableRows | None = None,
        action_support: Callable[[str], frozenset[str]] | None = None,
    ) -> None:
        super().__init__()
        self._action_support = action_support
        self._service = job_service
        self._source = (
            table_rows
            if table_rows is not None
            else JobTableRows(job_service, no_data_after=no_data_after)
        )
        self._controller = controller
        self._clock = clock
        self._actor = actor
        self._may_act = actor.is_operator
        # Beyond this many changed rows, one full update is cheaper than a
        # patch (pandas assigns a patched cell in ~0.2 ms; copying the shared
        # frame is one copy, and the browser gets one page either way).
        self._patch_limit = page_size
        # What the table shows: the shared rows last applied (None: nothing).
        self._rows: TableRows | None = None
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

        self._table = _JobTable(
            empty_frame(),
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
                START: {"type": "plaintext"},
                MESSAGE: {"type": "plaintext"},
            },
            text_align={HEARTBEAT: "right", DATA: "right"},
            # Sizes set here, never from the contents (fit_data_* layouts
            # measured every cell on every update): every column stays in
            # view in half a screen. Messages are cut with an ellipsis; the
            # detail pane has them in full.
            configuration={
                "placeholder": "No jobs have reported yet.",
                # Sized to fit; resize handles would overflow the width.
                "columnDefaults": {"resizable": False},
            },
            layout="fit_columns",
            # No editors, so no need for Panel's 1 px spacer column.
            container_popup=False,
            sizing_mode="stretch_width",
            css_classes=["jd-job-table"],
            stylesheets=[css],
        )
        self._table.param.watch(self._selection_changed, "selection")
        # Which rows are on the page: recomputed only when one of these moves.
        self._page_keys: list[str] | None = None
        self._ages_at: int | None = None
        self._table.param.watch(
            self._page_moved, ["page", "page_size", "sorters", "filters", "value"]
        )

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
        self._pause = pn.widgets.Button(
            label="Pause",
            color="light",
            css_classes=["jd-pause"],
            description="Pause the selected active jobs (where the backend can)",
        )
        self._resume = pn.widgets.Button(
            label="Resume",
            color="light",
            css_classes=["jd-resume"],
            description="Resume the selected paused jobs",
        )
        self._pause.on_click(self._on_pause)
        self._resume.on_click(self._on_resume)
        for button in (self._stop, self._reset, self._remove):
            button.visible = self._may_act
        for button in (self._pause, self._resume):
            button.visible = self._may_act and action_support is not None
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
                self._pause,
                self._resume,
                self._remove,
                css_classes=["jd-job-toolbar"],
                # Five actions beside the filters do not fit in half a
                # screen: the last ones wrap to a second line, at the right
                # (the spacer fills the first), instead of running under
                # the next view.
                styles={
                    "flex-wrap": "wrap",
                    "justify-content": "flex-end",
                    "row-gap": "4px",
                },
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
        """The action buttons by action: ``stop``, ``reset``, ``pause``,
        ``resume``, ``remove``."""
        return {
            "stop": self._stop,
            "reset": self._reset,
            "pause": self._pause,
            "resume": self._resume,
            "remove": self._remove,
        }

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
        keys = [str(job_id) for job_id in job_ids]
        positions = self._table.value.index.get_indexer(keys)
        self._table.selection = [int(p) for p in positions if p >= 0]

    # --- refresh (session IOLoop) -------------------------------------------

    def refresh(self) -> None:
        """Bring the table up to date; returns at once if nothing is due.

        The shared :class:`~jobdash.ui.jobs.job_table_rows.JobTableRows` re-reads
        the service only when something shown changed, or once a second for
        the ages; when it has nothing new this costs an identity check.
        """
        now = self._clock.now_ns()
        by_age = self._sorted_by_age()
        rows = self._source.read(now, ages=by_age)
        previous = self._rows
        if rows is not previous:
            self._rows = rows
            self._changed(previous, rows)
        if by_age:
            # Sorted by an age: every row's ages came with the rows, above.
            return
        if self._ages_at is None or not 0 <= now - self._ages_at < _SECOND_NS:
            self._ages_at = now
            self._patch_page_ages(now)

    def _changed(self, previous: TableRows | None, rows: TableRows) -> None:
        """Show ``rows`` where ``previous`` was shown: patch, or replace."""
        if previous is None or not _same_keys(previous, rows):
            self._replace_value(rows)
            self._update_actions()
            return
        old, new = previous.shown, rows.shown
        changed = (
            []
            if new is old
            else [key for key, shown in new.items() if shown is not old[key]]
        )
        if len(changed) > self._patch_limit:
            self._replace_value(rows)
        else:
            patch = self._status_patch(changed, old, new)
            self._apply_ages(rows, set(changed), patch)
            table = self._table
            if patch and (table.sorters or table.filters or self._filter_installed):
                # Panel re-filters and re-sorts, and resends the page.
                self._page_keys = None
            self._send(patch)
        if changed:
            self._update_actions()

    def _sorted_by_age(self) -> bool:
        return any(s.get("field") in AGE_COLUMNS for s in self._table.sorters)

    def _patch_page_ages(self, now: int) -> None:
        """Patch the ages of the rows on the page that changed since shown.

        Only the page's rows (``page_size``) are read and compared, whatever
        the number of jobs; rows off the page keep the ages of the last
        change until they are paged to (then the next tick patches them).
        """
        keys = self._visible_keys()
        shown = self._shown
        keys = [key for key in keys if key in shown]
        if not keys:
            return
        value = self._table.value
        positions = value.index.get_indexer(keys)
        if (positions < 0).any():
            self._page_keys = None
            return
        fresh = self._source.ages_of([shown[key] for key in keys], now)
        patch: dict[str, list[tuple[str, Any]]] = {}
        for column in AGE_COLUMNS:
            new = fresh[column]
            differs = _differs(value[column].to_numpy()[positions], new)
            for i in np.flatnonzero(differs):
                patch.setdefault(column, []).append((keys[i], new[i].item()))
        if patch:
            self._table.patch_page(patch, self._visible_keys())

    @property
    def _shown(self) -> dict[str, ShownJob]:
        return self._rows.shown if self._rows is not None else {}

    @staticmethod
    def _status_patch(
        changed: list[str], old: dict[str, ShownJob], new: dict[str, ShownJob]
    ) -> dict[str, list[tuple[str, Any]]]:
        patch: dict[str, list[tuple[str, Any]]] = {}
        for key in changed:
            cells = zip(STATUS_COLUMNS, old[key].cells, new[key].cells, strict=True)
            for column, before, after in cells:
                if before != after:
                    patch.setdefault(column, []).append((key, after))
        return patch

    def _apply_ages(
        self,
        rows: TableRows,
        include: set[str],
        patch: dict[str, list[tuple[str, Any]]],
    ) -> None:
        """Take the shared ages; add those that changed on the visible page to ``patch``.

        The frame's age columns are rewritten in place (no event): rows off
        the page are read from it when the operator pages, sorts or filters.
        ``include`` are rows patched regardless of the page (their status
        changed, so they are patched anyway).
        """
        value = self._table.value
        if not len(value):
            return
        visible: set[str] | None = None
        for column in AGE_COLUMNS:
            new = rows.ages[column]
            differs = _differs(value[column].to_numpy(), new)
            if not differs.any():
                continue
            value[column] = new
            if visible is None:
                visible = set(self._visible_keys()) | include
            for position in np.flatnonzero(differs):
                key = value.index[position]
                if key in visible:
                    patch.setdefault(column, []).append((key, new[position].item()))

    def _send(self, patch: dict[str, list[tuple[str, Any]]]) -> None:
        if patch:
            self._table.patch(patch, as_index=True)

    def _visible_keys(self) -> list[str]:
        """Index keys of the rows on the page the browser shows, in order.

        Kept until the page, sort, filters or rows change: computing them
        filters and sorts every row.
        """
        keys = self._page_keys
        if keys is None:
            table = self._table
            view = table.current_view
            size = table.page_size or table.initial_page_size
            start = (table.page - 1) * size
            keys = [] if view is None else list(view.index[start : start + size])
            self._page_keys = keys
        return keys

    def _page_moved(self, *_: object) -> None:
        self._page_keys = None
        self._ages_at = None  # the rows paged to: their ages at the next tick

    def _replace_value(self, rows: TableRows) -> None:
        """Send the whole table (rows were added, removed or reordered)."""
        selected = self._selected_keys()
        frame = rows.frame.copy()
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

    # --- filters ---------------------------------------------------------------

    def _filter_mask(self, frame: pd.DataFrame) -> Any:
        """Rows matching the state and text filters (a boolean mask)."""
        mask = np.ones(len(frame), dtype=bool)
        states = set(self._state_filter.value)
        if states:
            match = frame[STATE_VALUE].isin(states).to_numpy()
            if STALE_FILTER in states:
                match = match | frame[STALE].to_numpy(dtype=bool)
            mask = mask & match
        needle = (self._text_filter.value_input or "").strip().casefold()
        if needle:
            rows = self._rows
            if rows is not None and frame.index is self._table.value.index:
                # The table's own frame: its rows are the shared rows', in
                # order, so their search texts line up (one vectorised match).
                mask &= rows.search.str.contains(needle, regex=False).to_numpy()
            else:
                shown = self._shown
                mask &= np.fromiter(
                    (
                        key in shown and needle in shown[key].search
                        for key in frame.index
                    ),
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
            if active and self._filter_installed:
                # Re-run the installed filter: one recompute of the page
                # (removing and re-adding it recomputed twice).
                if table.page == 1:
                    table.param.trigger("page")
                else:
                    table.page = 1
            elif active:
                table.page = 1
                table.add_filter(self._mask_filter)
            elif self._filter_installed:
                table.page = 1
                table.remove_filter(self._mask_filter)
            self._filter_installed = active
        self._page_moved()

    # --- selection, actions ----------------------------------------------------

    def _selected_keys(self) -> list[str]:
        value = self._table.value
        return [value.index[i] for i in self._table.selection if i < len(value)]

    def _selected(self) -> list[ShownJob]:
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
        pausable, resumable = self._pausable(selected), self._resumable(selected)
        self._pause.label = f"Pause ({len(pausable)})" if pausable else "Pause"
        self._resume.label = f"Resume ({len(resumable)})" if resumable else "Resume"
        self._pause.disabled = not (enabled and pausable)
        self._resume.disabled = not (enabled and resumable)
        self._detail.object = _detail_html(selected)

    def _supported(self, action: str) -> frozenset[str]:
        support = self._action_support
        return frozenset() if support is None else support(action)

    def _pausable(self, selected: list[ShownJob]) -> list[ShownJob]:
        """Selected jobs that run and whose worker accepts ``pause``."""
        sources = self._supported("pause") if selected else frozenset()
        return [
            s
            for s in selected
            if s.row.status.state in _PAUSABLE and s.row.job_id.source_name in sources
        ]

    def _resumable(self, selected: list[ShownJob]) -> list[ShownJob]:
        """Selected paused jobs whose worker accepts ``resume``."""
        sources = self._supported("resume") if selected else frozenset()
        return [
            s
            for s in selected
            if s.row.status.state is JobState.paused
            and s.row.job_id.source_name in sources
        ]

    def _on_pause(self, _: object = None) -> None:
        self._pause_or_resume("Pause", self._pausable, self._controller.pause)

    def _on_resume(self, _: object = None) -> None:
        self._pause_or_resume("Resume", self._resumable, self._controller.resume)

    def _pause_or_resume(
        self,
        verb: str,
        targets: Callable[[list[ShownJob]], list[ShownJob]],
        send: Callable[..., int],
    ) -> None:
        rows = [s.row for s in targets(self._selected())]
        if not rows:
            return
        # The controller checks the actor and the workers' support again,
        # and refuses (audited) whatever the browser sent.
        try:
            sent = send(
                [row.job_id for row in rows],
                actor=self._actor,
                workflow_ids={row.job_id: row.status.workflow_id for row in rows},
            )
        except (PermissionDeniedError, ActionRefusedError) as exc:
            self._say(f"{verb} refused: {exc}")
            return
        self._say(f"{verb} sent for {_jobs(sent)}.")

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
        removed = 0
        for shown in self._selected():
            job_id = shown.row.job_id
            # Decide on the service's current state, not on what was shown.
            status = self._service.get_job_status(job_id)
            if status is None or status.state is not JobState.stopped:
                continue
            # No check here either: the service refuses (and audits) a viewer.
            try:
                self._service.remove_job(job_id, actor=self._actor)
            except PermissionDeniedError as exc:
                self._say(f"Remove refused: {exc}.")
                return
            removed += 1
        if removed:
            self._say(f"Removed {_jobs(removed)} from the view.")
        self._table.selection = []
        self.refresh()

    def _say(self, text: str) -> None:
        self._feedback.object = html.escape(text)


def _jobs(count: int) -> str:
    return f"{count} job" if count == 1 else f"{count} jobs"


def _same_keys(old: TableRows, new: TableRows) -> bool:
    """Whether ``new`` has the rows of ``old`` in the same order (the frame's)."""
    if new.shown is old.shown:
        return True
    return len(new.shown) == len(old.shown) and list(new.shown) == list(old.shown)


def _differs(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Element-wise ``old != new``, with NaN equal to NaN."""
    if new.dtype.kind == "f":
        return np.asarray(~((old == new) | (np.isnan(old) & np.isnan(new))))
    return np.asarray(old != new)


def _detail_html(selected: list[ShownJob]) -> str:
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
