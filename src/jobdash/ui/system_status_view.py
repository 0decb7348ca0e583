# mypy: untyped-calls-exclude=panel
"""The System status section: backend workers, dashboard sessions, ingestion.

What an operator checks before blaming a workflow: which backend workers
are alive and what they serve (version, uptime, last heartbeat, sources),
who else has the dashboard open, and whether messages flow (rate, decode
errors by kind, Kafka consumer lag per partition).

A folded card below the other views. Everything comes from cheap reads of
the shared services, pulled in the session's refresh tick (never pushed from
the ingestion thread): the worker registry, the session registry, the
ingestion counters and the Kafka health snapshot. Folded, it renders
nothing; open, it renders at most once per ``update_every`` ticks (about a
second) and sends its text only when it changed. Ages are written coarsely
(``ui/durations.py``) so that a healthy system's text rarely changes.

Every text from a backend or a user (worker names, versions, sources,
errors, user names, decode reasons) is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import panel as pn

from jobdash.domain.clock import Clock
from jobdash.services.session_registry import SessionInfo
from jobdash.ui.durations import describe_age, format_uptime, heartbeat_age
from jobdash.ui.header import IngestionReading, KafkaReading, WorkerReading
from jobdash.ui.live_html import LiveHTML

__all__ = [
    "DecodeErrorReading",
    "KafkaLagReading",
    "PartitionLagReading",
    "SessionSource",
    "SystemStatusView",
    "WorkerStatusReading",
    "render_ingestion",
    "render_kafka_lag",
    "render_sessions",
    "render_system_status",
    "render_workers",
]


class WorkerStatusReading(WorkerReading, Protocol):
    """The fields of ``WorkerInfo`` this view reads (the header's and more)."""

    @property
    def service_name(self) -> str: ...
    @property
    def worker_id(self) -> str: ...
    @property
    def last_seen(self) -> int: ...
    @property
    def active_job_count(self) -> int | None: ...
    @property
    def version(self) -> str | None: ...
    @property
    def started_at(self) -> int | None: ...
    @property
    def source_names(self) -> Sequence[str]: ...


class DecodeErrorReading(Protocol):
    """The fields of the ingestion thread's ``DecodeErrorCount`` this view reads."""

    @property
    def kind(self) -> str: ...
    @property
    def messages(self) -> int: ...
    @property
    def last_reason(self) -> str: ...
    @property
    def last_at(self) -> int: ...


class PartitionLagReading(Protocol):
    """The fields of the Kafka health's ``PartitionLag``."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def lag(self) -> int: ...


class KafkaLagReading(KafkaReading, Protocol):
    """A ``KafkaHealthSnapshot`` as this view reads it (the header's and more)."""

    @property
    def partition_lags(self) -> Sequence[PartitionLagReading]: ...
    @property
    def lag_time(self) -> int | None: ...


class SessionSource(Protocol):
    """The session registry, as this view reads it."""

    @property
    def version(self) -> int: ...
    def sessions(self) -> Sequence[SessionInfo]: ...


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _utc(time_ns: int) -> str:
    return datetime.fromtimestamp(time_ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _table(kind: str, headers: Sequence[str], rows: Sequence[str]) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    return (
        f'<table class="jd-sys-table jd-sys-{kind}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _empty(kind: str, text: str) -> str:
    return f'<p class="jd-sys-empty jd-sys-{kind}-empty">{_esc(text)}</p>'


def render_workers(workers: Sequence[WorkerStatusReading], now_ns: int) -> str:
    """The backend workers as a table, one row per worker, by key.

    A silent worker (no heartbeat within the stale threshold) shows
    ``silent`` in place of its last reported state; one reporting an error
    shows it in red. Uptime is since the worker's own start time.
    """
    if not workers:
        return _empty(
            "workers", "No service heartbeat yet: no backend worker is known."
        )
    rows = []
    for worker in workers:
        if worker.stale:
            pill, state = "stale", "silent"
        elif worker.error:
            pill, state = "error", worker.state
        else:
            pill, state = "active", worker.state
        uptime = (
            "—"
            if worker.started_at is None
            else format_uptime((now_ns - worker.started_at) / 1e9)
        )
        jobs = "—" if worker.active_job_count is None else str(worker.active_job_count)
        sources = (
            ", ".join(_esc(s) for s in worker.source_names)
            if worker.source_names
            else '<span class="jd-muted">not reported</span>'
        )
        error = (
            f'<div class="jd-sys-error">{_esc(worker.error)}</div>'
            if worker.error
            else ""
        )
        stale = " jd-stale" if worker.stale else ""
        rows.append(
            f'<tr class="jd-sys-worker{stale}" data-key="{_esc(worker.key)}">'
            f'<td class="jd-sys-worker-name"><b>{_esc(worker.worker_id)}</b>'
            f'<div class="jd-muted">{_esc(worker.service_name)}</div></td>'
            f'<td><span class="jd-state jd-state-{pill}">{_esc(state)}</span>{error}</td>'
            f'<td class="jd-sys-version jd-mono">{_esc(worker.version or "—")}</td>'
            f'<td class="jd-sys-uptime">{uptime}</td>'
            f'<td class="jd-sys-heartbeat" title="{_utc(worker.last_seen)} UTC">'
            f"{heartbeat_age((now_ns - worker.last_seen) / 1e9)} ago</td>"
            f'<td class="jd-sys-jobs jd-mono">{jobs}</td>'
            f'<td class="jd-sys-sources">{sources}</td></tr>'
        )
    return _table(
        "workers",
        ("Worker", "State", "Version", "Uptime", "Last heartbeat", "Jobs", "Sources"),
        rows,
    )


def render_sessions(
    sessions: Sequence[SessionInfo], now_ns: int, *, own_session: str | None = None
) -> str:
    """The open dashboard sessions, oldest first; ``own_session`` is marked."""
    if not sessions:
        return _empty("sessions", "No dashboard session is registered.")
    rows = []
    for session in sessions:
        own = session.session_id == own_session
        mark = ' <span class="jd-sys-own">(this session)</span>' if own else ""
        classes = "jd-sys-session" + (" jd-sys-this-session" if own else "")
        rows.append(
            f'<tr class="{classes}">'
            f'<td class="jd-sys-user"><b>{_esc(session.user)}</b>{mark}</td>'
            f'<td class="jd-sys-role">{_esc(session.role.value)}</td>'
            f'<td class="jd-sys-since jd-mono">{_utc(session.since)} UTC</td>'
            f'<td class="jd-sys-last-seen">'
            f"{heartbeat_age((now_ns - session.last_seen) / 1e9)} ago</td>"
            f'<td class="jd-sys-session-id jd-mono jd-muted">'
            f"{_esc(session.session_id[:8])}</td></tr>"
        )
    return _table("sessions", ("User", "Role", "Since", "Last seen", "Session"), rows)


def _figure(kind: str, label: str, value: str) -> str:
    return (
        f'<div class="jd-sys-figure jd-sys-{kind}"><span class="jd-sys-value">'
        f'{value}</span><span class="jd-sys-label">{_esc(label)}</span></div>'
    )


def render_ingestion(
    stats: IngestionReading, kinds: Sequence[DecodeErrorReading], now_ns: int
) -> str:
    """The ingestion figures, and the decode errors by kind (most first)."""
    if stats.last_message_at is None:
        last = "none yet"
    else:
        last = f"{describe_age((now_ns - stats.last_message_at) / 1e9)} ago"
    figures = "".join(
        (
            _figure("rate", "msg/s", f"{stats.rate_per_s:.1f}"),
            _figure("messages", "messages", f"{stats.messages:,}"),
            _figure("applied", "applied", f"{stats.applied:,}"),
            _figure("decode-errors", "decode errors", f"{stats.decode_errors:,}"),
            _figure("route-errors", "route errors", f"{stats.route_errors:,}"),
            _figure(
                "transport-errors", "transport errors", f"{stats.transport_errors:,}"
            ),
            _figure("last-message", "last message", _esc(last)),
        )
    )
    state = "" if stats.running else '<p class="jd-sys-error">Ingestion stopped.</p>'
    if stats.last_error:
        state += (
            f'<p class="jd-sys-last-error">Last transport error: '
            f"{_esc(stats.last_error)}</p>"
        )
    if kinds:
        rows = [
            f'<tr class="jd-sys-decode-kind">'
            f'<td class="jd-sys-kind jd-mono">{_esc(entry.kind)}</td>'
            f'<td class="jd-sys-count jd-mono">{entry.messages:,}</td>'
            f"<td>{describe_age((now_ns - entry.last_at) / 1e9)} ago</td>"
            f'<td class="jd-sys-reason">{_esc(entry.last_reason)}</td></tr>'
            for entry in kinds
        ]
        decode = _table(
            "decode-errors", ("Decode error", "Messages", "Last", "Last reason"), rows
        )
    else:
        decode = _empty("decode-errors", "No decode errors.")
    return f'<div class="jd-sys-figures">{figures}</div>{state}{decode}'


def render_kafka_lag(snapshot: KafkaLagReading | None, now_ns: int) -> str:
    """Consumer lag per partition on Kafka; not applicable to other transports."""
    if snapshot is None:
        return _empty("lag", "Consumer lag: not applicable (simulated transport).")
    if not snapshot.partition_lags:
        return _empty("lag", "Consumer lag: not reported yet.")
    rows = [
        f'<tr class="jd-sys-partition"><td class="jd-mono">{_esc(lag.topic)}</td>'
        f'<td class="jd-mono">{lag.partition}</td>'
        f'<td class="jd-sys-lag jd-mono">{lag.lag:,}</td></tr>'
        for lag in snapshot.partition_lags
    ]
    total = sum(lag.lag for lag in snapshot.partition_lags)
    when = (
        ""
        if snapshot.lag_time is None
        else f", as of {describe_age((now_ns - snapshot.lag_time) / 1e9)} ago"
    )
    caption = f'<p class="jd-sys-lag-total">Consumer lag: {total:,} messages in all{when}.</p>'
    return caption + _table("lag", ("Topic", "Partition", "Lag"), rows)


def render_system_status(
    *,
    workers: str,
    sessions: str,
    ingestion: str,
    lag: str,
) -> str:
    """The section's HTML from its rendered parts."""

    def part(kind: str, title: str, body: str) -> str:
        return (
            f'<section class="jd-sys-part jd-sys-part-{kind}">'
            f"<h3>{_esc(title)}</h3>{body}</section>"
        )

    return (
        '<div class="jd-sys">'
        + part("workers", "Backend workers", workers)
        + part("sessions", "Dashboard sessions", sessions)
        + part("ingestion", "Ingestion", ingestion + lag)
        + "</div>"
    )


_CSS = """
.jd-sys { display: flex; flex-direction: column; gap: 10px; font-size: 13px; }
.jd-sys h3 { font-size: 14px; margin: 0 0 4px 0; }
.jd-sys-table { border-collapse: collapse; }
.jd-sys-workers { width: 100%; }
.jd-sys-table th { text-align: left; font-weight: 600; color: var(--jd-muted, #5b6570);
  border-bottom: 1px solid #d0d5db; padding: 3px 16px 3px 0; white-space: nowrap; }
.jd-sys-table td { vertical-align: top; padding: 3px 16px 3px 0;
  border-bottom: 1px solid #eceff2; }
.jd-sys-sources { overflow-wrap: anywhere; }
.jd-sys-reason { overflow-wrap: anywhere; }
.jd-sys-error { color: #b42318; white-space: pre-wrap; }
.jd-sys-own { color: var(--jd-muted, #5b6570); }
.jd-sys-empty { margin: 2px 0; color: var(--jd-muted, #5b6570); }
.jd-sys-figures { display: flex; flex-wrap: wrap; gap: 6px 18px; margin-bottom: 6px; }
.jd-sys-figure { display: flex; flex-direction: column; }
.jd-sys-value { font-variant-numeric: tabular-nums; font-weight: 600; font-size: 15px; }
.jd-sys-label { color: var(--jd-muted, #5b6570); font-size: 12px; }
.jd-sys-lag-total { margin: 6px 0 2px 0; }
"""


class SystemStatusView(pn.viewable.Viewer):
    """A folded card "System status", refreshed from the shared services.

    Parameters
    ----------
    clock
        The dashboard's clock (ages, uptimes).
    workers
        Returns the backend workers (``WorkerRegistry.workers``).
    sessions
        The open dashboard sessions (``SessionRegistry``).
    ingestion_stats, decode_errors
        Return the ingestion thread's counters and its decode errors by
        kind (``IngestionThread.stats``, ``.decode_errors_by_kind``).
    kafka_health
        Returns the Kafka health snapshot; ``None`` on the simulated
        transport (the lag is then "not applicable").
    own_session
        This session's id, marked in the sessions table (``None``: none).
    update_every
        While open, re-render on every n-th refresh tick.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        workers: Callable[[], Sequence[WorkerStatusReading]],
        sessions: SessionSource,
        ingestion_stats: Callable[[], IngestionReading],
        decode_errors: Callable[[], Sequence[DecodeErrorReading]],
        kafka_health: Callable[[], KafkaLagReading] | None = None,
        own_session: str | None = None,
        update_every: int = 4,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # param is untyped
        self._clock = clock
        self._workers = workers
        self._sessions = sessions
        self._stats = ingestion_stats
        self._decode_errors = decode_errors
        self._kafka_health = kafka_health
        self._update_every = max(1, update_every)
        self._ticks = 0
        self.own_session = own_session
        self._pane = LiveHTML(
            "",
            css_classes=["jd-sys-body"],
            stylesheets=[_CSS],
            sizing_mode="stretch_width",
            margin=(0, 10, 6, 10),
        )
        self._card = pn.Card(
            self._pane,
            title="System status",
            collapsed=True,
            css_classes=["jd-sys-panel"],
            sizing_mode="stretch_width",
        )
        # Opening the card shows the status at once, not at the next due tick.
        self._card.param.watch(self._toggled, "collapsed")

    @property
    def is_open(self) -> bool:
        """Whether the card is unfolded (folded, nothing is rendered)."""
        return not self._card.collapsed

    def open(self) -> None:
        """Unfold the card (as a click on its header does)."""
        self._card.collapsed = False

    def render(self) -> str:
        """The section's HTML as it is now."""
        now = self._clock.now_ns()
        kafka = self._kafka_health() if self._kafka_health is not None else None
        return render_system_status(
            workers=render_workers(self._workers(), now),
            sessions=render_sessions(
                self._sessions.sessions(), now, own_session=self.own_session
            ),
            ingestion=render_ingestion(self._stats(), self._decode_errors(), now),
            lag=render_kafka_lag(kafka, now),
        )

    def refresh(self) -> None:
        """While open, re-render on every ``update_every``-th call, if changed."""
        self._ticks += 1
        if self._card.collapsed or self._ticks % self._update_every:
            return
        self._show()

    def _show(self) -> None:
        text = self.render()
        if text != self._pane.object:
            self._pane.object = text

    def _toggled(self, event: Any) -> None:
        if not event.new:
            self._show()

    def __panel__(self) -> pn.Card:
        return self._card
