"""advisor.db: the one mapping of asyncpg's errors to advisor's."""

from __future__ import annotations

import asyncpg
import pytest

from advisor.db import ErrorMap, connect, first_line, map_errors, run
from advisor.errors import DatabaseError, ExtensionMissing


def _raise(exc: Exception) -> None:
    raise exc


def test_the_most_specific_class_wins_in_any_order() -> None:
    mapping: ErrorMap = {
        asyncpg.PostgresError: lambda exc: DatabaseError(f"general: {exc}"),
        asyncpg.UndefinedTableError: lambda exc: ExtensionMissing(f"specific: {exc}"),
    }
    with pytest.raises(ExtensionMissing, match="specific: no t") as raised, map_errors(mapping):
        _raise(asyncpg.UndefinedTableError("no t"))
    assert isinstance(raised.value.__cause__, asyncpg.UndefinedTableError)
    with pytest.raises(DatabaseError, match="general: other"), map_errors(mapping):
        _raise(asyncpg.SyntaxOrAccessError("other"))


def test_unmapped_errors_pass_unchanged() -> None:
    with pytest.raises(KeyError), map_errors({OSError: lambda exc: DatabaseError("x")}):
        _raise(KeyError("k"))


def test_a_real_server_error_becomes_one_line(pg_dsn: str) -> None:
    async def go() -> None:
        conn = await connect(pg_dsn, readonly=True)
        try:
            with map_errors({asyncpg.PostgresError: lambda e: DatabaseError(f"q: {e}")}):
                await conn.execute("SELECT * FROM no_such_table_here")
        finally:
            await conn.close()

    with pytest.raises(DatabaseError, match='q: relation "no_such_table_here" does not exist'):
        run(go())
    missing = pg_dsn.rsplit("/", 1)[0] + "/no_such_database_here"
    with pytest.raises(DatabaseError, match="check the database name") as raised:
        run(connect(missing))
    assert "\n" not in str(raised.value)


def test_first_line() -> None:
    assert first_line(ValueError("a\nb")) == "a"
    assert first_line(TimeoutError()) == "TimeoutError"
