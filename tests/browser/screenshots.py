"""Screenshot comparison against committed baselines, with a small tolerance.

A pixel "differs" when any of its channels differs by more than
:data:`LEVEL_TOLERANCE` (of 255); a screenshot matches when at most
:data:`MAX_DIFFERING_FRACTION` of its pixels differ. That absorbs anti-aliasing
and sub-pixel text rendering, but not a moved, recoloured or missing element.

Determinism comes from the callers: a fixed viewport (:data:`VIEWPORT`), a
frozen clock and a seeded simulator, animations disabled, and dynamic regions
masked (Playwright paints a ``mask=`` locator as a solid box).

Baselines live in ``tests/browser/baselines/<name>.png``; ``make screenshots``
(``pytest tests/browser -m browser -k screenshot --update-screenshots``)
rewrites them.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Locator, Page

BASELINES = Path(__file__).resolve().parent / "baselines"
VIEWPORT = {"width": 1400, "height": 900}
LEVEL_TOLERANCE = 48
MAX_DIFFERING_FRACTION = 0.005
#: Colour Playwright paints masked regions with (a flat, unmistakable magenta).
MASK_COLOUR = "#FF00FF"


def differing_pixels(actual: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Boolean map of the pixels whose channels differ beyond the tolerance."""
    delta = np.abs(actual.astype(np.int16) - expected.astype(np.int16))
    differs: np.ndarray = delta.max(axis=2) > LEVEL_TOLERANCE
    return differs


def diff_image(expected: np.ndarray, differs: np.ndarray) -> Image.Image:
    """The expected image faded to grey, differing pixels in red."""
    grey = expected[..., :3].mean(axis=2, keepdims=True).astype(np.uint8)
    faded = np.repeat(grey // 3 + 170, 3, axis=2)
    faded[differs] = (230, 0, 0)
    return Image.fromarray(faded.astype(np.uint8), "RGB")


def _load(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGB"))


def _screenshot(target: Page | Locator, mask: Sequence[Locator]) -> bytes:
    """The PNG of a page's viewport, or of the whole pixels inside an element.

    An element at a fractional position (a card below text whose height is
    not a whole number of pixels) makes Playwright's element screenshot
    round its box outwards, so its first row is sometimes the neighbour's
    edge and sometimes not. Clipping to the pixels wholly inside the box
    makes the picture independent of the fraction.
    """
    options: dict[str, Any] = {
        "animations": "disabled",
        "caret": "hide",
        "mask": list(mask),
        "mask_color": MASK_COLOUR,
        "scale": "css",
    }
    if isinstance(target, Page):
        return target.screenshot(**options)
    target.scroll_into_view_if_needed()
    box = target.bounding_box()
    viewport = target.page.viewport_size
    if box is None or viewport is None or box["height"] > viewport["height"]:
        return target.screenshot(**options)
    left, top = math.ceil(box["x"]), math.ceil(box["y"])
    right = math.floor(box["x"] + box["width"])
    bottom = math.floor(box["y"] + box["height"])
    clip = {"x": left, "y": top, "width": right - left, "height": bottom - top}
    return target.page.screenshot(clip=clip, **options)


def compare_screenshot(
    target: Page | Locator,
    name: str,
    *,
    mask: Sequence[Locator] = (),
    update: bool = False,
    artifacts: Callable[[], Path],
) -> None:
    """Screenshot ``target`` and compare it with the baseline ``name``.

    Parameters
    ----------
    target
        A page (the viewport) or a locator (that element).
    name
        Baseline file stem, e.g. ``"page-stopped"``.
    mask
        Regions whose content changes between runs.
    update
        Write the screenshot as the baseline instead of comparing.
    artifacts
        Returns the directory for ``<name>-actual.png``, ``-expected.png``
        and ``-diff.png`` on a mismatch.
    """
    png = _screenshot(target, mask)
    baseline = BASELINES / f"{name}.png"
    if update:
        BASELINES.mkdir(parents=True, exist_ok=True)
        baseline.write_bytes(png)
        return
    if not baseline.exists():
        (artifacts() / f"{name}-actual.png").write_bytes(png)
        pytest.fail(
            f"no baseline {baseline.relative_to(BASELINES.parent.parent.parent)}; "
            "run `make screenshots` to create it",
            pytrace=False,
        )
    actual = _load(png)
    expected = _load(baseline.read_bytes())
    if actual.shape != expected.shape:
        (artifacts() / f"{name}-actual.png").write_bytes(png)
        pytest.fail(
            f"screenshot {name}: size {actual.shape[1]}x{actual.shape[0]} differs "
            f"from the baseline's {expected.shape[1]}x{expected.shape[0]}",
            pytrace=False,
        )
    differs = differing_pixels(actual, expected)
    fraction = float(differs.mean())
    if fraction > MAX_DIFFERING_FRACTION:
        folder = artifacts()
        (folder / f"{name}-actual.png").write_bytes(png)
        (folder / f"{name}-expected.png").write_bytes(baseline.read_bytes())
        diff_image(expected, differs).save(folder / f"{name}-diff.png")
        pytest.fail(
            f"screenshot {name}: {fraction:.2%} of pixels differ by more than "
            f"{LEVEL_TOLERANCE} levels (tolerance {MAX_DIFFERING_FRACTION:.2%}); "
            f"see {folder}",
            pytrace=False,
        )
