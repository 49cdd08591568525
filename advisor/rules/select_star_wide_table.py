"""Every column of a wide table fetched, when the code needs a few (ADV002).

## What it does
Finds queries that fetch every column of a wide table: ``SELECT *`` or ``t.*``, and the
ORM's version of it, a column list that names every column of the table (the ORM never
writes ``*``). A table is wide when it has many columns, when its rows are large on
average (``pg_stats.avg_width``), or when it has a large TOAST-able column (text, jsonb,
json, bytea, xml, arrays) and the query returns a list of rows. The fix names the
columns: an explicit column list in SQL, ``load_only()`` / ``defer()`` /
``deferred=True`` with the ORM.

Not flagged: ``COUNT(*)``, ``EXISTS (SELECT * ...)``, ``*`` over a narrow table or over a
narrow CTE or subquery, a ``*`` inside a subquery or CTE whose columns the outer query
lists (``SELECT id FROM (SELECT * FROM products) s``: PostgreSQL computes only ``id``),
``INSERT ... SELECT *`` (copying whole rows between tables is what it is for), and
single-row lookups (primary or unique key equality, ``LIMIT 1``): a detail page usually
needs the whole row, so these get a note, not a finding. A ``*`` in a materialized CTE
(``AS MATERIALIZED``, or referenced twice) or under DISTINCT/UNION is flagged: there
PostgreSQL computes every column.

When the schema has no statistics (read from DDL), widths are unknown: the rule judges by
column count and by column types, and says so.

## Why is this bad?
Every extra column costs I/O, memory, network and ORM hydration time, on every row.
Large values live out of line in TOAST: fetching them means extra page reads and
decompression, often the bulk of the query's time, for data the page never shows. A
``SELECT *`` also breaks index-only scans and changes meaning when a column is added.

## Example
```sql
SELECT * FROM products WHERE category = $1 ORDER BY created_at DESC
```

## Use instead
```sql
SELECT id, sku, name, price_cents FROM products WHERE category = $1 ORDER BY created_at DESC
```

With the ORM: ``select(Product).options(load_only(Product.id, Product.name))``, or
``.options(defer(Product.description), defer(Product.image))``, or
``description: Mapped[str] = mapped_column(deferred=True)`` in the mapping.

## Options
- ``min_columns`` (default 15): a table with at least this many columns is wide.
- ``min_row_width_bytes`` (default 500): a table whose columns' ``avg_width`` add up to at
  least this many bytes is wide (only when statistics are known).
- ``large_column_bytes`` (default 1000): a TOAST-able column this large on average makes
  any list query that fetches it worth a finding.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from advisor.model import Column, Finding, Note, ParsedQuery, QueryShape, Severity, Table
from advisor.rules.base import Outcome, Rule, RuleContext
from advisor.rules.orm_fixes import class_name, serialized_at
from advisor.sqltext import one_line

__all__ = ["RULE", "check", "is_single_row", "is_toastable"]

CODE = "ADV002"
NAME = "select-star-wide-table"
_TOASTABLE = re.compile(r"^(text|character varying|varchar|jsonb?|bytea|xml|tsvector)\b")
# Without statistics, these types are the ones whose values are usually large.
_BULK = re.compile(r"^(jsonb?|bytea|xml|tsvector)\b")


def is_toastable(type_name: str) -> bool:
    """True for types whose values may be stored out of line (TOAST), arrays included."""
    lowered = type_name.lower().strip()
    return lowered.endswith("[]") or bool(_TOASTABLE.match(lowered))


def _is_bulk(type_name: str) -> bool:
    lowered = type_name.lower().strip()
    return lowered.endswith("[]") or bool(_BULK.match(lowered))


@dataclass(frozen=True, slots=True)
class _Width:
    """Why a table counts as wide for one query (empty ``reasons``: it does not)."""

    reasons: tuple[str, ...]
    heavy: tuple[Column, ...]
    row_width: int | None
    widths_known: bool
    strong: bool


def check(ctx: RuleContext) -> Iterator[Outcome]:
    """Yield a finding per (query shape, wide table fetched whole), notes for near misses."""
    serialized = serialized_at(ctx.workload)
    for shape in ctx.workload.shapes.values():
        query = shape.query
        if query.kind != "select":
            continue
        serializer = next((serialized[s] for s in shape.call_sites if s in serialized), None)
        for table, orm_shaped in _fetched_whole(query, ctx):
            yield from _judge(shape, table, orm_shaped, ctx.options, serializer)


def _fetched_whole(query: ParsedQuery, ctx: RuleContext) -> Iterator[tuple[Table, bool]]:
    seen: set[str] = set()
    for name in query.star_tables:
        table = ctx.schema.find(name)
        if table is not None and table.qualified not in seen:
            seen.add(table.qualified)
            yield table, False
    for ref in query.tables:
        table = ctx.schema.find(ref.table)
        if table is None or table.qualified in seen:
            continue
        listed = {c.column for c in query.selected if c.table == table.qualified}
        if listed and all(col.name in listed for col in table.columns):
            seen.add(table.qualified)
            yield table, True


def _judge(
    shape: QueryShape,
    table: Table,
    orm_shaped: bool,
    options: Mapping[str, Any],
    serializer: str | None = None,
) -> Iterator[Outcome]:
    query = shape.query
    single = is_single_row(query, table)
    width = _width(table, list_query=not single, options=options)
    if not width.reasons:
        return
    if single:
        yield Note(
            rule=CODE,
            fingerprint=query.fingerprint,
            reason=(
                f"single-row lookup of wide table {table.qualified} "
                f"({', '.join(width.reasons)}): not flagged, a detail view usually needs the row"
            ),
            sql=query.sql,
        )
        return
    how = "every column listed" if orm_shaped else "SELECT *"
    unknown = "" if width.widths_known else "; column widths unknown (no pg_stats)"
    location = shape.location
    yield Finding(
        rule=CODE,
        name=NAME,
        severity=Severity.MEDIUM,
        message=(
            f"{how} on wide table {table.qualified} ({', '.join(width.reasons)}{unknown}): "
            f"{one_line(query.sql)}"
        ),
        location=location,
        fingerprint=query.fingerprint,
        sql=query.sql,
        fix=_serialized_fix(table, serializer)
        if orm_shaped and serializer
        else _fix(query, table, width, orm_shaped),
        evidence={
            "table": table.qualified,
            "columns": len(table.columns),
            "row_width_bytes": width.row_width,
            "large_columns": [c.name for c in width.heavy],
            "calls": shape.calls,
            "rows": shape.rows,
            "widths_known": width.widths_known,
        },
        confidence="high" if width.strong else "medium",
    )


def _width(table: Table, *, list_query: bool, options: Mapping[str, Any]) -> _Width:
    min_columns = options["min_columns"]
    min_row = options["min_row_width_bytes"]
    large_bytes = options["large_column_bytes"]
    cols = table.columns
    known = [c.avg_width for c in cols if c.avg_width is not None]
    widths_known = bool(known)
    row_width = sum(known) if widths_known else None
    reasons: list[str] = []
    if len(cols) >= min_columns:
        reasons.append(f"{len(cols)} columns")
    if row_width is not None and row_width >= min_row:
        reasons.append(f"~{row_width} bytes per row")
    if widths_known:
        heavy = tuple(
            c
            for c in cols
            if is_toastable(c.type) and c.avg_width is not None and c.avg_width >= large_bytes
        )
    else:
        heavy = tuple(c for c in cols if _is_bulk(c.type) and c.name not in table.primary_key)
    strong = bool(heavy) and widths_known and list_query
    if strong:
        sizes = ", ".join(f"{c.name} ~{c.avg_width} B" for c in heavy)
        reasons.append(f"large TOAST-able columns: {sizes}")
    elif heavy and not widths_known and list_query and len(cols) >= min_columns // 2:
        reasons.append(f"TOAST-able columns {', '.join(c.name for c in heavy)}")
    return _Width(tuple(reasons), heavy, row_width, widths_known, strong)


def is_single_row(query: ParsedQuery, table: Table) -> bool:
    """True when ``query`` returns at most one row of ``table`` (LIMIT 1, PK/unique equality)."""
    if query.has_limit and query.limit is not None and query.limit <= 1:
        return True
    equal = {
        p.column
        for p in query.predicates
        if p.op == "eq" and p.column and p.table in (table.qualified, None)
    }
    if not equal:
        return False
    keys: list[tuple[str, ...]] = [table.primary_key, *table.unique_constraints]
    keys += [
        tuple(k.column for k in ix.keys if k.column)
        for ix in table.indexes
        if ix.unique and ix.predicate is None and all(k.column for k in ix.keys)
    ]
    return any(key and set(key) <= equal for key in keys)


def _fix(query: ParsedQuery, table: Table, width: _Width, orm_shaped: bool) -> str:
    heavy = [c.name for c in width.heavy]
    referenced = _referenced(query, table)
    if orm_shaped:
        model = class_name(table.name)
        if heavy:
            defers = ", ".join(f"defer({model}.{name})" for name in heavy)
            return (
                f"leave out the large columns: `.options({defers})`, or map them with "
                f"`deferred=True` (`mapped_column(..., deferred=True)`); or load only what the "
                f"code uses: `.options(load_only({', '.join(f'{model}.{n}' for n in referenced)}"
                ", ...))`"
            )
        cols = ", ".join(f"{model}.{n}" for n in referenced)
        return f"load only the columns the code uses: `.options(load_only({cols}, ...))`"
    if heavy:
        narrow = [c.name for c in table.columns if c.name not in heavy]
        return (
            f"list the columns: `SELECT {', '.join(narrow)} FROM {table.name} ...` "
            f"(leaves out {', '.join(heavy)}), or fewer: only those the caller reads"
        )
    return (
        f"list the columns the caller reads: `SELECT {', '.join(referenced)}, ... "
        f"FROM {table.name} ...` instead of *"
    )


def _serialized_fix(table: Table, serializer: str) -> str:
    """No ``load_only`` where a serializer reads every column: it would reload each one."""
    return (
        f"{serializer} serializes these {class_name(table.name)} objects and reads every "
        "field of its model, so `load_only`/`defer` would only add a query per object: "
        "trim the response model to the fields the client needs, then load only those"
    )


def _referenced(query: ParsedQuery, table: Table) -> list[str]:
    names: list[str] = list(table.primary_key)
    own = (table.qualified, None)
    names += [p.column for p in query.predicates if p.column and p.table in own]
    names += [o.column.column for o in query.order_by if o.column and o.column.table in own]
    names += [c.column for c in query.group_by if c.table in own]
    for join in query.joins:
        names += [r.column for r in (join.left, join.right) if r.table == table.qualified]
    valid = {c.name for c in table.columns}
    return [n for n in dict.fromkeys(names) if n in valid]


RULE = Rule(
    code=CODE,
    name=NAME,
    severity=Severity.MEDIUM,
    summary="Every column of a wide table is fetched (SELECT * or an ORM's full column list).",
    doc=__doc__ or "",
    check=check,
    options={"min_columns": 15, "min_row_width_bytes": 500, "large_column_bytes": 1000},
)
