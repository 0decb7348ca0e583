import pickle
import uuid

import pytest

from jobdash.domain.ids import JobId, WorkflowId, seeded_job_numbers

NUMBER = uuid.UUID("6f1c2a3b-0000-4000-8000-00000000abcd")


def test_job_id_text_form_is_source_slash_job_number():
    assert str(JobId("mantle_detector", NUMBER)) == f"mantle_detector/{NUMBER}"


def test_job_id_parse_inverts_text_form():
    job_id = JobId("mantle_detector", NUMBER)
    assert JobId.parse(str(job_id)) == job_id


def test_job_id_parse_splits_on_last_slash_so_source_names_may_contain_slashes():
    job_id = JobId.parse(f"dream/bank/1/{NUMBER}")
    assert job_id == JobId("dream/bank/1", NUMBER)


@pytest.mark.parametrize(
    "text",
    [
        "mantle_detector",
        f"/{NUMBER}",
        "mantle_detector/not-a-uuid",
        "mantle_detector/",
        "",
    ],
)
def test_job_id_parse_rejects_malformed_text_with_value_error(text):
    with pytest.raises(ValueError):  # noqa: PT011 - the message varies by case
        JobId.parse(text)


def test_job_id_short_is_first_eight_hex_digits():
    assert JobId("x", NUMBER).short == "6f1c2a3b"


def test_job_ids_compare_and_hash_by_both_parts():
    other = uuid.UUID(int=NUMBER.int + 1)
    assert JobId("a", NUMBER) == JobId("a", NUMBER)
    assert JobId("a", NUMBER) != JobId("a", other)
    assert JobId("a", NUMBER) != JobId("b", NUMBER)
    assert len({JobId("a", NUMBER), JobId("a", NUMBER), JobId("a", other)}) == 2


def test_job_id_is_immutable():
    job_id = JobId("a", NUMBER)
    with pytest.raises(AttributeError):
        job_id.source_name = "b"  # type: ignore[misc]


def test_workflow_id_three_part_text_round_trips():
    workflow_id = WorkflowId.parse("dream/detector_view/1")
    assert workflow_id == WorkflowId("dream", "detector_view", 1)
    assert workflow_id.namespace is None
    assert str(workflow_id) == "dream/detector_view/1"


def test_workflow_id_four_part_text_carries_namespace_second():
    workflow_id = WorkflowId.parse("dream/powder/focussed_dspacing/2")
    assert workflow_id == WorkflowId("dream", "focussed_dspacing", 2, "powder")
    assert str(workflow_id) == "dream/powder/focussed_dspacing/2"


def test_workflow_ids_with_and_without_namespace_differ():
    assert WorkflowId("dream", "x", 1) != WorkflowId("dream", "x", 1, "ns")


@pytest.mark.parametrize(
    "text",
    [
        "dream/detector_view",
        "dream",
        "a/b/c/d/1",
        "/detector_view/1",
        "dream//1",
        "dream//x/1",
        "dream/detector_view/one",
        "dream/detector_view/-1",
        "dream/detector_view/1.5",
        "dream/detector_view/",
        "",
    ],
)
def test_workflow_id_parse_rejects_malformed_text_with_value_error(text):
    with pytest.raises(ValueError, match="not a workflow id"):
        WorkflowId.parse(text)


def test_ids_pickle_by_value_not_by_cached_hash():
    # Hashes of str differ between processes; a pickled cached hash would
    # break dict lookups in another process.
    job_id = JobId("mantle_detector", uuid.uuid4())
    workflow_id = WorkflowId("dream", "powder", 2, "reduction")
    assert job_id.__reduce__() == (JobId, ("mantle_detector", job_id.job_number))
    assert workflow_id.__reduce__() == (
        WorkflowId,
        ("dream", "powder", 2, "reduction"),
    )
    assert pickle.loads(pickle.dumps(job_id)) == job_id
    assert hash(pickle.loads(pickle.dumps(workflow_id))) == hash(workflow_id)


def test_seeded_job_numbers_repeat_for_the_same_seed_and_are_version_4():
    first, again, other = (
        seeded_job_numbers(7),
        seeded_job_numbers(7),
        seeded_job_numbers(8),
    )
    numbers = [first() for _ in range(3)]
    assert numbers == [again() for _ in range(3)]
    assert numbers != [other() for _ in range(3)]
    assert len(set(numbers)) == 3
    assert all(number.version == 4 for number in numbers)
