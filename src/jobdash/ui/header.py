# mypy: untyped-calls-exclude=panel
"""The header bar's status strip: transport, ingestion, workers, read-only, clock.

The operator glances here to know whether the page can be trusted: is the
transport connected, are heartbeats still arriving, what time the dashboard
thinks it is. All of it is derived from cheap reads (ingestion counters, the
Kafka health snapshot, the injected clock) and re-rendered at most once per
``update_every`` refresh ticks, and only when the text changed.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from enum import StrEnum
from typing import Protocol

import panel as pn

from jobdash.domain.clock import Clock
from jobdash.ui.durations import describe_age
from jobdash.ui.live_html import LiveHTML

__all__ = [
    "Chip",
    "Health",
    "IngestionReading",
    "KafkaReading",
    "PageHeader",
    "WorkerReading",
    "ingestion_chip",
    "kafka_chip",
    "render_chips",
    "workers_chip",
]


class Health(StrEnum):
    """Colour of a chip; the text always says the same in words."""

    neutral = "neutral"
    ok = "ok"
    warn = "warn"
    bad = "bad"


@dataclass(frozen=True, slots=True)
class Chip:
    """One item of the status strip.

    Attributes
    ----------
    kind
        Names it in the CSS class ``jd-chip-<kind>``.
    label
        Bold lead text (may be empty).
    text
        The rest of the visible text.
    health
        Its colour.
    title
        Tooltip with the details.
    """

    kind: str
    label: str
    text: str = ""
    health: Health = Health.neutral
    title: str = ""


class IngestionReading(Protocol):
    """The fields of ``IngestionStats`` the header reads."""

    @property
    def messages(self) -> int: ...
    @property
    def applied(self) -> int: ...
    @property
    def decode_errors(self) -> int: ...
    @property
    def route_errors(self) -> int: ...
    @property
    def transport_errors(self) -> int: ...
    @property
    def rate_per_s(self) -> float: ...
    @property
    def last_message_at(self) -> int | None: ...
    @property
    def last_error(self) -> str | None: ...
    @property
    def running(self) -> bool: ...
    @property
    def transport_failing(self) -> bool: ...


def ingestion_chip(stats: IngestionReading, now_ns: int, stale_after: float) -> Chip:
    """Describe the ingestion thread: rate, age of the last message, errors.

    Red when the thread is not running or the last poll of the transport
    failed; amber when nothing arrived for longer
    than ``stale_after`` seconds (every job would be stale), or when messages
    fail to decode; green otherwise.
    """
    details = (
        f"messages {stats.messages}, applied {stats.applied}, "
        f"decode errors {stats.decode_errors}, route errors {stats.route_errors}, "
        f"transport errors {stats.transport_errors}"
    )
    if stats.last_error:
        details += f"\nlast error: {stats.last_error}"
    if not stats.running:
        return Chip("ingestion", "INGESTION STOPPED", "", Health.bad, details)
    if stats.transport_failing:
        return Chip("ingestion", "TRANSPORT FAILING", "retrying", Health.bad, details)
    if stats.last_message_at is None:
        age_text = "no message yet"
        age = None
    else:
        age = (now_ns - stats.last_message_at) / 1e9
        age_text = f"last {describe_age(age)} ago"
    parts = [f"{stats.rate_per_s:.1f} msg/s", age_text]
    if stats.decode_errors:
        parts.append(f"{stats.decode_errors} decode errors")
    health = Health.ok
    if age is None or age > stale_after or stats.decode_errors:
        health = Health.warn
    return Chip("ingestion", "", " · ".join(parts), health, details)


class WorkerReading(Protocol):
    """The fields of ``WorkerInfo`` the header reads."""

    @property
    def key(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def error(self) -> str | None: ...
    @property
    def stale(self) -> bool: ...


def workers_chip(workers: Sequence[WorkerReading]) -> Chip:
    """Describe the backend workers heard from: how many, how many silent.

    Red when none is heard (or all went silent), amber when some did or one
    reports an error, green otherwise. The tooltip lists each worker.
    """
    total = len(workers)
    silent = sum(1 for worker in workers if worker.stale)
    failing = sum(1 for worker in workers if worker.error)
    title = "\n".join(
        f"{w.key}: {'silent' if w.stale else w.state}"
        + (f" ({w.error})" if w.error else "")
        for w in workers
    )
    if total == 0:
        return Chip(
            "workers", "", "no workers heard", Health.bad, "No service heartbeat yet"
        )
    text = f"{total} worker{'s' if total != 1 else ''}"
    if silent:
        text += f" · {silent} silent"
    if failing:
        text += f" · {failing} failing"
    health = Health.ok
    if silent == total:
        health = Health.bad
    elif silent or failing:
        health = Health.warn
    return Chip("workers", "", text, health, title)


class KafkaReading(Protocol):
    """The fields of ``KafkaHealthSnapshot`` the header reads."""

    @property
    def bootstrap_servers(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def consumer_lag(self) -> int | None: ...
    @property
    def last_error(self) -> str | None: ...
    @property
    def error_count(self) -> int: ...
    def summary(self, tz: tzinfo | None = None) -> str: ...


def kafka_chip(snapshot: KafkaReading) -> Chip:
    """Describe a ``KafkaHealthSnapshot``: address, connection state, lag."""
    state = str(getattr(snapshot.state, "value", snapshot.state))
    parts = [state]
    if snapshot.consumer_lag is not None:
        parts.append(f"lag {snapshot.consumer_lag}")
    health = {"connected": Health.ok, "connecting": Health.warn}.get(state, Health.bad)
    title = snapshot.summary(UTC)
    if snapshot.last_error:
        title += f"\nlast error: {snapshot.last_error} ({snapshot.error_count} errors)"
    return Chip(
        "transport",
        f"KAFKA {snapshot.bootstrap_servers}",
        " · ".join(parts),
        health,
        title,
    )


def render_chips(chips: list[Chip]) -> str:
    """The strip's HTML; every text is escaped (addresses and errors are untrusted)."""
    items = []
    for chip in chips:
        classes = f"jd-chip jd-chip-{chip.kind}"
        if chip.health is not Health.neutral:
            classes += f" jd-chip-{chip.health.value}"
        label = f"<b>{html.escape(chip.label)}</b>" if chip.label else ""
        text = f"<span>{html.escape(chip.text)}</span>" if chip.text else ""
        title = html.escape(chip.title, quote=True)
        items.append(f'<span class="{classes}" title="{title}">{label}{text}</span>')
    return f'<div class="jd-header-status">{"".join(items)}</div>'


class PageHeader(pn.viewable.Viewer):
    """The status strip shown at the right of the header bar.

    Parameters
    ----------
    clock
        The dashboard's clock (shown as UTC; also ages the last message).
    ingestion_stats
        Returns the ingestion thread's current ``IngestionStats``.
    workers
        Returns the backend workers heard from (``WorkerRegistry.workers``);
        ``None`` shows no workers chip.
    stale_after
        Seconds without any message before the ingestion chip turns amber.
    kafka_health
        Returns a ``KafkaHealthSnapshot``; ``None`` for the simulated backend.
    transport_label
        What the transport chip says when there is no Kafka health.
    read_only
        Show a READ-ONLY chip: the deployment's access policy lets nobody act
        (the page passes ``AccessPolicy.read_only``).
    update_every
        Re-render on every n-th refresh tick (the clock shows whole seconds,
        so about once a second is enough).
    """

    def __init__(
        self,
        clock: Clock,
        ingestion_stats: Callable[[], IngestionReading],
        *,
        stale_after: float,
        workers: Callable[[], Sequence[WorkerReading]] | None = None,
        kafka_health: Callable[[], KafkaReading] | None = None,
        transport_label: str = "SIMULATED",
        read_only: bool = False,
        update_every: int = 4,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # param is untyped
        self._clock = clock
        self._stats = ingestion_stats
        self._stale_after = stale_after
        self._workers = workers
        self._kafka_health = kafka_health
        self._transport_label = transport_label
        self._read_only = read_only
        self._update_every = max(1, update_every)
        self._ticks = 0
        self._pane = LiveHTML(
            self.render(),
            css_classes=["jd-header"],
            sizing_mode="stretch_width",
            margin=(0, 8),
        )

    def chips(self) -> list[Chip]:
        """The chips as they are now."""
        now = self._clock.now_ns()
        chips = []
        if self._read_only:
            chips.append(
                Chip(
                    "readonly",
                    "READ-ONLY",
                    "",
                    title="This dashboard sends no commands",
                )
            )
        if self._kafka_health is not None:
            chips.append(kafka_chip(self._kafka_health()))
        else:
            chips.append(
                Chip(
                    "transport",
                    self._transport_label,
                    "",
                    Health.ok,
                    "In-process simulated backend",
                )
            )
        chips.append(ingestion_chip(self._stats(), now, self._stale_after))
        if self._workers is not None:
            chips.append(workers_chip(self._workers()))
        stamp = datetime.fromtimestamp(now / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
        chips.append(Chip("clock", "", f"{stamp} UTC", title="Dashboard clock (UTC)"))
        return chips

    def render(self) -> str:
        """The strip's HTML as it is now."""
        return render_chips(self.chips())

    def refresh(self) -> None:
        """Re-render on every ``update_every``-th call, if the text changed."""
        self._ticks += 1
        if self._ticks % self._update_every:
            return
        text = self.render()
        if text != self._pane.object:
            self._pane.object = text

    def __panel__(self) -> pn.pane.HTML:
        return self._pane
