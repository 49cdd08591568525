"""A small shop with real rows, its workload and its statements, for the choice tests.

Seven query shapes over ``orders`` and ``events`` (40,000 rows each) whose per-query
candidates are six indexes, while two or three serve them as well: ``(user_id)``,
``(user_id, status)`` and ``(user_id, created_at DESC)`` on orders overlap, so do
``(account_id)`` and ``(account_id, kind)`` on events, and ``events.created_at > old`` keeps
every row (no index helps). ``orders.coupon_id`` is a foreign key no query uses (ADV004).
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import replace as dc_replace

from advisor.model import CallSite, Execution, Finding, Schema, Workload

__all__ = ["DDL", "QUERIES", "RANGE_QUERIES", "Shop", "Stmt", "build_shop", "shop_database"]

DDL = """
CREATE TABLE coupons (id int PRIMARY KEY, code text NOT NULL);
CREATE TABLE orders (
    id int PRIMARY KEY, user_id int NOT NULL, status text NOT NULL,
    created_at timestamptz NOT NULL, total numeric NOT NULL, note text,
    coupon_id int REFERENCES coupons (id)
);
CREATE TABLE events (
    id int PRIMARY KEY, account_id int NOT NULL, kind text NOT NULL,
    created_at timestamptz NOT NULL, payload text
);
INSERT INTO coupons SELECT g, 'c' || g FROM generate_series(1, 100) g;
INSERT INTO orders
SELECT g, g % 200, (ARRAY['new', 'paid', 'shipped', 'done'])[1 + g % 4],
       timestamptz '2026-01-01' - g * interval '1 minute', g % 500, repeat('x', 20), NULL
FROM generate_series(1, 40000) g;
INSERT INTO events
SELECT g, g % 1000, (ARRAY['click', 'view', 'buy'])[1 + g % 3],
       timestamptz '2026-01-01' - g * interval '1 second', repeat('y', 30)
FROM generate_series(1, 40000) g;
ANALYZE;
"""

_OLD = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)

# (sql, the values a capture would have kept)
QUERIES: dict[str, tuple[str, tuple[object, ...]]] = {
    "orders_by_user": ("SELECT id, total FROM orders WHERE user_id = $1", (7,)),
    "orders_recent": (
        "SELECT id FROM orders WHERE user_id = $1 ORDER BY created_at DESC LIMIT 10",
        (7,),
    ),
    "orders_status": ("SELECT id FROM orders WHERE user_id = $1 AND status = $2", (7, "paid")),
    "events_count": ("SELECT count(*) FROM events WHERE account_id = $1", (3,)),
    "events_kind": ("SELECT id FROM events WHERE account_id = $1 AND kind = $2", (3, "buy")),
    "events_since": ("SELECT id FROM events WHERE created_at > $1", (_OLD,)),
    "orders_total": ("SELECT id FROM orders WHERE user_id = $1 AND total > $2", (7, 10)),
}
_DAY = datetime.datetime(2025, 12, 20, tzinfo=datetime.UTC)
# Not in the default shop: a date range, and the same range for one status (the column
# order test: equality before range).
RANGE_QUERIES: dict[str, tuple[str, tuple[object, ...]]] = {
    "orders_day": (
        "SELECT id FROM orders WHERE created_at >= $1 AND created_at < $2",
        (_DAY, _DAY + datetime.timedelta(days=1)),
    ),
    "orders_status_day": (
        "SELECT id, total FROM orders WHERE status = $1 AND created_at >= $2 AND created_at < $3",
        ("paid", _DAY, _DAY + datetime.timedelta(days=1)),
    ),
}


@dataclass(frozen=True, slots=True)
class Stmt:
    """What ``advisor.verify.params.Statement`` will be: SQL and the values to bind."""

    sql: str
    args: tuple[object, ...]
    params: str = "captured"
    dml: bool = False


@dataclass(frozen=True, slots=True)
class Shop:
    """The shop database as a scan sees it."""

    dsn: str
    schema: Schema
    workload: Workload
    findings: tuple[Finding, ...]
    statements: dict[str, Stmt]
    keys: dict[str, str]  # QUERIES name -> query key


def build_shop(
    dsn: str, names: tuple[str, ...] = tuple(QUERIES), extra: tuple[Execution, ...] = ()
) -> Shop:
    """Introspect ``dsn`` (holding :data:`DDL`), run the rules over ``names``' queries
    (from :data:`QUERIES` and :data:`RANGE_QUERIES`)
    (100 calls, 50 ms each) plus ``extra`` executions, and build their statements."""
    from advisor.rules import run_rules, select_rules
    from advisor.schema.introspect import read_schema
    from advisor.workload import build_workload

    read = read_schema(dsn, source="dsn")
    # The rows just loaded show as inserts in pg_stat_user_tables; a test that wants write
    # traffic says so itself.
    schema = dc_replace(read, tables={k: dc_replace(t, stats=None) for k, t in read.tables.items()})
    queries = {**QUERIES, **RANGE_QUERIES}
    executions = [
        Execution(queries[name][0], CallSite("shop.sql", n), calls=100, total_ms=5_000.0)
        for n, name in enumerate(names, start=1)
    ]
    workload = build_workload([*executions, *extra], schema)
    outcomes = run_rules(select_rules(None, ()), workload, schema)
    findings = tuple(o for o in outcomes if isinstance(o, Finding))
    by_sql = {shape.query.sql: key for key, shape in workload.shapes.items()}
    keys = {name: by_sql[queries[name][0]] for name in names}
    statements = {keys[name]: Stmt(*queries[name]) for name in names}
    return Shop(dsn, schema, workload, findings, statements, keys)


@contextmanager
def shop_database(server_dsn: str) -> Iterator[str]:
    """A new database on ``server_dsn`` holding :data:`DDL`'s tables and rows; dropped after."""
    from advisor.db import connect, run
    from advisor.sandbox import create_database, drop_database

    async def load(dsn: str) -> None:
        conn = await connect(dsn, readonly=False)
        try:
            await conn.execute(DDL)
        finally:
            await conn.close()

    name = f"advt_shop_{uuid.uuid4().hex[:12]}"
    dsn = create_database(server_dsn, name)
    try:
        run(load(dsn))
        yield dsn
    finally:
        drop_database(server_dsn, name)
