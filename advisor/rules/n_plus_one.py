"""N+1 queries: one query per row of a result, from the same line, in a loop (ADV001).

## What it does
Finds a per-row query that one call site ran again and again inside one scope (a test, a
request), each time with different parameters: an ORM lazy load touched in a loop, a
``session.get()`` loop, or a raw SQL lookup per row. The finding names the line that
triggers the queries (the loop), the line that loaded the parent rows (where the fix goes),
how many queries one scope ran, the time they took, and the exact fix: an eager loader such
as ``selectinload(Order.items)``, one ``IN`` query instead of a ``get()`` loop, or
``WHERE fk = ANY($1)`` for raw SQL. Fifty tests that hit the same loop give one finding
(with the number of scopes and the worst count), not fifty. Every ORM load one line ran in
one kind of scope is one finding, with each attribute's count and time and one combined
fix on the query that returned the rows (through lazy loads of lazy loads, a repository
helper, the identity map); the frames that called a helper name the loop. When pydantic,
FastAPI or ``dataclasses`` read the attributes, the fix also offers trimming the response
model or ``raiseload``.

With only ``pg_stat_statements`` (no scopes, no call sites) it reports a low-confidence
suspicion: a single-row lookup by primary or foreign key that ran very often.

Not N+1: queries already batched (``selectinload``, ``joinedload``, ``IN``/``ANY`` lists),
``executemany``, the same query with the *same* parameters (ADV007
repeated-identical-query), savepoints, cursor fetches, transaction control, keyset
pagination (``WHERE id > $1 ORDER BY id LIMIT 500`` in a batch loop), INSERT loops,
``Session.refresh()``, loops in test code (fixtures, a test body's repeats; see
``test_code``), and reloads after ``commit()`` inside tests and fixtures. Elsewhere those
reloads are their own low-severity finding (``expire_on_commit=False``, never ``undefer``).
In a test or fixture scope, a loop of at most three, a loop in test code and a test body's
repeated calls are low severity at most. The pg_stat_statements suspicion has severity medium and
low confidence.

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
- ``min_repeats_in_tests`` (default 2): the same, inside a test or fixture (test data is
  small, so two queries already show the loop).
- ``test_code`` (default false): also report loops whose line is in test code (a
  fixture's setup loop, a test body calling the same thing again) and a test body that
  calls the same app code from several of its lines (the callers differ only at the
  test's lines): they are the test's own doing, reported apart from the application's
  loops, at low severity, when enabled.
- ``pgss_min_calls`` (default 1000): ``pg_stat_statements`` calls above which a
  one-row-per-call primary/foreign-key lookup is reported as a suspected N+1.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

from advisor.model import (
    CallSite,
    Finding,
    Hop,
    OrmLoad,
    ParsedQuery,
    Predicate,
    QueryShape,
    Schema,
    Severity,
    Table,
    Workload,
)
from advisor.rules.base import Outcome, Rule, RuleContext
from advisor.rules.loops import (
    TEST_SCOPES,
    Loop,
    called_from,
    find_loops,
    loops_at,
    low_in_tests,
    shape_for,
    test_body_text,
)
from advisor.rules.orm_fixes import (
    LazySites,
    class_name,
    eager_fix,
    expired_fix,
    full_path,
    lazy_sites,
    loader_fix,
    outer_loads,
    relationship_hops,
)
from advisor.sqltext import one_line

__all__ = ["RULE", "check"]

CODE = "ADV001"
NAME = "n-plus-one"
# Rows per call at or below which a pg_stat_statements shape looks like a per-row lookup.
_ROWS_PER_CALL = 1.5


def check(ctx: RuleContext) -> Iterator[Outcome]:
    """Yield one finding per N+1 loop, then pg_stat_statements suspicions.

    ORM loads from one line in one kind of scope are one loop: one finding lists every
    attribute it loaded, with one combined fix. Explicit ``Session.refresh()`` calls are
    never a loop; reloads after ``commit()`` are their own low-severity finding, outside
    tests only.
    """
    workload, schema = ctx.workload, ctx.schema
    reported: set[str] = set()
    sites = lazy_sites(workload)
    loops = find_loops(
        workload,
        min_repeats=ctx.options["min_repeats"],
        min_repeats_in_tests=ctx.options["min_repeats_in_tests"],
        identical=False,
        test_code=ctx.options["test_code"],
    )
    orm_loops: dict[_OrmKey, list[tuple[Loop, QueryShape]]] = {}
    for loop in loops:
        shape = shape_for(workload, loop.key)
        if shape is None or not _is_per_row_select(shape.query):
            continue
        kind = loop.orm.kind if loop.orm is not None else None
        body = bool(loop.test_lines)
        reported.add(loop.key)
        if kind == "refresh" or (kind == "expired" and loop.worst_kind in TEST_SCOPES):
            continue  # asked for by the code, or a test's commit-then-assert: not a loop
        if kind in ("lazy", "column", "expired") and loop.call_site is not None:
            key: _OrmKey = (loop.worst_kind, loop.call_site, kind == "expired", body)
            orm_loops.setdefault(key, []).append((loop, shape))
        else:
            yield _loop_finding(loop, shape, schema, sites)
    for key, extra in _companions(workload, orm_loops).items():
        orm_loops[key].extend(extra)
    for members in orm_loops.values():
        yield _orm_finding(members, sites)
    min_calls = ctx.options["pgss_min_calls"]
    for shape in workload.shapes.values():
        if shape.query.key in reported or not shape.from_pg_stat_statements:
            continue
        finding = _pgss_suspicion(shape, schema, min_calls)
        if finding is not None:
            yield finding


# (scope kind, line, reload after commit, a test body's repeats)
_OrmKey = tuple[str | None, CallSite | None, bool, bool]


def _companions(
    workload: Workload, orm_loops: dict[_OrmKey, list[tuple[Loop, QueryShape]]]
) -> dict[_OrmKey, list[tuple[Loop, QueryShape]]]:
    """Each ORM loop's lazy loads too rare to be a loop alone (see :func:`loops_at`)."""
    found: dict[_OrmKey, list[tuple[Loop, QueryShape]]] = {}
    known = {
        (loop.key, loop.call_site, loop.worst_kind)
        for members in orm_loops.values()
        for loop, _ in members
    }
    at = {(kind, site) for kind, site, expired, body in orm_loops if not (expired or body)}
    for loop in loops_at(workload, at, known):
        shape = shape_for(workload, loop.key)
        if shape is not None:
            key = (loop.worst_kind, loop.call_site, False, False)
            found.setdefault(key, []).append((loop, shape))
    return found


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


def _loop_finding(loop: Loop, shape: QueryShape, schema: Schema, sites: LazySites) -> Finding:
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
        f"N+1: {what} ran {loop.worst} times in one {scope_word}{timing}, {params}{where}"
        f"{called_from(loop.callers)}{test_body_text(loop)}: {one_line(query.sql)}"
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
        hops = [hop for load in (*outer, loop.orm) for hop in relationship_hops(load)]
        evidence["path"] = " -> ".join(f"{p}.{a}" for p, a, _ in hops)
    if origin != loop.origin:
        evidence["parents_loaded_at"] = str(loop.origin)
    if loop.callers:
        evidence["called_from"] = [str(c) for c in loop.callers]
    if loop.test_lines:
        evidence["test_body_lines"] = [str(c) for c in loop.test_lines]
    return Finding(
        rule=CODE,
        name=NAME,
        severity=Severity.LOW if low_in_tests(loop) else Severity.HIGH,
        message=message,
        location=loop.call_site or (shape.call_sites[0] if shape.call_sites else None),
        fingerprint=query.fingerprint,
        sql=query.sql,
        fix=fix,
        origin=origin,
        evidence=evidence,
        confidence="high" if loop.distinct_params > 1 or loop.orm is not None else "medium",
    )


def _orm_finding(members: Sequence[tuple[Loop, QueryShape]], sites: LazySites) -> Finding:
    """One finding for every ORM load one line ran in one kind of scope."""
    members = sorted(members, key=lambda m: (-m[0].worst, m[0].key))
    first, shape = members[0]
    orms = [loop.orm for loop, _ in members if loop.orm is not None]
    expired = orms[0].kind == "expired"
    roots: dict[CallSite | None, list[OrmLoad]] = {}
    paths: dict[OrmLoad, tuple[Hop, ...]] = {}
    for loop, _ in members:
        orm = loop.orm
        assert orm is not None  # grouped by its kind
        root, outer = _root_of(loop, orm, sites)
        paths[orm] = full_path(orm, outer)
        roots.setdefault(root, []).append(orm)
    loads = [
        {
            "attribute": f"{loop.orm.parent}.{loop.orm.attribute}" if loop.orm else None,
            "kind": loop.orm.kind if loop.orm else None,
            "count": loop.worst,
            "ms": loop.worst_ms,
        }
        for loop, _ in members
    ]
    worst = max(loop.worst for loop, _ in members)
    scope_word = first.worst_kind or "scope"
    serializer = next((o.serializer for o in orms if o.serializer), None)
    by = f" while {serializer} serialized the objects" if serializer else ""
    head = "reload after commit" if expired else "N+1"
    if len(members) == 1:
        timing = f", {first.worst_ms:.1f} ms" if first.worst_ms is not None else ""
        params = "with differing parameters" if first.distinct_params > 1 else "per row"
        message = (
            f"{head}: {_single(orms[0])} of {loads[0]['attribute']} ran {first.worst} times "
            f"in one {scope_word}{timing}{by}, {params}{_scopes(members)}"
            f"{called_from(first.callers)}{test_body_text(first)}: {one_line(shape.query.sql)}"
        )
    else:
        what = ", ".join(_load_text(item) for item in loads)
        message = (
            f"{head}: one loop loaded {len(members)} attributes one object at a time in one "
            f"{scope_word}{by}: {what}{_scopes(members)}{called_from(first.callers)}"
            f"{test_body_text(first)}; "
            f"first: {one_line(shape.query.sql)}"
        )
    origin = next(iter(roots))
    if any(o.origin_earlier for o in orms):
        # The identity map (or a cache) kept the parents from another scope's query.
        message += "; the parent objects were loaded in an earlier scope" + (
            f" (at {origin})" if origin is not None else ""
        )
    low = expired or low_in_tests(first)  # first: the member with the worst count
    evidence: dict[str, object] = {
        "count": worst,
        "scopes": max(loop.scopes for loop, _ in members),
        "worst_scope": first.worst_scope,
        "executions": sum(loop.executions for loop, _ in members),
        "distinct_params": max(loop.distinct_params for loop, _ in members),
        "worst_ms": _sum(loop.worst_ms for loop, _ in members),
        "total_ms": _sum(loop.total_ms for loop, _ in members),
        "loads": loads,
    }
    if orms[0].attribute:
        evidence["relationship"] = f"{orms[0].parent}.{orms[0].attribute}"
        evidence["path"] = " -> ".join(f"{h.parent}.{h.attribute}" for h in paths[orms[0]])
    if serializer:
        evidence["serializer"] = serializer
    if any(o.origin_earlier for o in orms):
        evidence["origin_scope"] = "earlier"
    if first.callers:
        evidence["called_from"] = [str(c) for c in first.callers]
    if first.test_lines:
        evidence["test_body_lines"] = [str(c) for c in first.test_lines]
    if origin != first.origin and first.origin is not None:
        evidence["parents_loaded_at"] = str(first.origin)
    return Finding(
        rule=CODE,
        name=NAME,
        severity=Severity.LOW if low else Severity.HIGH,
        message=message,
        location=first.call_site,
        fingerprint=shape.query.fingerprint,
        sql=shape.query.sql,
        fix=expired_fix(orms) if expired else eager_fix(roots, paths, serializer),
        origin=origin,
        evidence=evidence,
        confidence="high",
    )


def _root_of(loop: Loop, orm: OrmLoad, sites: LazySites) -> tuple[CallSite | None, list[OrmLoad]]:
    """The line of the query the rows came from, and the outer loads when not recorded."""
    if orm.kind != "lazy":
        return loop.origin, []
    if orm.root is not None:
        return orm.root, []
    outer, origin = outer_loads(orm, loop.origin, sites)
    return origin, outer


def _single(orm: OrmLoad) -> str:
    return {"lazy": "lazy load", "column": "deferred column load"}.get(orm.kind, "reload")


def _load_text(item: Mapping[str, object]) -> str:
    ms = item["ms"]
    timing = f", {ms:.1f} ms" if isinstance(ms, float) else ""
    return f"{item['attribute']} ({item['count']} times{timing})"


def _scopes(members: Sequence[tuple[Loop, QueryShape]]) -> str:
    loop = max((m[0] for m in members), key=lambda lp: lp.scopes)
    return f", in {loop.scopes} scopes (worst: {loop.worst_scope})" if loop.scopes > 1 else ""


def _sum(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


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
            f"application to find the loop: {one_line(query.sql)}"
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


RULE = Rule(
    code=CODE,
    name=NAME,
    severity=Severity.HIGH,
    summary="The same per-row query ran in a loop (ORM lazy load, get() loop, raw lookup).",
    doc=__doc__ or "",
    check=check,
    options={
        "min_repeats": 5,
        "min_repeats_in_tests": 2,
        "pgss_min_calls": 1000,
        "test_code": False,
    },
)
