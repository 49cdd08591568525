"""Small builders for the verification tests: a database with rows, shapes from SQL."""

from __future__ import annotations

from advisor.db import connect, run
from advisor.model import CallSite, Execution, QueryShape, Schema, Workload
from advisor.schema.introspect import read_schema
from advisor.workload import build_workload

# 20,000 orders of 500 users over 200 days; 40,000 items (two per order).
SHOP = """
CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL);
CREATE TABLE orders (
    id int PRIMARY KEY, user_id int NOT NULL REFERENCES users (id),
    status text NOT NULL, total numeric NOT NULL, created_at timestamptz NOT NULL
);
CREATE TABLE items (id int PRIMARY KEY, order_id int NOT NULL, sku text NOT NULL);
INSERT INTO users SELECT g, 'u' || g || '@example.com' FROM generate_series(1, 500) g;
INSERT INTO orders SELECT g, 1 + g % 500, (ARRAY['new', 'paid', 'shipped'])[1 + g % 3],
    g % 97, timestamptz '2026-01-01' + g * interval '864 seconds'
    FROM generate_series(1, 20000) g;
INSERT INTO items SELECT g, 1 + (g - 1) / 2, 'sku-' || g % 300 FROM generate_series(1, 40000) g;
ANALYZE;
"""


def make_database(dsn: str, sql: str = SHOP) -> Schema:
    """Run ``sql`` (DDL and rows) in the database at ``dsn``; its schema, read back."""

    async def go() -> None:
        conn = await connect(dsn, readonly=False)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    run(go())
    return read_schema(dsn, source="dsn")


def workload_of(schema: Schema, *statements: tuple[str, int]) -> Workload:
    """A workload of ``(sql, calls)`` pairs, each call one execution of 1 ms."""
    items = [
        Execution(sql, CallSite("test.sql", i), calls=calls, total_ms=float(calls))
        for i, (sql, calls) in enumerate(statements, start=1)
    ]
    return build_workload(items, schema)


def shape_of(schema: Schema, sql: str) -> QueryShape:
    """The one shape of ``sql``."""
    (shape,) = workload_of(schema, (sql, 1)).shapes.values()
    return shape
