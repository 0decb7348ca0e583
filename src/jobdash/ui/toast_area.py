"""Toasts that cost one property change each, not a Bokeh model each.

Panel's notification area (``pn.state.notifications``) adds a Bokeh model for
every toast. Adding a model makes Bokeh recompute the session document's
model graph: ~60 ms of the server's one IOLoop thread per session with a page
of cards, so an error seen by five sessions cost 0.3 s before any session
was patched (a third of the server's time in the freshness benchmark).

:class:`ToastArea` shows the same Notyf toasts (Panel loads Notyf for its own
notification area, which stays for the connection-lost messages) from one
list property: :meth:`ToastArea.send` replaces the list of the last few
toasts, and the browser (``toast_area.js``, next to this module) shows the
entries it has not shown yet. Only that
list goes over the wire.

The message is shown as markup (as Notyf does): callers escape it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import param
from panel.custom import JSComponent

__all__ = ["ToastArea"]

#: Toasts kept in the list: more than one refresh can raise (see
#: ``NotificationLogView.max_toasts``), so a burst is never cut.
_KEEP = 8

#: Notyf toast types besides its own ``success`` and ``error``, as Panel's
#: notification area defines them (the icons are Font Awesome's, which Panel
#: loads with it).
_TYPES: list[dict[str, Any]] = [
    {
        "type": "warning",
        "background": "#ffc107",
        "icon": {
            "className": "fas fa-exclamation-triangle",
            "tagName": "i",
            "color": "white",
        },
    },
    {
        "type": "info",
        "background": "#007bff",
        "icon": {"className": "fas fa-info-circle", "tagName": "i", "color": "white"},
    },
]


class ToastArea(JSComponent):
    """Where one session's toasts come from; place it anywhere on the page.

    It renders nothing itself: Notyf draws the toasts over the page, bottom
    right. Has the ``send`` signature of Panel's notification area, so it
    can stand in for it.
    """

    toasts = param.List(
        default=[],
        doc="The last toasts, oldest first: {seq, type, message, duration}.",
    )
    types = param.List(default=_TYPES, constant=True, doc="Notyf's extra types.")

    _esm: ClassVar[Path] = Path(__file__).with_name("toast_area.js")

    def __init__(self, **params: Any) -> None:
        params.setdefault("height", 0)
        params.setdefault("margin", 0)
        super().__init__(**params)  # type: ignore[no-untyped-call]  # Panel
        self._seq = 0

    def send(
        self, message: str, duration: int = 3000, type: str | None = None
    ) -> dict[str, Any]:
        """Show ``message`` (markup: escape it) as a toast of ``type``.

        Parameters
        ----------
        message
            The toast's text, as HTML.
        duration
            Milliseconds it stays (0: until dismissed).
        type
            ``info`` (default), ``success``, ``warning`` or ``error``.
        """
        self._seq += 1
        toast = {
            "seq": self._seq,
            "type": type or "info",
            "message": message,
            "duration": duration,
        }
        self.toasts = [*self.toasts[-(_KEEP - 1) :], toast]
        return toast
