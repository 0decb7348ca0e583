// TabulatorRowUpdates' front end (tabulator_row_updates.py says why and how).

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
