"""The same query with the same parameters, run again and again from one line (ADV007).

## What it does
Finds a SELECT that one call site ran several times inside one scope (a test, a request)
with identical parameters each time: the answer cannot have changed in between, so every
execution after the first is wasted. It reports one finding per call site (and kind of
scope), listing every query shape that line repeated, with the number of scopes and the
worst count: a helper that dumps every table three times in one test is one finding.

Not flagged: queries with differing parameters (that is ADV001 n-plus-one), batched or
``executemany`` executions, savepoints and transaction control, writes, and queries that
read no table (``SELECT 1`` connection pings).

## Why is this bad?
Each execution is a round trip and a plan/execute for a result the code already had. It
often hides in helpers called inside a loop (``get_settings()``, ``current_tenant()``)
and multiplies with traffic.

## Example
```sql
SELECT id, email, name FROM users WHERE id = 42
SELECT id, email, name FROM users WHERE id = 42
SELECT id, email, name FROM users WHERE id = 42
SELECT id, email, name FROM users WHERE id = 42
SELECT id, email, name FROM users WHERE id = 42
```

## Use instead
```sql
SELECT id, email, name FROM users WHERE id = 42
```

Run it once before the loop and reuse the result, or cache it for the request
(``functools.lru_cache`` on a per-request object, or the ORM session's identity map:
``session.get(User, 42)`` does not query again for an object it already holds).

## Options
- ``min_repeats`` (default 5): identical executions from one line within one request or
  process scope that are worth a finding.
- ``min_repeats_in_tests`` (default 3): the same, inside a test or fixture.
- ``test_code`` (default false): also report lines in test code (fixtures, test bodies).
"""

from __future__ import annotations

from collections.abc import Iterator

from advisor.model import CallSite, Finding, QueryShape, Severity
from advisor.rules.base import Outcome, Rule, RuleContext
from advisor.rules.loops import Loop, called_from, find_loops, shape_for
from advisor.sqltext import one_line

__all__ = ["RULE", "check"]

CODE = "ADV007"
NAME = "repeated-identical-query"


def check(ctx: RuleContext) -> Iterator[Outcome]:
    """Yield one finding per (scope kind, call site) whose queries repeated identically.

    One line that reads many tables again and again (an export helper that dumps every
    table, three times in one test) is one finding that lists its shapes, not one per table.
    """
    loops = find_loops(
        ctx.workload,
        min_repeats=ctx.options["min_repeats"],
        min_repeats_in_tests=ctx.options["min_repeats_in_tests"],
        identical=True,
        test_code=ctx.options["test_code"],
    )
    sites: dict[tuple[str | None, CallSite | None, str], list[tuple[Loop, QueryShape]]] = {}
    for loop in loops:
        shape = shape_for(ctx.workload, loop.key)
        if shape is None:
            continue
        query = shape.query
        if query.kind != "select" or query.is_savepoint or not query.tables:
            continue
        # Without a call site, shapes cannot be told to share a line: one finding each.
        alone = "" if loop.call_site is not None else loop.key
        sites.setdefault((loop.worst_kind, loop.call_site, alone), []).append((loop, shape))
    for members in sites.values():
        yield _finding(sorted(members, key=lambda m: (-m[0].worst, m[0].key)))


def _finding(members: list[tuple[Loop, QueryShape]]) -> Finding:
    loop, shape = members[0]
    query = shape.query
    where = f" in {loop.scopes} scopes (worst: {loop.worst_scope})" if loop.scopes > 1 else ""
    times = [m[0].worst_ms for m in members if m[0].worst_ms is not None]
    timing = f", {sum(times):.1f} ms" if times else ""
    what = "the same query with the same parameters"
    if len(members) > 1:
        what = f"the same {len(members)} queries (each with the same parameters)"
    return Finding(
        rule=CODE,
        name=NAME,
        severity=Severity.LOW,
        message=(
            f"{what} ran {loop.worst} times in one {loop.worst_kind or 'scope'}{timing}{where}"
            f"{called_from(loop.callers)}: {one_line(query.sql)}"
        ),
        location=loop.call_site or (shape.call_sites[0] if shape.call_sites else None),
        fingerprint=query.fingerprint,
        sql=query.sql,
        fix=(
            "run it once and reuse the result: hoist it out of the loop, or cache it for "
            "the request (the ORM identity map answers `session.get()` without a query)"
        ),
        origin=loop.origin,
        evidence={
            "count": loop.worst,
            "scopes": loop.scopes,
            "worst_scope": loop.worst_scope,
            "executions": sum(m[0].executions for m in members),
            "worst_ms": sum(times) if times else None,
            "total_ms": _total(members),
            "queries": len(members),
            "tables": sorted({t.table for _, sh in members for t in sh.query.tables}),
        },
    )


def _total(members: list[tuple[Loop, QueryShape]]) -> float | None:
    known = [m[0].total_ms for m in members if m[0].total_ms is not None]
    return sum(known) if known else None


RULE = Rule(
    code=CODE,
    name=NAME,
    severity=Severity.LOW,
    summary="The same query with the same parameters ran repeatedly from one line.",
    doc=__doc__ or "",
    check=check,
    options={"min_repeats": 5, "min_repeats_in_tests": 3, "test_code": False},
)
