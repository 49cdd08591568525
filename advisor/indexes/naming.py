"""Index names and identifier quoting.

Names are deterministic (the same suggestion always gets the same name, so a re-run
of a migration is a no-op), readable (``ix_<table>_<columns>``) and fit PostgreSQL's
63-byte identifier limit: a longer name is cut and given a short hash of the whole
name, so two long names that share a prefix still differ.
"""

from __future__ import annotations

import hashlib
import re

from advisor.model import IndexColumn

__all__ = ["MAX_IDENTIFIER_BYTES", "index_name", "quote_ident", "quote_qualified", "sql_ident"]

MAX_IDENTIFIER_BYTES = 63
_HASH_CHARS = 8
_NON_WORD = re.compile(r"[^0-9a-z]+")
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


def quote_ident(name: str) -> str:
    """``name`` as a double-quoted SQL identifier (embedded quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def sql_ident(name: str) -> str:
    """``name`` bare when PostgreSQL reads it back unchanged, else double-quoted."""
    return name if _SIMPLE.fullmatch(name) and name not in _RESERVED else quote_ident(name)


def quote_qualified(qualified: str) -> str:
    """``"schema"."table"`` for ``schema.table`` (a bare name is quoted alone)."""
    schema, dot, name = qualified.partition(".")
    if not dot:
        return quote_ident(schema)
    return f"{quote_ident(schema)}.{quote_ident(name)}"


def _slug(text: str) -> str:
    return _NON_WORD.sub("_", text.lower()).strip("_")


def _fit(name: str) -> str:
    raw = name.encode("utf-8")
    if len(raw) <= MAX_IDENTIFIER_BYTES:
        return name
    digest = hashlib.sha1(raw).hexdigest()[:_HASH_CHARS]
    keep = MAX_IDENTIFIER_BYTES - _HASH_CHARS - 1
    head = raw[:keep].decode("utf-8", errors="ignore").rstrip("_")
    return f"{head}_{digest}"


def index_name(
    table: str,
    columns: tuple[IndexColumn, ...],
    *,
    where: str | None = None,
    method: str = "btree",
    prefix: str = "ix",
) -> str:
    """A deterministic, unquoted index name of at most 63 bytes.

    ``ix_<table>_<col>_<col>``; expression keys contribute their words
    (``lower(email)`` -> ``lower_email``); a partial index adds ``_where_<predicate>``
    and a non-btree method its name, so that differing suggestions never share a name
    (``IF NOT EXISTS`` would otherwise silently skip one of them).

    >>> index_name("public.events", (IndexColumn("user_id"), IndexColumn("created_at")))
    'ix_events_user_id_created_at'
    """
    bare = table.rpartition(".")[2]
    parts = [prefix, _slug(bare)]
    parts.extend(
        _slug(col.column if col.column is not None else col.expression or "expr") for col in columns
    )
    if method != "btree":
        parts.append(_slug(method))
    if where:
        parts.extend(["where", _slug(where)])
    return _fit("_".join(part for part in parts if part))
