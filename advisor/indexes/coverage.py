"""Does an existing index already serve a candidate?

A btree serves a candidate when the candidate's keys are a prefix of the index's keys:
the equality columns, in any order, lead the index; then the range column, or the
ORDER BY columns in the same directions (or all flipped: a btree scans backwards too).
Keys must use the default operator class and collation (``text_pattern_ops`` and a
``COLLATE "C"`` index do not serve an ordinary comparison or sort; the pattern classes
still answer equality). Columns the query pins with a constant (``status = 'new'``,
``deleted_at IS NULL``) may sit among the leading keys too. A partial index serves only
queries that imply its predicate, matched conjunct by conjunct on normalized text. A
UNIQUE index whose every key is an
equality column of the query already finds the one row. Hash, GIN and GiST indexes
never count for a btree candidate.

A trigram candidate (``method == "gin"``) is served by a valid GIN or GiST index that
has a ``gin_trgm_ops`` / ``gist_trgm_ops`` key for every one of its keys, in any position
(a multi-column GIN index has no leading column). A btree never serves one: no btree
answers an unanchored ``LIKE`` or an ``ILIKE``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from advisor.indexes.candidates import Candidate
from advisor.indexes.trigram import is_trigram_opclass
from advisor.model import Index, IndexColumn, IndexKey, Table

__all__ = [
    "covering_index",
    "index_leads_with",
    "key_id",
    "normalize_sql",
    "order_compatible",
    "predicate_conjuncts",
    "serving_order",
]

_QUOTED = re.compile(r"('(?:[^']|'')*')")
_CAST = re.compile(
    r"::\s*(?:character varying|timestamp(?: with(?:out)? time zone)?|"
    r"time(?: with(?:out)? time zone)?|double precision|bit varying|"
    r"[a-z_][a-z0-9_]*)(?:\s*\(\s*\d+(?:\s*,\s*\d+)?\s*\))?(?:\[\])*"
)
_PATTERN_OPCLASS = re.compile(r"_pattern_ops$")
_DEFAULT_COLLATIONS = {None, "", "default", "pg_catalog.default"}


def normalize_sql(text: str) -> str:
    """Comparable text of an expression or predicate.

    Lower case outside string literals, no identifier quotes, no casts, no
    parentheses, single spaces: ``(lower((email)::text))`` -> ``lower email``.
    """
    out: list[str] = []
    for i, part in enumerate(_QUOTED.split(text)):
        if i % 2:
            out.append(part)
            continue
        part = _CAST.sub("", part.lower().replace('"', ""))
        out.append(part.replace("(", " ").replace(")", " "))
    return " ".join("".join(out).split())


def predicate_conjuncts(text: str) -> frozenset[str]:
    """The normalized ``AND`` conjuncts of a predicate (an ``and`` inside a string
    literal does not split)."""
    parts: list[str] = [""]
    for i, piece in enumerate(_QUOTED.split(normalize_sql(text))):
        if i % 2:
            parts[-1] += piece
            continue
        first, *rest = piece.split(" and ")
        parts[-1] += first
        parts.extend(rest)
    return frozenset(_canonical(part.strip()) for part in parts if part.strip())


_BOOL_TEST = re.compile(r"^(?P<col>[a-z_][a-z0-9_]*) (?:= |is )(?P<value>true|false)$")


def _canonical(conjunct: str) -> str:
    # PostgreSQL prints ``WHERE is_public = true`` back as ``is_public``.
    found = _BOOL_TEST.match(conjunct)
    if found is None:
        return conjunct
    return found["col"] if found["value"] == "true" else f"not {found['col']}"


def key_id(column: str | None, expression: str | None) -> str:
    """Identity of a key: ``c:<column>`` or ``e:<normalized expression>``."""
    if column is not None:
        return f"c:{column}"
    return f"e:{normalize_sql(expression or '')}"


def _col_id(col: IndexColumn) -> str:
    return key_id(col.column, col.expression)


def _idx_id(key: IndexKey) -> str:
    return key_id(key.column, key.expression)


def _plain(key: IndexKey) -> bool:
    """Default operator class and collation: serves ranges and sorts."""
    return (key.opclass is None or not _PATTERN_OPCLASS.search(key.opclass)) and (
        key.collation in _DEFAULT_COLLATIONS
    )


def _serves_equality(key: IndexKey) -> bool:
    return key.collation in _DEFAULT_COLLATIONS


def _direction(key: IndexKey | IndexColumn) -> tuple[bool, bool]:
    # An unstated NULLS placement is PostgreSQL's default: LAST for ASC, FIRST for DESC.
    nulls_first = key.descending if key.nulls_first is None else key.nulls_first
    return key.descending, nulls_first


def order_compatible(
    have: Sequence[IndexKey | IndexColumn], want: Sequence[IndexKey | IndexColumn]
) -> bool:
    """True when btree keys ``have`` give the order of ``want``, key for key: every key
    the same direction and NULLS placement, or every key flipped (a btree is scanned
    backward too, and backward each key flips both). Mixed flips give an order the
    index never produces. The two sequences have the same length."""
    pairs = [(_direction(h), _direction(w)) for h, w in zip(have, want, strict=True)]
    same = all(h == w for h, w in pairs)
    flipped = all(h == (not w[0], not w[1]) for h, w in pairs)
    return same or flipped


def _predicate_ok(index: Index, candidate: Candidate) -> bool:
    if index.predicate is None:
        return True
    implied = frozenset(_canonical(normalize_sql(text)) for text in candidate.implied)
    return predicate_conjuncts(index.predicate) <= implied


def _unique_on_equality(index: Index, candidate: Candidate) -> bool:
    if not (index.unique or index.primary) or not index.keys:
        return False
    # NULLs never collide in a unique index: only ``=`` pins a key to one row.
    eq_ids = {_col_id(col) for col in candidate.equality}
    return all(_idx_id(k) in eq_ids and _serves_equality(k) for k in index.keys)


def _lead_lengths(index: Index, candidate: Candidate) -> Iterator[int]:
    """Lengths of index prefixes made of every equality key plus pinned columns only."""
    must = {_col_id(c) for c in candidate.equality}
    may = {key_id(col, None) for col in candidate.fixed} - must
    if not must:
        yield 0
    seen: set[str] = set()
    for n, key in enumerate(index.keys, start=1):
        kid = _idx_id(key)
        if kid not in must | may or kid in seen or not _serves_equality(key):
            return
        seen.add(kid)
        if must <= seen:
            yield n


def _prefix_serves(index: Index, candidate: Candidate) -> bool:
    tail = candidate.tail
    for n_lead in sorted(set(_lead_lengths(index, candidate))):
        rest = index.keys[n_lead : n_lead + len(tail)]
        if len(rest) < len(tail):
            continue
        if [_idx_id(k) for k in rest] != [_col_id(c) for c in tail]:
            continue
        if not all(_plain(k) for k in rest):
            continue
        if candidate.tail_kind != "order" or order_compatible(rest, tail):
            return True
    return False


def _trigram_serves(index: Index, candidate: Candidate) -> bool:
    if index.method not in ("gin", "gist"):
        return False
    have = {_idx_id(k) for k in index.keys if is_trigram_opclass(k.opclass)}
    return all(_col_id(col) in have for col in candidate.columns)


def covering_index(candidate: Candidate, table: Table) -> Index | None:
    """The first valid index of ``table`` that already serves ``candidate`` (a btree, or
    for a trigram candidate a trigram GIN / GiST index)."""
    if candidate.method != "btree":
        for index in table.indexes:
            if (
                index.valid
                and _predicate_ok(index, candidate)
                and _trigram_serves(index, candidate)
            ):
                return index
        return None
    for index in table.indexes:
        if not index.valid or index.method != "btree":
            continue
        if not _predicate_ok(index, candidate):
            continue
        if _unique_on_equality(index, candidate) or _prefix_serves(index, candidate):
            return index
    return None


def index_leads_with(index: Index, columns: tuple[str, ...]) -> bool:
    """True when ``index``'s first ``len(columns)`` keys are exactly ``columns`` (any
    order), as plain columns of a valid, non-partial btree with default collation."""
    if not index.valid or index.predicate is not None or index.method != "btree":
        return False
    lead = index.keys[: len(columns)]
    if len(lead) < len(columns) or any(k.expression is not None for k in lead):
        return False
    if any(k.collation not in (None, "", "default") for k in lead):
        return False
    return {k.column for k in lead} == set(columns) and len(set(columns)) == len(lead)


def serving_order(keys: Sequence[IndexColumn], candidate: Candidate) -> bool:
    """True when btree ``keys`` may lead an index that serves ``candidate``: its equality
    keys first, in any order, then its tail in order (an ORDER BY tail with a direction a
    btree gives, forward or backward). A shorter ``keys`` is a prefix of such an index.

    An equality key behind a range or sort key narrows nothing: ``(created_at, status)``
    reads the whole date range and checks ``status`` entry by entry, so it does not serve
    ``status = $1 AND created_at >= $2`` the way ``(status, created_at)`` does, however
    close the planner's estimates of the two are (they assume the columns independent).
    """
    equality = {_col_id(c) for c in candidate.equality}
    lead = [_col_id(k) for k in keys[: len(equality)]]
    if len(set(lead)) != len(lead) or not set(lead) <= equality:
        return False
    rest = keys[len(equality) :]
    tail = candidate.tail[: len(rest)]
    if len(tail) < len(rest) or [_col_id(k) for k in rest] != [_col_id(c) for c in tail]:
        return False
    return candidate.tail_kind != "order" or order_compatible(rest, tail)
