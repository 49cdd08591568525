"""Scopes: the unit of work (a request, a test) that a captured statement belongs to.

A :class:`~contextvars.ContextVar` carries the current scope, so concurrent asyncio
tasks and threads never see each other's scope.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from json.encoder import encode_basestring_ascii as _quote
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # Only a type: importing advisor.model costs every captured process ~40 ms at start.
    from advisor.model import ScopeKind

__all__ = [
    "CURRENT_SCOPE",
    "FALLBACK_SCOPE",
    "Scope",
    "activate",
    "current_scope",
    "fallback_scope",
    "next_scope_id",
    "scope",
    "scope_fields",
    "set_fallback_scope",
]


_IDS = itertools.count(1)


class Scope:
    """A named unit of work; ``name`` may be resolved lazily (see :class:`RequestScope`).

    ``id`` is unique in the process: concurrent requests to one route share a name
    (``GET /users/{user_id}``), never an id.
    """

    __slots__ = ("id", "kind", "name", "tag")

    def __init__(self, name: str, kind: ScopeKind) -> None:
        self.name: str = name
        self.kind: ScopeKind = kind
        self.id: int = next(_IDS)
        # The scope's fields of a query line, once its name is final (see settle()).
        self.tag: str | None = None

    def resolve(self) -> str:
        """The scope's name (subclasses compute it on first use)."""
        return self.name

    @property
    def resolved(self) -> bool:
        """True once :meth:`resolve` gives the final name."""
        return True

    def settle(self) -> Scope | str:
        """The JSON fields of a query line for this scope once its name is final, else self.

        The statement hook stores the returned string in the event rather than the scope:
        an event holding only strings, numbers and tuples of them is untracked by the
        garbage collector (at its second collection), so a backlog of events never reaches
        the oldest generation and never makes the app's full collections more frequent.
        """
        tag = self.tag
        if tag is not None:
            return tag
        name = self.resolve()
        if not self.resolved:
            return self
        tag = self.tag = scope_fields(name, self.kind, self.id)
        return tag


def scope_fields(name: str, kind: str, scope_id: int) -> str:
    """The ``scope``, ``scope_kind`` and ``scope_id`` fields of a query line, as JSON."""
    return f'"scope": {_quote(name)}, "scope_kind": {_quote(kind)}, "scope_id": {scope_id}'


def next_scope_id() -> int:
    """A new scope id, unique in this process."""
    return next(_IDS)


# Read directly by the statement hook (a function call per statement is measurable):
# the current scope, and the one-element holder of the process-wide fallback scope.
CURRENT_SCOPE: ContextVar[Scope | None] = ContextVar("advisor_capture_scope", default=None)
FALLBACK_SCOPE: list[Scope | None] = [None]


def current_scope() -> Scope | None:
    """The innermost active scope, or the process-wide fallback scope, or None."""
    found = CURRENT_SCOPE.get()
    return found if found is not None else FALLBACK_SCOPE[0]


def fallback_scope() -> Scope | None:
    """The scope used when no scope is active, or None."""
    return FALLBACK_SCOPE[0]


def set_fallback_scope(fallback: Scope | None) -> None:
    """Set the scope used when no scope is active (the whole process, in zero-code capture)."""
    FALLBACK_SCOPE[0] = fallback


@contextmanager
def activate(active: Scope) -> Iterator[Scope]:
    """Make ``active`` the current scope inside the block (restored on exit)."""
    token = CURRENT_SCOPE.set(active)
    try:
        yield active
    finally:
        CURRENT_SCOPE.reset(token)


@contextmanager
def scope(name: str, kind: ScopeKind = "manual") -> Iterator[Scope]:
    """Group the statements executed inside the block under ``name``.

    >>> with scope("nightly-report"):
    ...     pass
    """
    with activate(Scope(name, kind)) as active:
        yield active
