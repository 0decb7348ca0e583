# mypy: untyped-calls-exclude=panel
"""The Simulator card: inject backend faults and step a frozen clock.

Shown only with the simulated transport. It lets a demo, a developer or a
browser test make the backend misbehave on purpose (a job warns or fails, the
backend dies, stops lag, results stop) and, with a frozen clock, move time
forward in fixed steps so that staleness and timeouts can be shown
deterministically. Every action is recorded in the notification log, so a
screenshot or a test can tell what was done.

Stable hooks for browser tests: ``jd-sim-panel`` (the card),
``jd-sim-target``, ``jd-sim-kind``, ``jd-sim-text``, ``jd-sim-seconds``,
``jd-sim-inject``, ``jd-sim-status`` and ``jd-sim-step-1`` / ``-5`` / ``-30``.
The option labels of the kind selector are the values of :class:`FaultAction`.
"""

from __future__ import annotations

import html
import logging
import threading
import weakref
from collections.abc import Mapping
from enum import StrEnum
from functools import partial
from typing import Any, NamedTuple, Protocol

import panel as pn

from jobdash.domain.clock import ManualClock
from jobdash.domain.ids import SourceName, WorkflowId
from jobdash.domain.workflow_catalogue import WorkflowCatalogue
from jobdash.services.notifications import NotificationLevel, NotificationLog
from jobdash.ui.live_html import LiveHTML

__all__ = [
    "STEP_SECONDS",
    "FaultAction",
    "SimulatorControls",
    "SimulatorPanel",
    "SimulatorReading",
    "Target",
    "shared_targets",
    "targets_of",
]

_logger = logging.getLogger(__name__)

#: The clock steps offered with a frozen clock.
STEP_SECONDS = (1, 5, 30)


class SimulatorReading(Protocol):
    """The fields of the simulated backend's ``SimulatorSummary`` the panel shows."""

    @property
    def scenario(self) -> str: ...
    @property
    def alive(self) -> bool: ...
    @property
    def stop_lag(self) -> float: ...
    @property
    def faults(self) -> int: ...
    @property
    def jobs(self) -> int: ...


class SimulatorControls(Protocol):
    """What the panel asks of the simulated backend (``SimulatedBackend``).

    Every method must be safe to call from a session's thread while the
    ingestion thread runs the backend.
    """

    def inject_warning(
        self,
        target: WorkflowId,
        text: str | None = None,
        *,
        source_name: SourceName | None = None,
    ) -> None: ...
    def inject_error(
        self,
        target: WorkflowId,
        text: str | None = None,
        *,
        source_name: SourceName | None = None,
    ) -> None: ...
    def silence_data(
        self, target: WorkflowId, *, source_name: SourceName | None = None
    ) -> None: ...
    def clear_fault(
        self,
        target: WorkflowId | None = None,
        *,
        source_name: SourceName | None = None,
    ) -> None: ...
    def kill(self) -> None: ...
    def revive(self) -> None: ...
    def lag_stops(self, seconds: float) -> None: ...
    def summary(self) -> SimulatorReading: ...


class FaultAction(StrEnum):
    """What the Inject button does; the value is the option label."""

    warning = "Warning"
    error = "Error"
    no_data = "No data"
    clear = "Clear faults"
    kill = "Kill backend"
    revive = "Revive backend"
    lag_stops = "Lag stops"


class Target(NamedTuple):
    """A fault target: a whole workflow, or one source of it.

    ``workflow_id`` ``None`` means every target (only for clearing).
    """

    workflow_id: WorkflowId | None
    source_name: SourceName | None = None


ALL_TARGETS_LABEL = "All targets"


def targets_of(catalogue: WorkflowCatalogue) -> dict[str, Target]:
    """Selector options: every workflow, then each of its sources.

    Labels are ``"<title>"`` and ``"<title> · <source>"``; the first option,
    :data:`ALL_TARGETS_LABEL`, clears every fault.
    """
    options = {ALL_TARGETS_LABEL: Target(None)}
    for spec in catalogue.workflows:
        workflow_id = spec.workflow_id
        options[spec.title] = Target(workflow_id)
        for source in spec.source_names:
            options[f"{spec.title} · {source}"] = Target(workflow_id, source)
    return options


class _SharedTargets:
    """The target options of the latest catalogue, built once for all sessions.

    Each session's panel lists the same options; at 10,000 jobs their labels
    and targets are ~2 MB, which every session used to build again. Only the
    latest catalogue's are kept, by weak reference, so a reloaded catalogue
    gets its own and the old one is not kept alive.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._catalogue: weakref.ref[WorkflowCatalogue] | None = None
        self._targets: Mapping[str, Target] = {}

    def of(self, catalogue: WorkflowCatalogue) -> Mapping[str, Target]:
        with self._lock:
            if self._catalogue is None or self._catalogue() is not catalogue:
                self._targets = targets_of(catalogue)
                self._catalogue = weakref.ref(catalogue)
            return self._targets


_shared = _SharedTargets()


def shared_targets(catalogue: WorkflowCatalogue) -> Mapping[str, Target]:
    """:func:`targets_of` ``catalogue``, the same mapping for every caller.

    Read-only: it is shared between sessions.
    """
    return _shared.of(catalogue)


class SimulatorPanel(pn.viewable.Viewer):
    """A collapsed card with the fault controls and, if frozen, clock steps.

    Parameters
    ----------
    backend
        The simulated backend (its fault methods are thread-safe).
    catalogue
        Where the target options come from.
    notifications
        Where each action is recorded.
    clock
        The frozen clock to step, or ``None`` (no step buttons).
    update_every
        Refresh the status line on every n-th refresh tick.
    """

    def __init__(
        self,
        backend: SimulatorControls,
        catalogue: WorkflowCatalogue,
        notifications: NotificationLog,
        *,
        clock: ManualClock | None = None,
        update_every: int = 4,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # param is untyped
        self._backend = backend
        self._notifications = notifications
        self._clock = clock
        self._update_every = max(1, update_every)
        self._ticks = 0
        self._targets = shared_targets(catalogue)
        labels = list(self._targets)
        self.target = pn.widgets.Select(
            label="Target",
            options=labels,
            value=labels[1] if len(labels) > 1 else labels[0],
            css_classes=["jd-sim-target"],
            width=300,
        )
        self.kind = pn.widgets.Select(
            label="Fault",
            options=[action.value for action in FaultAction],
            value=FaultAction.warning.value,
            css_classes=["jd-sim-kind"],
            width=150,
        )
        self.text = pn.widgets.TextInput(
            label="Message",
            placeholder="default message",
            css_classes=["jd-sim-text"],
            width=320,
        )
        self.seconds = pn.widgets.FloatInput(
            label="Lag (s)",
            value=10.0,
            start=0.0,
            step=1.0,
            css_classes=["jd-sim-seconds"],
            width=90,
        )
        self.inject = pn.widgets.Button(
            label="Inject",
            color="primary",
            css_classes=["jd-sim-inject"],
            width=90,
            align="end",
        )
        self.inject.on_click(self._on_inject)
        # LiveHTML, not pn.pane.Str: an update of a markup pane re-sends all
        # its properties, which inside the collapsed card toggled ``visible``
        # and so laid out the timeline's root again on every change.
        self.status = LiveHTML(
            html.escape(self.status_text()),
            css_classes=["jd-sim-status"],
            margin=(4, 10),
        )
        rows: list[Any] = [
            pn.Row(self.target, self.kind, self.text, self.seconds, self.inject),
            self.status,
        ]
        self.steps: list[pn.widgets.Button] = []
        if clock is not None:
            for seconds in STEP_SECONDS:
                button = pn.widgets.Button(
                    label=f"Step +{seconds} s",
                    css_classes=[f"jd-sim-step-{seconds}"],
                    width=100,
                    description=f"Advance the frozen clock by {seconds} s",
                )
                button.on_click(partial(self._on_step, seconds))
                self.steps.append(button)
            rows.append(
                pn.Row(
                    LiveHTML(
                        "Frozen clock: time moves only with these buttons.",
                        css_classes=["jd-sim-hint"],
                        align="center",
                    ),
                    *self.steps,
                )
            )
        self._card = pn.Card(
            *rows,
            title="Simulator",
            collapsed=True,
            css_classes=["jd-sim-panel"],
            sizing_mode="stretch_width",
        )

    # --- actions (session thread) -----------------------------------------------

    def apply(
        self, action: FaultAction, target: Target, text: str = "", seconds: float = 0.0
    ) -> str:
        """Perform ``action`` on ``target``; return what was done, in words.

        Raises
        ------
        ValueError
            The action needs a workflow target and got "all targets", or a
            negative lag.
        """
        message = text.strip() or None
        wid, source = target.workflow_id, target.source_name
        where = self._describe(target)
        if action is FaultAction.kill:
            self._backend.kill()
            return "backend killed: no heartbeats, acks or data"
        if action is FaultAction.revive:
            self._backend.revive()
            return "backend revived"
        if action is FaultAction.lag_stops:
            self._backend.lag_stops(seconds)
            return f"stops now lag {seconds:g} s"
        if action is FaultAction.clear:
            self._backend.clear_fault(wid, source_name=source)
            return f"faults cleared on {where}"
        if wid is None:
            raise ValueError(f"{action.value} needs a workflow or source, not {where}")
        if action is FaultAction.warning:
            self._backend.inject_warning(wid, message, source_name=source)
        elif action is FaultAction.error:
            self._backend.inject_error(wid, message, source_name=source)
        else:
            self._backend.silence_data(wid, source_name=source)
        return f"{action.value.lower()} injected into {where}"

    def step(self, seconds: float) -> None:
        """Advance the frozen clock by ``seconds`` (no-op without one)."""
        if self._clock is None:
            return
        self._clock.advance(seconds)
        self.status.object = self.status_text()

    def _on_step(self, seconds: float, _event: object) -> None:
        self.step(seconds)

    def _on_inject(self, _event: object) -> None:
        action = FaultAction(self.kind.value)
        target = self._targets[self.target.value]
        try:
            done = self.apply(
                action, target, self.text.value or "", float(self.seconds.value or 0)
            )
        except ValueError as exc:
            self._notifications.add(NotificationLevel.warning, f"Simulator: {exc}")
            return
        _logger.info("simulator: %s", done)
        self._notifications.add(NotificationLevel.info, f"Simulator: {done}")
        self.status.object = self.status_text()

    # --- view --------------------------------------------------------------------

    def status_text(self) -> str:
        """One line: alive or dead, faults, stop lag, jobs."""
        summary = self._backend.summary()
        alive = "alive" if summary.alive else "DEAD"
        return (
            f"backend {alive} · scenario {summary.scenario} · "
            f"{summary.faults} faults · stop lag {summary.stop_lag:g} s · "
            f"{summary.jobs} jobs"
        )

    def refresh(self) -> None:
        """Update the status line on every ``update_every``-th tick, if changed."""
        self._ticks += 1
        if self._ticks % self._update_every:
            return
        text = html.escape(self.status_text())
        if text != self.status.object:
            self.status.object = text

    def _describe(self, target: Target) -> str:
        for label, candidate in self._targets.items():
            if candidate == target:
                return label
        return str(target.workflow_id)

    def __panel__(self) -> pn.Card:
        return self._card
