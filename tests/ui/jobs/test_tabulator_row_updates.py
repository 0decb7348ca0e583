"""The row-by-row patching script reaches the page (its effect is a browser test)."""

from __future__ import annotations

from bokeh.document import Document
from panel.io.state import set_curdoc

from jobdash.ui.jobs.tabulator_row_updates import TabulatorRowUpdates


def test_the_browser_gets_the_script_of_tabulator_row_updates_js():
    document = Document()
    with set_curdoc(document):
        root = TabulatorRowUpdates().get_root(document)
    assert root.esm == TabulatorRowUpdates._esm.read_text(encoding="utf-8")
    assert "View.prototype.updateOrAddData = updateChangedRows" in root.esm
