"""Stylesheets served once as files: URLs, the route, cache busting."""

from __future__ import annotations

from pathlib import Path

import pytest
from bokeh.embed.bundle import extension_dirs
from bokeh.server.views.multi_root_static_handler import MultiRootStaticHandler

from jobdash.assets import asset
from jobdash.ui.stylesheets import ROUTE_NAME, serve_stylesheets, stylesheet_url


def test_a_stylesheet_url_names_the_served_file_and_its_content() -> None:
    url = stylesheet_url("jobdash.css")

    path, _, version = url.partition("?v=")
    assert path == f"static/extensions/{ROUTE_NAME}/jobdash.css"
    assert len(version) == 12
    assert stylesheet_url("job_status_widget.css").partition("?v=")[2] != version


def test_the_bokeh_server_route_for_extensions_resolves_the_assets_folder() -> None:
    serve_stylesheets()

    resolved = MultiRootStaticHandler.get_absolute_path(
        extension_dirs, f"{ROUTE_NAME}/jobdash.css"
    )

    assert Path(resolved) == asset("css", "jobdash.css")
    assert ".jd-state-error" in Path(resolved).read_text(encoding="utf-8")


def test_a_url_is_under_the_servers_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    import panel as pn

    monkeypatch.setattr(type(pn.state), "rel_path", property(lambda _: ".."))

    assert stylesheet_url("jobdash.css").startswith("../static/extensions/")


def test_only_css_files_are_linked() -> None:
    with pytest.raises(ValueError, match=r"ends in \.css"):
        stylesheet_url("jobdash-page")


def test_a_missing_stylesheet_is_an_error_here_not_a_404_in_the_browser() -> None:
    with pytest.raises(FileNotFoundError):
        stylesheet_url("no-such-sheet.css")
