"""Loops: one call site's query shape repeated inside one scope, over every scope.

What ADV001 (n-plus-one: differing parameters) and ADV007 (repeated-identical-query:
the same parameters) both start from: the workload's scope groups that repeat often
enough, aggregated per (shape key, call site).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from advisor.model import CallSite, OrmLoad, QueryShape, ScopeGroup, Workload

__all__ = [
    "TEST_SCOPES",
    "Loop",
    "called_from",
    "find_loops",
    "from_test_body",
    "in_test_code",
    "loops_at",
    "low_in_tests",
    "shape_for",
    "test_body_text",
]

# Scope kinds of a test run: data is tiny there, and the test decides what repeats.
TEST_SCOPES = ("test", "fixture")
# A loop this short in a test shows on tiny test data: low severity at most.
_FEW_IN_TESTS = 3


@dataclass(frozen=True, slots=True)
class Loop:
    """One call site's repeated shape, aggregated over every scope of one kind.

    ``callers``: the application frames above the call site (of its worst scope), nearest
    first: where a helper that runs the query was called from, the loop itself.
    ``test_lines``: set when the repeats came from a test body calling the application
    from several of its lines (one execution each): those lines, and no loop in the app.
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
    test_lines: tuple[CallSite, ...] = ()


def find_loops(
    workload: Workload,
    *,
    min_repeats: int,
    min_repeats_in_tests: int,
    identical: bool,
    test_code: bool = False,
) -> list[Loop]:
    """Aggregate the scope groups that repeat often enough, per (shape, line, scope kind).

    A group repeats when it ran ``min_repeats`` times in one request or process scope,
    ``min_repeats_in_tests`` in a test or fixture (never fewer than two), executemany
    calls aside.
    ``identical`` selects the groups whose executions all had the same parameters (ADV007);
    otherwise those with differing (or unknown) parameters (ADV001). Executemany calls,
    batched ORM loads and batched shapes never count, nor lines in test code (fixture
    loops, a test body's own repeats, see :func:`from_test_body`) unless ``test_code``.
    """
    # Per scope kind too: a loop in tests and the same line in requests are two findings
    # (test data is small; a request's counts say what production pays); a test body's
    # repeats are apart from a loop at the same line.
    buckets: dict[tuple[str, CallSite | None, str | None, bool], list[ScopeGroup]] = {}
    for group in workload.groups:
        threshold = min_repeats_in_tests if group.scope_kind in TEST_SCOPES else min_repeats
        if not _repeats(group, threshold) or group.batched:
            continue
        if group.orm is not None and group.orm.kind == "batched":
            continue
        body = bool(from_test_body(group))
        if not test_code and (body or in_test_code(group.call_site)):
            continue
        if (group.distinct_params == 1) != identical:
            continue
        bucket = (group.key, group.call_site, group.scope_kind, body)
        buckets.setdefault(bucket, []).append(group)
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
        test_lines=from_test_body(worst),
    )


def from_test_body(group: ScopeGroup) -> tuple[CallSite, ...]:
    """The test-code lines a test's repeats came from, one execution each, or ().

    A test that calls the same search from three of its lines runs the same statement
    from the same app line three times, with the same app frames below the test: the loop
    site is the test body. A loop inside the app repeats its callers (``chains`` is then
    empty), so an app function with an N+1 called once from a test is never taken for it.
    """
    if group.scope_kind not in TEST_SCOPES or len(group.chains) < 2:
        return ()
    lines: list[CallSite] = []
    below: tuple[CallSite, ...] | None = None
    for chain in group.chains:
        at = next((i for i, site in enumerate(chain) if in_test_code(site)), None)
        if at is None or (below is not None and chain[:at] != below):
            return ()
        below = chain[:at]
        lines.append(chain[at])
    return tuple(lines) if len(set(lines)) == len(lines) else ()


def low_in_tests(loop: Loop) -> bool:
    """A loop in a test or fixture scope that is low severity at most: at most three
    repeats (tiny test data), a line in test code, or a test body's own repeated calls."""
    if loop.worst_kind not in TEST_SCOPES:
        return False
    return loop.worst <= _FEW_IN_TESTS or bool(loop.test_lines) or in_test_code(loop.call_site)


def test_body_text(loop: Loop) -> str:
    """``; repeated from the test body at tests/test_a.py:12, 14``, or "" for an app loop."""
    if not loop.test_lines:
        return ""
    first = loop.test_lines[0]
    if all(site.path == first.path for site in loop.test_lines):
        at = f"{first.path}:" + ", ".join(str(site.line) for site in loop.test_lines)
    else:
        at = ", ".join(f"{site.path}:{site.line}" for site in loop.test_lines)
    return f"; repeated from the test body at {at} (the test's own calls, not a loop in the app)"


def in_test_code(site: CallSite | None) -> bool:
    """The line is in a test file or a fixture (``tests/``, ``test_*.py``, ``conftest.py``):
    a loop there sets up data or repeats a call on purpose, not the application's loop."""
    if site is None:
        return False
    parts = site.path.replace("\\", "/").split("/")
    name = parts[-1]
    return (
        any(part in ("tests", "test") for part in parts[:-1])
        or name.startswith("test_")
        or name.endswith("_test.py")
        or name == "conftest.py"
    )


def called_from(callers: Sequence[CallSite]) -> str:
    """`` (called from app/services.py:31 in bulk_tag())``, or "" without callers."""
    if not callers:
        return ""
    return f" (called from {' <- '.join(str(c) for c in callers)})"


def shape_for(workload: Workload, key: str) -> QueryShape | None:
    """The shape a group's key names (``Workload.shapes`` is keyed by it)."""
    return workload.shapes.get(key)
