"""Index names.

Names are deterministic (the same suggestion always gets the same name, so a re-run
of a migration is a no-op), readable (``ix_<table>_<columns>``) and fit PostgreSQL's
63-byte identifier limit: a longer name is cut and given a short hash of the whole
name, so two long names that share a prefix still differ. Quoting is
:func:`advisor.sqltext.quote_ident`'s.
"""

from __future__ import annotations

import hashlib
import re

from advisor.indexes.trigram import is_trigram_opclass
from advisor.model import IndexColumn

__all__ = ["MAX_IDENTIFIER_BYTES", "index_name"]

MAX_IDENTIFIER_BYTES = 63
_HASH_CHARS = 8
_NON_WORD = re.compile(r"[^0-9a-z]+")


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
    if any(is_trigram_opclass(col.opclass) for col in columns):
        # ix_recipes_title_trgm: never the name of a btree on the same column.
        parts.extend([] if method == "gin" else [_slug(method)])
        parts.append("trgm")
    elif method != "btree":
        parts.append(_slug(method))
    if where:
        parts.extend(["where", _slug(where)])
    return _fit("_".join(part for part in parts if part))
