"""Connections to PostgreSQL: read-only for user databases, errors as one-line messages.

Library code runs asyncpg from synchronous callers through :func:`run`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from advisor.errors import DatabaseError

__all__ = ["connect", "redact_dsn", "run"]

T = TypeVar("T")


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
    try:
        conn: asyncpg.Connection = await asyncpg.connect(
            url, timeout=timeout, server_settings=settings
        )
    except asyncpg.InvalidPasswordError as exc:
        raise DatabaseError(
            f"{redact_dsn(dsn)}: password authentication failed; check the user and password"
        ) from exc
    except asyncpg.InvalidCatalogNameError as exc:
        raise DatabaseError(f"{redact_dsn(dsn)}: {exc}; check the database name") from exc
    except (TimeoutError, OSError, asyncpg.PostgresError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DatabaseError(
            f"{redact_dsn(dsn)}: cannot connect ({reason}); check that the server is up "
            "and the URL is right"
        ) from exc
    return conn
