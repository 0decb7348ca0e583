from __future__ import annotations

from bokeh.document import Document
from panel.io.state import set_curdoc

from jobdash.ui.toast_area import ToastArea


def test_each_toast_gets_the_next_sequence_number_and_its_level():
    area = ToastArea()
    area.send("first", duration=10000, type="error")
    area.send("second")
    assert [
        (t["seq"], t["type"], t["message"], t["duration"]) for t in area.toasts
    ] == [
        (1, "error", "first", 10000),
        (2, "info", "second", 3000),
    ]


def test_only_the_last_few_toasts_are_kept():
    area = ToastArea()
    for n in range(20):
        area.send(f"toast {n}")
    assert [t["seq"] for t in area.toasts] == list(range(13, 21))


def test_a_toast_adds_no_model_to_the_document_only_an_entry_to_its_list():
    # Panel's own notification area adds a model per toast, which makes
    # Bokeh recompute the document's model graph (~60 ms per session).
    area = ToastArea()
    document = Document()
    with set_curdoc(document):
        root = area.get_root(document)
        document.add_root(root)
        models = set(document.models)
        area.send("boom", type="error")
        area.send("again", type="warning")
    assert set(document.models) == models
    assert [t["message"] for t in root.data.toasts] == ["boom", "again"]


def test_the_browser_gets_the_script_of_toast_area_js():
    document = Document()
    with set_curdoc(document):
        root = ToastArea().get_root(document)
    assert root.esm == ToastArea._esm.read_text(encoding="utf-8")
    assert "export function render" in root.esm
