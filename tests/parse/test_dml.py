"""One DML detector for the pg_stat_statements filter and the workload's literal cache."""

from __future__ import annotations

import time

import pytest

from advisor.parse.lexer import is_dml


@pytest.mark.parametrize(
    ("sql", "dml"),
    [
        ("SELECT 1", True),
        ("  ((select a from t) union (select b from u))", True),
        ("/* app */ UPDATE orders SET status = $1", True),
        ("-- why\n  -- more\nDELETE FROM t", True),
        ("with x as (select 1) select * from x", True),
        ("MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN DELETE", True),
        ("VALUES (1), (2)", True),
        ("TABLE orders", True),
        ("INSERT INTO t VALUES (1)", True),
        ("SET statement_timeout = 5", False),
        ("BEGIN", False),
        ("CREATE TABLE t (id int) WITH (fillfactor = 70)", False),
        ("COMMENT ON TABLE t IS 'x'", False),
        ("selective_thing()", False),
        ("/* unterminated SELECT 1", False),
        ("", False),
    ],
)
def test_is_dml(sql: str, dml: bool) -> None:
    assert is_dml(sql) is dml


def test_long_prefixes_do_not_backtrack() -> None:
    started = time.perf_counter()
    assert not is_dml(" " * 200_000 + "(" * 50_000 + "vacuum")
    assert not is_dml("/* x */" * 20_000 + "set a = 1")
    assert time.perf_counter() - started < 1.0
