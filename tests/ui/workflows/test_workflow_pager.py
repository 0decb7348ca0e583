"""Which workflows a page shows: filters, search, pages and counts."""

from __future__ import annotations

import pytest

from jobdash.domain.ids import WorkflowId
from jobdash.domain.workflow_status import WorkflowAggregate as Agg
from jobdash.ui.workflows.workflow_pager import WorkflowFilter, WorkflowPager

WIDS = [WorkflowId("i", f"wf{n}", 1) for n in range(10)]


def make(page_size: int = 4) -> WorkflowPager:
    return WorkflowPager(((wid, f"Title {n}") for n, wid in enumerate(WIDS)), page_size)


def test_pages_cut_the_workflows_in_order():
    pager = make(4)

    assert pager.paged
    assert pager.page_count == 3
    assert pager.visible() == WIDS[:4]

    pager.set_page(2)
    assert pager.visible() == WIDS[8:]

    pager.set_page(99)
    assert pager.page == 2
    pager.set_page(-1)
    assert pager.page == 0


def test_a_catalogue_that_fits_is_not_paged():
    pager = make(10)

    assert not pager.paged
    assert pager.page_count == 1
    assert pager.visible() == WIDS


@pytest.mark.parametrize(
    ("workflow_filter", "expected"),
    [
        (WorkflowFilter.all, WIDS),
        (WorkflowFilter.attention, [WIDS[1], WIDS[2], WIDS[3]]),
        (WorkflowFilter.running, [WIDS[1], WIDS[2], WIDS[3], WIDS[4], WIDS[5]]),
        (WorkflowFilter.idle, [WIDS[0], *WIDS[6:]]),
    ],
)
def test_filters_select_by_aggregate(workflow_filter, expected):
    pager = make(20)
    for wid, aggregate in zip(
        WIDS[1:6],
        [Agg.ERROR, Agg.STALE, Agg.WARNING, Agg.PENDING, Agg.ACTIVE],
        strict=True,
    ):
        pager.set_aggregate(wid, aggregate)

    pager.set_filter(workflow_filter)

    assert pager.matching() == expected


def test_only_a_change_across_the_filter_boundary_changes_membership():
    pager = make()
    pager.set_filter(WorkflowFilter.attention)

    assert pager.set_aggregate(WIDS[0], Agg.ERROR)
    assert not pager.set_aggregate(WIDS[0], Agg.STALE)  # still needs attention
    assert not pager.set_aggregate(WIDS[1], Agg.ACTIVE)  # still does not
    assert pager.matching() == [WIDS[0]]
    assert pager.set_aggregate(WIDS[0], Agg.ACTIVE)
    assert pager.matching() == []


def test_changing_filter_or_search_goes_back_to_the_first_page():
    pager = make(2)
    pager.set_page(3)

    pager.set_search("title")
    assert pager.page == 0

    pager.set_page(3)
    pager.set_filter(WorkflowFilter.idle)
    assert pager.page == 0


def test_search_looks_at_title_and_id_ignoring_case():
    pager = make(20)

    pager.set_search("  TITLE 7 ")
    assert pager.matching() == [WIDS[7]]

    pager.set_search("i/wf3/1")
    assert pager.matching() == [WIDS[3]]


def test_a_page_beyond_a_shrunken_match_falls_back_to_the_last_one():
    pager = make(2)
    pager.set_filter(WorkflowFilter.running)
    for wid in WIDS[:6]:
        pager.set_aggregate(wid, Agg.ACTIVE)
    pager.set_page(2)
    assert pager.visible() == WIDS[4:6]

    for wid in WIDS[2:6]:  # four of the six stop
        pager.set_aggregate(wid, Agg.STOPPED)

    assert pager.page == 0
    assert pager.visible() == WIDS[:2]


def test_counts_follow_every_aggregate_change():
    pager = make()
    pager.set_aggregate(WIDS[0], Agg.ERROR)
    pager.set_aggregate(WIDS[1], Agg.ACTIVE)
    pager.set_aggregate(WIDS[1], Agg.STALE)

    assert pager.counts() == {Agg.STOPPED: 8, Agg.ERROR: 1, Agg.STALE: 1}


def test_added_workflows_join_at_the_end():
    pager = make(20)
    extra = WorkflowId("i", "late", 1)

    pager.add(extra, "Late one")
    pager.add(extra, "Late one")

    assert pager.matching()[-1] == extra
    assert pager.counts() == {Agg.STOPPED: 11}


def test_page_size_must_be_positive():
    with pytest.raises(ValueError, match="page_size"):
        make(0)
