"""Trigram (``pg_trgm``) keys for pattern searches a btree cannot serve.

``title ILIKE '%soup%'`` reads every row unless a trigram index (``USING gin (title
gin_trgm_ops)``) narrows it: PostgreSQL splits the pattern's literal runs into three-letter
pieces and looks those up. Hence the limits stated to the user: the column must be text
(below), the extension must be installed, and a
pattern with fewer than 3 characters between wildcards (``'%ab%'``) has no trigram to look
up, so the index scan reads the whole index and the planner prefers a sequential scan.
The column must be ``text`` or ``varchar``: ``char(n)`` is refused by ``gin_trgm_ops``, and
on ``citext`` the index builds but is never used (measured on PostgreSQL 15, even with
``enable_seqscan = off``): ``LIKE``/``ILIKE`` on citext are citext's own operators, which
the operator class does not have.

The keys of one query on one table come out as one index: PostgreSQL 15 answers ``a ILIKE
$1 OR b ILIKE $1`` from a multi-column GIN index with a BitmapOr of one bitmap scan per
column, just as it does from one index per column (measured on 100k rows: both 0.44 ms
against a 133 ms sequential scan), and unlike a btree a GIN index has no leading column,
so the same index serves a search on any one of its columns. One index is one build, one
migration and one verdict, and was the smaller (25 MB against 30 MB for three).

A ``LIKE $1`` is judged by the values the application bound (the capture's samples): a
value that starts with ``%`` or ``_`` makes it a trigram search; anchored values
(``'abc%'``) leave it to a ``text_pattern_ops`` btree; with no captured value the pattern
is unknown and nothing is guessed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from advisor.model import Column, IndexColumn, Predicate, Table

__all__ = [
    "MIN_TRIGRAM_CHARS",
    "TRIGRAM_OPCLASS",
    "extension_sql",
    "extension_statements",
    "hypopg_supports",
    "is_trigram_opclass",
    "longest_run",
    "pattern_keys",
    "required_extensions",
]

TRIGRAM_OPCLASS = "gin_trgm_ops"
MIN_TRIGRAM_CHARS = 3
_EXTENSION_OF = {"gin_trgm_ops": "pg_trgm", "gist_trgm_ops": "pg_trgm"}
_TEXT_TYPES = ("text", "character varying", "varchar")
_WORD = re.compile(r"[a-z_][a-z0-9_]*")
_QUOTED = re.compile(r"'(?:[^']|'')*'")
_PATTERN_OPS = frozenset({"pattern", "pattern_param", "pattern_any"})


def is_trigram_opclass(opclass: str | None) -> bool:
    """True for ``gin_trgm_ops`` / ``gist_trgm_ops`` (schema-qualified or not)."""
    return opclass is not None and opclass.rpartition(".")[2] in _EXTENSION_OF


def required_extensions(columns: Sequence[IndexColumn]) -> tuple[str, ...]:
    """The extensions the keys' operator classes come from (``("pg_trgm",)``), in order."""
    out: list[str] = []
    for col in columns:
        name = _EXTENSION_OF.get((col.opclass or "").rpartition(".")[2])
        if name is not None and name not in out:
            out.append(name)
    return tuple(out)


def extension_sql(name: str) -> str:
    """``CREATE EXTENSION IF NOT EXISTS "name";``: its own statement, before the index."""
    return f"CREATE EXTENSION IF NOT EXISTS {name};"


def extension_statements(columns: Sequence[IndexColumn]) -> tuple[str, ...]:
    """The ``CREATE EXTENSION`` statements to run before building an index on ``columns``."""
    return tuple(map(extension_sql, required_extensions(columns)))


# HypoPG (1.4) refuses GIN and GiST ("access method "gin" is not supported").
_HYPOPG_METHODS = frozenset({"btree", "brin", "hash", "bloom"})


def hypopg_supports(method: str) -> bool:
    """True when HypoPG can create a hypothetical index of this access method."""
    return method in _HYPOPG_METHODS


def longest_run(pattern: str, escape: str = "\\") -> int:
    """The longest run of literal characters between wildcards of a LIKE pattern.

    >>> longest_run("%ab12%"), longest_run("_a%b"), longest_run("100\\%%")
    (4, 1, 4)
    """
    best = run = 0
    chars = iter(pattern)
    for ch in chars:
        if ch == escape:
            next(chars, None)
            run += 1
        elif ch in "%_":
            run = 0
        else:
            run += 1
        best = max(best, run)
    return best


def _columns_of(pred: Predicate, table: Table) -> list[Column]:
    """The table's columns ``pred`` reads (``ref::text`` reads ``ref``)."""
    if pred.column is not None:
        names = [pred.column]
    else:
        names = _WORD.findall(_QUOTED.sub("", (pred.expression or "").lower()))
    return [col for name in names if (col := table.column(name)) is not None]


def _unquote(constant: str) -> str:
    text = constant[1:-1] if constant.startswith("'") and constant.endswith("'") else constant
    return text.replace("''", "'")


def _sampled(pred: Predicate, samples: Sequence[Sequence[object]]) -> list[str]:
    if not pred.params:
        return []
    n = pred.params[0]
    return [str(s[n - 1]) for s in samples if len(s) >= n and isinstance(s[n - 1], str)]


def _judge(pred: Predicate, table: Table, samples: Sequence[Sequence[object]]) -> str | None:
    """Why ``pred`` gets no trigram key, or None when it gets one."""
    name = pred.column or pred.expression or "?"
    for col in _columns_of(pred, table):
        if col.type.lower().startswith("citext"):
            if pred.expression is not None:
                continue  # tag::text ILIKE ...: text's operators, which the index serves
            return (
                f"{col.name} is citext: its LIKE/ILIKE operators are citext's own, which a "
                f"gin_trgm_ops index never serves; search {col.name}::text ILIKE ... and "
                f"index ({col.name}::text) instead"
            )
        if not col.type.lower().startswith(_TEXT_TYPES):
            return f"{col.name} is {col.type}: a trigram index needs a text or varchar column"
    values = [_unquote(pred.constant)] if pred.constant is not None else _sampled(pred, samples)
    if pred.op == "pattern_param":
        number = f"${pred.params[0]}" if pred.params else "the parameter"
        if not values:
            return (
                f"{name} LIKE {number}: the pattern is unknown (no captured value of {number}; "
                "capture with --keep-params to judge it); no index suggested"
            )
        anchored = not any(v[:1] in ("%", "_") for v in values)
        if anchored and not pred.case_insensitive:
            return (
                f"{name} LIKE {number}: the captured patterns are anchored ('{values[0]}'); "
                'they need a text_pattern_ops (or COLLATE "C") btree, not suggested'
            )
    if values and max(longest_run(v) for v in values) < MIN_TRIGRAM_CHARS:
        return (
            f"{name}: the patterns ('{values[0]}') have fewer than {MIN_TRIGRAM_CHARS} "
            "characters between wildcards; a trigram index cannot narrow them"
        )
    return None


def _key(pred: Predicate) -> IndexColumn:
    if pred.column is not None and pred.expression is None:
        return IndexColumn(pred.column, opclass=TRIGRAM_OPCLASS)
    return IndexColumn(None, expression=pred.expression, opclass=TRIGRAM_OPCLASS)


def pattern_keys(
    table: Table, predicates: Sequence[Predicate], samples: Sequence[Sequence[object]] = ()
) -> tuple[IndexColumn, ...] | str | None:
    """The trigram keys that serve ``predicates`` on ``table``, the reason there are none
    (a string), or None when no predicate is a pattern search.

    ANDed pattern conditions each add their key (any one narrows the scan); an ``OR`` of
    them counts only when every branch gets a key (one branch without an index makes the
    whole ``OR`` a sequential scan).
    """
    keys: list[IndexColumn] = []
    reasons: list[str] = []
    for pred in predicates:
        if pred.op not in _PATTERN_OPS:
            continue
        branches = pred.alternatives if pred.op == "pattern_any" else (pred,)
        why = [r for b in branches if (r := _judge(b, table, samples)) is not None]
        if why:
            reasons.append(why[0])
            continue
        keys.extend(k for k in map(_key, branches) if k not in keys)
    if keys:
        return tuple(keys)
    return reasons[0] if reasons else None
