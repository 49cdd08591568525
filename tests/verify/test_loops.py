"""N+1 measured: the loop of per-row queries against its batched = ANY form."""

from __future__ import annotations

from advisor.model import DataOrigin, Finding, Severity
from advisor.verify.loops import measure_loops
from tests.verify.builders import make_database, workload_of

PER_ROW = "SELECT items.id, items.sku FROM items WHERE items.order_id = $1::INTEGER"
DATA = DataOrigin("generated", "generated in the test")


def _finding(fingerprint: str, count: int, rule: str = "ADV001") -> Finding:
    return Finding(
        rule, "n-plus-one", Severity.HIGH, "N+1", fingerprint=fingerprint, evidence={"count": count}
    )


def test_loop_against_batched_query(fresh_db: str) -> None:
    schema = make_database(fresh_db)
    workload = workload_of(schema, (PER_ROW, 30), ("SELECT * FROM users WHERE id > $1", 2))
    shapes = {s.query.sql: s for s in workload.shapes.values()}
    loop = _finding(shapes[PER_ROW].query.fingerprint, 30)
    other = _finding(shapes[PER_ROW].query.fingerprint, 30, rule="ADV003")
    no_key = _finding(shapes["SELECT * FROM users WHERE id > $1"].query.fingerprint, 5)

    measured, untouched, range_loop = measure_loops(
        fresh_db, workload, [loop, other, no_key], runs=3, data=DATA
    )

    cost = measured.loop_cost
    assert cost is not None and cost.queries == 30 and cost.data == DATA
    assert "= ANY(CAST($1 AS INT[]))" in cost.batched_sql
    # 30 round trips against one: the batched query is the cheaper one.
    assert 0 < cost.batched_ms < cost.loop_ms
    assert untouched.loop_cost is None and range_loop.loop_cost is None


def test_loop_is_capped(fresh_db: str) -> None:
    schema = make_database(fresh_db)
    workload = workload_of(schema, (PER_ROW, 5000))
    (shape,) = workload.shapes.values()
    (measured,) = measure_loops(
        fresh_db, workload, [_finding(shape.query.fingerprint, 5000)], runs=2, max_queries=50
    )
    assert measured.loop_cost is not None and measured.loop_cost.queries == 50
