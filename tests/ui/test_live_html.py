"""LiveHTML sends only its text when its markup changes."""

from __future__ import annotations

import panel as pn
import pytest
from bokeh.document import Document
from bokeh.document.events import ModelChangedEvent
from panel.theme import Bootstrap

from jobdash.ui.live_html import LiveHTML


def _changes_on_update(pane: pn.pane.HTML) -> list[str]:
    """The model properties an ``object`` update changes, under a template's design."""
    document = Document()
    root = pane.get_root(document)
    document.add_root(root)
    # What a template does to the components it renders.
    Bootstrap().apply(pane, root, isolated=False)
    changed: list[str] = []
    document.on_change(
        lambda event: (
            changed.append(event.attr) if isinstance(event, ModelChangedEvent) else None
        )
    )
    pane.object = "<b>second</b>"
    return changed


def test_an_update_changes_only_the_text():
    pane = LiveHTML("<b>first</b>", stylesheets=[".x { color: red; }"])
    assert _changes_on_update(pane) == ["text"]


def test_plain_html_pane_also_resends_its_stylesheets_which_is_why_this_exists():
    # Documents the Panel behaviour LiveHTML works around; if Panel stops
    # doing this, LiveHTML can go (and this test tells us).
    pane = pn.pane.HTML("<b>first</b>", stylesheets=[".x { color: red; }"])
    assert "stylesheets" in _changes_on_update(pane)


@pytest.mark.parametrize("text", ["<script>alert(1)</script>", "a & b", ""])
def test_text_is_escaped_for_the_model_exactly_as_the_html_pane_does(text):
    document = Document()
    live, plain = LiveHTML("x"), pn.pane.HTML("x")
    live_model, plain_model = live.get_root(document), plain.get_root(document)
    live.object = plain.object = text
    assert live_model.text == plain_model.text
