"""An index that another index of the same table already provides (ADV005).

## What it does
Finds exact duplicates (same method, keys, directions, operator classes, collations,
INCLUDE columns and predicate) and prefix-redundant btree indexes: ``(a)`` is redundant
next to ``(a, b)`` when the keys match one for one, or all reversed (a btree is read
backward too, so ``(a DESC)`` orders like ``(a, b)`` read backward; ``(a DESC NULLS
LAST)`` does not), and both are valid with the same predicate. The fix is a
``DROP INDEX CONCURRENTLY IF EXISTS`` of the redundant one; the index each finding
names as kept is never one another finding drops (in a chain ``(a)``, ``(a, b)``,
``(a, b, c)`` both name ``(a, b, c)``).

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

from advisor.indexes.coverage import key_id, order_compatible, predicate_conjuncts
from advisor.indexes.ddl import drop_index_sql
from advisor.model import Finding, Index, IndexKey, Severity, Table
from advisor.rules.base import Outcome, Rule, RuleContext

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


def _same_key(key: IndexKey) -> tuple[str, str | None, str | None]:
    """What must match, direction aside, for one key to stand for another."""
    return key_id(key.column, key.expression), key.opclass, key.collation


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
    if len(short.keys) >= len(long.keys):
        return False
    head = long.keys[: len(short.keys)]
    # (a DESC) = (a DESC NULLS FIRST) orders like (a, b) read backward; (a DESC NULLS
    # LAST) or mixed flips are orders (a, b) never gives.
    if [_same_key(k) for k in short.keys] != [_same_key(k) for k in head]:
        return False
    if not order_compatible(short.keys, head):
        return False
    return set(short.include) <= {k.column for k in long.keys} | set(long.include)


def _backs_constraint(index: Index) -> bool:
    return index.constraint is not None or index.primary


def _keeper_rank(index: Index) -> tuple[int, int, str]:
    # Keep constraint-backed, then unique, then the alphabetically first name.
    return (0 if _backs_constraint(index) else 1, 0 if index.unique else 1, index.name)


def _strength(index: Index) -> tuple[int, int, int, str]:
    # A strict total order (names are unique in a table): longer first, since only a
    # longer index can serve a prefix; among equal keys, the keeper rank.
    return (-len(index.keys), *_keeper_rank(index))


def _serves(keep: Index, drop: Index) -> str | None:
    """``"duplicate"`` or ``"prefix"`` when ``keep`` serves every query ``drop`` serves."""
    if _exact(keep, drop) and (keep.unique or not drop.unique):
        return "duplicate"
    return "prefix" if _prefix_of(drop, keep) else None


def redundant_indexes(table: Table) -> list[tuple[Index, Index, str]]:
    """``(redundant, kept, "duplicate" | "prefix")`` for ``table``, never dropping a
    constraint-backed index, a UNIQUE index that the kept one is not, or every copy.

    Every ``kept`` index is one that no tuple drops: an index is dropped when a stronger
    index (see ``_strength``) serves it, and as serving is transitive, following stronger
    servers from a dropped index always ends at a kept one that serves it too. Chains
    such as (a), (a, b), (a, b, c) thus both name (a, b, c), never the dropped (a, b).
    """
    ranked = sorted(table.indexes, key=_strength)
    dropped = {
        index.name
        for pos, index in enumerate(ranked)
        if not _backs_constraint(index) and any(_serves(k, index) for k in ranked[:pos])
    }
    kept = [index for index in ranked if index.name not in dropped]
    out: list[tuple[Index, Index, str]] = []
    for index in sorted(table.indexes, key=lambda i: i.name):
        if index.name not in dropped:
            continue
        served = [(kind, k) for k in kept if (kind := _serves(k, index)) is not None]
        if not served:  # cannot happen (serving is transitive); never drop without a keeper
            continue
        # An exact duplicate first (the constraint-backed, else unique, else first name),
        # else the longest covering index.
        kind, keep = min(served, key=lambda pair: (pair[0] != "duplicate", _strength(pair[1])))
        out.append((index, keep, kind))
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
