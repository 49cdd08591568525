"""build_workload: shapes per key, scope groups, skipped statements."""

from __future__ import annotations

import gc

from advisor.model import CallSite, Column, Execution, OrmLoad, Schema, Skipped, Table
from advisor.parse import parse
from advisor.sources.sql_file import read_sql
from advisor.workload import PARAMS_CAP, build_workload

SITE = CallSite("app/api.py", 42, "list_orders")
ORIGIN = CallSite("app/api.py", 38, "list_orders")


def run(seq: int, sql: str, **kw: object) -> Execution:
    defaults: dict[str, object] = {
        "source": CallSite("capture.jsonl", seq),
        "scope": "GET /orders",
        "scope_kind": "request",
        "seq": seq,
        "call_site": SITE,
    }
    defaults.update(kw)
    return Execution(sql=sql, **defaults)  # type: ignore[arg-type]


def test_literals_merge_into_one_shape_and_sum() -> None:
    items = [
        run(i, f"SELECT * FROM order_items WHERE order_id = {i}", total_ms=1.5, rows=2)
        for i in range(10)
    ]
    wl = build_workload(items, Schema())
    assert wl.executions == 10
    (shape,) = wl.shapes.values()
    assert shape.calls == 10
    assert shape.total_ms == 15.0
    assert shape.rows == 20
    assert shape.call_sites == (SITE,)
    assert len(shape.sources) == 5  # capped
    assert not shape.from_pg_stat_statements
    key = parse("SELECT * FROM order_items WHERE order_id = $1", Schema()).key
    assert list(wl.shapes) == [key]


def test_per_row_and_batched_are_different_shapes() -> None:
    items = [
        run(1, "SELECT * FROM t WHERE id = %s"),
        run(2, "SELECT * FROM t WHERE id = ANY(%s)"),
        run(3, "SELECT * FROM t WHERE id IN (1, 2, 3)"),
    ]
    wl = build_workload(items, Schema())
    assert sorted(s.calls for s in wl.shapes.values()) == [1, 2]
    assert {s.query.batched for s in wl.shapes.values()} == {False, True}


def test_scope_group_counts_distinct_params() -> None:
    orm = OrmLoad("lazy", "Order", "items")
    items = [
        run(
            i,
            "SELECT * FROM order_items WHERE order_id = $1",
            params_hash=f"h{i % 3}",
            total_ms=1.0,
            rows=1,
            orm=orm if i else None,
            origin=ORIGIN,
        )
        for i in range(1, 9)
    ]
    wl = build_workload(items, Schema())
    (group,) = wl.groups
    assert group.scope == "GET /orders"
    assert group.scope_kind == "request"
    assert group.count == 8
    assert group.distinct_params == 3
    assert group.total_ms == 8.0
    assert group.rows == 8
    assert group.first_seq == 1
    assert group.orm == orm
    assert group.origin == ORIGIN
    assert group.call_site == SITE
    assert group.key in wl.shapes


def test_distinct_params_is_capped() -> None:
    items = [run(i, "SELECT 1 FROM t WHERE a = $1", params_hash=str(i)) for i in range(200)]
    (group,) = build_workload(items, Schema()).groups
    assert group.distinct_params == PARAMS_CAP
    assert group.count == 200


def test_missing_params_hash_counts_differing_texts() -> None:
    same = [run(i, "SELECT 1 FROM t WHERE a = $1") for i in range(5)]
    differing = [run(i, f"SELECT 1 FROM t WHERE a = {i}", call_site=ORIGIN) for i in range(5)]
    groups = {g.call_site: g for g in build_workload(same + differing, Schema()).groups}
    assert groups[SITE].distinct_params == 1
    assert groups[ORIGIN].distinct_params == 5


def test_groups_split_by_scope_and_call_site_and_singletons_dropped() -> None:
    items = [
        run(1, "SELECT 1 FROM t WHERE a = $1", scope="test_a"),
        run(2, "SELECT 1 FROM t WHERE a = $1", scope="test_a"),
        run(3, "SELECT 1 FROM t WHERE a = $1", scope="test_b"),
        run(4, "SELECT 1 FROM t WHERE a = $1", scope="test_b", call_site=ORIGIN),
        run(5, "SELECT 1 FROM t WHERE a = $1", scope=None),
    ]
    wl = build_workload(items, Schema())
    assert [(g.scope, g.count) for g in wl.groups] == [("test_a", 2)]
    every = build_workload(items, Schema(), min_group_count=1)
    assert sorted((g.scope, g.count) for g in every.groups) == [
        ("test_a", 2),
        ("test_b", 1),
        ("test_b", 1),
    ]
    assert next(iter(wl.shapes.values())).calls == 5


def test_concurrent_requests_of_one_route_never_merge() -> None:
    # 50 interleaved requests to the same route, each loading its one user: no loop anywhere.
    items = [
        run(i, "SELECT name FROM users WHERE id = $1", scope_id=i, params_hash=f"p{i}")
        for i in range(50)
    ]
    # ...and one request of the same route that really loops.
    items += [
        run(100 + i, "SELECT name FROM users WHERE id = $1", scope_id=999, params_hash=f"q{i}")
        for i in range(6)
    ]
    wl = build_workload(items, Schema())
    assert [(g.scope, g.count, g.distinct_params) for g in wl.groups] == [("GET /orders", 6, 6)]


def test_errors_and_savepoints_stay_out_of_groups() -> None:
    items = [run(i, "SELECT 1 FROM t WHERE a = $1", error="boom") for i in range(3)]
    items += [run(10 + i, f"SAVEPOINT sa_savepoint_{i}") for i in range(3)]
    wl = build_workload(items, Schema())
    assert wl.groups == ()
    assert sorted(s.calls for s in wl.shapes.values()) == [3, 3]


def test_executemany_counted() -> None:
    items = [run(i, "INSERT INTO t VALUES ($1)", executemany=i % 2 == 0) for i in range(4)]
    (group,) = build_workload(items, Schema()).groups
    assert group.executemany == 2


def test_parse_failures_skipped_once_per_statement() -> None:
    bad = "SELECT * FORM t"
    items: list[Execution | Skipped] = [
        run(1, bad),
        run(2, bad),
        run(3, "SELECT 1"),
        Skipped(CallSite("capture.jsonl", 9), "line 9 is not JSON"),
    ]
    wl = build_workload(items, Schema())
    assert wl.executions == 3  # a Skipped from the reader is not an execution
    reasons = [s.reason for s in wl.skipped]
    assert len(reasons) == 2
    assert "line 9 is not JSON" in reasons
    failure = next(s for s in wl.skipped if s.sql == bad)
    assert failure.source == CallSite("capture.jsonl", 1)
    assert 'syntax error at or near "FORM"' in failure.reason


def test_pg_stat_statements_rows() -> None:
    pgss = CallSite("pg_stat_statements")
    items = [
        Execution(
            "SELECT * FROM t WHERE id = $1",
            pgss,
            calls=5000,
            total_ms=120.0,
            rows=5000,
            source_kind="pg_stat_statements",
        ),
        Execution("SELECT * FROM t WHERE id = 3", CallSite("q.sql", 1)),
    ]
    wl = build_workload(items, Schema())
    (shape,) = wl.shapes.values()
    assert shape.calls == 5001
    assert shape.from_pg_stat_statements
    assert wl.groups == ()


def test_structure_read_from_the_first_text_only_once() -> None:
    items = [run(i, f"SELECT * FROM t WHERE id = {i} AND name = 'n{i}'") for i in range(50)]
    wl = build_workload(items, Schema())
    (shape,) = wl.shapes.values()
    assert shape.query.sql == "SELECT * FROM t WHERE id = 0 AND name = 'n0'"
    assert shape.calls == 50


def test_gc_threshold_is_restored() -> None:
    before = gc.get_threshold()
    build_workload([run(1, "SELECT 1")], Schema())
    assert gc.get_threshold() == before


def test_sql_file_statements_keep_their_lines() -> None:
    text = "SELECT 1;\n\nSELECT * FORM t;\nSELECT 2;\n"
    wl = build_workload(read_sql("q.sql", text), Schema())
    assert wl.executions == 3
    (failure,) = wl.skipped
    assert failure.source == CallSite("q.sql", 3)
    assert {s.sources[0] for s in wl.shapes.values()} == {CallSite("q.sql", 1)}


def test_utility_statements_differing_in_literals_stay_apart() -> None:
    # their literals are part of PostgreSQL's fingerprint: the literal cache must not merge them
    items = [
        run(1, "CREATE INDEX i ON t (a) WITH (fillfactor = 70)"),
        run(2, "CREATE INDEX i ON t (a) WITH (fillfactor = 80)"),
        run(3, "COMMENT ON TABLE t IS 'a'"),
        run(4, "COMMENT ON TABLE t IS 'b'"),
    ]
    wl = build_workload(items, Schema())
    expected = {parse(item.sql, Schema()).key for item in items}
    assert set(wl.shapes) == expected
    assert len(expected) == 4


def test_same_statement_on_other_schemas_or_partitions_are_different_shapes() -> None:
    # pglast's fingerprint ignores schema names and digit runs in relation names: without
    # the relations in the key, all four would take the first text's table.
    cols = (Column("id", "bigint"), Column("total", "numeric"))
    tables = [Table("a", "t", cols), Table("b", "t", cols)]
    tables += [Table("public", f"orders_{year}", cols) for year in (2024, 2025)]
    schema = Schema({table.qualified: table for table in tables})
    sqls = [
        "SELECT * FROM a.t WHERE id = {}",
        "SELECT * FROM b.t WHERE id = {}",
        "SELECT * FROM orders_2024 WHERE id = {}",
        "SELECT * FROM orders_2025 WHERE id = {}",
    ]
    items = [run(i, sqls[i % 4].format(i)) for i in range(12)]
    wl = build_workload(items, schema)
    by_table = {s.query.tables[0].table: s for s in wl.shapes.values()}
    assert sorted(by_table) == ["a.t", "b.t", "public.orders_2024", "public.orders_2025"]
    assert all(s.calls == 3 and s.query.tables[0].resolved for s in by_table.values())
    assert len({s.query.key for s in wl.shapes.values()}) == 4
    assert {s.query.key for s in wl.shapes.values()} == set(wl.shapes)
    # one scope group per table: three lookups each, never one group of twelve
    every = build_workload(items, schema, min_group_count=1)
    assert sorted(g.count for g in every.groups) == [3, 3, 3, 3]


def test_writes_are_spread_over_tables_in_first_write_order() -> None:
    a, b, c, d, e, f, g = (CallSite("app/w.py", n, "save") for n in range(1, 8))
    update = "UPDATE t SET a = 1 WHERE id = $1"
    insert = "INSERT INTO t (a) VALUES ($1)"
    items = [
        run(1, "SELECT a FROM t WHERE id = $1", call_site=g),
        run(2, "DELETE FROM u WHERE id = $1", call_site=c),
        run(3, update, call_site=a),
        run(4, insert, call_site=b),
        run(5, update, call_site=d),
        run(6, insert, call_site=a),
        Execution(insert, CallSite("capture.jsonl", 7), call_site=e),  # no seq
        run(8, update, call_site=f),
        run(9, insert, call_site=g),
    ]
    writes = build_workload(items, Schema()).writes
    assert list(writes) == ["u", "t"]
    t = writes["t"]
    assert (t.count, list(t.seqs)) == (7, [3, 4, 5, 6, 8, 9])
    assert t.call_sites == (a, b, d, e, f)  # first seen first, five at most
    assert (writes["u"].count, list(writes["u"].seqs), writes["u"].call_sites) == (1, [2], (c,))


def test_a_shape_whose_values_repeat_stops_being_sampled() -> None:
    sql = "SELECT a FROM t WHERE id = $1"
    same = [run(i, sql, params=[7]) for i in range(64)]
    wl = build_workload([*same, run(64, sql, params=[8])], Schema())
    (shape,) = wl.shapes.values()
    assert shape.samples == ((7,),)
    wl = build_workload([*same[:63], run(63, sql, params=[8])], Schema())
    (shape,) = wl.shapes.values()
    assert shape.samples == ((7,), (8,))
