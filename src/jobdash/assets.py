"""Where the shipped assets (CSS, workflow catalogues) are.

They live in the repository's top-level ``assets/`` folder; a wheel carries
them as ``jobdash/_assets`` (see ``pyproject.toml``). Look in the wheel
location first, then in the source checkout the package was imported from.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def assets_dir() -> Path:
    """The folder holding ``catalogues/``, ``css/`` and friends."""
    for candidate in (_PACKAGE_DIR / "_assets", _PACKAGE_DIR.parent.parent / "assets"):
        if (candidate / "catalogues").is_dir():
            return candidate
    raise FileNotFoundError(f"jobdash assets not found next to {_PACKAGE_DIR}")


def asset(*parts: str) -> Path:
    """Path of one asset, e.g. ``asset("css", "jobdash.css")``."""
    return assets_dir().joinpath(*parts)
