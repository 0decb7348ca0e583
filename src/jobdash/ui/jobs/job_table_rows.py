"""What the job table shows for every job, computed once for all sessions.

Every browser session shows the same jobs; sessions differ only in their
filters, sort order, page and selection. So the part of the job table that
depends on the jobs alone — each row's cells, the ages, the frame a new
session starts from — is computed here once per change and shared, and each
session's :class:`~jobdash.ui.jobs.job_status_widget.JobStatusWidget` only diffs
what it showed against it and patches its own table. Before, each session
read a snapshot, rebuilt every row and recomputed every age once a second:
with twenty sessions that was most of the server's CPU, and at 10,000 jobs
each new session spent seconds building its own frame.

Ages are not a change: rebuilding every row once a second for them kept the
sessions' IOLoop busy at 10,000 jobs (a sort waited behind it), so a session
asks for the ages of its page's rows only (:meth:`JobTableRows.ages_of`);
``docs/decisions/0015-job-table-pages-on-the-server.md``.

No Panel here: this is plain data over :class:`~jobdash.services.job_service.JobService`,
read on the sessions' IOLoop (a lock makes it safe should Panel run session
callbacks on threads).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from functools import cached_property

import numpy as np
import pandas as pd

from jobdash.domain.ids import JobId
from jobdash.domain.job_state import JobState
from jobdash.domain.job_status import message_summary
from jobdash.services.job_service import JobRow, JobService
from jobdash.ui.durations import coarse_seconds

__all__ = [
    "AGE_COLUMNS",
    "COLUMNS",
    "DATA",
    "HEARTBEAT",
    "JOB",
    "JOB_NUMBER",
    "MESSAGE",
    "NO_DATA",
    "SOURCE",
    "STALE",
    "STALE_FILTER",
    "START",
    "STATE",
    "STATE_KEY",
    "STATE_VALUE",
    "STATUS_COLUMNS",
    "WORKFLOW",
    "WORKFLOW_ID",
    "JobTableRows",
    "ShownJob",
    "TableRows",
    "age_arrays",
    "empty_frame",
    "first_line",
    "format_utc",
]

_NS = 1_000_000_000

#: The state-filter option that selects stale jobs, whatever their state.
STALE_FILTER = "stale"

#: Longest first line shown in the message column; the detail pane has it all.
_MESSAGE_CHARS = 160

# Columns of the table's frame. The visible ones:
STATE = "state"  # label: "active", "active · stale"
SOURCE = "source"
WORKFLOW = "workflow"  # the workflow's name, without instrument and version
JOB = "job"  # first 8 hex digits of the job number
START = "start"  # "MM-DD HH:MM" (UTC), "" if unknown
HEARTBEAT = "heartbeat"  # seconds since the last heartbeat (int, coarse)
DATA = "data"  # seconds since the last result (float, coarse; NaN if none)
MESSAGE = "message"  # first line of the error, else of the warning
# Hidden, read by the cell templates and the filters (never untrusted text):
STATE_KEY = "state_key"  # CSS suffix: the JobState value, or "stale"
STATE_VALUE = "state_value"  # the JobState value
STALE = "stale"
NO_DATA = "no_data"  # active, and no result for longer than no_data_after
JOB_NUMBER = "job_number"  # the full job number, for the tooltip
WORKFLOW_ID = "workflow_id"  # the full workflow id text, for the tooltip

#: Cells that change only with the job's status, in the order
#: :attr:`ShownJob.cells` holds them.
STATUS_COLUMNS = (
    STATE,
    STATE_KEY,
    STATE_VALUE,
    STALE,
    SOURCE,
    WORKFLOW,
    WORKFLOW_ID,
    JOB,
    JOB_NUMBER,
    START,
    MESSAGE,
)
#: Cells that change with time (recomputed at most once a second).
AGE_COLUMNS = (HEARTBEAT, DATA, NO_DATA)
#: The frame's column order: which job, then what is wrong with it, so both
#: are visible in a half-width section without scrolling sideways.
COLUMNS = (
    STATE,
    SOURCE,
    WORKFLOW,
    JOB,
    MESSAGE,
    HEARTBEAT,
    DATA,
    START,
    STATE_KEY,
    STATE_VALUE,
    STALE,
    NO_DATA,
    JOB_NUMBER,
    WORKFLOW_ID,
)
_DTYPES = {
    HEARTBEAT: "int64",
    DATA: "float64",
    STALE: "bool",
    NO_DATA: "bool",
}


def _table_time(time_ns: int | None) -> str:
    """``MM-DD HH:MM`` in UTC (the table's narrow Started column), or ``""``.

    To the minute: the column stays narrow in half a screen; the detail pane
    has the time to the second.
    """
    if time_ns is None:
        return ""
    return datetime.fromtimestamp(time_ns / _NS, tz=UTC).strftime("%m-%d %H:%M")


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


def _status_cells(row: JobRow) -> tuple[object, ...]:
    """The cells of :data:`STATUS_COLUMNS` for one row."""
    status = row.status
    state = status.state.value
    return (
        f"{state} · stale" if row.stale else state,
        STALE_FILTER if row.stale else state,
        state,
        row.stale,
        row.job_id.source_name,
        status.workflow_id.name,
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


class ShownJob:
    """What the table shows for one job, and the latest row it stands for.

    One object per displayed state of a job, shared by every session: while
    the job shows the same, the object stays (``row`` is replaced in place,
    a heartbeat moves only the receipt time), so a session finds the rows it
    must patch by identity. ``cells`` and ``search`` never change.
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


class TableRows:
    """Every job's row at one moment: immutable once published.

    Attributes
    ----------
    display_version
        :attr:`JobService.display_version` these rows show.
    shown
        Index key (the JobId's text) → :class:`ShownJob`, in table order.
        The same dict object as the previous ``TableRows`` when no row's
        display changed (only ages did).
    ages
        :data:`AGE_COLUMNS` → array aligned with ``shown``, at ``ages_at``.
    ages_at
        When the ages were computed (ns, the clock's).
    """

    def __init__(
        self,
        display_version: int,
        shown: dict[str, ShownJob],
        ages: dict[str, np.ndarray],
        ages_at: int,
    ) -> None:
        self.display_version = display_version
        self.shown = shown
        self.ages = ages
        self.ages_at = ages_at

    @cached_property
    def search(self) -> pd.Series:
        """:attr:`ShownJob.search` of every row, in table order (for the text filter)."""
        return pd.Series([s.search for s in self.shown.values()], dtype=object)

    @cached_property
    def frame(self) -> pd.DataFrame:
        """The whole table as a frame (built on first use; copy before changing)."""
        if not self.shown:
            return empty_frame()
        frame = pd.DataFrame.from_records(
            [s.cells for s in self.shown.values()],
            index=pd.Index(list(self.shown), name="job_id"),
            columns=STATUS_COLUMNS,
        )
        for column in AGE_COLUMNS:
            frame[column] = self.ages[column]
        return frame[list(COLUMNS)].astype(_DTYPES)


class JobTableRows:
    """The job table's rows, shared by every session of the process.

    :meth:`read` returns the current :class:`TableRows`; it re-reads the
    service only when something shown changed (``display_version``), so
    however many sessions ask, the rows are built once per change. Ages are
    not a change: a session asks :meth:`ages_of` for the rows on its page,
    once a second (``docs/decisions/0015-job-table-pages-on-the-server.md``).
    Only a session sorted by an age column needs every row's ages: it reads
    with ``ages=True``, and the rows are then rebuilt at most once a second.

    Parameters
    ----------
    job_service
        The shared job model.
    no_data_after
        Seconds after which an active job without a result (since its last
        one, or since it started) is flagged "no data"; ``None`` disables it.
    """

    def __init__(
        self,
        job_service: JobService,
        *,
        no_data_after: float | None = 30.0,
    ) -> None:
        self._service = job_service
        self._no_data_ns = None if no_data_after is None else round(no_data_after * _NS)
        self._lock = threading.Lock()
        self._rows: TableRows | None = None
        # The text form of each JobId (the table's index), kept across reads.
        self._keys: dict[JobId, str] = {}

    @property
    def no_data_ns(self) -> int | None:
        """The "no data" threshold in ns, or ``None``."""
        return self._no_data_ns

    def read(self, now: int, *, ages: bool = False) -> TableRows:
        """The current rows; rebuilt if the display changed.

        With ``ages``, also if their ages are a second old at ``now``
        (:attr:`TableRows.ages` are otherwise those of the last change).
        """
        with self._lock:
            rows = self._rows
            if (
                rows is None
                or rows.display_version != self._service.display_version
                or (ages and not 0 <= now - rows.ages_at < _NS)
            ):
                rows = self._rows = self._build(now, rows)
            return rows

    def ages_of(self, shown: list[ShownJob], now: int) -> dict[str, np.ndarray]:
        """The :data:`AGE_COLUMNS` of ``shown`` (a page's rows) at ``now``.

        The receipt and data times are read from the service per job (a few
        dozen look-ups), not from a snapshot of every job.
        """
        service = self._service
        rows = []
        for job in shown:
            row = job.row
            job_id = row.job_id
            received = service.get_last_status_update_time(job_id)
            rows.append(
                row._replace(
                    last_update=row.last_update if received is None else received,
                    last_data=service.get_last_data_time(job_id),
                )
            )
        return age_arrays(rows, now, self._no_data_ns)

    def _build(self, now: int, previous: TableRows | None) -> TableRows:
        snapshot = self._service.snapshot()
        old = previous.shown if previous is not None else {}
        shown: dict[str, ShownJob] = {}
        keys = self._keys
        same = True
        # Per job and per change (or per second): keep this loop lean.
        for row in snapshot.rows:
            key = keys.get(row.job_id)
            if key is None:
                key = keys[row.job_id] = str(row.job_id)
            kept = old.get(key)
            if kept is not None and _same_display(kept.row, row):
                kept.row = row
                shown[key] = kept
            else:
                shown[key] = ShownJob(row)
                same = False
        if same and len(shown) == len(old) and shown.keys() == old.keys():
            # Only ages moved: keep the dict, so sessions skip the diff.
            shown = old
        if len(keys) > 2 * len(shown) + 64:
            # Forget the text form of jobs gone long ago (bounded memory).
            self._keys = {s.row.job_id: key for key, s in shown.items()}
        rows = [s.row for s in shown.values()]
        ages = age_arrays(rows, now, self._no_data_ns)
        return TableRows(snapshot.display_version, shown, ages, now)


def age_arrays(
    rows: list[JobRow], now: int, no_data_ns: int | None
) -> dict[str, np.ndarray]:
    """The age columns of ``rows`` at ``now``: coarse seconds, NaN for no data.

    Seconds are floored to what the table shows
    (:func:`~jobdash.ui.durations.coarse_seconds`).

    ``no_data``: the job is active, and its last result (or, without one, its
    start) is older than ``no_data_ns``.
    """
    n = len(rows)
    last_update = np.fromiter((r.last_update for r in rows), np.int64, n)
    has_data = np.fromiter((r.last_data is not None for r in rows), bool, n)
    last_data = np.fromiter((r.last_data or 0 for r in rows), np.int64, n)
    heartbeat = coarse_seconds(np.maximum(now - last_update, 0) // _NS)
    data = np.where(
        has_data, coarse_seconds(np.maximum(now - last_data, 0) // _NS), np.nan
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
    return {HEARTBEAT: heartbeat, DATA: data.astype(np.float64), NO_DATA: no_data}


def empty_frame() -> pd.DataFrame:
    """The table's frame without rows (its columns and dtypes)."""
    return pd.DataFrame(
        {column: pd.Series(dtype=_DTYPES.get(column, "object")) for column in COLUMNS},
        index=pd.Index([], name="job_id", dtype="object"),
    )
