"""Which workflows the workflow view shows: filter, search and pages.

Every card costs the browser session several Panel components, and a Panel
component costs milliseconds to build and send; an instrument with a thousand
workflows cannot show a thousand cards. The view therefore shows one page of
cards at a time, in catalogue order, and this pager decides which: it keeps
every workflow's aggregate (to filter on, and to count for the summary), the
operator's filter and search text, and the page. Pure Python, no Panel; all
methods are O(workflows) at worst and most are O(1).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from enum import StrEnum

from jobdash.domain.ids import WorkflowId
from jobdash.domain.workflow_status import WorkflowAggregate

__all__ = ["WorkflowFilter", "WorkflowPager"]

_ATTENTION = frozenset(
    {WorkflowAggregate.ERROR, WorkflowAggregate.STALE, WorkflowAggregate.WARNING}
)


class WorkflowFilter(StrEnum):
    """Which workflows a page draws from (the value is the label shown)."""

    all = "All workflows"
    attention = "Needs attention"
    running = "Running"
    idle = "Idle"

    def admits(self, aggregate: WorkflowAggregate) -> bool:
        """Whether a workflow with ``aggregate`` passes this filter."""
        if self is WorkflowFilter.attention:
            return aggregate in _ATTENTION
        if self is WorkflowFilter.running:
            return aggregate is not WorkflowAggregate.STOPPED
        if self is WorkflowFilter.idle:
            return aggregate is WorkflowAggregate.STOPPED
        return True


class WorkflowPager:
    """The workflows of the current page, given filter, search text and page.

    Parameters
    ----------
    workflows
        ``(workflow id, searchable text)`` of every workflow, in display
        order; the text is matched case-insensitively by :meth:`set_search`.
    page_size
        Cards per page.
    """

    def __init__(
        self, workflows: Iterable[tuple[WorkflowId, str]], page_size: int
    ) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {page_size}")
        self._order: list[WorkflowId] = []
        self._text: dict[WorkflowId, str] = {}
        for workflow_id, text in workflows:
            self._order.append(workflow_id)
            self._text[workflow_id] = f"{text} {workflow_id}".casefold()
        self._page_size = page_size
        self._aggregates = dict.fromkeys(self._order, WorkflowAggregate.STOPPED)
        self._counts: Counter[WorkflowAggregate] = Counter(self._aggregates.values())
        self._filter = WorkflowFilter.all
        self._search = ""
        self._page = 0
        self._matching: list[WorkflowId] | None = None

    # --- inputs -----------------------------------------------------------------

    def add(self, workflow_id: WorkflowId, text: str) -> None:
        """Append a workflow (a catalogue that grew; normally never)."""
        if workflow_id in self._aggregates:
            return
        self._order.append(workflow_id)
        self._text[workflow_id] = f"{text} {workflow_id}".casefold()
        self._aggregates[workflow_id] = WorkflowAggregate.STOPPED
        self._counts[WorkflowAggregate.STOPPED] += 1
        self._matching = None

    def set_aggregate(
        self, workflow_id: WorkflowId, aggregate: WorkflowAggregate
    ) -> bool:
        """Record a workflow's aggregate; whether the page's membership may change.

        Only a change that moves the workflow in or out of the current filter
        can change which workflows match; with every other change the page
        stays as it is (cards never reshuffle because of a status change
        that does not concern the filter).
        """
        old = self._aggregates[workflow_id]
        if old is aggregate:
            return False
        self._aggregates[workflow_id] = aggregate
        self._counts[old] -= 1
        self._counts[aggregate] += 1
        if self._filter.admits(old) != self._filter.admits(aggregate):
            self._matching = None
            return True
        return False

    def set_filter(self, workflow_filter: WorkflowFilter) -> None:
        """Show workflows passing ``workflow_filter``, from the first page."""
        if workflow_filter is not self._filter:
            self._filter = workflow_filter
            self._matching = None
            self._page = 0

    def set_search(self, text: str) -> None:
        """Show workflows whose title or id contains ``text``, from the first page."""
        text = text.strip().casefold()
        if text != self._search:
            self._search = text
            self._matching = None
            self._page = 0

    def set_page(self, page: int) -> None:
        """Go to page ``page`` (from 0), clamped to the pages there are."""
        self._page = max(0, min(page, self.page_count - 1))

    # --- outputs ----------------------------------------------------------------

    @property
    def page(self) -> int:
        """The current page, from 0 (clamped: a shrinking match moves it back)."""
        return max(0, min(self._page, self.page_count - 1))

    @property
    def page_count(self) -> int:
        """How many pages the matching workflows fill (at least 1)."""
        return max(1, -(-len(self.matching()) // self._page_size))

    @property
    def workflow_filter(self) -> WorkflowFilter:
        return self._filter

    @property
    def search(self) -> str:
        return self._search

    @property
    def paged(self) -> bool:
        """Whether the workflows do not all fit on one page (so paging is needed)."""
        return len(self._order) > self._page_size

    def matching(self) -> list[WorkflowId]:
        """Every workflow passing the filter and the search, in display order."""
        if self._matching is None:
            admits = self._filter.admits
            aggregates = self._aggregates
            search = self._search
            self._matching = [
                wid
                for wid in self._order
                if admits(aggregates[wid]) and (not search or search in self._text[wid])
            ]
        return self._matching

    def visible(self) -> Sequence[WorkflowId]:
        """The workflows of the current page."""
        start = self.page * self._page_size
        return self.matching()[start : start + self._page_size]

    def counts(self) -> dict[WorkflowAggregate, int]:
        """How many workflows are in each aggregate (all of them, unfiltered)."""
        return {aggregate: n for aggregate, n in self._counts.items() if n}

    def aggregate(self, workflow_id: WorkflowId) -> WorkflowAggregate:
        return self._aggregates[workflow_id]
