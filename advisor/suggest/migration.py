"""Plain SQL migration files for suggested indexes.

The up file creates each index ``CONCURRENTLY IF NOT EXISTS`` between a short
``lock_timeout`` (a blocked DDL must not queue every query behind it) and no
``statement_timeout`` (a large build takes long), then RESETs both (they are
session-level). The down file drops them ``CONCURRENTLY IF EXISTS``. Both pass squawk
and apply with ``psql -v ON_ERROR_STOP=1 -f file``; never under ``psql -1`` or
``BEGIN``, which ``CREATE INDEX CONCURRENTLY`` refuses. The evidence a DBA needs
(:mod:`advisor.suggest.evidence`) heads both files as ``--`` comments.

An index whose operator class comes from an extension (``gin_trgm_ops``: ``pg_trgm``)
is preceded by ``CREATE EXTENSION IF NOT EXISTS``, its own statement (it cannot share
the concurrent build's). The down file never drops the extension: other indexes,
columns or functions may use it, and dropping it needs the rights creating it did.
"""

from __future__ import annotations

from collections.abc import Iterable

from advisor.indexes.ddl import drop_index_sql, suggestion_sql
from advisor.indexes.trigram import extension_sql, required_extensions
from advisor.model import IndexSuggestion
from advisor.suggest.evidence import EvidenceContext, evidence_lines

__all__ = ["extension_lines", "extensions_of", "sql_migration"]

_HOW = (
    "Never under psql -1 or inside BEGIN: CONCURRENTLY refuses a transaction.",
    "A failed concurrent build leaves an INVALID index that IF NOT EXISTS then",
    "skips; after applying, check:",
    "SELECT indexrelid::regclass FROM pg_index WHERE NOT indisvalid;",
)


def _comments(lines: Iterable[str]) -> list[str]:
    return [f"-- {line}".rstrip() for line in lines]


def _wrap(body: list[str], lock_timeout: str) -> list[str]:
    return [
        f"SET lock_timeout = '{lock_timeout}';",
        "SET statement_timeout = 0;",
        *body,
        "RESET statement_timeout;",
        "RESET lock_timeout;",
    ]


def extensions_of(items: Iterable[IndexSuggestion]) -> tuple[str, ...]:
    """The extensions the suggestions' operator classes need, each once, in order."""
    out: list[str] = []
    for s in items:
        out.extend(e for e in required_extensions(s.columns) if e not in out)
    return tuple(out)


def extension_lines(names: tuple[str, ...], *, up: bool) -> list[str]:
    """What the header says about the extensions (nothing when there are none)."""
    if not names:
        return []
    listed = ", ".join(names)
    if not up:
        return [f"Roll back leaves the extension {listed} installed: other objects may use it."]
    return [
        f"Needs the extension {listed} (CREATE EXTENSION IF NOT EXISTS, below): a superuser,",
        "or (trusted extensions, PostgreSQL 13+) a user with CREATE on the database.",
    ]


def _plural(n: int) -> str:
    return f"{n} index" if n == 1 else f"{n} indexes"


def sql_migration(
    suggestions: Iterable[IndexSuggestion],
    *,
    lock_timeout: str = "2s",
    context: EvidenceContext | None = None,
    files: tuple[str, str] = ("<this file>", "<the matching down file>"),
) -> tuple[str, str]:
    """``(up, down)`` SQL texts creating and dropping ``suggestions``, evidence on top.

    ``files`` names the up and down files in the "how to apply" lines; ``context``
    gives the evidence its workload, schema and data.
    """
    items = list(suggestions)
    if not items:
        empty = "-- advisor: no indexes to create.\n"
        return empty, empty
    up_file, down_file = files
    extensions = extensions_of(items)
    evidence = _comments(["", *evidence_lines(items, context)])
    up = [
        *_comments(
            [
                f"advisor: create {_plural(len(items))}.",
                f"Apply:     psql -v ON_ERROR_STOP=1 -f {up_file}",
                f"Roll back: psql -v ON_ERROR_STOP=1 -f {down_file}",
                *_HOW,
                *extension_lines(extensions, up=True),
            ]
        ),
        *evidence,
        "",
        *_wrap(
            [
                *map(extension_sql, extensions),
                *(suggestion_sql(s, multiline=True) for s in items),
            ],
            lock_timeout,
        ),
    ]
    down = [
        *_comments(
            [
                f"advisor: roll back, drop {_plural(len(items))}.",
                f"Undoes: {up_file}",
                f"Apply: psql -v ON_ERROR_STOP=1 -f {down_file}",
                _HOW[0],
                *extension_lines(extensions, up=False),
            ]
        ),
        *evidence,
        "",
        *_wrap([drop_index_sql(s.table, s.name) for s in reversed(items)], lock_timeout),
    ]
    return "\n".join(up) + "\n", "\n".join(down) + "\n"
