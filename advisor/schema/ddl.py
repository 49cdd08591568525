"""Load a schema from DDL text (a ``schema.sql``, a ``pg_dump --schema-only``) via a sandbox.

The script is split into statements by :func:`advisor.parse.lexer.split_sql` (quotes,
dollar quotes and comments respected; psql meta-commands dropped) so that a failing
statement can be named by file and line. Statements run one at a time in autocommit, so
``CREATE INDEX CONCURRENTLY`` works too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg

from advisor.db import connect, map_errors, run
from advisor.errors import InputError
from advisor.model import Schema, SchemaSource
from advisor.parse.lexer import split_sql
from advisor.schema.introspect import introspect

if TYPE_CHECKING:
    from advisor.sandbox import Sandbox

__all__ = ["apply_statements", "load_ddl", "read_ddl", "schema_from_ddl", "statement_error"]


def read_ddl(path_or_text: str | Path) -> tuple[str, str]:
    """(text, name for messages): reads a file when given a path, else takes the text."""
    if isinstance(path_or_text, Path) or (
        "\n" not in path_or_text and len(path_or_text) < 4096 and Path(path_or_text).is_file()
    ):
        path = Path(path_or_text)
        try:
            return path.read_text(encoding="utf-8"), str(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: cannot read the schema file ({exc})") from exc
    return path_or_text, "<ddl>"


async def apply_statements(conn: asyncpg.Connection, text: str, *, name: str) -> int:
    """Execute every statement of ``text``; InputError naming ``name:line`` on the first failure."""
    statements = list(split_sql(text))
    for start_line, sql in statements:
        with map_errors({asyncpg.PostgresError: _failed(name, start_line, sql)}):
            await conn.execute(sql)
    return len(statements)


def _failed(name: str, start_line: int, sql: str) -> Callable[[Exception], InputError]:
    """The error of a failed DDL statement (for :func:`advisor.db.map_errors`)."""

    def error(exc: Exception) -> InputError:
        return statement_error(exc, name, start_line, sql)

    return error


def statement_error(
    exc: Exception,
    name: str,
    start_line: int,
    sql: str,
    *,
    advice: str = "fix the DDL and run again",
) -> InputError:
    """The one-line error for statement ``sql`` of file ``name`` (starting at
    ``start_line``) that the server refused: ``name:line`` of the failing token when the
    server gives its position, the server's message, the statement's start, ``advice``."""
    line = start_line
    position = getattr(exc, "position", None)
    if position and str(position).isdigit():
        line += sql.count("\n", 0, int(position) - 1)
    first = sql.splitlines()[0][:80]
    return InputError(f"{name}:{line}: {exc} (in statement: {first}); {advice}")


def load_ddl(
    dsn: str,
    path_or_text: str | Path,
    *,
    source_name: str | None = None,
    source: SchemaSource = "ddl",
) -> Schema:
    """Apply the DDL to the (empty) database at ``dsn`` and return its introspected schema."""
    text, name = read_ddl(path_or_text)

    async def go() -> Schema:
        conn = await connect(dsn, readonly=False)
        try:
            await apply_statements(conn, text, name=source_name or name)
        finally:
            await conn.close()
        # A new session: the script may have changed this one's search_path (pg_dump does).
        conn = await connect(dsn, readonly=True)
        try:
            return await introspect(conn, source=source)
        finally:
            await conn.close()

    return run(go())


def schema_from_ddl(path_or_text: str | Path, sandbox: Sandbox | str) -> Schema:
    """The schema the DDL describes, read back from a scratch database of ``sandbox``.

    ``sandbox`` is a :class:`Sandbox` or the DSN of a server advisor may create databases on.
    """
    from advisor.sandbox import scratch_database

    with scratch_database(sandbox, "advisor_ddl") as dsn:
        return load_ddl(dsn, path_or_text)
