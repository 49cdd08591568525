"""Alembic migration files for suggested indexes.

The same safety as the plain SQL writer, in Alembic's terms: each index is created
``postgresql_concurrently=True`` and ``if_not_exists=True`` inside
``op.get_context().autocommit_block()`` (a concurrent build refuses a transaction),
between ``SET lock_timeout`` / ``SET statement_timeout = 0`` and their RESETs. The file
is text: advisor never imports Alembic. ``down_revision`` is the project's current head
(the caller finds it); the revision id, when not given, is derived from the content, so
the same suggestions always give the same file. An extension an operator class needs
(``pg_trgm``) is created first, ``IF NOT EXISTS``, and never dropped on downgrade (see
:mod:`advisor.suggest.migration`); keys with an operator class are passed as
``postgresql_ops``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from advisor.indexes.ddl import key_sql
from advisor.indexes.trigram import extension_sql
from advisor.model import IndexColumn, IndexSuggestion
from advisor.suggest.evidence import EvidenceContext, evidence_lines
from advisor.suggest.migration import extension_lines, extensions_of

__all__ = ["alembic_migration"]

_TRIPLE = '"' * 3


def _py(text: str) -> str:
    """A Python string literal quoted the way ruff/black format it."""
    return repr(text) if '"' in text and "'" not in text else json.dumps(text)


def _call(name: str, args: list[str]) -> list[str]:
    return [f"        op.{name}(", *(f"            {a}," for a in args), "        )"]


def _column(col: IndexColumn) -> str:
    if col.column is not None and not col.descending and col.nulls_first in (None, False):
        return _py(col.column)
    # An expression's operator class cannot go to postgresql_ops (keyed by column name):
    # the key's whole SQL is the text, which SQLAlchemy renders as written.
    return f"sa.text({_py(key_sql(col))})"


def _target(s: IndexSuggestion) -> tuple[str, str]:
    schema, _, table = s.table.rpartition(".")
    return (f"schema={_py(schema)}" if schema else "schema=None"), table


def _create(s: IndexSuggestion) -> list[str]:
    schema, table = _target(s)
    args = [
        _py(s.name),
        _py(table),
        "[" + ", ".join(_column(c) for c in s.columns) + "]",
        schema,
        "if_not_exists=True",
        "postgresql_concurrently=True",
    ]
    if s.method != "btree":
        args.append(f"postgresql_using={_py(s.method)}")
    ops = [
        (c.column, c.opclass) for c in s.columns if c.opclass and _column(c) == _py(c.column or "")
    ]
    if ops:
        args.append(
            "postgresql_ops={" + ", ".join(f"{_py(k or '')}: {_py(v or '')}" for k, v in ops) + "}"
        )
    if s.include:
        args.append("postgresql_include=[" + ", ".join(_py(c) for c in s.include) + "]")
    if s.where:
        args.append(f"postgresql_where=sa.text({_py(s.where)})")
    return _call("create_index", args)


def _drop(s: IndexSuggestion) -> list[str]:
    schema, table = _target(s)
    args = [_py(s.name), f"table_name={_py(table)}", schema, "if_exists=True"]
    return _call("drop_index", [*args, "postgresql_concurrently=True"])


def _guarded(body: list[str], lock_timeout: str) -> list[str]:
    set_lock = _py(f"SET lock_timeout = '{lock_timeout}'")
    return [
        "    with op.get_context().autocommit_block():",
        f"        op.execute({set_lock})",
        '        op.execute("SET statement_timeout = 0")',
        *body,
        '        op.execute("RESET statement_timeout")',
        '        op.execute("RESET lock_timeout")',
    ]


def _doc_text(line: str) -> str:
    # A backslash (a LIKE escape in a query) would start an escape in the docstring.
    return line.replace("\\", "\\\\").replace(_TRIPLE, '\\"' * 3).rstrip()


def _docstring(
    message: str,
    rev: str,
    down: str | None,
    date: str,
    items: list[IndexSuggestion],
    context: EvidenceContext | None,
) -> list[str]:
    how = [
        f"Apply: alembic upgrade {rev}; roll back: alembic downgrade {down or 'base'}.",
        "The index DDL runs in an autocommit block (CONCURRENTLY refuses a transaction);",
        "a failed concurrent build leaves an INVALID index that if_not_exists then skips:",
        "check SELECT indexrelid::regclass FROM pg_index WHERE NOT indisvalid;",
    ]
    evidence = evidence_lines(items, context) if items else []
    extensions = extensions_of(items)
    return [
        f"{_TRIPLE}{_doc_text(message)}",
        "",
        f"Revision ID: {rev}",
        f"Revises: {down or ''}".rstrip(),
        *([f"Create Date: {date}"] if date else []),
        "",
        *how,
        *extension_lines(extensions, up=True),
        *extension_lines(extensions, up=False),
        *(["", *(_doc_text(line) for line in evidence)] if evidence else []),
        _TRIPLE,
    ]


def alembic_migration(
    suggestions: Iterable[IndexSuggestion],
    *,
    down_revision: str | None,
    revision: str | None = None,
    message: str = "advisor: add suggested indexes",
    create_date: str = "",
    lock_timeout: str = "2s",
    context: EvidenceContext | None = None,
) -> tuple[str, str]:
    """``(revision_id, file_text)`` of an Alembic migration creating ``suggestions``.

    ``down_revision`` is the project's current head (None for the first migration);
    ``revision`` defaults to 12 hex digits derived from the content; ``context`` gives
    the evidence in the docstring its workload, schema and data.
    """
    items = list(suggestions)
    creates = [
        *(f"        op.execute({_py(extension_sql(e))})" for e in extensions_of(items)),
        *(line for s in items for line in _create(s)),
    ]
    drops = [line for s in reversed(items) for line in _drop(s)]
    digest = hashlib.sha1("\n".join([str(down_revision), *creates]).encode()).hexdigest()
    rev = revision or digest[-12:]
    lines = [
        *_docstring(message, rev, down_revision, create_date, items, context),
        "",
        # Only sa.text() keys and predicates need SQLAlchemy; an unused import fails linters.
        *(["import sqlalchemy as sa"] if any("sa." in line for line in creates) else []),
        "from alembic import op",
        "",
        f"revision = {_py(rev)}",
        f"down_revision = {_py(down_revision) if down_revision else None}",
        "branch_labels = None",
        "depends_on = None",
        "",
        "",
        "def upgrade() -> None:",
        *(_guarded(creates, lock_timeout) if items else ["    pass"]),
        "",
        "",
        "def downgrade() -> None:",
        *(_guarded(drops, lock_timeout) if items else ["    pass"]),
    ]
    return rev, "\n".join(lines) + "\n"
