"""From per-finding suggestions to the set of indexes to create.

Today: merge identical suggestions (the union of the query shapes they serve) and drop
one whose keys are a prefix of another on the same table (the longer index serves both).
A workload-wide greedy choice (grow indexes one column at a time, keep the best cost
reduction per byte, stop below a gain threshold or at a storage budget) plugs in as
another :data:`Step` after these two; every step takes and returns a tuple of
suggestions and is pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

from advisor.indexes.coverage import order_compatible
from advisor.model import IndexColumn, IndexSuggestion

__all__ = ["DEFAULT_STEPS", "Step", "drop_prefixes", "merge_identical", "select"]

Step = Callable[[tuple[IndexSuggestion, ...]], tuple[IndexSuggestion, ...]]


def _identity(s: IndexSuggestion) -> tuple[object, ...]:
    return (s.table, s.method, s.columns, tuple(sorted(s.include)), s.where)


def _union(first: tuple[str, ...], more: Iterable[str]) -> tuple[str, ...]:
    out = list(first)
    out.extend(fp for fp in more if fp not in out)
    return tuple(out)


def _absorb(kept: IndexSuggestion, gone: IndexSuggestion) -> IndexSuggestion:
    reason = kept.reason
    if gone.reason and gone.reason not in reason:
        reason = f"{reason}; {gone.reason}" if reason else gone.reason
    return replace(kept, query_keys=_union(kept.query_keys, gone.query_keys), reason=reason)


def merge_identical(suggestions: tuple[IndexSuggestion, ...]) -> tuple[IndexSuggestion, ...]:
    """One suggestion per distinct index, in first-seen order, serving every shape."""
    merged: dict[tuple[object, ...], IndexSuggestion] = {}
    for s in suggestions:
        key = _identity(s)
        merged[key] = _absorb(merged[key], s) if key in merged else s
    return tuple(merged.values())


def _keys_prefix(short: tuple[IndexColumn, ...], long: tuple[IndexColumn, ...]) -> bool:
    if len(short) >= len(long):
        return False
    head = long[: len(short)]
    if [(c.column, c.expression) for c in short] != [(c.column, c.expression) for c in head]:
        return False
    return order_compatible(short, head)


def _served_by(short: IndexSuggestion, long: IndexSuggestion) -> bool:
    covered = {c.column for c in long.columns if c.column} | set(long.include)
    return (
        short.table == long.table
        and short.method == long.method == "btree"
        and short.where == long.where
        and set(short.include) <= covered
        and _keys_prefix(short.columns, long.columns)
    )


def drop_prefixes(suggestions: tuple[IndexSuggestion, ...]) -> tuple[IndexSuggestion, ...]:
    """Drop a suggestion whose keys lead a longer one on the same table; the longer one
    takes over its query shapes."""
    kept = list(suggestions)
    changed = True
    while changed:
        changed = False
        for short in kept:
            longer = next((s for s in kept if s is not short and _served_by(short, s)), None)
            if longer is not None:
                kept[kept.index(longer)] = _absorb(longer, short)
                kept.remove(short)
                changed = True
                break
    return tuple(kept)


DEFAULT_STEPS: tuple[Step, ...] = (merge_identical, drop_prefixes)


def select(
    suggestions: Iterable[IndexSuggestion], steps: tuple[Step, ...] = DEFAULT_STEPS
) -> tuple[IndexSuggestion, ...]:
    """Run ``steps`` over ``suggestions`` in order."""
    current = tuple(suggestions)
    for step in steps:
        current = step(current)
    return current
