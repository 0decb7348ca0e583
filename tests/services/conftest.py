"""Fixtures of the JobOrchestrator tests: the shipped catalogue, a manual
clock, an in-memory sink, and ``make``, which builds an orchestrator over them.

A module overrides ``tracker`` or ``audit`` (``None`` here: unaudited) to
give ``make`` its own; ``make(**kwargs)`` takes ``sink=``, ``tracker=``,
``policy=``, ``audit=`` and ``support=`` (what the workers accept) for the
command path and passes the rest to ``JobOrchestrator``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from jobdash.catalogue_file import shipped_catalogue
from jobdash.domain.clock import ManualClock
from jobdash.domain.workflow_catalogue import WorkflowCatalogue
from jobdash.services.audit_log import AuditLog
from jobdash.services.command_dispatcher import CommandDispatcher
from jobdash.services.job_orchestrator import JobOrchestrator
from jobdash.transport.in_memory_sink import InMemoryCommandSink


@pytest.fixture(scope="module")
def catalogue() -> WorkflowCatalogue:
    return shipped_catalogue("dream")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sink() -> InMemoryCommandSink:
    return InMemoryCommandSink()


@pytest.fixture
def tracker() -> object | None:
    return None


@pytest.fixture
def audit() -> AuditLog | None:
    return None


@pytest.fixture
def make(catalogue, sink, clock, tracker, audit) -> Callable[..., JobOrchestrator]:
    def make(**kwargs: object) -> JobOrchestrator:
        commands = CommandDispatcher(
            kwargs.pop("sink", sink),
            tracker=kwargs.pop("tracker", tracker),
            policy=kwargs.pop("policy", None),
            audit=kwargs.pop("audit", audit),
            support=kwargs.pop("support", None),
        )
        return JobOrchestrator(catalogue, commands, clock, **kwargs)

    return make
