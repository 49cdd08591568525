"""pg_stat_statements as a source of aggregate executions."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from advisor.errors import DatabaseError, ExtensionMissing
from advisor.sources.pg_stat_statements import build_query, is_workload_statement, read_statements


async def _run(dsn: str, *statements: str, repeat: int = 1) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for _ in range(repeat):
            for sql in statements:
                await conn.execute(sql)
    finally:
        await conn.close()


def test_missing_extension_says_how_to_enable_it(fresh_db: str) -> None:
    with pytest.raises(ExtensionMissing) as raised:
        list(read_statements(fresh_db))
    message = str(raised.value)
    assert "\n" not in message
    assert "shared_preload_libraries = 'pg_stat_statements'" in message
    assert "CREATE EXTENSION pg_stat_statements;" in message


def test_reads_the_workload_of_this_database(fresh_db: str) -> None:
    asyncio.run(
        _run(
            fresh_db,
            "CREATE EXTENSION IF NOT EXISTS pg_stat_statements",
            "CREATE TABLE t (id int PRIMARY KEY, v text)",
            "INSERT INTO t SELECT g, 'x' || g FROM generate_series(1, 100) g",
        )
    )

    async def lookups() -> None:
        conn = await asyncpg.connect(fresh_db)
        try:
            for i in range(1, 21):
                await conn.fetch("SELECT v FROM t WHERE id = $1", i)
            await conn.execute("SET work_mem = '8MB'")
        finally:
            await conn.close()

    asyncio.run(lookups())
    found = list(read_statements(fresh_db))
    lookup = [e for e in found if "FROM t WHERE id = $1" in e.sql]
    assert len(lookup) == 1
    assert lookup[0].calls == 20 and lookup[0].rows == 20
    assert lookup[0].total_ms is not None and lookup[0].total_ms > 0
    assert lookup[0].source.path == "pg_stat_statements"
    assert not any(e.sql.upper().startswith(("SET", "CREATE")) for e in found)
    assert not any("pg_catalog" in e.sql or "pg_stat_statements" in e.sql for e in found)
    assert all(e.calls >= 20 for e in read_statements(fresh_db, min_calls=20))
    assert len(list(read_statements(fresh_db, limit=1))) == 1


@pytest.mark.parametrize(
    ("columns", "expected", "absent"),
    [
        ({"query", "calls", "total_time", "rows"}, "s.total_time", "toplevel"),  # 1.7 (PG13-)
        ({"query", "calls", "total_exec_time", "rows"}, "s.total_exec_time", "toplevel"),  # 1.8
        (
            {"query", "calls", "total_exec_time", "rows", "toplevel", "jit_functions"},
            "s.toplevel",
            "total_time ",
        ),  # 1.9 - 1.12
    ],
)
def test_query_follows_the_extension_version(columns: set[str], expected: str, absent: str) -> None:
    sql = build_query(columns, "public")
    assert expected in sql and absent not in sql
    assert "current_database()" in sql


def test_unknown_view_layout_is_an_error() -> None:
    with pytest.raises(DatabaseError, match="ALTER EXTENSION"):
        build_query({"query", "calls"}, "public")


@pytest.mark.parametrize(
    ("sql", "kept"),
    [
        ("SELECT * FROM orders WHERE id = $1", True),
        ("/* app */ UPDATE orders SET status = $1", True),
        ("WITH x AS (SELECT 1) SELECT * FROM x", True),
        ("SET statement_timeout = $1", False),
        ("BEGIN", False),
        ("SELECT c.relname FROM pg_catalog.pg_class c", False),
        ("SELECT * FROM pg_stat_statements", False),
    ],
)
def test_workload_statement_filter(sql: str, kept: bool) -> None:
    assert is_workload_statement(sql) is kept
