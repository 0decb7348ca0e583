"""The workflow view's stylesheets, read once and compacted.

Each Panel component renders into its own shadow root, so a component whose
markup is styled carries the stylesheet text itself, and every copy travels to
the browser inside the document. A catalogue of a thousand workflows has a
thousand card headers; hence two files (a small one for headers, one for the
rest) and comments and indentation stripped before use. The files in
``assets/css`` stay commented and readable.
"""

from __future__ import annotations

import re
from functools import cache

from jobdash.assets import asset

__all__ = ["card_header_css", "workflow_css"]

_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_SPACE = re.compile(r"\s+")
_AROUND_PUNCTUATION = re.compile(r"\s*([{};,>])\s*")


def _compact(css: str) -> str:
    """``css`` without comments and without whitespace that carries no meaning."""
    css = _SPACE.sub(" ", _COMMENT.sub("", css))
    return _AROUND_PUNCTUATION.sub(r"\1", css).strip()


@cache
def workflow_css() -> str:
    """``assets/css/workflow_widget.css``: cards, chips, messages, actions, forms."""
    return _compact(asset("css", "workflow_widget.css").read_text(encoding="utf-8"))


@cache
def card_header_css() -> str:
    """``assets/css/workflow_card_header.css``: the one-pane card header."""
    return _compact(
        asset("css", "workflow_card_header.css").read_text(encoding="utf-8")
    )
