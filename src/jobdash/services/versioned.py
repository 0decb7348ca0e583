"""The version counter every service model publishes, and its batching.

Sessions never receive pushes from the ingestion thread; they poll a
service's ``version`` on their own IOLoop and re-read a snapshot when it
changed (docs/architecture.md, threading rules). Setting a param costs tens of microseconds, far more
than handling one heartbeat, so a service marks itself dirty per change and
bumps ``version`` once: at the end of the outermost ``batch_updates()``, or at
the end of the mutating call when no batch is open.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import param


class VersionedModel(param.Parameterized):
    """Base of the service models: a lock, a ``version`` and batched bumps.

    Subclasses guard their state with ``self._lock`` (re-entrant) and, holding
    it, call :meth:`_mark_changed` after every change readers should see.
    """

    version = param.Integer(
        default=0,
        bounds=(0, None),
        doc="Bumped after the model changed; poll it, never watch it from a session.",
    )

    def __init__(self, **params: object) -> None:
        super().__init__(**params)  # type: ignore[no-untyped-call]  # param is untyped
        self._lock = threading.RLock()
        self._batch_depth = 0
        self._dirty = False

    @contextmanager
    def batch_updates(self) -> Iterator[None]:
        """Defer ``version`` bumps to the exit of the outermost batch.

        Re-entrant (nested batches bump once, at the outer exit), shared by all
        threads, and exception-safe: changes made before an exception are still
        published. Nothing is bumped if nothing changed.
        """
        with self._lock:
            self._batch_depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._batch_depth -= 1
                if self._batch_depth == 0 and self._dirty:
                    self._publish()

    def _mark_changed(self) -> None:
        """Record a change; publish now unless a batch is open. Hold the lock."""
        self._dirty = True
        if self._batch_depth == 0:
            self._publish()

    def _publish(self) -> None:
        # Under the lock, so concurrent publishers never lose a bump and a
        # snapshot taken under the lock never carries a version newer than
        # its content.
        self._dirty = False
        self.param.update(version=self.version + 1)
