"""N+1 queries: one query per row of a result, from the same line, in a loop (ADV001).

## What it does
Finds a per-row query that one call site ran again and again inside one scope (a test, a
request), each time with different parameters: an ORM lazy load touched in a loop, a
``session.get()`` loop, or a raw SQL lookup per row. The finding names the line that
triggers the queries (the loop), the line that loaded the parent rows (where the fix goes),
how many queries one scope ran, the time they took, and the exact fix: an eager loader such
as ``selectinload(Order.items)``, one ``IN`` query instead of a ``get()`` loop, or
``WHERE fk = ANY($1)`` for raw SQL. Fifty tests that hit the same loop give one finding
(with the number of scopes and the worst count), not fifty.

With only ``pg_stat_statements`` (no scopes, no call sites) it reports a low-confidence
suspicion: a single-row lookup by primary or foreign key that ran very often.

Not N+1: queries already batched (``selectinload``, ``joinedload``, ``IN``/``ANY`` lists),
``executemany``, the same query with the *same* parameters (ADV007
repeated-identical-query), savepoints, cursor fetches, transaction control, keyset
pagination (``WHERE id > $1 ORDER BY id LIMIT 500`` in a batch loop), and INSERT loops.
The pg_stat_statements suspicion has severity medium and low confidence.

## Why is this bad?
Every query pays a network round trip, a parse/plan/execute and the ORM's row handling.
A page that shows 50 orders with their items runs 51 queries where 2 would do; latency
grows with the data, and it never shows on a developer's ten-row database.

## Example
```python
orders = session.scalars(select(Order).where(Order.user_id == user_id)).all()
for order in orders:
    total = sum(item.quantity for item in order.items)  # one SELECT per order
```

## Use instead
```python
orders = session.scalars(
    select(Order).where(Order.user_id == user_id).options(selectinload(Order.items))
).all()
for order in orders:
    total = sum(item.quantity for item in order.items)  # loaded with the orders
```

For many-to-one attributes use ``joinedload(Item.order)``; for nested paths chain them:
``selectinload(User.orders).selectinload(Order.items)``. For a ``session.get()`` loop:
``session.scalars(select(Product).where(Product.id.in_(ids)))``. In raw SQL, fetch every
child row at once: ``SELECT ... FROM order_items WHERE order_id = ANY($1)``.

## Options
- ``min_repeats`` (default 5): executions of the same shape from the same line within one
  request or process scope that count as a loop.
- ``min_repeats_in_tests`` (default 2): the same, inside a test (test data is small, so two
  queries already show the loop).
- ``pgss_min_calls`` (default 1000): ``pg_stat_statements`` calls above which a
  one-row-per-call primary/foreign-key lookup is reported as a suspected N+1.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from advisor.model import (
    CallSite,
    Finding,
    OrmLoad,
    ParsedQuery,
    Predicate,
    QueryShape,
    Schema,
    ScopeGroup,
    Severity,
    Table,
    Workload,
)
from advisor.rules.base import Outcome, Rule, RuleContext

__all__ = [
    "RULE",
    "Loop",
    "check",
    "class_name",
    "find_loops",
    "lazy_sites",
    "loader_fix",
    "outer_loads",
    "shape_for",
    "short_sql",
]

CODE = "ADV001"
NAME = "n-plus-one"
# Rows per call at or below which a pg_stat_statements shape looks like a per-row lookup.
_ROWS_PER_CALL = 1.5


@dataclass(frozen=True, slots=True)
class Loop:
    """One call site's repeated shape, aggregated over every scope it happened in."""

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


def check(ctx: RuleContext) -> Iterator[Outcome]:
    """Yield one finding per N+1 loop (call site + shape), then pg_stat_statements suspicions."""
    workload, schema = ctx.workload, ctx.schema
    reported: set[str] = set()
    sites = lazy_sites(workload)
    for loop in find_loops(workload, ctx.options, identical=False):
        shape = shape_for(workload, loop.key)
        if shape is None or not _is_per_row_select(shape.query):
            continue
        reported.add(loop.key)
        yield _loop_finding(loop, shape, schema, sites)
    min_calls = int(ctx.options.get("pgss_min_calls", 1000))
    for shape in workload.shapes.values():
        if shape.query.key in reported or not shape.from_pg_stat_statements:
            continue
        finding = _pgss_suspicion(shape, schema, min_calls)
        if finding is not None:
            yield finding


# --------------------------------------------------------------------------- loops


def find_loops(workload: Workload, options: Mapping[str, Any], *, identical: bool) -> list[Loop]:
    """Aggregate the scope groups that repeat often enough, per (call site, shape).

    ``identical`` selects the groups whose executions all had the same parameters (ADV007);
    otherwise those with differing (or unknown) parameters (ADV001). Executemany calls,
    batched ORM loads and batched shapes never count.
    """
    buckets: dict[tuple[str, CallSite | None], list[ScopeGroup]] = {}
    for group in workload.groups:
        if not _repeats(group, options) or group.key.endswith(":b"):
            continue
        if group.orm is not None and group.orm.kind == "batched":
            continue
        if (group.distinct_params == 1) != identical:
            continue
        buckets.setdefault((group.key, group.call_site), []).append(group)
    return [_aggregate(groups) for groups in buckets.values()]


def _repeats(group: ScopeGroup, options: Mapping[str, Any]) -> bool:
    if group.scope_kind == "test":
        threshold = int(options.get("min_repeats_in_tests", 2))
    else:
        threshold = int(options.get("min_repeats", 5))
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
    )


def shape_for(workload: Workload, key: str) -> QueryShape | None:
    """The shape a group's key names (``Workload.shapes`` is keyed by it)."""
    return workload.shapes.get(key)


def _is_per_row_select(query: ParsedQuery) -> bool:
    return (
        query.kind == "select"
        and not query.batched
        and not query.is_savepoint
        and not _is_keyset_page(query)
    )


def _is_keyset_page(query: ParsedQuery) -> bool:
    """``WHERE id > $1 ORDER BY id LIMIT 500`` in a loop walks a table in pages: a batch
    job doing the right thing, not a query per row."""
    many = query.limit is None or query.limit > 1
    ranged = any(p.op == "range" for p in query.predicates)
    return query.has_limit and many and bool(query.order_by) and ranged


# --------------------------------------------------------------------------- findings


def _loop_finding(loop: Loop, shape: QueryShape, schema: Schema, sites: _LazySites) -> Finding:
    query = shape.query
    outer: list[OrmLoad] = []
    origin = loop.origin
    if loop.orm is not None and loop.orm.kind == "lazy":
        outer, origin = outer_loads(loop.orm, loop.origin, sites)
    fix, what = _fix_for(loop.orm, query, schema, origin, outer)
    scope_word = loop.worst_kind or "scope"
    where = f", in {loop.scopes} scopes (worst: {loop.worst_scope})" if loop.scopes > 1 else ""
    timing = f", {loop.worst_ms:.1f} ms" if loop.worst_ms is not None else ""
    params = "with differing parameters" if loop.distinct_params > 1 else "per row"
    message = (
        f"N+1: {what} ran {loop.worst} times in one {scope_word}{timing}, {params}{where}: "
        f"{short_sql(query.sql)}"
    )
    evidence: dict[str, object] = {
        "count": loop.worst,
        "scopes": loop.scopes,
        "worst_scope": loop.worst_scope,
        "executions": loop.executions,
        "distinct_params": loop.distinct_params,
        "worst_ms": loop.worst_ms,
        "total_ms": loop.total_ms,
    }
    if loop.orm is not None and loop.orm.attribute:
        evidence["relationship"] = f"{loop.orm.parent}.{loop.orm.attribute}"
        hops = [hop for load in (*outer, loop.orm) for hop in _hops(load)]
        evidence["path"] = " -> ".join(f"{p}.{a}" for p, a, _ in hops)
    if origin != loop.origin:
        evidence["parents_loaded_at"] = str(loop.origin)
    return Finding(
        rule=CODE,
        name=NAME,
        severity=Severity.HIGH,
        message=message,
        location=loop.call_site or (shape.call_sites[0] if shape.call_sites else None),
        fingerprint=query.fingerprint,
        sql=query.sql,
        fix=fix,
        origin=origin,
        evidence=evidence,
        confidence="high" if loop.distinct_params > 1 or loop.orm is not None else "medium",
    )


def _pgss_suspicion(shape: QueryShape, schema: Schema, min_calls: int) -> Finding | None:
    query = shape.query
    if not _is_per_row_select(query) or shape.calls < min_calls or shape.rows is None:
        return None
    if shape.rows / shape.calls > _ROWS_PER_CALL or len(query.tables) != 1 or query.joins:
        return None
    table = schema.find(query.tables[0].table)
    if table is None or len(query.predicates) != 1:
        return None
    pred = query.predicates[0]
    if pred.op != "eq" or pred.column is None or pred.constant is not None:
        return None
    if not (_is_pk(table, pred.column) or _is_fk(table, pred.column)):
        return None
    fix, _ = _fix_for(None, query, schema, None)
    per_call = shape.total_ms / shape.calls if shape.total_ms is not None else None
    timing = f", {per_call:.2f} ms each" if per_call is not None else ""
    return Finding(
        rule=CODE,
        name=NAME,
        severity=Severity.MEDIUM,
        message=(
            f"suspected N+1 (pg_stat_statements only): a one-row lookup by "
            f"{table.name}.{pred.column} ran {shape.calls} times{timing}; capture the "
            f"application to find the loop: {short_sql(query.sql)}"
        ),
        location=shape.call_sites[0] if shape.call_sites else None,
        fingerprint=query.fingerprint,
        sql=query.sql,
        fix=fix,
        evidence={
            "calls": shape.calls,
            "rows": shape.rows,
            "total_ms": shape.total_ms,
            "rows_per_call": round(shape.rows / shape.calls, 3),
        },
        confidence="low",
    )


# --------------------------------------------------------------------------- fixes


def _fix_for(
    orm: OrmLoad | None,
    query: ParsedQuery,
    schema: Schema,
    origin: CallSite | None,
    outer: Sequence[OrmLoad] = (),
) -> tuple[str, str]:
    """The fix text and a short name for what repeated (``lazy load of Order.items``)."""
    at = f" to the query at {origin}" if origin is not None else " to the query that loads them"
    if orm is not None and orm.kind in ("lazy", "column") and orm.parent and orm.attribute:
        loader = loader_fix(orm, outer)
        kind = "lazy load" if orm.kind == "lazy" else "deferred column load"
        return f"add `{loader}`{at}", f"{kind} of {orm.parent}.{orm.attribute}"
    table, pred = _lookup(query, schema)
    if table is not None and pred is not None and pred.column is not None:
        column = pred.column
        if _is_pk(table, column):
            model = class_name(table.name)
            return (
                f"fetch the rows in one query: `select({model}).where({model}.{column}.in_(ids))`"
                f" (in SQL: `WHERE {column} = ANY($1)`) instead of one lookup per id",
                f"a one-row lookup of {table.name} by {column}",
            )
        return (
            f"fetch every row in one query: `WHERE {column} = ANY($1)` with all the "
            f"{column} values, then group them in Python",
            f"a lookup of {table.name} by {column}",
        )
    return (
        "fetch the rows in one query (`WHERE key = ANY($1)`), or load them together with "
        "the parent rows",
        "the same query",
    )


def loader_fix(orm: OrmLoad, outer: Sequence[OrmLoad] = ()) -> str:
    """The ``.options(...)`` that loads ``orm``'s attribute eagerly, chained along its path.

    ``outer`` are the lazy loads that produced ``orm``'s parents, outermost first: their
    hops come first in the chain (``selectinload(User.orders).selectinload(Order.items)``).
    """
    if orm.kind == "column":
        # A deferred-column load names every column it loaded: "description,image".
        parent = orm.parent or "Model"
        names = [a for a in (orm.attribute or "column").split(",") if a]
        return f".options({', '.join(f'undefer({parent}.{a})' for a in names)})"
    hops = [hop for load in (*outer, orm) for hop in _hops(load)]
    loaders = [
        f"{'joinedload' if direction == 'MANYTOONE' else 'selectinload'}({parent}.{attribute})"
        for parent, attribute, direction in hops
    ]
    return f".options({'.'.join(loaders)})"


def _hops(orm: OrmLoad) -> list[tuple[str, str, str | None]]:
    """(parent, attribute, direction) per hop; only the last hop's direction is known."""
    path = orm.path
    if len(path) >= 2 and len(path) % 2 == 0:
        pairs = [(path[i], path[i + 1]) for i in range(0, len(path), 2)]
    else:
        pairs = [(orm.parent or "Parent", orm.attribute or "children")]
    return [
        (p, a, orm.direction if i == len(pairs) - 1 else None) for i, (p, a) in enumerate(pairs)
    ]


_LazySites = Mapping[CallSite, tuple[OrmLoad, CallSite | None]]


def lazy_sites(workload: Workload) -> dict[CallSite, tuple[OrmLoad, CallSite | None]]:
    """Lines that ran a lazy load (in any scope): their load and its origin line."""
    sites: dict[CallSite, tuple[OrmLoad, CallSite | None]] = {}
    for group in workload.groups:
        if group.orm is not None and group.orm.kind == "lazy" and group.call_site is not None:
            sites.setdefault(group.call_site, (group.orm, group.origin))
    return sites


def outer_loads(
    orm: OrmLoad, origin: CallSite | None, sites: _LazySites
) -> tuple[list[OrmLoad], CallSite | None]:
    """Follow ``origin`` while it is itself a lazy load of ``orm``'s parent class.

    A nested loop (``for user ...: for order in user.orders: order.items``) records the
    inner load's origin at the outer lazy load; the fix belongs on the root query, as one
    chain. Returns the outer loads (outermost first) and the root query's line.
    """
    chain: list[OrmLoad] = []
    current, seen = orm, set()
    while origin is not None and origin in sites and origin not in seen and len(chain) < 4:
        seen.add(origin)
        outer, outer_origin = sites[origin]
        if None not in (outer.target, current.parent) and outer.target != current.parent:
            break
        chain.insert(0, outer)
        current, origin = outer, outer_origin
    return chain, origin


def _lookup(query: ParsedQuery, schema: Schema) -> tuple[Table | None, Predicate | None]:
    if len(query.tables) != 1:
        return None, None
    table = schema.find(query.tables[0].table)
    eqs = [p for p in query.predicates if p.op == "eq" and p.column and p.constant is None]
    return table, (eqs[0] if len(eqs) == 1 else None)


def _is_pk(table: Table, column: str) -> bool:
    return table.primary_key == (column,)


def _is_fk(table: Table, column: str) -> bool:
    return any(fk.columns == (column,) for fk in table.foreign_keys)


def class_name(table: str) -> str:
    """A mapped-class-ish name for a table: ``order_items`` -> ``OrderItem``."""
    words = table.split(".")[-1].strip('"').split("_")
    last = words[-1]
    if last.endswith("ies") and len(last) > 3:
        last = last[:-3] + "y"
    elif last.endswith(("sses", "xes", "ches", "shes")):
        last = last[:-2]
    elif last.endswith("s") and not last.endswith(("ss", "us", "is")):
        last = last[:-1]
    words[-1] = last
    return "".join(w[:1].upper() + w[1:] for w in words if w)


def short_sql(sql: str, limit: int = 120) -> str:
    """One line of SQL, cut at ``limit`` characters."""
    flat = " ".join(sql.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


RULE = Rule(
    code=CODE,
    name=NAME,
    severity=Severity.HIGH,
    summary="The same per-row query ran in a loop (ORM lazy load, get() loop, raw lookup).",
    doc=__doc__ or "",
    check=check,
    options={"min_repeats": 5, "min_repeats_in_tests": 2, "pgss_min_calls": 1000},
)
