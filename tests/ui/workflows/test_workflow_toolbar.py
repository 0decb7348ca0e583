"""The paging toolbar: summary, filter, search, page buttons and label."""

from __future__ import annotations

from workflow_rig import click, text_of

from jobdash.domain.ids import WorkflowId
from jobdash.domain.workflow_status import WorkflowAggregate as Agg
from jobdash.ui.workflows.workflow_pager import WorkflowFilter, WorkflowPager
from jobdash.ui.workflows.workflow_toolbar import WorkflowToolbar

WIDS = [WorkflowId("i", f"wf{n}", 1) for n in range(7)]


def make() -> tuple[WorkflowPager, WorkflowToolbar, list[str]]:
    pager = WorkflowPager(((wid, f"Title {n}") for n, wid in enumerate(WIDS)), 3)
    changes: list[str] = []
    toolbar = WorkflowToolbar(
        pager, lambda: changes.append(",".join(map(str, pager.visible())))
    )
    return pager, toolbar, changes


def test_buttons_turn_pages_and_disable_at_the_ends():
    pager, toolbar, changes = make()

    assert toolbar.previous_button.disabled
    assert toolbar.page_text == "Page 1 of 3 · 7 match"

    click(toolbar.next_button)
    click(toolbar.next_button)

    assert pager.page == 2
    assert toolbar.next_button.disabled
    assert not toolbar.previous_button.disabled
    assert toolbar.page_text == "Page 3 of 3 · 7 match"
    assert changes == ["i/wf3/1,i/wf4/1,i/wf5/1", "i/wf6/1"]


def test_filter_and_search_reach_the_pager():
    pager, toolbar, changes = make()

    toolbar.filter_select.value = WorkflowFilter.idle.value
    toolbar.search_input.value = "title 5"

    assert pager.workflow_filter is WorkflowFilter.idle
    assert pager.search == "title 5"
    assert pager.matching() == [WIDS[5]]
    assert len(changes) == 2


def test_summary_counts_every_aggregate_with_its_name_written():
    pager, toolbar, _ = make()
    pager.set_aggregate(WIDS[0], Agg.ERROR)
    pager.set_aggregate(WIDS[1], Agg.ACTIVE)

    toolbar.update()

    markup = toolbar._summary.object
    assert text_of(markup) == "7 workflows: ERROR 1 ACTIVE 1 STOPPED 5"
    assert '<span class="jd-state jd-state-error">ERROR 1</span>' in markup
