"""Who may act: roles, the acting user, and the server-side refusal.

The dashboard hides or disables its action buttons for a viewer, but hiding is
only cosmetic: a browser can send any event the server accepts. The check
therefore runs on the server, in the services, which are the only path to the
command sink and to the models: every action takes the acting user as a
required argument (there is no default actor, so nothing acts unnamed) and
asks :meth:`AccessPolicy.require_operator` *before* anything changes, is
tracked or is sent, whatever the UI showed
(:class:`jobdash.services.action_guard.ActionGuard` does this and audits it).

:class:`AccessPolicy` is the one switch for who may act, read-only included:
a read-only policy makes every actor a viewer and refuses everyone, so views
decide what to enable from ``actor.is_operator`` alone.

Identity comes from the web server's authentication (``pn.state.user`` of the
session); :meth:`AccessPolicy.actor_for` turns it into an :class:`Actor` once
per session, and the UI passes that actor to every action. A terminal command
has no web login: :meth:`AccessPolicy.terminal_actor` names its user.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "LOCAL_USER",
    "AccessPolicy",
    "Actor",
    "PermissionDeniedError",
    "ReadOnlyError",
    "Role",
]

LOCAL_USER = "local"
"""The actor's name when the dashboard runs without authentication."""

_ANONYMOUS = "anonymous"


class Role(StrEnum):
    """What a user may do: watch, or also send commands."""

    viewer = "viewer"
    operator = "operator"


@dataclass(frozen=True, slots=True)
class Actor:
    """The user behind an action, as the audit log records it.

    Attributes
    ----------
    name
        The authenticated user name, or :data:`LOCAL_USER` without
        authentication.
    role
        What the user may do.
    """

    name: str
    role: Role

    @property
    def is_operator(self) -> bool:
        return self.role is Role.operator


class PermissionDeniedError(PermissionError):
    """An action was refused because of who asked for it.

    Attributes
    ----------
    actor
        Who asked.
    action
        What was refused, as a phrase (``"stop workflows"``).
    """

    def __init__(self, message: str, *, actor: Actor, action: str) -> None:
        super().__init__(message)
        self.actor = actor
        self.action = action


class ReadOnlyError(PermissionDeniedError):
    """An action that would send a command was refused: the dashboard is read-only.

    A :class:`PermissionDeniedError` (refused whoever asked), and so a
    ``PermissionError``.
    """

    def __init__(self, message: str, *, actor: Actor, action: str) -> None:
        super().__init__(message, actor=actor, action=action)


class AccessPolicy:
    """Maps an authenticated user to an :class:`Actor`, and refuses non-operators.

    Rules, in order:

    1. ``read_only``: everyone is a viewer, and :meth:`require_operator`
       refuses everyone (even an operator actor) with :class:`ReadOnlyError`.
    2. No user (``None``, the server has no authentication) and no
       ``operators`` list configured: the single local user,
       :data:`LOCAL_USER`, is an operator.
    3. No user although ``operators`` is configured: authentication was
       expected but did not happen, so the session is an ``"anonymous"``
       viewer (fail closed, never open).
    4. A user listed in ``operators``, or any user when ``operators``
       contains ``"*"``: operator.
    5. Anyone else: ``default_role``.

    Parameters
    ----------
    operators
        User names allowed to send commands; ``"*"`` means every
        authenticated user. ``None``: no list (rule 2 applies without
        authentication, rule 5 with it).
    read_only
        Nobody may send commands.
    default_role
        The role of authenticated users not listed in ``operators``.
    """

    def __init__(
        self,
        *,
        operators: Iterable[str] | None = None,
        read_only: bool = False,
        default_role: Role = Role.viewer,
    ) -> None:
        self._operators = None if operators is None else frozenset(operators)
        self._read_only = read_only
        self._default_role = Role(default_role)

    @property
    def read_only(self) -> bool:
        """Whether every action is refused."""
        return self._read_only

    @property
    def operators(self) -> frozenset[str] | None:
        """The configured operator names (``"*"``: everyone), or ``None``."""
        return self._operators

    def actor_for(self, user: str | None) -> Actor:
        """The actor of a session whose authenticated user is ``user``.

        Parameters
        ----------
        user
            The web server's user name for the session (``pn.state.user``),
            ``None`` (or empty) without authentication.
        """
        if not user:
            if self._operators is None:
                role = Role.viewer if self._read_only else Role.operator
                return Actor(LOCAL_USER, role)
            return Actor(_ANONYMOUS, Role.viewer)
        if self._read_only:
            return Actor(user, Role.viewer)
        operators = self._operators
        if operators is not None and ("*" in operators or user in operators):
            return Actor(user, Role.operator)
        return Actor(user, self._default_role)

    def terminal_actor(self, user: str) -> Actor:
        """The actor of a terminal command run by the operating-system ``user``.

        A terminal has no web login: whoever can run the command with the
        deployment's credentials is that user. Without an ``operators`` list
        that user is an operator (as :data:`LOCAL_USER` is in an
        unauthenticated dashboard); with one, the list decides, as for a web
        user; a read-only policy makes everyone a viewer.
        """
        if self._operators is None and not self._read_only:
            return Actor(user, Role.operator)
        return self.actor_for(user)

    def require_operator(self, actor: Actor, action: str) -> None:
        """Refuse ``action`` unless ``actor`` may send commands.

        Parameters
        ----------
        actor
            Who asks.
        action
            What they ask for, as a phrase completing "may not …"
            (``"stop workflows"``, ``"stop job mantle_detector/…"``).

        Raises
        ------
        ReadOnlyError
            The policy is read-only (whoever asks).
        PermissionDeniedError
            ``actor`` is a viewer: ``"viewer 'alice' may not stop workflows"``.
        """
        if self._read_only:
            raise ReadOnlyError(
                f"read-only dashboard: {actor.name!r} may not {action}",
                actor=actor,
                action=action,
            )
        if not actor.is_operator:
            raise PermissionDeniedError(
                f"{actor.role.value} {actor.name!r} may not {action}",
                actor=actor,
                action=action,
            )
