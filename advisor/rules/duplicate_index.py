"""An index that another index of the same table already provides (ADV005).

## What it does
Finds exact duplicates (same method, keys, directions, operator classes, collations,
INCLUDE columns and predicate) and prefix-redundant btree indexes: ``(a)`` is redundant
next to ``(a, b)`` when the keys match one for one and both are valid with the same
predicate. The fix is a ``DROP INDEX CONCURRENTLY IF EXISTS`` of the redundant one.

It is careful where other tools are not: ``(a, b)`` and ``(b, a)`` are different
indexes; indexes of different methods are never duplicates; partial and expression
indexes are compared only with equal predicates and expressions; a UNIQUE index is
never redundant to a longer non-unique one (uniqueness is behaviour, not speed); and an
index backing a primary-key, unique or exclusion constraint is never proposed for
dropping (when it strictly duplicates an unconstrained index, that other one is).

## Why is this bad?
Every index is written on every INSERT and on most UPDATEs, takes disk and cache, and
can stop HOT updates; a redundant index pays all of that and speeds up nothing the
other index does not.

## Example
```sql
CREATE INDEX ix_events_user_id ON events (user_id);
CREATE INDEX ix_events_user_id_created_at ON events (user_id, created_at);
```

## Use instead
```sql
CREATE INDEX ix_events_user_id_created_at ON events (user_id, created_at);
```

## Options
None.
"""

from __future__ import annotations

from collections.abc import Iterator

from advisor.model import Finding, Index, Severity, Table
from advisor.rules.base import Outcome, Rule, RuleContext
from advisor.suggest.coverage import key_id, predicate_conjuncts
from advisor.suggest.sql import drop_index_sql

__all__ = ["RULE", "check", "redundant_indexes"]

CODE = "ADV005"
NAME = "duplicate-index"

_KeySig = tuple[str, bool, bool, str | None, str | None]


def _key_sig(index: Index) -> tuple[_KeySig, ...]:
    return tuple(
        (
            key_id(k.column, k.expression),
            k.descending,
            k.nulls_first,
            k.opclass,
            k.collation,
        )
        for k in index.keys
    )


def _pred_sig(index: Index) -> frozenset[str] | None:
    return None if index.predicate is None else predicate_conjuncts(index.predicate)


def _comparable(a: Index, b: Index) -> bool:
    return a.valid and b.valid and a.method == b.method and _pred_sig(a) == _pred_sig(b)


def _exact(a: Index, b: Index) -> bool:
    return (
        _comparable(a, b) and _key_sig(a) == _key_sig(b) and sorted(a.include) == sorted(b.include)
    )


def _prefix_of(short: Index, long: Index) -> bool:
    """``short`` is made redundant by the strictly longer btree ``long``."""
    if short.method != "btree" or not _comparable(short, long) or short.unique:
        return False
    s, lg = _key_sig(short), _key_sig(long)
    if not (len(s) < len(lg) and lg[: len(s)] == s):
        return False
    return set(short.include) <= {k.column for k in long.keys} | set(long.include)


def _backs_constraint(index: Index) -> bool:
    return index.constraint is not None or index.primary


def _keeper_rank(index: Index) -> tuple[int, int, str]:
    # Keep constraint-backed, then unique, then the alphabetically first name.
    return (0 if _backs_constraint(index) else 1, 0 if index.unique else 1, index.name)


def redundant_indexes(table: Table) -> list[tuple[Index, Index, str]]:
    """``(redundant, kept, "duplicate" | "prefix")`` for ``table``, never dropping a
    constraint-backed index, a UNIQUE index that the kept one is not, or every copy."""
    out: list[tuple[Index, Index, str]] = []
    dropped: set[str] = set()
    indexes = sorted(table.indexes, key=_keeper_rank)
    for i, keep in enumerate(indexes):
        if keep.name in dropped:
            continue
        for other in indexes[i + 1 :]:
            if other.name in dropped or not _exact(keep, other):
                continue
            if _backs_constraint(other) or (other.unique and not keep.unique):
                continue
            out.append((other, keep, "duplicate"))
            dropped.add(other.name)
    for short in indexes:
        if short.name in dropped or _backs_constraint(short):
            continue
        for long in indexes:
            if long.name not in dropped and long is not short and _prefix_of(short, long):
                out.append((short, long, "prefix"))
                dropped.add(short.name)
                break
    return out


def _size(index: Index) -> str:
    return "" if index.size_bytes is None else f" ({index.size_bytes:,} bytes)"


def _finding(table: Table, redundant: Index, kept: Index, kind: str) -> Finding:
    why = (
        f"is an exact duplicate of {kept.name}"
        if kind == "duplicate"
        else f"is a prefix of {kept.name}, which serves every query it serves"
    )
    fix = drop_index_sql(table.qualified, redundant.name)
    return Finding(
        rule=CODE,
        name=NAME,
        severity=Severity.LOW,
        message=f"index {redundant.name} on {table.qualified}{_size(redundant)} {why}",
        sql=redundant.definition or None,
        fix=fix,
        evidence={
            "table": table.qualified,
            "index": redundant.name,
            "kept": kept.name,
            "kind": kind,
            "size_bytes": redundant.size_bytes,
            "definition": redundant.definition,
            "kept_definition": kept.definition,
        },
    )


def check(ctx: RuleContext) -> Iterator[Outcome]:
    """A finding per index that another index of its table makes redundant."""
    for table in ctx.schema.tables.values():
        for redundant, kept, kind in redundant_indexes(table):
            yield _finding(table, redundant, kept, kind)


RULE = Rule(
    code=CODE,
    name=NAME,
    severity=Severity.LOW,
    summary="An index that another index of the same table already provides",
    doc=__doc__ or "",
    check=check,
    options={},
)
