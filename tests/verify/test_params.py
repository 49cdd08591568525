"""Binding $n for verification: literal, sampled from the data, captured, generic."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

import advisor.capture as capture
from advisor.db import connect, run
from advisor.errors import DatabaseError
from advisor.model import Schema
from advisor.parse.bind import batched_form, paging_parameters
from advisor.sources.capture_file import read_capture
from advisor.verify.params import bind_statement, statement_for
from advisor.workload import build_workload
from tests.capture.conftest import url
from tests.verify.builders import make_database, shape_of


@pytest.fixture()
def shop(fresh_db: str) -> tuple[str, Schema]:
    return fresh_db, make_database(fresh_db)


def test_literal_sql_runs_as_written(shop: tuple[str, Schema]) -> None:
    dsn, schema = shop
    stmt = statement_for(shape_of(schema, "SELECT * FROM orders WHERE user_id = 7"), dsn)
    assert stmt is not None
    assert (stmt.params, stmt.args, stmt.dml) == ("literal", (), False)


def test_sampled_values_fit_each_comparison(shop: tuple[str, Schema]) -> None:
    dsn, schema = shop
    sql = (
        "SELECT * FROM orders WHERE user_id = $1 AND created_at > $2 AND status = ANY($3) "
        "AND total BETWEEN $4 AND $5 ORDER BY created_at LIMIT $6 OFFSET $7"
    )
    stmt = statement_for(shape_of(schema, sql), dsn)
    assert stmt is not None and stmt.params == "sampled"
    user, since, statuses, low, high, limit, offset = stmt.args
    assert user == 250  # the median user id: an existing value, the same every run
    assert isinstance(since, datetime.datetime)
    assert since > datetime.datetime(2026, 6, 1, tzinfo=datetime.UTC)  # 90th percentile
    assert isinstance(statuses, list) and set(statuses) <= {"new", "paid", "shipped"}
    assert low <= high
    assert (limit, offset) == (20, 0)
    assert stmt == statement_for(shape_of(schema, sql), dsn)  # deterministic


def test_upper_bound_and_in_list(shop: tuple[str, Schema]) -> None:
    dsn, schema = shop
    stmt = statement_for(
        shape_of(schema, "SELECT id FROM orders WHERE $1 > created_at AND user_id IN ($2, $3)"),
        dsn,
    )
    assert stmt is not None and stmt.params == "sampled"
    upper, a, b = stmt.args
    assert isinstance(upper, datetime.datetime)
    assert upper < datetime.datetime(2026, 2, 1, tzinfo=datetime.UTC)  # 10th percentile
    assert a != b


def test_dml_is_marked(shop: tuple[str, Schema]) -> None:
    dsn, schema = shop
    stmt = statement_for(shape_of(schema, "DELETE FROM orders WHERE user_id = $1"), dsn)
    assert stmt is not None and stmt.dml and stmt.params == "sampled"


def test_unbindable_parameter_falls_back_to_generic(shop: tuple[str, Schema]) -> None:
    dsn, schema = shop
    # $2 is in an expression verification cannot invert: never a bare NULL, a generic plan.
    sql = "SELECT * FROM orders WHERE user_id = $1 AND total * 2 > $2"
    stmt = statement_for(shape_of(schema, sql), dsn)
    assert stmt is not None and (stmt.params, stmt.args) == ("generic", ())


def test_empty_table_gives_generic_not_null(fresh_db: str) -> None:
    schema = make_database(fresh_db, "CREATE TABLE t (id int PRIMARY KEY, a int); ANALYZE;")
    stmt = statement_for(shape_of(schema, "SELECT * FROM t WHERE a = $1"), fresh_db)
    assert stmt is not None and stmt.params == "generic"


def test_captured_values_are_coerced_to_the_parameter_types(shop: tuple[str, Schema]) -> None:
    dsn, schema = shop
    shape = shape_of(schema, "SELECT * FROM orders WHERE user_id = $1 AND created_at > $2")

    async def go() -> object:
        conn = await connect(dsn)
        try:
            return await bind_statement(conn, shape, captured=[12, "2026-03-01T00:00:00+00:00"])
        finally:
            await conn.close()

    stmt = run(go())
    assert stmt is not None
    assert stmt.params == "captured"
    assert stmt.args == (12, datetime.datetime(2026, 3, 1, tzinfo=datetime.UTC))


def test_utility_statements_are_not_explained(shop: tuple[str, Schema]) -> None:
    dsn, schema = shop
    assert statement_for(shape_of(schema, "TRUNCATE orders"), dsn) is None
    assert statement_for(shape_of(schema, "CREATE INDEX ON orders (status)"), dsn) is None


def test_refused_statement_is_one_clear_error(shop: tuple[str, Schema]) -> None:
    dsn, schema = shop
    with pytest.raises(DatabaseError, match="refused the statement"):
        statement_for(shape_of(schema, "SELECT nope FROM orders WHERE id = $1"), dsn)


def test_paging_parameters_and_batched_form() -> None:
    assert paging_parameters("SELECT * FROM t WHERE a = $1 LIMIT $2 OFFSET $3") == {
        2: "limit",
        3: "offset",
    }
    assert paging_parameters("SELECT * FROM t LIMIT 5") == {}
    assert (
        batched_form("SELECT * FROM items WHERE $1 = items.order_id")
        == "SELECT * FROM items WHERE items.order_id = ANY($1)"
    )
    assert (
        batched_form("SELECT * FROM items WHERE items.order_id = $1::INTEGER")
        == "SELECT * FROM items WHERE items.order_id = ANY(CAST($1 AS INT[]))"
    )
    assert batched_form("SELECT * FROM items WHERE order_id > $1") is None
    assert batched_form("SELECT * FROM items WHERE order_id = $1 AND sku = $2") is None


def test_values_kept_by_a_real_capture_are_bound(shop: tuple[str, Schema], tmp_path: Path) -> None:
    dsn, schema = shop
    out = tmp_path / "capture.jsonl"
    since = datetime.datetime(2026, 4, 1, tzinfo=datetime.UTC)
    engine = create_engine(url(dsn, "psycopg"))
    try:
        with capture.instrument(engine, output=str(out), keep_params=True), engine.connect() as c:
            sql = "SELECT id FROM orders WHERE user_id = :u AND created_at > :t AND id = ANY(:ids)"
            for user in (3, 4):
                c.execute(text(sql), {"u": user, "t": since, "ids": [1, 2, 3]})
    finally:
        engine.dispose()
    workload = build_workload(read_capture(str(out)), schema)
    (shape,) = [s for s in workload.shapes.values() if "orders" in s.query.sql]
    assert shape.samples == ((3, since.isoformat(), (1, 2, 3)), (4, since.isoformat(), (1, 2, 3)))
    stmt = statement_for(shape, dsn)
    assert stmt is not None and stmt.params == "captured"
    assert stmt.args == (3, since, [1, 2, 3])
