"""Connections to PostgreSQL: read-only for user databases, errors as one-line messages.

Library code runs asyncpg from synchronous callers through :func:`run`. Every module that
talks to PostgreSQL turns asyncpg's errors into advisor's (:mod:`advisor.errors`) one way,
with :func:`map_errors` and a table of what each error means at that place::

    with map_errors({asyncpg.PostgresError: lambda exc: DatabaseError(f"...: {exc}")}):
        rows = await conn.fetch(sql)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Iterator, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from advisor.errors import AdvisorError, DatabaseError

__all__ = ["ErrorMap", "connect", "first_line", "map_errors", "redact_dsn", "run"]

T = TypeVar("T")

ErrorMap = Mapping[type[Exception], Callable[[Exception], AdvisorError]]
"""Exception class -> the advisor error (message and all) it means at one place."""


@contextlib.contextmanager
def map_errors(mapping: ErrorMap) -> Iterator[None]:
    """Re-raise an exception of a class in ``mapping`` as the error built for it, ``from`` it.

    When several classes match (``PostgresError`` and a subclass), the most specific
    one wins, whatever the order of ``mapping``; other exceptions pass unchanged.
    """
    try:
        yield
    except Exception as exc:
        best: type[Exception] | None = None
        for kind in mapping:
            if isinstance(exc, kind) and (best is None or issubclass(kind, best)):
                best = kind
        if best is None:
            raise
        raise mapping[best](exc) from exc


def first_line(exc: BaseException) -> str:
    """The first line of ``exc``'s message, or its class name when it has none."""
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


def redact_dsn(dsn: str) -> str:
    """The DSN with its password replaced by ``***`` (for messages)."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from synchronous code."""
    return asyncio.run(coro)


async def connect(
    dsn: str, *, readonly: bool = True, statement_timeout_ms: int = 30_000, timeout: float = 10.0
) -> asyncpg.Connection:
    """Open a connection; ``readonly`` makes every transaction read-only (user databases).

    Raises :class:`DatabaseError` with a one-line message naming the (redacted) DSN.
    """
    settings = {"statement_timeout": str(statement_timeout_ms), "application_name": "advisor"}
    if readonly:
        settings["default_transaction_read_only"] = "on"
    url = dsn.replace("postgresql+asyncpg://", "postgresql://", 1)
    where = redact_dsn(dsn)

    def unreachable(exc: Exception) -> AdvisorError:
        return DatabaseError(
            f"{where}: cannot connect ({first_line(exc)}); check that the server is up "
            "and the URL is right"
        )

    errors: ErrorMap = {
        asyncpg.InvalidPasswordError: lambda exc: DatabaseError(
            f"{where}: password authentication failed; check the user and password"
        ),
        asyncpg.InvalidCatalogNameError: lambda exc: DatabaseError(
            f"{where}: {exc}; check the database name"
        ),
        TimeoutError: unreachable,
        OSError: unreachable,
        asyncpg.PostgresError: unreachable,
        ValueError: unreachable,
    }
    with map_errors(errors):
        conn: asyncpg.Connection = await asyncpg.connect(
            url, timeout=timeout, server_settings=settings
        )
    return conn
