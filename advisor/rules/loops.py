"""Loops: one call site's query shape repeated inside one scope, over every scope.

What ADV001 (n-plus-one: differing parameters) and ADV007 (repeated-identical-query:
the same parameters) both start from: the workload's scope groups that repeat often
enough, aggregated per (shape key, call site).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from advisor.model import CallSite, OrmLoad, QueryShape, ScopeGroup, Workload

__all__ = ["Loop", "called_from", "find_loops", "loops_at", "shape_for"]


@dataclass(frozen=True, slots=True)
class Loop:
    """One call site's repeated shape, aggregated over every scope of one kind.

    ``callers``: the application frames above the call site (of its worst scope), nearest
    first: where a helper that runs the query was called from, the loop itself.
    """

    key: str
    call_site: CallSite | None
    origin: CallSite | None
    orm: OrmLoad | None
    scopes: int
    worst: int
    worst_scope: str
    worst_kind: str | None
    worst_ms: float | None
    executions: int
    total_ms: float | None
    distinct_params: int
    callers: tuple[CallSite, ...] = ()


def find_loops(
    workload: Workload, *, min_repeats: int, min_repeats_in_tests: int, identical: bool
) -> list[Loop]:
    """Aggregate the scope groups that repeat often enough, per (shape, line, scope kind).

    A group repeats when it ran ``min_repeats`` times in one request or process scope,
    ``min_repeats_in_tests`` in a test (never fewer than two), executemany calls aside.
    ``identical`` selects the groups whose executions all had the same parameters (ADV007);
    otherwise those with differing (or unknown) parameters (ADV001). Executemany calls,
    batched ORM loads and batched shapes never count.
    """
    # Per scope kind too: a loop in tests and the same line in requests are two findings
    # (test data is small; a request's counts say what production pays).
    buckets: dict[tuple[str, CallSite | None, str | None], list[ScopeGroup]] = {}
    for group in workload.groups:
        threshold = min_repeats_in_tests if group.scope_kind == "test" else min_repeats
        if not _repeats(group, threshold) or group.batched:
            continue
        if group.orm is not None and group.orm.kind == "batched":
            continue
        if (group.distinct_params == 1) != identical:
            continue
        buckets.setdefault((group.key, group.call_site, group.scope_kind), []).append(group)
    return [_aggregate(groups) for groups in buckets.values()]


def loops_at(
    workload: Workload,
    at: set[tuple[str | None, CallSite | None]],
    known: set[tuple[str, CallSite | None, str | None]],
) -> list[Loop]:
    """The lazy and deferred-column loads at ``at`` (scope kind, line) that repeated at all.

    A loop over 12 recipes lazy-loads 12 tag lists but only 4 authors (the identity map
    has the rest): below the loop threshold alone, they still belong to the loop's fix.
    ``known`` (shape key, line, scope kind) are the loops already found.
    """
    return [
        loop
        for loop in find_loops(workload, min_repeats=2, min_repeats_in_tests=2, identical=False)
        if (loop.key, loop.call_site, loop.worst_kind) not in known
        and (loop.worst_kind, loop.call_site) in at
        and loop.orm is not None
        and loop.orm.kind in ("lazy", "column")
    ]


def _repeats(group: ScopeGroup, threshold: int) -> bool:
    return group.count - group.executemany >= max(threshold, 2)


def _aggregate(groups: Sequence[ScopeGroup]) -> Loop:
    worst = max(groups, key=lambda g: (g.count, g.total_ms or 0.0))
    times = [g.total_ms for g in groups if g.total_ms is not None]
    return Loop(
        key=worst.key,
        call_site=worst.call_site,
        origin=next((g.origin for g in groups if g.origin is not None), None),
        orm=next((g.orm for g in groups if g.orm is not None), None),
        scopes=len({g.scope for g in groups}),
        worst=worst.count,
        worst_scope=worst.scope,
        worst_kind=worst.scope_kind,
        worst_ms=worst.total_ms,
        executions=sum(g.count for g in groups),
        total_ms=sum(times) if times else None,
        distinct_params=max(g.distinct_params for g in groups),
        callers=worst.callers,
    )


def called_from(callers: Sequence[CallSite]) -> str:
    """`` (called from app/services.py:31 in bulk_tag())``, or "" without callers."""
    if not callers:
        return ""
    return f" (called from {' <- '.join(str(c) for c in callers)})"


def shape_for(workload: Workload, key: str) -> QueryShape | None:
    """The shape a group's key names (``Workload.shapes`` is keyed by it)."""
    return workload.shapes.get(key)
