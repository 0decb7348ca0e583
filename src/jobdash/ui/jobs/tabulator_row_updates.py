"""Make Panel's Tabulator show a patch by updating the rows it changed.

``Tabulator.patch`` sends only the changed cells, but Panel's front end
(``updateOrAddData`` of its ``DataTabulator`` view, Panel 1.9) answers every
patch with Tabulator's ``setData``: the page is rebuilt, every row and cell
created and measured again. In the browser that was ~0.1 s of the main thread
per patch with one session, and the largest single cost when five sessions
share two cores (``docs/decisions/0008-browser-cost-of-updates.md``).

:class:`TabulatorRowUpdates` renders nothing; its script
(``tabulator_row_updates.js``, next to this module) replaces that method on
the view's prototype, once per page, with one that compares the patched
page with the rows Tabulator holds and updates only the rows that differ
(``RowComponent.update``, then ``reformat`` so that cell templates reading
other fields — the state's colour, the stale mark — are re-rendered too).
Whenever that does not apply (a different number of rows, a row not found),
it calls Panel's own method. If a Panel upgrade renames what it patches, the
script logs a warning and Panel's behaviour stays: slower, never wrong. A
browser test checks that a patched row keeps its DOM element.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from panel.custom import JSComponent

__all__ = ["TabulatorRowUpdates"]


class TabulatorRowUpdates(JSComponent):
    """Installs the row-by-row patching; put one anywhere on the page."""

    _esm: ClassVar[Path] = Path(__file__).with_name("tabulator_row_updates.js")

    def __init__(self, **params: Any) -> None:
        params.setdefault("height", 0)
        params.setdefault("margin", 0)
        super().__init__(**params)  # type: ignore[no-untyped-call]  # Panel
