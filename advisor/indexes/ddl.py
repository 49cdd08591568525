"""SQL text for suggested indexes: ``CREATE INDEX`` and ``DROP INDEX`` statements.

Every statement is ``CONCURRENTLY`` and idempotent (``IF NOT EXISTS`` / ``IF EXISTS``)
with every identifier quoted: what squawk asks of a migration that touches a live
table (a concurrent build does not block writes, and a re-run is a no-op).
"""

from __future__ import annotations

from advisor.indexes.naming import index_name
from advisor.model import IndexColumn, IndexSuggestion
from advisor.sqltext import quote_ident, quote_qualified

__all__ = [
    "create_index_sql",
    "describe_column",
    "drop_index_sql",
    "key_sql",
    "make_suggestion",
    "suggestion_sql",
]


def _direction(col: IndexColumn) -> str:
    text = " DESC" if col.descending else ""
    # PostgreSQL's default is NULLS LAST for ASC and NULLS FIRST for DESC.
    if col.nulls_first is not None and col.nulls_first != col.descending:
        text += " NULLS FIRST" if col.nulls_first else " NULLS LAST"
    return text


def _opclass(col: IndexColumn) -> str:
    return f" {col.opclass}" if col.opclass else ""


def key_sql(col: IndexColumn) -> str:
    """One index key as CREATE INDEX wants it: ``"user_id"``, ``"created_at" DESC``,
    ``(lower(email))``, ``"title" gin_trgm_ops``."""
    head = quote_ident(col.column) if col.column is not None else f"({col.expression})"
    return head + _opclass(col) + _direction(col)


def describe_column(col: IndexColumn) -> str:
    """One key for people (and golden files): ``user_id``, ``created_at DESC``,
    ``lower(email)``, ``title gin_trgm_ops``."""
    head = col.column if col.column is not None else str(col.expression)
    return head + _opclass(col) + _direction(col)


def create_index_sql(
    table: str,
    columns: tuple[IndexColumn, ...],
    name: str,
    *,
    include: tuple[str, ...] = (),
    where: str | None = None,
    method: str = "btree",
    multiline: bool = False,
) -> str:
    """``CREATE INDEX CONCURRENTLY IF NOT EXISTS "name" ON "schema"."table" (...);``.

    ``multiline`` puts ``ON ...`` on an indented second line (migration files).
    """
    head = f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {quote_ident(name)}"
    body = f"ON {quote_qualified(table)}"
    if method != "btree":
        body += f" USING {method}"
    body += " (" + ", ".join(key_sql(col) for col in columns) + ")"
    if include:
        body += " INCLUDE (" + ", ".join(quote_ident(col) for col in include) + ")"
    if where:
        body += f" WHERE {where}"
    return f"{head}\n    {body};" if multiline else f"{head} {body};"


def suggestion_sql(suggestion: IndexSuggestion, *, multiline: bool = False) -> str:
    """:func:`create_index_sql` for an :class:`IndexSuggestion`."""
    return create_index_sql(
        suggestion.table,
        suggestion.columns,
        suggestion.name,
        include=suggestion.include,
        where=suggestion.where,
        method=suggestion.method,
        multiline=multiline,
    )


def drop_index_sql(table: str, name: str) -> str:
    """``DROP INDEX CONCURRENTLY IF EXISTS "schema"."name";`` (the index lives in its
    table's schema)."""
    schema, dot, _bare = table.partition(".")
    target = f"{quote_ident(schema)}.{quote_ident(name)}" if dot else quote_ident(name)
    return f"DROP INDEX CONCURRENTLY IF EXISTS {target};"


def make_suggestion(
    table: str,
    columns: tuple[IndexColumn, ...],
    *,
    include: tuple[str, ...] = (),
    where: str | None = None,
    method: str = "btree",
    query_keys: tuple[str, ...] = (),
    reason: str = "",
) -> IndexSuggestion:
    """An :class:`IndexSuggestion` with its deterministic name and its SQL filled in."""
    name = index_name(table, columns, where=where, method=method)
    return IndexSuggestion(
        table=table,
        columns=columns,
        name=name,
        sql=create_index_sql(table, columns, name, include=include, where=where, method=method),
        include=include,
        where=where,
        method=method,
        query_keys=query_keys,
        reason=reason,
    )
