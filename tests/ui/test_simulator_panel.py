"""The Simulator card drives the simulated backend's fault methods and the clock."""

from __future__ import annotations

import pytest

from jobdash.catalogue_file import shipped_catalogue
from jobdash.domain.clock import ManualClock
from jobdash.domain.ids import WorkflowId
from jobdash.domain.workflow_catalogue import WorkflowCatalogue
from jobdash.services.notifications import NotificationLog
from jobdash.transport.simulated import SimulatedBackend
from jobdash.transport.simulated_scenarios import FaultKind
from jobdash.ui.simulator_panel import (
    ALL_TARGETS_LABEL,
    FaultAction,
    SimulatorPanel,
    Target,
    shared_targets,
    targets_of,
)

NOW = 1_764_417_600_000_000_000
DETECTOR_VIEW = WorkflowId("dream", "detector_view", 1)


@pytest.fixture
def catalogue() -> WorkflowCatalogue:
    return shipped_catalogue("dream")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def backend(catalogue: WorkflowCatalogue, clock: ManualClock) -> SimulatedBackend:
    return SimulatedBackend(catalogue, clock, seed=1)


@pytest.fixture
def panel(
    backend: SimulatedBackend, catalogue: WorkflowCatalogue, clock: ManualClock
) -> SimulatorPanel:
    return SimulatorPanel(backend, catalogue, NotificationLog(clock), clock=clock)


def test_targets_list_each_workflow_then_its_sources(
    catalogue: WorkflowCatalogue,
) -> None:
    targets = targets_of(catalogue)
    labels = list(targets)
    assert labels[0] == ALL_TARGETS_LABEL
    assert labels[1:3] == ["Detector view", "Detector view · mantle_detector"]
    assert targets["Detector view · mantle_detector"] == Target(
        DETECTOR_VIEW, "mantle_detector"
    )


def test_every_session_shares_one_target_list_until_the_catalogue_changes(
    catalogue: WorkflowCatalogue,
) -> None:
    first = shared_targets(catalogue)
    assert shared_targets(catalogue) is first
    assert dict(first) == targets_of(catalogue)
    reloaded = catalogue.model_copy(deep=True)
    assert shared_targets(reloaded) is not first
    assert dict(shared_targets(reloaded)) == dict(first)


def test_a_warning_injected_on_a_source_reaches_the_backend(
    panel: SimulatorPanel, backend: SimulatedBackend
) -> None:
    done = panel.apply(
        FaultAction.warning, Target(DETECTOR_VIEW, "mantle_detector"), "slow disk"
    )
    assert done == "warning injected into Detector view · mantle_detector"
    (fault,) = backend.status().faults
    assert (fault.target, fault.source_name, fault.kind, fault.text) == (
        DETECTOR_VIEW,
        "mantle_detector",
        FaultKind.warning,
        "slow disk",
    )


def test_a_blank_message_uses_the_backends_default(
    panel: SimulatorPanel, backend: SimulatedBackend
) -> None:
    panel.apply(FaultAction.error, Target(DETECTOR_VIEW), "  ")
    (fault,) = backend.status().faults
    assert fault.kind is FaultKind.error
    assert fault.text is not None
    assert fault.text.startswith("Traceback")


def test_clear_on_all_targets_removes_every_fault(
    panel: SimulatorPanel, backend: SimulatedBackend
) -> None:
    panel.apply(FaultAction.warning, Target(DETECTOR_VIEW))
    panel.apply(FaultAction.no_data, Target(DETECTOR_VIEW, "mantle_detector"))
    assert len(backend.status().faults) == 2
    panel.apply(FaultAction.clear, Target(None))
    assert backend.status().faults == ()


def test_kill_revive_and_lag_stops(
    panel: SimulatorPanel, backend: SimulatedBackend
) -> None:
    panel.apply(FaultAction.kill, Target(None))
    assert not backend.status().alive
    assert "DEAD" in panel.status_text()
    panel.apply(FaultAction.revive, Target(None))
    assert backend.status().alive
    assert panel.apply(FaultAction.lag_stops, Target(None), seconds=12) == (
        "stops now lag 12 s"
    )
    assert backend.status().stop_lag == 12


def test_a_fault_needs_a_workflow_target(panel: SimulatorPanel) -> None:
    with pytest.raises(ValueError, match="needs a workflow"):
        panel.apply(FaultAction.error, Target(None))


def test_the_inject_button_records_what_was_done(
    catalogue: WorkflowCatalogue, backend: SimulatedBackend, clock: ManualClock
) -> None:
    log = NotificationLog(clock)
    panel = SimulatorPanel(backend, catalogue, log, clock=clock)
    panel.target.value = "Detector view"
    panel.kind.value = FaultAction.error.value
    panel.text.value = "boom"
    panel.inject.clicks += 1
    assert [n.text for n in log.recent(5)] == [
        "Simulator: error injected into Detector view"
    ]
    panel.target.value = ALL_TARGETS_LABEL
    panel.inject.clicks += 1
    last = log.recent(1)[0]
    assert last.level == "warning"
    assert "needs a workflow" in last.text


def test_step_buttons_advance_the_frozen_clock(
    panel: SimulatorPanel, clock: ManualClock
) -> None:
    assert [b.label for b in panel.steps] == ["Step +1 s", "Step +5 s", "Step +30 s"]
    for button in panel.steps:
        button.clicks += 1
    assert clock.now_ns() == NOW + 36_000_000_000


def test_without_a_frozen_clock_there_are_no_step_buttons(
    backend: SimulatedBackend, catalogue: WorkflowCatalogue, clock: ManualClock
) -> None:
    panel = SimulatorPanel(backend, catalogue, NotificationLog(clock))
    assert panel.steps == []


def test_the_card_starts_collapsed(panel: SimulatorPanel) -> None:
    card = panel.__panel__()
    assert card.collapsed
    assert "jd-sim-panel" in card.css_classes
