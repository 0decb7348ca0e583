"""The workflow aggregate rules (docs/decisions/0002-card-open-questions.md), one row per rule and tie-break."""

import pytest

from jobdash.domain.job_state import JobState
from jobdash.domain.workflow_status import (
    AggregateStatus,
    JobCondition,
    WorkflowAggregate,
    aggregate_status,
)

S = JobState
A = WorkflowAggregate


def job(state, *, stale=False, warning=False):
    return JobCondition(state, stale=stale, has_warning=warning)


ACTIVE = job(S.active)
NOT_HEARD = job(None)

# (id, jobs, committed, stop_requested, expected aggregate, count)
RULES = [
    # 7 — nothing committed
    ("no jobset", [], False, False, A.STOPPED, 0),
    ("no jobset but jobs listed", [ACTIVE], False, False, A.STOPPED, 0),
    ("committed but empty", [], True, False, A.STOPPED, 0),
    # 1 — ERROR beats everything
    ("one error", [job(S.error), ACTIVE, ACTIVE, ACTIVE], True, False, A.ERROR, 1),
    (
        "error beats stale and warning",
        [job(S.error), job(S.active, stale=True), job(S.warning)],
        True,
        False,
        A.ERROR,
        1,
    ),
    ("error while stopping", [job(S.error), job(S.stopped)], True, True, A.ERROR, 1),
    (
        "stale error counts as error",
        [job(S.error, stale=True)],
        True,
        False,
        A.ERROR,
        1,
    ),
    # 2 — STALE
    ("one stale", [job(S.active, stale=True), ACTIVE], True, False, A.STALE, 1),
    (
        "stale beats warning and pending",
        [job(S.active, stale=True), job(S.warning), NOT_HEARD],
        True,
        False,
        A.STALE,
        1,
    ),
    (
        "stale beats stopping",
        [job(S.active, stale=True), job(S.stopped)],
        True,
        True,
        A.STALE,
        1,
    ),
    # 3 — WARNING: the state, or a warning message in any state
    ("warning state", [job(S.warning), ACTIVE], True, False, A.WARNING, 1),
    (
        "warning message",
        [job(S.active, warning=True), ACTIVE],
        True,
        False,
        A.WARNING,
        1,
    ),
    (
        "warning state and message counted once per job",
        [job(S.warning, warning=True), job(S.finishing, warning=True), ACTIVE],
        True,
        False,
        A.WARNING,
        2,
    ),
    ("warning beats pending", [job(S.warning), NOT_HEARD], True, False, A.WARNING, 1),
    # 4 — PENDING
    ("not heard from yet", [NOT_HEARD, ACTIVE], True, False, A.PENDING, 1),
    ("all not heard from", [NOT_HEARD] * 4, True, False, A.PENDING, 4),
    ("scheduled", [job(S.scheduled), ACTIVE], True, False, A.PENDING, 1),
    ("pending context", [job(S.pending_context), ACTIVE], True, False, A.PENDING, 1),
    ("pending beats stopping", [NOT_HEARD, job(S.stopped)], True, True, A.PENDING, 1),
    # 5 — STOPPING
    ("stopping", [ACTIVE, job(S.stopped), ACTIVE], True, True, A.STOPPING, 2),
    ("stopping a finishing job", [job(S.finishing)], True, True, A.STOPPING, 1),
    (
        "stopping a paused job",
        [job(S.paused), job(S.stopped)],
        True,
        True,
        A.STOPPING,
        1,
    ),
    # PAUSED (docs/decisions/0011) — between STOPPING and ACTIVE, counts the paused
    ("all paused", [job(S.paused)] * 3, True, False, A.PAUSED, 3),
    ("paused beside active", [job(S.paused), ACTIVE], True, False, A.PAUSED, 1),
    (
        "paused beside finishing",
        [job(S.paused), job(S.finishing), ACTIVE],
        True,
        False,
        A.PAUSED,
        1,
    ),
    (
        "pending beats paused",
        [job(S.paused), job(S.scheduled)],
        True,
        False,
        A.PENDING,
        1,
    ),
    (
        "warning beats paused",
        [job(S.paused), job(S.active, warning=True)],
        True,
        False,
        A.WARNING,
        1,
    ),
    (
        "stale paused is stale",
        [job(S.paused, stale=True), job(S.paused)],
        True,
        False,
        A.STALE,
        1,
    ),
    # 6 — ACTIVE
    ("all active", [ACTIVE, ACTIVE], True, False, A.ACTIVE, 2),
    ("active and finishing", [ACTIVE, job(S.finishing)], True, False, A.ACTIVE, 2),
    # 7 — STOPPED
    ("all stopped", [job(S.stopped)] * 3, True, False, A.STOPPED, 3),
    ("all stopped after a stop", [job(S.stopped)] * 2, True, True, A.STOPPED, 2),
    # UNKNOWN — counts the jobs that are not running
    ("an unknown state", [job(S.unknown)], True, False, A.UNKNOWN, 1),
    ("running beside stopped", [ACTIVE, job(S.stopped)], True, False, A.UNKNOWN, 1),
    (
        "paused beside stopped",
        [job(S.paused), job(S.stopped), ACTIVE],
        True,
        False,
        A.UNKNOWN,
        2,
    ),
]


@pytest.mark.parametrize(
    ("jobs", "committed", "stop_requested", "aggregate", "count"),
    [pytest.param(*row[1:], id=row[0]) for row in RULES],
)
def test_aggregate_rule_and_count(jobs, committed, stop_requested, aggregate, count):
    result = aggregate_status(jobs, committed=committed, stop_requested=stop_requested)
    assert result == AggregateStatus(aggregate, count, len(jobs))


def test_every_aggregate_is_reached_by_some_rule():
    assert {row[4] for row in RULES} == set(WorkflowAggregate)


def test_label_shows_counts_only_when_there_are_jobs():
    assert AggregateStatus(A.ERROR, 1, 4).label == "ERROR 1/4"
    assert AggregateStatus(A.STOPPED, 0, 0).label == "STOPPED"
