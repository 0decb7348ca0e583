import uuid

import pytest

from jobdash.domain.ids import JobId, WorkflowId
from jobdash.domain.job_state import JobState
from jobdash.domain.job_status import JobStatus, ServiceStatus, message_summary

JOB = JobId("mantle_detector", uuid.UUID(int=1))
WORKFLOW = WorkflowId("dream", "detector_view", 1)


def status(**changes):
    return JobStatus(JOB, WORKFLOW, JobState.active)._replace(**changes)


def test_message_prefers_error_over_warning():
    assert status(error_message="boom", warning_message="hm").message == "boom"


def test_message_falls_back_to_warning_then_none():
    assert status(warning_message="hm").message == "hm"
    assert status().message is None


def test_empty_error_text_does_not_hide_a_warning():
    assert status(error_message="", warning_message="hm").message == "hm"


def test_defaults_are_no_messages_no_times_and_timestamp_zero():
    plain = JobStatus(JOB, WORKFLOW, JobState.scheduled)
    assert (plain.error_message, plain.warning_message) == (None, None)
    assert (plain.start_time, plain.end_time, plain.timestamp) == (None, None, 0)


def test_statuses_compare_by_value_including_timestamp():
    assert status(timestamp=5) == status(timestamp=5)
    assert status(timestamp=5) != status(timestamp=6)


def test_status_is_immutable():
    with pytest.raises(AttributeError):
        status().state = JobState.error  # type: ignore[misc]


def test_service_status_key_identifies_the_worker_across_heartbeats():
    first = ServiceStatus("dream", "detector_data", "worker-1", "running", timestamp=1)
    later = first._replace(state="stopping", active_job_count=3, timestamp=2)
    assert first.key == later.key == "dream/detector_data/worker-1"
    assert first.key != first._replace(worker_id="worker-2").key


def test_service_status_defaults_say_nothing_about_version_sources_or_actions():
    plain = ServiceStatus("dream", "detector_data", "worker-1", "running", None, 2)
    assert (plain.version, plain.source_names, plain.supported_actions) == (
        None,
        (),
        None,
    )
    assert plain.timestamp == 0  # the new fields come after the old positions


def test_service_statuses_compare_by_sources_and_actions():
    plain = ServiceStatus("dream", "detector_data", "worker-1", "running")
    told = plain._replace(source_names=("mantle",), supported_actions=frozenset())
    assert told != plain
    assert told == plain._replace(
        source_names=("mantle",), supported_actions=frozenset()
    )


def test_message_summary_takes_the_exception_line_of_a_traceback():
    traceback = (
        "Traceback (most recent call last):\n"
        '  File "reduce.py", line 3, in <module>\n'
        "ValueError: monitor normalisation is zero\n"
    )
    assert message_summary(traceback) == "ValueError: monitor normalisation is zero"


def test_message_summary_takes_the_first_line_and_cuts_long_ones():
    assert message_summary("disk full\nsecond line") == "disk full"
    assert message_summary("x" * 300, limit=10) == "x" * 9 + "…"
    assert message_summary("  \n ") == ""
