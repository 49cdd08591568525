"""SQL text helpers shared by every stage: identifiers and one-line excerpts.

Plain string functions that import nothing from advisor, so that parse, rules,
indexes, report and the sandbox can all use the one spelling of each.
"""

from __future__ import annotations

import re

__all__ = ["one_line", "quote_ident", "quote_qualified"]

_SIMPLE = re.compile(r"[a-z_][a-z0-9_$]*")
# PostgreSQL's reserved key words (appendix C): a column called one must be quoted.
_RESERVED_WORDS = """
    all analyse analyze and any array as asc asymmetric both case cast check collate
    column constraint create current_catalog current_date current_role current_time
    current_timestamp current_user default deferrable desc distinct do else end except
    false fetch for foreign from grant group having in initially intersect into lateral
    leading limit localtime localtimestamp not null offset on only or order placing
    primary references returning select session_user some symmetric system_user table
    then to trailing true union unique user using variadic when where window with
    authorization binary collation concurrently cross current_schema freeze full ilike
    inner is isnull join left like natural notnull outer overlaps right similar
    tablesample verbose
"""
_RESERVED = frozenset(_RESERVED_WORDS.split())


def quote_ident(name: str, *, minimal: bool = False) -> str:
    """``name`` as a double-quoted SQL identifier (embedded quotes doubled).

    ``minimal`` leaves ``name`` bare when PostgreSQL reads it back unchanged (lower
    case, not a reserved word): for text people read, such as a partial index's WHERE.
    """
    if minimal and _SIMPLE.fullmatch(name) and name not in _RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


def quote_qualified(qualified: str) -> str:
    """``"schema"."table"`` for ``schema.table`` (a bare name is quoted alone)."""
    schema, dot, name = qualified.partition(".")
    if not dot:
        return quote_ident(schema)
    return f"{quote_ident(schema)}.{quote_ident(name)}"


def one_line(text: str, limit: int | None = 120, *, ellipsis: str = "...") -> str:
    """``text`` on one line (runs of whitespace become one space), cut to at most
    ``limit`` characters with ``ellipsis`` at the end; ``limit=None`` never cuts.

    >>> one_line("SELECT id\\n  FROM users", 14)
    'SELECT id F...'
    """
    flat = " ".join(text.split())
    if limit is None or len(flat) <= limit:
        return flat
    return flat[: limit - len(ellipsis)] + ellipsis
