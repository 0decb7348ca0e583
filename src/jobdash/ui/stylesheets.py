"""The dashboard's stylesheets, served once as files and referenced by URL.

Every Panel component renders into its own shadow root, and a stylesheet
handed to Panel as *text* (``raw_css``, or a CSS string in ``stylesheets=``)
travels inside the session's document once per component: at a normal
instrument (25 workflows) ~370 copies of ``jobdash.css`` made 3.3 of the
document's 4.1 MB, and every browser session got them all again.

A stylesheet handed over as a URL ending in ``.css`` becomes one Bokeh
``ImportedStyleSheet`` model per document (Panel caches it per document and
URL), which each shadow root references as a ``<link>``; the browser fetches
the file once and caches it. The files are those of ``assets/css``, served
by the Bokeh server's route for extension resources
(``/static/extensions/<name>/...``, which looks its folders up per request):
registering the folder under :data:`ROUTE_NAME` is all it takes, so ``panel
serve app.py``, ``jobdash serve`` and the benchmarks' ``pn.serve`` all serve
them with no flag. Each URL carries a digest of the file's content (``?v=``),
so a changed file is fetched again, and an unchanged one is cached for good
(Tornado's static handler sends a long ``Cache-Control`` for versioned URLs).

See ``docs/decisions/0013-stylesheets-served-once.md``.
"""

from __future__ import annotations

import hashlib
from functools import cache

import panel as pn
from bokeh.embed.bundle import extension_dirs

from jobdash.assets import asset

__all__ = ["ROUTE_NAME", "serve_stylesheets", "stylesheet_url"]

#: The folder name under ``/static/extensions/`` the stylesheets are served at.
ROUTE_NAME = "jobdash"


def serve_stylesheets() -> None:
    """Let every Bokeh server of this process serve ``assets/css`` (idempotent)."""
    extension_dirs[ROUTE_NAME] = asset("css")


@cache
def _digest(name: str) -> str:
    content = asset("css", name).read_bytes()
    return hashlib.blake2b(content, digest_size=6).hexdigest()


def stylesheet_url(name: str) -> str:
    """URL of ``assets/css/<name>`` (a ``.css`` file) for Panel's ``stylesheets=``.

    Relative to the page, like Panel's own resource URLs, and under the
    server's prefix when it has one (``pn.state.rel_path``); a file that does
    not exist is an error here, not a silent 404 in the browser.
    """
    if not name.endswith(".css"):
        raise ValueError(f"a stylesheet file name ends in .css, got {name!r}")
    serve_stylesheets()
    path = f"static/extensions/{ROUTE_NAME}/{name}?v={_digest(name)}"
    rel_path = pn.state.rel_path
    return f"{rel_path}/{path}" if rel_path else path
