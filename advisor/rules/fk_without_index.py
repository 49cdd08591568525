"""A foreign key whose columns lead no index (ADV004).

## What it does
Finds foreign keys whose columns are not the leading columns of any valid index of the
referencing table. An index leads with the FK when its first keys are exactly the FK's
columns, in any order (``(b, a)`` serves an FK on ``(a, b)``); an index where the FK
column comes second (``(created_at, user_id)`` for an FK on ``user_id``) does not
serve it, and neither does a partial index (it misses rows), an expression key or a
non-default collation. The suggested index has the FK's columns in the FK's order.
Small tables (an estimated row count below ``min_rows``) get a note instead.

## Why is this bad?
PostgreSQL indexes the referenced side (a primary key) but never the referencing
columns. Every ``DELETE`` of a parent row, and every update of its key, must find the
child rows: without an index, that is a sequential scan of the child table, under a
lock, once per parent row. Joins from parent to children (``ORDER.items``, an ORM
``selectinload``) scan it as well.

## Example
```sql
CREATE TABLE comments (
    id         bigserial PRIMARY KEY,
    order_id   bigint NOT NULL REFERENCES orders (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    body       text
);
CREATE INDEX ix_comments_created_at_order_id ON comments (created_at, order_id);
```

## Use instead
```sql
CREATE TABLE comments (
    id         bigserial PRIMARY KEY,
    order_id   bigint NOT NULL REFERENCES orders (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    body       text
);
CREATE INDEX ix_comments_order_id_created_at ON comments (order_id, created_at);
```

## Options
- ``min_rows`` (default 10000): referencing tables with fewer estimated rows get a
  note instead (unknown sizes, from DDL, are reported).
"""

from __future__ import annotations

from collections.abc import Iterator

from advisor.indexes.coverage import index_leads_with
from advisor.indexes.ddl import make_suggestion
from advisor.model import Finding, ForeignKey, IndexColumn, Note, Severity, Table, Workload
from advisor.rules.base import Outcome, Rule, RuleContext

__all__ = ["RULE", "check"]

CODE = "ADV004"
NAME = "fk-without-index"


def _serving_shapes(workload: Workload, table: Table, fk: ForeignKey) -> tuple[str, ...]:
    """Keys of the query shapes that filter or join ``table`` on the FK's columns."""
    names = {table.name, table.qualified}
    wanted = set(fk.columns)
    keys: list[str] = []
    for shape in workload.shapes.values():
        query = shape.query
        cols = {p.column for p in query.predicates if p.table in names or p.table is None}
        for jk in query.joins:
            cols.update(ref.column for ref in (jk.left, jk.right) if ref.table in names)
        if wanted <= cols and (query.key not in keys):
            keys.append(query.key)
    return tuple(keys)


def _write_activity(ref: Table | None) -> str:
    if ref is None or ref.stats is None:
        return ""
    dels, upds = ref.stats.n_tup_del, ref.stats.n_tup_upd
    if not dels and not upds:
        return f"; {ref.qualified} has no recorded deletes or updates yet"
    return f"; {ref.qualified} has had {dels:,} deletes and {upds:,} updates"


def _finding(ctx: RuleContext, table: Table, fk: ForeignKey) -> Finding:
    columns = tuple(IndexColumn(col) for col in fk.columns)
    cols = ", ".join(fk.columns)
    suggestion = make_suggestion(
        table.qualified,
        columns,
        query_keys=_serving_shapes(ctx.workload, table, fk),
        reason=f"foreign key {fk.name} ({cols}) -> {fk.ref_table}",
    )
    size = (
        f"{table.row_estimate:,} rows"
        if table.row_estimate is not None
        else "size unknown: no statistics"
    )
    ref = ctx.schema.find(fk.ref_table)
    return Finding(
        rule=CODE,
        name=NAME,
        severity=Severity.MEDIUM,
        message=(
            f"foreign key {fk.name} on {table.qualified} ({cols}) -> {fk.ref_table} has no "
            f"index leading with its columns ({size}): deletes and key updates on "
            f"{fk.ref_table} scan {table.qualified}{_write_activity(ref) if ctx.live else ''}"
        ),
        fix=suggestion.sql,
        evidence={
            "table": table.qualified,
            "foreign_key": fk.name,
            "columns": list(fk.columns),
            "ref_table": fk.ref_table,
            "row_estimate": table.row_estimate,
            "ref_deletes": ref.stats.n_tup_del if ref and ref.stats else None,
            "ref_updates": ref.stats.n_tup_upd if ref and ref.stats else None,
        },
        suggestion=suggestion,
        confidence="high" if table.row_estimate is not None else "medium",
    )


def check(ctx: RuleContext) -> Iterator[Outcome]:
    """A finding per foreign key no index leads with; a note for small tables."""
    min_rows = ctx.options["min_rows"]
    for table in ctx.schema.tables.values():
        for fk in table.foreign_keys:
            if any(index_leads_with(idx, fk.columns) for idx in table.indexes):
                continue
            rows = table.row_estimate
            if rows is not None and rows < min_rows:
                yield Note(
                    rule=CODE,
                    fingerprint=f"{table.qualified}.{fk.name}",
                    reason=(
                        f"small table: {table.qualified} has {rows:,} rows < {min_rows:,}; "
                        f"foreign key {fk.name} ({', '.join(fk.columns)}) left unindexed"
                    ),
                )
                continue
            yield _finding(ctx, table, fk)


RULE = Rule(
    code=CODE,
    name=NAME,
    severity=Severity.MEDIUM,
    summary="A foreign key whose columns lead no index",
    doc=__doc__ or "",
    check=check,
    options={"min_rows": 10_000},
)
