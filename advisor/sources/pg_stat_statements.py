"""Executions from ``pg_stat_statements``: one aggregate row per normalized statement.

Works with extension versions 1.8 to 1.12 (PostgreSQL 13-18): the timing column is
``total_exec_time`` from 1.8 on and ``total_time`` before; ``toplevel`` exists from 1.9.
Only the current database's rows are read; utility statements (SET, BEGIN, CREATE ...)
and catalog queries (advisor's own, monitoring tools') are left out.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from typing import Any

import asyncpg

from advisor.db import connect, redact_dsn, run
from advisor.errors import DatabaseError, ExtensionMissing
from advisor.model import CallSite, Execution

__all__ = ["ENABLE_HINT", "build_query", "is_workload_statement", "read_statements"]

ENABLE_HINT = (
    "enable it with shared_preload_libraries = 'pg_stat_statements' in postgresql.conf "
    "(then restart) and CREATE EXTENSION pg_stat_statements;"
)
SOURCE = CallSite("pg_stat_statements")

_DML = re.compile(
    r"^\s*(?:/\*.*?\*/\s*|--[^\n]*\n\s*)*(select|insert|update|delete|with|merge|"
    r"values|table)\b",
    re.IGNORECASE | re.DOTALL,
)
_CATALOG = re.compile(
    r"\b(pg_catalog\.|information_schema\.|pg_stat_statements|pg_stat_|pg_class\b|"
    r"pg_namespace\b|pg_attribute\b|pg_index\b|pg_constraint\b|pg_extension\b|pg_settings\b|"
    r"hypopg)",
    re.IGNORECASE,
)


def is_workload_statement(sql: str) -> bool:
    """True for application DML/queries; False for utility and catalog statements."""
    return bool(_DML.match(sql)) and not _CATALOG.search(sql)


def build_query(columns: Collection[str], schema: str) -> str:
    """The SELECT over the view for the columns this extension version has."""
    if "total_exec_time" in columns:
        total = "s.total_exec_time"
    elif "total_time" in columns:
        total = "s.total_time"
    else:
        raise DatabaseError(
            "pg_stat_statements: neither total_exec_time nor total_time found; "
            "update the extension (ALTER EXTENSION pg_stat_statements UPDATE)"
        )
    toplevel = " AND s.toplevel" if "toplevel" in columns else ""
    view = f'"{schema}".pg_stat_statements'
    return (
        f"SELECT s.query, s.calls, {total} AS total_ms, s.rows FROM {view} s "
        "WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        f"{toplevel} AND s.calls >= $1 AND {total} >= $2 "
        f"ORDER BY {total} DESC"
    )


async def _read(dsn: str, min_calls: int, min_total_ms: float) -> list[Any]:
    conn = await connect(dsn, readonly=True)
    try:
        ext = await conn.fetchrow(
            "SELECT e.extversion, n.nspname FROM pg_extension e "
            "JOIN pg_namespace n ON n.oid = e.extnamespace "
            "WHERE e.extname = 'pg_stat_statements'"
        )
        if ext is None:
            raise ExtensionMissing(
                f"{redact_dsn(dsn)}: pg_stat_statements is not installed; {ENABLE_HINT}"
            )
        columns = {
            row["attname"]
            for row in await conn.fetch(
                "SELECT attname FROM pg_attribute WHERE attrelid = "
                "(quote_ident($1) || '.pg_stat_statements')::regclass AND attnum > 0",
                ext["nspname"],
            )
        }
        try:
            rows: list[Any] = await conn.fetch(
                build_query(columns, ext["nspname"]), min_calls, float(min_total_ms)
            )
        except asyncpg.ObjectNotInPrerequisiteStateError as exc:
            raise ExtensionMissing(
                f"{redact_dsn(dsn)}: pg_stat_statements is not loaded; {ENABLE_HINT}"
            ) from exc
        except asyncpg.PostgresError as exc:
            raise DatabaseError(
                f"{redact_dsn(dsn)}: cannot read pg_stat_statements ({exc}); "
                "check the user's privileges (pg_read_all_stats)"
            ) from exc
        return rows
    finally:
        await conn.close()


def read_statements(
    dsn: str, *, min_calls: int = 1, min_total_ms: float = 0.0, limit: int | None = None
) -> Iterator[Execution]:
    """The workload statements of the database at ``dsn``, by total time, slowest first.

    The rows are read when iteration starts. Raises :class:`ExtensionMissing` (with how
    to enable it) when the extension is absent.
    """
    rows = run(_read(dsn, min_calls, min_total_ms))
    count = 0
    for row in rows:
        sql = row["query"]
        if not sql or not is_workload_statement(sql):
            continue
        yield Execution(
            sql=sql,
            source=SOURCE,
            calls=int(row["calls"]),
            total_ms=float(row["total_ms"]),
            rows=int(row["rows"]),
            source_kind="pg_stat_statements",
        )
        count += 1
        if limit is not None and count >= limit:
            return
