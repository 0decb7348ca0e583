# mypy: untyped-calls-exclude=bokeh
"""Bokeh's reference table of a document patch, built on demand.

Every document patch Bokeh sends to a browser (one per session for every
refresh that changed something) starts with
``Serializer(references=doc.models.synced_references)``: a table of a
``Ref`` for *every* model the browser already has (well over a thousand in
one session of the default page), so that the patch refers to known models
by id and serialises only new ones. A patch names a handful of them, yet
building the table was the largest single cost of the server's refresh work
with five sessions (``docs/performance.md``, freshness).

:func:`install` makes Bokeh's ``Serializer`` keep the models themselves,
indexed by ``id()``, and make a model's ``Ref`` the first time the patch
asks for it. The serializer asks nothing else of the table (``has_ref``,
``get_ref``, ``add_ref``), so every patch is byte for byte what it was.
Idempotent; the composition of a page (``jobdash.ui.page.build_page``)
calls it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from bokeh.core.serialization import Serializer

__all__ = ["install", "installed"]

_lock = threading.Lock()
_original_init: Any = None


class _ModelRefs(dict[int, Any]):
    """``id(model)`` → ``model.ref`` for the given models, each made when asked.

    Holds the refs made so far (and those added with ``add_ref``) as a dict;
    ``in`` and ``get`` also see the models not asked for yet.
    """

    __slots__ = ("_models",)

    def __init__(self, models: Iterable[Any]) -> None:
        super().__init__()
        self._models = {id(model): model for model in models}

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or key in self._models

    def get(self, key: int, default: Any = None) -> Any:
        ref = dict.get(self, key)
        if ref is None:
            model = self._models.get(key)
            if model is None:
                return default
            ref = self[key] = model.ref
        return ref


def install() -> None:
    """Make every Bokeh ``Serializer`` build its reference table on demand."""
    global _original_init
    with _lock:
        if _original_init is not None:
            return
        original = Serializer.__init__

        def __init__(  # noqa: N807  # it replaces Serializer.__init__
            self: Serializer,
            *,
            references: Iterable[Any] = (),
            deferred: bool = True,
            check_circular: bool = False,
        ) -> None:
            original(self, deferred=deferred, check_circular=check_circular)
            self._references = _ModelRefs(references)

        Serializer.__init__ = __init__  # type: ignore[method-assign]
        _original_init = original


def installed() -> bool:
    """Whether :func:`install` has run in this process."""
    return _original_init is not None
