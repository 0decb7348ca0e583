# mypy: disallow-untyped-calls=False
# (Panel's methods are not annotated.)
"""An HTML pane for markup that changes while the page is open.

Every pane whose text the session refresher rewrites (card headers and chips,
the notification log, the header chips, summaries) is a :class:`LiveHTML`.

Why not ``pn.pane.HTML`` itself: when its ``object`` changes, Panel's markup
pane re-sends *every* property of its Bokeh model, ``stylesheets`` included,
and inside a template the list it rebuilds is not the one it first rendered
(it gains the design's stylesheets on the first update). So the first update
of each pane made the server recompute the document's whole model graph
(~0.1 s per pane with a few thousand models) and the browser reinstall the
pane's stylesheets and lay out the entire page root again (timeline figure
included): measured, a single job going to ``error`` took 2-3 s to show.
This pane sends the new ``text`` and nothing else; every other parameter
(``visible``, ``css_classes``, ...) still goes through Panel's normal,
per-parameter path.
"""

from __future__ import annotations

from typing import Any

import panel as pn

__all__ = ["LiveHTML"]


class LiveHTML(pn.pane.HTML):
    """``pn.pane.HTML`` whose ``object`` updates send only the model's ``text``.

    Same parameters and escaping as ``pn.pane.HTML`` (a string is shown as
    markup; build it with ``html.escape`` around untrusted text).
    """

    def __init__(self, object: Any = None, **params: Any) -> None:
        # Typed, so that callers type-check (Panel's constructor is not).
        super().__init__(object, **params)

    def _update(self, ref: str, model: Any) -> None:
        # ModelPane maps ``object`` through ``_transform_object`` (escaping for
        # the Bokeh model) and renames it to ``text``.
        model.update(**self._process_param_change({"object": self.object}))
