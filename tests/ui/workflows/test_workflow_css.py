"""The workflow view's stylesheets: read from assets, compacted, rules intact."""

from __future__ import annotations

import re

from jobdash.assets import asset
from jobdash.ui.workflows.workflow_css import card_header_css, workflow_css


def selectors(css: str) -> list[str]:
    without_comments = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    return [s.strip() for s in re.findall(r"([^{}]+)\{", without_comments)]


def test_compacting_drops_comments_and_layout_but_keeps_every_rule():
    source = asset("css", "workflow_widget.css").read_text(encoding="utf-8")

    compact = workflow_css()

    assert "/*" not in compact
    assert "\n" not in compact
    assert len(compact) < len(source) * 0.7
    assert selectors(compact) == [
        re.sub(r"\s*,\s*", ",", re.sub(r"\s+", " ", s)) for s in selectors(source)
    ]
    assert "var(--jd-border,#d9dee5)" in compact


def test_the_header_stylesheet_is_small_and_styles_the_header_markup():
    css = card_header_css()

    assert len(css) < 600  # one copy per card of the catalogue
    assert {".jd-wf-headline", ".jd-wf-title", ".jd-wf-version,.jd-wf-meta"} <= set(
        selectors(css)
    )
