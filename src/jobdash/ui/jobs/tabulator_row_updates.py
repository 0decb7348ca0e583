"""Make Panel's Tabulator show a patch by updating the rows it changed.

``Tabulator.patch`` sends only the changed cells, but Panel's front end
(``updateOrAddData`` of its ``DataTabulator`` view, Panel 1.9) answers every
patch with Tabulator's ``setData``: the page is rebuilt, every row and cell
created and measured again. In the browser that was ~0.1 s of the main thread
per patch with one session, and the largest single cost when five sessions
share two cores (``docs/decisions/0008-browser-cost-of-updates.md``).

:class:`TabulatorRowUpdates` renders nothing; its script replaces that method
on the view's prototype, once per page, with one that compares the patched
page with the rows Tabulator holds and updates only the rows that differ
(``RowComponent.update``, then ``reformat`` so that cell templates reading
other fields — the state's colour, the stale mark — are re-rendered too).
Whenever that does not apply (a different number of rows, a row not found),
it calls Panel's own method. If a Panel upgrade renames what it patches, the
script logs a warning and Panel's behaviour stays: slower, never wrong. A
browser test checks that a patched row keeps its DOM element.
"""

from __future__ import annotations

from typing import Any, ClassVar

from panel.custom import JSComponent

__all__ = ["TabulatorRowUpdates"]


class TabulatorRowUpdates(JSComponent):
    """Installs the row-by-row patching; put one anywhere on the page."""

    _esm: ClassVar[str] = """
    const MODEL = "panel.models.tabulator.DataTabulator"

    function same(a, b) {
      return a === b || (Number.isNaN(a) && Number.isNaN(b))
    }

    function install() {
      let View
      try {
        View = window.Bokeh.Models.get(MODEL).prototype.default_view
      } catch (error) {
        console.warn(`jobdash: ${MODEL} not found; patches redraw the page`, error)
        return
      }
      const panels = View.prototype.updateOrAddData
      if (typeof panels !== "function" || panels.jobdash) {
        return
      }
      function updateChangedRows() {
        if (this._tabulator_cell_updating) {
          return
        }
        const table = this.tabulator
        const source = this.model.source
        const length = source.get_length()
        if (table == null || length == null || table.getDataCount() !== length) {
          return panels.call(this)
        }
        const columns = source.columns().map((name) => [name, source.get_array(name)])
        const changed = []
        for (let i = 0; i < length; i++) {
          const row = table.getRow(i)  // Panel indexes rows by "_index"
          if (!row) {
            return panels.call(this)
          }
          const shown = row.getData()
          let update = null
          for (const [name, values] of columns) {
            if (!same(shown[name], values[i])) {
              update = update ?? {}
              update[name] = values[i]
            }
          }
          if (update !== null) {
            changed.push([row, update])
          }
        }
        for (const [row, update] of changed) {
          row.update(update).then(() => row.reformat())
        }
      }
      updateChangedRows.jobdash = true
      View.prototype.updateOrAddData = updateChangedRows
    }

    export function render() {
      install()
    }
    """

    def __init__(self, **params: Any) -> None:
        params.setdefault("height", 0)
        params.setdefault("margin", 0)
        super().__init__(**params)  # type: ignore[no-untyped-call]  # Panel
