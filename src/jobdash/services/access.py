"""Read-only deployments: the error raised when an action is refused.

A read-only dashboard (``Settings.read_only``) hides its action buttons, but
hiding is only cosmetic: a browser can send any event the server accepts. The
refusal therefore lives here, in the services that run in the server process
and are the only path to the command sink. Every action method of a service
built with ``read_only=True`` raises :class:`ReadOnlyError` before sending
anything, whatever the UI showed.
"""

from __future__ import annotations


class ReadOnlyError(PermissionError):
    """An action that would send a command was refused: the dashboard is read-only."""
