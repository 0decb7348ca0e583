"""Bokeh's patch serializer with a reference table built on demand: same patches."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = r"""
import json
from bokeh.document import Document
from bokeh.models import Column, ColumnDataSource, Div
from bokeh.protocol import Protocol

def patches():
    doc = Document()
    divs = [Div(text=str(i)) for i in range(50)]
    source = ColumnDataSource({"state": ["active"] * 5})
    column = Column(children=divs)
    doc.add_root(column)
    doc.add_root(Div(text="other", tags=[source]))
    doc.models.flush_synced()
    events = []
    doc.callbacks.on_change(events.append)
    divs[3].text = "error"                         # a known model changes
    source.patch({"state": [(2, "error")]})         # a known source is patched
    column.children = [*divs, Div(text="new")]      # a new model refers to known ones
    message = Protocol().create("PATCH-DOC", events)
    # Ids are per process and the same in both runs; keep them.
    return json.loads(message.content_json), len(message.buffers)

import sys
if sys.argv[1] == "lazy":
    from jobdash.ui import lazy_model_refs
    lazy_model_refs.install()
    lazy_model_refs.install()  # idempotent
print(json.dumps(patches(), sort_keys=True))
"""


def _patches(mode: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_a_patch_is_serialised_exactly_as_bokeh_does_without_the_lazy_table():
    lazy, eager = _patches("lazy"), _patches("eager")
    assert '"error"' in lazy
    assert '"new"' in lazy
    assert lazy == eager


def test_known_models_are_sent_as_references_and_new_ones_in_full():
    from bokeh.core.serialization import Serializer
    from bokeh.models import Div

    from jobdash.ui import lazy_model_refs

    lazy_model_refs.install()
    known, new = Div(text="known"), Div(text="new")
    serializer = Serializer(references={known})
    assert serializer.has_ref(known)
    assert not serializer.has_ref(new)
    assert serializer.encode(known) == {"id": known.id}
    encoded = serializer.encode(new)
    assert encoded["id"] == new.id
    assert encoded["type"] == "object"
    assert serializer.has_ref(new)  # added while encoding, asked for once
