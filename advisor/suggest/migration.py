"""Plain SQL migration files for suggested indexes.

The up file creates each index ``CONCURRENTLY IF NOT EXISTS`` between a short
``lock_timeout`` (a blocked DDL must not queue every query behind it) and no
``statement_timeout`` (a large build takes long), then RESETs both (they are
session-level). The down file drops them ``CONCURRENTLY IF EXISTS``. Both pass squawk
and apply with ``psql -v ON_ERROR_STOP=1 -f file``; never under ``psql -1`` or
``BEGIN``, which ``CREATE INDEX CONCURRENTLY`` refuses.
"""

from __future__ import annotations

from collections.abc import Iterable

from advisor.indexes.ddl import drop_index_sql, suggestion_sql
from advisor.model import IndexSuggestion, Verification

__all__ = ["evidence_lines", "sql_migration"]

_APPLY = (
    "-- Apply with: psql -v ON_ERROR_STOP=1 -f <this file>  (not psql -1, not inside "
    "BEGIN:\n-- CREATE/DROP INDEX CONCURRENTLY cannot run in a transaction)."
)
_CHECK = (
    "-- A failed concurrent build leaves an INVALID index that IF NOT EXISTS then skips:\n"
    "-- afterwards check SELECT indexrelid::regclass FROM pg_index WHERE NOT indisvalid;"
)


def _comment(text: str) -> str:
    return " ".join(text.split())


def _verified(v: Verification) -> str:
    text = f"EXPLAIN ANALYZE {v.before_ms:.2f} ms -> {v.after_ms:.2f} ms ({v.verdict})"
    if v.before_buffers is not None and v.after_buffers is not None:
        text += f", buffers {v.before_buffers:,} -> {v.after_buffers:,}"
    return text


def _evidence(s: IndexSuggestion) -> list[str]:
    lines = [f"-- {s.name} on {s.table}"]
    if s.reason:
        lines.append(f"--   why: {_comment(s.reason)}")
    if s.query_keys:
        shapes = "shape" if len(s.query_keys) == 1 else "shapes"
        lines.append(f"--   serves {len(s.query_keys)} query {shapes}: {', '.join(s.query_keys)}")
    if s.verification is not None:
        lines.append(f"--   verified: {_comment(_verified(s.verification))}")
    return lines


def evidence_lines(suggestions: Iterable[IndexSuggestion]) -> list[str]:
    """The ``-- ...`` comment lines that say why each index is suggested."""
    return [line for s in suggestions for line in _evidence(s)]


def _wrap(body: list[str], lock_timeout: str) -> list[str]:
    return [
        f"SET lock_timeout = '{lock_timeout}';",
        "SET statement_timeout = 0;",
        *body,
        "RESET statement_timeout;",
        "RESET lock_timeout;",
    ]


def sql_migration(
    suggestions: Iterable[IndexSuggestion], *, lock_timeout: str = "2s"
) -> tuple[str, str]:
    """``(up, down)`` SQL texts creating and dropping ``suggestions``, evidence on top."""
    items = list(suggestions)
    if not items:
        empty = "-- advisor: no indexes to create.\n"
        return empty, empty
    evidence = evidence_lines(items)
    up = [
        f"-- advisor: create {len(items)} index{'es' if len(items) > 1 else ''}.",
        _APPLY,
        _CHECK,
        "--",
        *evidence,
        "",
        *_wrap([suggestion_sql(s, multiline=True) for s in items], lock_timeout),
    ]
    down = [
        f"-- advisor: rollback, drop the {len(items)} index{'es' if len(items) > 1 else ''} "
        "the matching up migration creates.",
        _APPLY,
        "--",
        *evidence,
        "",
        *_wrap([drop_index_sql(s.table, s.name) for s in reversed(items)], lock_timeout),
    ]
    return "\n".join(up) + "\n", "\n".join(down) + "\n"
