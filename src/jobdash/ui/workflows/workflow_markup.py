"""The HTML of a workflow card's read-only parts, built from snapshots.

Pure functions from immutable snapshots (and "now") to markup strings, so the
card only compares strings to decide what to send, and the escaping of
untrusted text — source names, backend messages, workflow titles — happens in
one place that is tested on its own. Every piece of text that reaches the
markup goes through :func:`html.escape`; nothing here trusts its input.

Colour classes are the shared ``jd-state-*`` pills of ``assets/css/jobdash.css``;
the layout classes (``jd-wf-*``, ``jd-source-chip``, ...) are styled by
``assets/css/workflow_widget.css``. The state is always written as text too;
durations and ages as :mod:`jobdash.ui.durations` words them.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from jobdash.domain.ids import JobId, JobNumber
from jobdash.domain.job_state import JobState
from jobdash.domain.job_status import message_summary
from jobdash.domain.workflow_catalogue import WorkflowSpec
from jobdash.domain.workflow_status import AggregateStatus, WorkflowAggregate
from jobdash.services.snapshots import JobSetSnapshot, JobSnapshot
from jobdash.ui.durations import format_duration, format_uptime, heartbeat_age

__all__ = [
    "badge_html",
    "chip_state",
    "header_html",
    "message_html",
    "meta_html",
    "no_reset_html",
    "orphan_choice_label",
    "outputs_html",
    "short_number",
    "status_html",
    "summary_html",
    "title_html",
]

_NS = 1_000_000_000

_SUMMARY_CHARS = 160
"""Longest first line shown before "show more"; the rest is one click away."""

_TOOLTIP_MESSAGE_CHARS = 300
"""Longest message quoted in a chip's tooltip (the message box has all of it)."""

_RUNNING = frozenset({JobState.active, JobState.finishing})


def short_number(job_number: JobNumber) -> str:
    """The first eight hex digits of a job number, as cards show it."""
    return job_number.hex[:8]


def title_html(spec: WorkflowSpec) -> str:
    """Title and version of a workflow; the description and full id on hover."""
    workflow_id = spec.workflow_id
    hover = (
        f"{workflow_id}\n{spec.description}" if spec.description else str(workflow_id)
    )
    return (
        f'<span class="jd-wf-title" title="{escape(hover)}">{escape(spec.title)}</span>'
        f' <span class="jd-wf-version jd-muted">v{workflow_id.version}</span>'
    )


def badge_html(aggregate: AggregateStatus) -> str:
    """The aggregate badge: its label as text (``ACTIVE 4/4``), coloured by class."""
    state = aggregate.aggregate.value.lower()
    return (
        f'<span class="jd-status-badge jd-state-{state}">'
        f"{escape(aggregate.label)}</span>"
    )


def header_html(
    spec: WorkflowSpec,
    aggregate: AggregateStatus,
    current: JobSetSnapshot | None,
    now: int,
) -> str:
    """A card's header: title, version and badge, then job number and uptime.

    One piece of markup (one pane) on purpose: every card of a large
    catalogue has a header, and each Panel component costs more to build and
    send than a few hundred bytes of text.
    """
    meta = meta_html(current, now)
    return (
        f'<div class="jd-wf-headline">{title_html(spec)} {badge_html(aggregate)}</div>'
        + (f'<div class="jd-wf-metaline">{meta}</div>' if meta else "")
    )


def meta_html(current: JobSetSnapshot | None, now: int) -> str:
    """The current job number (8 characters, full on hover) and its uptime.

    Uptime runs from the earliest ``start_time`` the JobSet's jobs reported;
    before any job reported one, the card says so instead of guessing. Empty
    when nothing runs (the badge already says STOPPED).
    """
    if current is None:
        return ""
    number = current.job_number
    parts = [
        f'job <span class="jd-job-number jd-mono" title="{escape(str(number))}">'
        f"{short_number(number)}</span>"
    ]
    if current.adopted:
        parts.append("adopted")
    if current.started_at is None:
        parts.append("not started yet")
    else:
        uptime = format_uptime((now - current.started_at) / _NS)
        parts.append(f'up <span class="jd-uptime jd-mono">{uptime}</span>')
    return f'<span class="jd-wf-meta">{" · ".join(parts)}</span>'


def chip_state(job: JobSnapshot) -> tuple[str, str]:
    """The text and ``jd-state-*`` suffix of one source's chip.

    Staleness outranks the reported state (the report is old news); a job
    that never reported is ``waiting``; a running job with a warning message
    reads ``active, warning``.
    """
    status = job.status
    if status is None:
        return "waiting", "pending"
    if job.stale:
        return "stale", "stale"
    state = status.state
    text = state.value.replace("_", " ")
    if state in _RUNNING and status.warning_message:
        return f"{text}, warning", "warning"
    return text, state.value


def _chip_html(
    job: JobSnapshot, now: int, no_data_since: int | None, *, previous: bool
) -> str:
    text, css = chip_state(job)
    status = job.status
    lines = [f"{job.source_name}: {text}"]
    if status is not None and job.stale:
        lines.append(f"last reported state: {status.state.value}")
    message = None if status is None else status.message
    if message:
        kind = "error" if status is not None and status.error_message else "warning"
        quoted = (
            message
            if len(message) <= _TOOLTIP_MESSAGE_CHARS
            else (message[:_TOOLTIP_MESSAGE_CHARS] + "…")
        )
        lines.append(f"{kind}: {quoted}")
    if job.last_seen is None:
        lines.append("no heartbeat yet")
    else:
        lines.append(f"last heartbeat {heartbeat_age((now - job.last_seen) / _NS)} ago")
    if not job.config_known:
        lines.append("running, config unknown")
    classes = f"jd-source-chip jd-state jd-state-{css}"
    flag = ""
    if no_data_since is not None:
        classes += " jd-no-data"
        silent = format_duration((now - no_data_since) / _NS)
        lines.append(f"no data for {silent}")
        flag = ' <span class="jd-no-data-flag">no data</span>'
    if previous:
        classes += " jd-previous-chip"
    return (
        f'<span class="{classes}" title="{escape(chr(10).join(lines))}">'
        f'<span class="jd-chip-source">{escape(job.source_name)}</span> '
        f'<span class="jd-chip-state">{escape(text)}</span>{flag}</span>'
    )


def status_html(
    current: JobSetSnapshot | None,
    previous: JobSetSnapshot | None,
    now: int,
    no_data: Mapping[JobId, int] | None = None,
) -> str:
    """Chips of the current sources, the adopted note and the previous-JobSet strip.

    Parameters
    ----------
    current, previous
        The workflow's JobSets.
    now
        For heartbeat ages in the tooltips.
    no_data
        Current jobs flagged "no data", with the time the silence is counted
        from (last data, or start if none ever came).
    """
    flagged = no_data or {}
    parts: list[str] = []
    if current is None:
        parts.append('<div class="jd-chips jd-muted">no jobs</div>')
    else:
        chips = "".join(
            _chip_html(job, now, flagged.get(job.job_id), previous=False)
            for job in current.jobs
        )
        parts.append(f'<div class="jd-chips">{chips}</div>')
        if not current.config_known:
            parts.append('<div class="jd-adopted">running, config unknown</div>')
        elif current.adopted:
            parts.append('<div class="jd-adopted">running, adopted</div>')
    if previous is not None:
        number = previous.job_number
        label = previous.aggregate.label.lower()
        parts.append(
            f'<div class="jd-previous" title="{escape(str(number))}">'
            f'previous <span class="jd-mono">{short_number(number)}</span>: '
            f'<span class="jd-previous-state">{escape(label)}</span></div>'
        )
    return "".join(parts)


def message_html(current: JobSetSnapshot | None) -> str:
    """The error/warning box: first line, the full text of every message on demand.

    Errors come before warnings; the box is red if any job has an error,
    amber otherwise. The full text is in a ``<details>`` element, so "show
    more" costs no round trip. Empty string when no job has a message.
    """
    if current is None:
        return ""
    errors: list[tuple[str, str]] = []
    warnings: list[tuple[str, str]] = []
    for job in current.jobs:
        status = job.status
        if status is None:
            continue
        if status.error_message:
            errors.append((job.source_name, status.error_message))
        if status.warning_message:
            warnings.append((job.source_name, status.warning_message))
    messages = errors + warnings
    if not messages:
        return ""
    level = "error" if errors else "warning"
    source, first = messages[0]
    # The telling line: a traceback's exception, not "Traceback (most ...".
    summary = f"{source}: {message_summary(first, _SUMMARY_CHARS)}"
    if len(messages) > 1:
        summary += f" (+{len(messages) - 1} more)"
    whole = "\n\n".join(f"{name}: {text}" for name, text in messages)
    classes = f"jd-message jd-message-{level}"
    if whole == summary:
        return f'<div class="{classes}">{escape(summary)}</div>'
    return (
        f'<details class="{classes}"><summary>{escape(summary)}</summary>'
        f'<pre class="jd-message-full">{escape(whole)}</pre></details>'
    )


def outputs_html(spec: WorkflowSpec) -> str:
    """What the workflow publishes: the output names in one line, each
    output's description on demand (a ``<details>``: no round trip).

    Empty for a workflow whose catalogue entry lists no outputs.
    """
    if not spec.outputs:
        return ""
    names = ", ".join(escape(output.label) for output in spec.outputs)
    items = "".join(
        f'<li><span class="jd-output-name" title="{escape(output.name)}">'
        f"{escape(output.label)}</span>"
        + (f": {escape(output.description)}" if output.description else "")
        + "</li>"
        for output in spec.outputs
    )
    return (
        f'<details class="jd-wf-outputs"><summary>Outputs: {names}</summary>'
        f'<ul class="jd-outputs">{items}</ul></details>'
    )


def no_reset_html(reason: str) -> str:
    """In place of the Reset button of a workflow that has none: a disabled
    look, and the catalogue's reason as the tooltip."""
    return (
        f'<span class="jd-no-reset" role="button" aria-disabled="true" '
        f'title="{escape(reason)}">Reset</span>'
    )


def orphan_choice_label(job: JobSnapshot, *, started_here: bool) -> str:
    """The (plain text) label of an orphan's checkbox in a commit's
    confirmation: source, short job number, state, and whose it is."""
    state = "waiting" if job.status is None else job.status.state.value
    whose = "started here" if started_here else "started elsewhere"
    return (
        f"{job.source_name} · job {short_number(job.job_id.job_number)} · "
        f"{state} · {whose}"
    )


def summary_html(counts: Mapping[WorkflowAggregate, int], total: int) -> str:
    """How many workflows are in each aggregate, most urgent first.

    ``6 workflows: ERROR 1 · ACTIVE 2 · STOPPED 3``, each count a coloured pill
    with its name written out.
    """
    pills = " ".join(
        f'<span class="jd-state jd-state-{aggregate.value.lower()}">'
        f"{aggregate.value} {counts[aggregate]}</span>"
        for aggregate in WorkflowAggregate
        if counts.get(aggregate)
    )
    noun = "workflow" if total == 1 else "workflows"
    return f'<span class="jd-wf-summary">{total} {noun}: {pills}</span>'
