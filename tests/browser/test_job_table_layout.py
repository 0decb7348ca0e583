"""The job table is readable in half of a 1,400 px screen (and in all of it).

At a 700 px window the page stacks its views and the table is ~630 px wide;
at 1,400 px the table has half of the page (~750 px). At both, every header
shows its whole label (the header tooltip gives the full name), source names
wrap between their words rather than being cut, the workflow column shows
the workflow's name with the full id in the cell's ``title``, and the table
needs no scrolling sideways.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from harness import JobdashServer, open_dashboard
from playwright.sync_api import Page, expect
from scenario_helpers import STATE_TIMEOUT, job_rows

pytestmark = pytest.mark.browser

AssertScreenshot = Callable[..., None]

#: The chaos scenario's detector workflow runs from the start, with the
#: longest source names of the simulated instrument.
LONG_SOURCE = "endcap_backward_detector"
DETECTOR_ID = "dream/detector_view/1"

#: Per visible header: its label, the label's width, and the room it has
#: (the title element's content box).
_HEADERS = """
table => [...table.querySelectorAll('.tabulator-header .tabulator-col')]
  .filter(col => col.offsetWidth > 0 && col.querySelector('.tabulator-col-title'))
  .map(col => {
    const title = col.querySelector('.tabulator-col-title');
    const style = getComputedStyle(title);
    const range = document.createRange();
    range.selectNodeContents(title);
    return {
      field: col.getAttribute('tabulator-field'),
      label: title.textContent.trim(),
      text: range.getBoundingClientRect().width,
      room: title.clientWidth - parseFloat(style.paddingLeft)
        - parseFloat(style.paddingRight),
    };
  })
"""


@pytest.fixture
def dashboard_server(serve_jobdash: Callable[..., JobdashServer]) -> JobdashServer:
    return serve_jobdash(frozen_clock=True, scenario="chaos", seed=3)


@pytest.mark.parametrize("width", [700, 1400])
def test_every_header_and_source_name_is_readable(
    page: Page, dashboard_server: JobdashServer, width: int
) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    open_dashboard(page, dashboard_server)
    table = page.locator(".jd-job-table .tabulator").first
    row = job_rows(page, LONG_SOURCE, DETECTOR_ID).first
    expect(row).to_be_visible(timeout=STATE_TIMEOUT)
    # The widget's stylesheet is linked, and may arrive after the rows.
    expect(table.locator(".tabulator-col").first).to_have_css("font-size", "12.5px")

    headers = table.evaluate(_HEADERS)
    labels = {h["field"]: h["label"] for h in headers if h["field"]}
    assert labels == {
        "state": "State",
        "source": "Source",
        "workflow": "Workflow",
        "job": "Job",
        "message": "Message",
        "heartbeat": "Beat",
        "data": "Data",
        "start": "Started",
    }
    cut = [h for h in headers if h["field"] and h["text"] > h["room"] + 0.5]
    assert cut == [], f"headers cut at {width} px"

    holder = page.locator(".jd-job-table .tabulator-tableholder").first
    overflow = holder.evaluate("e => e.scrollWidth - e.clientWidth")
    assert overflow <= 0, f"the table scrolls sideways at {width} px"

    # The long source name is there in full, wrapped rather than cut.
    source = row.locator('.tabulator-cell[tabulator-field="source"]')
    expect(source).to_have_text(LONG_SOURCE)
    assert source.evaluate("c => c.scrollWidth <= c.clientWidth")
    assert source.evaluate("c => c.scrollHeight <= c.clientHeight + 1")
    # The workflow by its name; the id where the pointer asks for it.
    workflow = row.locator('.tabulator-cell[tabulator-field="workflow"] span')
    expect(workflow).to_have_text("detector_view")
    expect(workflow).to_have_attribute("title", DETECTOR_ID)


def test_a_header_tooltip_gives_the_full_name(
    page: Page, dashboard_server: JobdashServer
) -> None:
    open_dashboard(page, dashboard_server)
    header = page.locator('.jd-job-table .tabulator-col[tabulator-field="heartbeat"]')
    header.hover()
    expect(page.locator(".tabulator-tooltip")).to_contain_text("Last heartbeat")


def test_the_table_at_half_width_matches_its_baseline(
    page: Page, dashboard_server: JobdashServer, assert_screenshot: AssertScreenshot
) -> None:
    page.set_viewport_size({"width": 700, "height": 1400})
    open_dashboard(page, dashboard_server)
    expect(job_rows(page, LONG_SOURCE, DETECTOR_ID).first).to_be_visible(
        timeout=STATE_TIMEOUT
    )
    expect(page.locator(".jd-job-table .tabulator-col").first).to_have_css(
        "font-size", "12.5px"
    )
    page.mouse.move(0, 0)
    ages = page.locator(
        '.jd-job-table .tabulator-cell[tabulator-field="heartbeat"],'
        ' .jd-job-table .tabulator-cell[tabulator-field="data"]'
    )
    assert_screenshot(
        page.locator(".jd-job-table").first, "job-table-half-width", mask=[ages]
    )
