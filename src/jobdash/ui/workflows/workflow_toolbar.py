# mypy: untyped-calls-exclude=panel
"""The workflow view's toolbar: a status summary, filter, search and pages.

Shown only when the catalogue does not fit on one page (see
:mod:`jobdash.ui.workflows.workflow_pager`); a small catalogue gets plain cards.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

import panel as pn

from jobdash.ui.live_html import LiveHTML
from jobdash.ui.workflows.workflow_css import workflow_css
from jobdash.ui.workflows.workflow_markup import summary_html
from jobdash.ui.workflows.workflow_pager import WorkflowFilter, WorkflowPager

__all__ = ["WorkflowToolbar"]


class WorkflowToolbar(pn.viewable.Viewer):
    """Controls of a :class:`WorkflowPager`; calls ``on_change()`` after each change.

    Parameters
    ----------
    pager
        What the controls set and the labels report.
    on_change
        Called after the operator changed the filter, the search or the page,
        so the view can show the new page.
    """

    def __init__(self, pager: WorkflowPager, on_change: Callable[[], None]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # Viewer is untyped
        self._pager = pager
        self._on_change = on_change
        css = [workflow_css()]
        self._summary = LiveHTML(
            "", css_classes=["jd-wf-summary-pane"], stylesheets=css, margin=(4, 6)
        )
        self._filter = pn.widgets.Select(
            label="Show",
            options=[choice.value for choice in WorkflowFilter],
            value=pager.workflow_filter.value,
            css_classes=["jd-wf-filter"],
            width=170,
        )
        self._search = pn.widgets.TextInput(
            label="Search",
            placeholder="title or id",
            css_classes=["jd-wf-search"],
            width=200,
        )
        self._previous = pn.widgets.Button(
            label="Previous page", css_classes=["jd-page-previous"], align="end"
        )
        self._next = pn.widgets.Button(
            label="Next page", css_classes=["jd-page-next"], align="end"
        )
        self._page = LiveHTML(
            "", css_classes=["jd-page-label"], stylesheets=css, align="end"
        )
        self._filter.param.watch(self._filtered, "value")
        self._search.param.watch(self._searched, "value")
        self._previous.on_click(lambda _e: self._turn(-1))
        self._next.on_click(lambda _e: self._turn(+1))
        self._layout = pn.Column(
            self._summary,
            pn.Row(
                self._filter,
                self._search,
                self._previous,
                self._page,
                self._next,
                margin=0,
                sizing_mode="stretch_width",
            ),
            css_classes=["jd-wf-toolbar"],
            sizing_mode="stretch_width",
            margin=0,
        )
        self.update()

    def __panel__(self) -> pn.Column:
        return self._layout

    @property
    def filter_select(self) -> pn.widgets.Select:
        return self._filter

    @property
    def search_input(self) -> pn.widgets.TextInput:
        return self._search

    @property
    def previous_button(self) -> pn.widgets.Button:
        return self._previous

    @property
    def next_button(self) -> pn.widgets.Button:
        return self._next

    @property
    def page_text(self) -> str:
        """The page label as plain text (``Page 2 of 5 · 96 match``)."""
        return self._page_label()

    def update(self) -> None:
        """Bring the summary and the page label up to date with the pager."""
        pager = self._pager
        summary = summary_html(pager.counts(), sum(pager.counts().values()))
        if self._summary.object != summary:
            self._summary.object = summary
        label = f'<span class="jd-page">{escape(self._page_label())}</span>'
        if self._page.object != label:
            self._page.object = label
        previous_disabled = pager.page == 0
        if self._previous.disabled != previous_disabled:
            self._previous.disabled = previous_disabled
        next_disabled = pager.page >= pager.page_count - 1
        if self._next.disabled != next_disabled:
            self._next.disabled = next_disabled

    def _page_label(self) -> str:
        pager = self._pager
        matching = len(pager.matching())
        if not matching:
            return "no workflow matches"
        return f"Page {pager.page + 1} of {pager.page_count} · {matching} match"

    def _filtered(self, event: Any) -> None:
        self._pager.set_filter(WorkflowFilter(event.new))
        self._changed()

    def _searched(self, event: Any) -> None:
        self._pager.set_search(event.new or "")
        self._changed()

    def _turn(self, step: int) -> None:
        self._pager.set_page(self._pager.page + step)
        self._changed()

    def _changed(self) -> None:
        self._on_change()
        self.update()
