"""The workflow view's stylesheets, as URLs of files served once.

Each Panel component renders into its own shadow root, so every styled
component needs the stylesheet; handed over as text, every copy travelled to
the browser inside the document (a thousand card headers, a thousand
copies). These are URLs of the files in ``assets/css`` instead
(:func:`~jobdash.ui.stylesheets.stylesheet_url`): one Bokeh model per
document and URL, one download per browser. Two files still, so a card
header links only the small one it needs.
"""

from __future__ import annotations

from jobdash.ui.stylesheets import stylesheet_url

__all__ = ["CARD_HEADER_CSS", "WORKFLOW_CSS", "card_header_css", "workflow_css"]

#: Cards, chips, messages, actions, forms (a file in ``assets/css``).
WORKFLOW_CSS = "workflow_widget.css"
#: The one-pane card header.
CARD_HEADER_CSS = "workflow_card_header.css"


def workflow_css() -> str:
    """URL of ``assets/css/workflow_widget.css``, for Panel's ``stylesheets=``."""
    return stylesheet_url(WORKFLOW_CSS)


def card_header_css() -> str:
    """URL of ``assets/css/workflow_card_header.css``, for ``stylesheets=``."""
    return stylesheet_url(CARD_HEADER_CSS)
