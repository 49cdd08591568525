"""EXPLAIN (ANALYZE, BUFFERS): runs and median, time box, rolled-back DML, plan trees."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import pytest

from advisor.db import connect, run
from advisor.model import Measurement, Schema
from advisor.verify.explain import explain, iter_nodes, plan_change, plan_tree, uses_index
from advisor.verify.params import Statement
from tests.verify.builders import make_database

T = TypeVar("T")


@pytest.fixture()
def shop(fresh_db: str) -> tuple[str, Schema]:
    return fresh_db, make_database(fresh_db)


def on(dsn: str, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    async def go() -> T:
        conn = await connect(dsn, readonly=False, statement_timeout_ms=0)
        try:
            return await work(conn)
        finally:
            await conn.close()

    return run(go())


def measure(dsn: str, stmt: Statement, **kw: object) -> Measurement:
    options: dict[str, object] = {"analyze": True, "runs": 3, "time_box_ms": 5_000.0, **kw}
    return on(dsn, lambda conn: explain(conn, stmt, key="k", **options))  # type: ignore[arg-type]


def test_analyzed_select_has_median_plan_and_buffers(shop: tuple[str, Schema]) -> None:
    dsn, _ = shop
    stmt = Statement("SELECT * FROM orders WHERE user_id = $1", (7,), "sampled", False)
    m = measure(dsn, stmt)
    assert m.key == "k" and m.runs == 2  # the first of three only warmed the cache
    assert m.ms is not None and m.ms > 0 and m.spread_ms is not None
    assert m.spread_ms[0] <= m.ms <= m.spread_ms[1]
    assert m.shared_buffers and m.shared_buffers > 0
    assert m.plan is not None and m.plan.node_type == "Seq Scan"
    assert m.plan.relation == "orders" and m.plan.actual_rows == 40
    assert m.params == "sampled" and m.cost is not None


def test_time_box_stops_a_slow_query_at_once(shop: tuple[str, Schema]) -> None:
    dsn, _ = shop
    slow = Statement("SELECT pg_sleep(0.3), count(*) FROM orders", (), "literal", False)
    m = measure(dsn, slow, time_box_ms=50.0, runs=5)
    assert (m.ms, m.timed_out_ms, m.runs) == (None, 50.0, 1)


def test_dml_is_rolled_back(shop: tuple[str, Schema]) -> None:
    dsn, _ = shop
    for sql in (
        "DELETE FROM items WHERE order_id < $1",
        "UPDATE items SET sku = 'x' WHERE order_id < $1",
        "INSERT INTO items SELECT id + 100000, $1, 'y' FROM items",
    ):
        m = measure(dsn, Statement(sql, (500,), "sampled", True))
        assert m.ms is not None and m.plan is not None
    count, changed = on(
        dsn, lambda c: c.fetchrow("SELECT count(*), count(*) FILTER (WHERE sku = 'x') FROM items")
    )
    assert (count, changed) == (40000, 0)


def test_generic_plan_is_only_costed(shop: tuple[str, Schema]) -> None:
    dsn, _ = shop
    stmt = Statement("SELECT * FROM orders WHERE id = $1 AND total * 2 > $2", (), "generic", False)
    m = measure(dsn, stmt)
    assert m.ms is None and m.timed_out_ms is None and m.params == "generic"
    assert m.cost is not None and m.plan is not None
    assert uses_index(m.plan, "orders_pkey")


def test_plain_explain_costs_without_running(shop: tuple[str, Schema]) -> None:
    dsn, _ = shop
    m = measure(dsn, Statement("SELECT pg_sleep(5)", (), "literal", False), analyze=False)
    assert m.ms is None and m.cost is not None and m.plan is not None


def test_plan_tree_and_plan_change() -> None:
    before = plan_tree(
        '[{"Plan": {"Node Type": "Sort", "Sort Key": ["created_at"], "Actual Loops": 1,'
        ' "Actual Total Time": 4.0, "Plans": [{"Node Type": "Seq Scan",'
        ' "Relation Name": "orders", "Plan Rows": 40, "Actual Rows": 38, "Actual Loops": 1,'
        ' "Filter": "(user_id = 7)", "Shared Hit Blocks": 160}]}}]'
    )
    after = plan_tree(
        {"Plan": {"Node Type": "Index Scan", "Index Name": "ix", "Relation Name": "orders"}}
    )
    assert before.detail == "created_at" and before.actual_ms == 4.0
    scan = before.children[0]
    assert (scan.estimated_rows, scan.actual_rows, scan.shared_hit) == (40.0, 38.0, 160)
    assert [n.node_type for n in iter_nodes(before)] == ["Sort", "Seq Scan"]
    assert plan_change(before, after) == "Seq Scan + Sort -> Index Scan"
    assert plan_change(after, after) is None
    assert uses_index(after, "ix") and not uses_index(before, "ix")
    with pytest.raises(ValueError):
        plan_tree("3")
