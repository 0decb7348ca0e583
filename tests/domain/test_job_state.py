import pytest

from jobdash.domain.job_state import JobState

WIRE_STATES = [
    "scheduled",
    "active",
    "paused",
    "finishing",
    "stopped",
    "error",
    "warning",
    "pending_context",
]


@pytest.mark.parametrize("text", WIRE_STATES)
def test_every_wire_state_parses_to_the_state_of_that_name(text):
    state = JobState.parse(text)
    assert state.value == text
    assert state is not JobState.unknown


@pytest.mark.parametrize(
    "value", ["restarting", "ACTIVE", "Active ", "", None, 200, 1.5, ["active"], {}]
)
def test_anything_else_parses_to_unknown_rather_than_failing(value):
    assert JobState.parse(value) is JobState.unknown


def test_unknown_is_the_only_state_not_on_the_wire():
    assert {state.value for state in JobState} - set(WIRE_STATES) == {"unknown"}


@pytest.mark.parametrize("state", list(JobState))
def test_only_stopped_is_final(state):
    assert state.is_final == (state is JobState.stopped)


def test_states_compare_equal_to_their_wire_text():
    assert JobState.active == "active"
    assert f"{JobState.pending_context}" == "pending_context"
