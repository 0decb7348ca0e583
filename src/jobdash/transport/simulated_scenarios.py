"""The simulated backend's faults: named scenarios, and the table of injected faults.

A scenario is a recipe of run-time faults applied when the backend starts;
each ingredient is also available on its own through a ``SimulatedBackend``
method, which is what the UI's Simulator panel and browser tests call. The
table of names is in the docstring of :mod:`jobdash.transport.simulated`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from jobdash.domain.ids import JobId, SourceName, WorkflowId
from jobdash.domain.job_state import JobState
from jobdash.domain.workflow_catalogue import WorkflowCatalogue

__all__ = [
    "DEFAULT_ERROR",
    "DEFAULT_WARNING",
    "SCENARIOS",
    "FaultInfo",
    "FaultKey",
    "FaultKind",
    "FaultTable",
    "FaultTarget",
    "Scenario",
    "SimulatedJob",
    "SimulatorStatus",
    "SimulatorSummary",
    "scenario_named",
]


class FaultKind(StrEnum):
    """What is wrong with a job, as injected."""

    warning = "warning"
    """It reports state ``warning`` with a warning message."""
    error = "error"
    """It reports state ``error`` with an error message, and sends no data."""
    no_data = "no_data"
    """It reports ``active`` but publishes no results."""


FaultTarget = WorkflowId | JobId
"""What a fault applies to: every job of a workflow (present and future), or one job."""

DEFAULT_WARNING = "Processing is 1.8 s behind the stream; events are being dropped"

# Errors carry a multi-line traceback by default, as real backends send them,
# so the UI's handling of long, multi-line messages is exercised.
DEFAULT_ERROR = """\
Traceback (most recent call last):
  File "/opt/livedata/ess/livedata/core/job.py", line 212, in process
    result = self._workflow.accumulate(chunk)
  File "/opt/livedata/ess/reduce/streaming.py", line 148, in accumulate
    self._accumulators[key].push(value)
  File "/opt/livedata/ess/reduce/accumulators.py", line 57, in push
    raise ValueError(f"time offset out of range: {offset} µs > {limit} µs")
ValueError: time offset out of range: 71422 µs > 71000 µs"""


@dataclass(frozen=True)
class Scenario:
    """One named recipe of faults.

    Workflow positions index the catalogue (``0`` is its first workflow,
    wrapping around for small catalogues); a fault on a position hits that
    workflow's first source, so the workflow's badge shows ``… 1/n``.

    Attributes
    ----------
    warning_workflows, error_workflows, no_data_workflows
        Catalogue positions whose first source gets that fault.
    stop_lag_intervals
        Stops lag by this many heartbeat intervals (0: stops are prompt).
    duplicate_probability
        Probability that a job heartbeat is duplicated or delivered late.
    drop_ack_probability
        Probability that an acknowledgement is lost.
    adoption
        Spawn jobs the dashboard does not know at start-up.
    dying
        Die and revive periodically: alive ``dying[0]`` heartbeat intervals,
        then dead ``dying[1]``.
    """

    name: str
    summary: str
    warning_workflows: tuple[int, ...] = ()
    error_workflows: tuple[int, ...] = ()
    no_data_workflows: tuple[int, ...] = ()
    stop_lag_intervals: float = 0.0
    duplicate_probability: float = 0.0
    drop_ack_probability: float = 0.0
    adoption: bool = False
    dying: tuple[float, float] | None = None


SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario("none", "a healthy backend"),
        Scenario("warnings", "one job of the first workflow warns", (0,)),
        Scenario("errors", "one job of the first workflow fails", error_workflows=(0,)),
        Scenario(
            "dying-backend",
            "the backend dies for 10 intervals after every 15 alive",
            dying=(15.0, 10.0),
        ),
        Scenario(
            "lagging-stop",
            "stopped jobs keep heartbeating active for 5 intervals",
            stop_lag_intervals=5.0,
        ),
        Scenario(
            "no-data",
            "one job of the first workflow is active but silent",
            no_data_workflows=(0,),
        ),
        Scenario(
            "flaky",
            "20 % of heartbeats duplicated or late, 30 % of acks lost",
            duplicate_probability=0.2,
            drop_ack_probability=0.3,
        ),
        Scenario("adoption", "jobs the dashboard never started run", adoption=True),
        Scenario(
            "chaos",
            "warnings, errors, silence, lagging stops, flakiness and adoption",
            warning_workflows=(0,),
            error_workflows=(1,),
            no_data_workflows=(2,),
            stop_lag_intervals=3.0,
            duplicate_probability=0.1,
            drop_ack_probability=0.1,
            adoption=True,
        ),
    )
}


def scenario_named(name: str) -> Scenario:
    """The scenario called ``name``; ``ValueError`` listing the names otherwise."""
    try:
        return SCENARIOS[name]
    except KeyError:
        names = ", ".join(SCENARIOS)
        raise ValueError(
            f"unknown simulator scenario {name!r}; choose one of: {names}"
        ) from None


class FaultInfo(NamedTuple):
    """One injected fault, as the Simulator panel lists it."""

    target: FaultTarget
    source_name: SourceName | None
    kind: FaultKind
    text: str | None


class SimulatedJob(NamedTuple):
    """One job the simulated backend runs, as the Simulator panel lists it."""

    job_id: JobId
    workflow_id: WorkflowId
    state: JobState
    stopping: bool


class SimulatorStatus(NamedTuple):
    """A copy of the simulator's run-time settings, faults and jobs."""

    scenario: str
    alive: bool
    stop_lag: float
    duplicate_probability: float
    drop_ack_probability: float
    faults: tuple[FaultInfo, ...]
    jobs: tuple[SimulatedJob, ...]


class SimulatorSummary(NamedTuple):
    """What the Simulator panel's status line shows, counted, not copied.

    Read by every session every second or so: it must not copy every job.
    """

    scenario: str
    alive: bool
    stop_lag: float
    faults: int
    jobs: int


FaultKey = tuple[FaultTarget, SourceName | None]
"""A fault's target, narrowed to one source for a workflow target."""


class FaultTable:
    """The injected faults by target, and which of them apply to a job.

    A job is covered by faults on its workflow, on its workflow narrowed to
    its source, and on itself; the narrower wins for the same kind. Not
    thread-safe on its own: the backend's lock guards it.
    """

    def __init__(self) -> None:
        self._faults: dict[FaultKey, dict[FaultKind, str | None]] = {}

    @classmethod
    def for_scenario(
        cls, scenario: Scenario, catalogue: WorkflowCatalogue
    ) -> FaultTable:
        """The faults ``scenario`` injects, on the first source of each chosen
        workflow of ``catalogue``."""
        table = cls()
        specs = catalogue.workflows
        for positions, kind, text in (
            (scenario.warning_workflows, FaultKind.warning, DEFAULT_WARNING),
            (scenario.error_workflows, FaultKind.error, DEFAULT_ERROR),
            (scenario.no_data_workflows, FaultKind.no_data, None),
        ):
            for position in positions:
                spec = specs[position % len(specs)]
                table.set(spec.workflow_id, spec.source_names[0], kind, text)
        return table

    def __bool__(self) -> bool:
        return bool(self._faults)

    def set(
        self,
        target: FaultTarget,
        source_name: SourceName | None,
        kind: FaultKind,
        text: str | None,
    ) -> FaultKey:
        """Inject (or replace) a fault; return the key of what it covers."""
        if not isinstance(target, WorkflowId | JobId):
            raise TypeError(f"a fault targets a WorkflowId or a JobId, not {target!r}")
        key = _key(target, source_name)
        self._faults.setdefault(key, {})[kind] = text
        return key

    def clear(
        self,
        target: FaultTarget | None,
        kind: FaultKind | None,
        source_name: SourceName | None,
    ) -> FaultKey | None:
        """Remove faults of ``kind`` (all if ``None``) on ``target`` (every
        target if ``None``); return the key of what it covered (``None``: all)."""
        key = None if target is None else _key(target, source_name)
        for each in list(self._faults) if key is None else [key]:
            faults = self._faults.get(each)
            if faults is None:
                continue
            if kind is None:
                faults.clear()
            else:
                faults.pop(kind, None)
            if not faults:
                del self._faults[each]
        return key

    def of(self, job_id: JobId, workflow_id: WorkflowId) -> dict[FaultKind, str | None]:
        """The faults that apply to one job, by kind."""
        merged: dict[FaultKind, str | None] = {}
        if self._faults:
            for key in keys_of(job_id, workflow_id):
                faults = self._faults.get(key)
                if faults:
                    merged.update(faults)
        return merged

    def reported(
        self, state: JobState, job_id: JobId, workflow_id: WorkflowId
    ) -> tuple[JobState, str | None, str | None]:
        """``(state, warning, error)`` a job in ``state`` reports, faults applied.

        Faults only touch an ``active`` job: a scheduled, paused or stopped
        job reports its own state. An error hides a warning.
        """
        if state is not JobState.active or not self._faults:
            return state, None, None
        faults = self.of(job_id, workflow_id)
        if FaultKind.error in faults:
            return JobState.error, None, faults[FaultKind.error]
        if FaultKind.warning in faults:
            return JobState.warning, faults[FaultKind.warning], None
        return state, None, None

    def __len__(self) -> int:
        """How many faults are set (one per target and kind)."""
        return sum(len(kinds) for kinds in self._faults.values())

    def infos(self) -> tuple[FaultInfo, ...]:
        """Every fault, as the Simulator panel lists them."""
        return tuple(
            FaultInfo(target, source_name, kind, text)
            for (target, source_name), kinds in self._faults.items()
            for kind, text in kinds.items()
        )


def keys_of(job_id: JobId, workflow_id: WorkflowId) -> tuple[FaultKey, ...]:
    """The fault keys that cover a job, broadest first (later ones win)."""
    return (
        (workflow_id, None),
        (workflow_id, job_id.source_name),
        (job_id, None),
    )


def _key(target: FaultTarget, source_name: SourceName | None) -> FaultKey:
    # A job already names its source; only a workflow target narrows by source.
    return (target, source_name if isinstance(target, WorkflowId) else None)
