"""The workflow view's stylesheets: URLs of the served files in assets/css."""

from __future__ import annotations

from jobdash.assets import asset
from jobdash.ui.stylesheets import stylesheet_url
from jobdash.ui.workflows.workflow_css import (
    CARD_HEADER_CSS,
    WORKFLOW_CSS,
    card_header_css,
    workflow_css,
)


def test_the_workflow_stylesheets_are_links_to_their_files() -> None:
    assert workflow_css() == stylesheet_url(WORKFLOW_CSS)
    assert card_header_css() == stylesheet_url(CARD_HEADER_CSS)
    assert workflow_css() != card_header_css()


def test_the_header_stylesheet_styles_the_header_markup() -> None:
    css = asset("css", CARD_HEADER_CSS).read_text(encoding="utf-8")

    for selector in (".jd-wf-headline", ".jd-wf-title", ".jd-wf-version"):
        assert selector in css
