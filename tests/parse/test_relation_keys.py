"""Keys tell apart relations that pglast's fingerprint merges (schemas, digits, aliases)."""

from __future__ import annotations

import pytest

from advisor.model import Schema
from advisor.parse import fingerprint, parse, prepare
from advisor.parse.pg import analyze


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("SELECT * FROM a.t WHERE id = $1", "SELECT * FROM b.t WHERE id = $1"),
        ("SELECT * FROM orders_2024 WHERE id = $1", "SELECT * FROM orders_2025 WHERE id = $1"),
        ("SELECT * FROM t WHERE id = $1", "SELECT * FROM public.t WHERE id = $1"),
        ("SELECT * FROM users u WHERE u.id = $1", "SELECT * FROM orders u WHERE u.id = $1"),
        (
            "SELECT * FROM a JOIN b_01 x ON x.id = a.id",
            "SELECT * FROM a JOIN b_02 x ON x.id = a.id",
        ),
        ("INSERT INTO a.t (x) VALUES ($1)", "INSERT INTO b.t (x) VALUES ($1)"),
        ("UPDATE a.t SET x = $1 WHERE id = $2", "UPDATE b.t SET x = $1 WHERE id = $2"),
        ("DELETE FROM log_2024_01 WHERE id = $1", "DELETE FROM log_2024_02 WHERE id = $1"),
        (
            "SELECT * FROM t WHERE id IN (SELECT t_id FROM a.u)",
            "SELECT * FROM t WHERE id IN (SELECT t_id FROM b.u)",
        ),
    ],
)
def test_statements_on_different_relations_get_different_keys(one: str, other: str) -> None:
    first, second = prepare(one), prepare(other)
    assert first.key != second.key
    # the grouping key and the parsed query's key agree, for the workload's shape lookups
    assert first.key == parse(one, Schema()).key
    assert second.key == parse(other, Schema()).key


@pytest.mark.parametrize(
    "variants",
    [
        [
            "SELECT * FROM tenant_7.orders WHERE user_id = 1",
            "select *   from TENANT_7.ORDERS where user_id = 42",
            "SELECT * FROM tenant_7.orders WHERE user_id = %s",
            "SELECT * FROM tenant_7.orders /* c */ WHERE user_id = :uid",
        ],
        [
            "SELECT * FROM orders_2024 o WHERE o.id IN (1, 2)",
            "SELECT * FROM orders_2024 o WHERE o.id IN ($1, $2, $3, $4)",
            "SELECT * FROM orders_2024 o WHERE o.id = ANY($1)",
        ],
        [
            "UPDATE s1.t_01 SET a = 'x' WHERE id = 3",
            "UPDATE s1.t_01 SET a = $1 WHERE id = $2",
        ],
    ],
)
def test_literals_parameters_whitespace_and_in_lists_still_share_a_key(
    variants: list[str],
) -> None:
    assert len({prepare(sql).key for sql in variants}) == 1


def test_key_keeps_the_batched_suffix() -> None:
    per_row = prepare("SELECT * FROM a.t WHERE id = $1").key
    batched = prepare("SELECT * FROM a.t WHERE id = ANY($1)").key
    assert per_row.endswith(":r") and batched.endswith(":b")
    assert per_row[:-2] == batched[:-2]


def test_relations_are_sorted_deduplicated_and_qualified_as_written() -> None:
    info = analyze(
        "SELECT * FROM s.v JOIN u ON u.id = s.v.u_id JOIN u AS u2 ON u2.id = v.parent_id"
        " WHERE x IN (SELECT 1 FROM db.s.w) AND y IN (SELECT 1 FROM s.v)"
    )
    assert info.relations == ("db.s.w", "s.v", "u")


def test_relations_of_dml_targets_and_several_statements() -> None:
    info = analyze("INSERT INTO a.t2 (x) VALUES ($1); UPDATE s.t SET a = 1 FROM q WHERE q.x = 1")
    assert info.relations == ("a.t2", "q", "s.t")
    assert analyze("DELETE FROM b.t WHERE id = $1").relations == ("b.t",)


def test_quoted_names_are_unquoted_and_literals_are_not_relations() -> None:
    info = analyze('SELECT \'"relname":"x"\' FROM "My""Table" JOIN "a\\b" ON true')
    assert info.relations == ('My"Table', "a\\b")


def test_statements_without_relations_keep_the_plain_fingerprint() -> None:
    for sql in ("BEGIN", "SAVEPOINT sa_savepoint_1", "SELECT 1", "SET search_path = a"):
        info = analyze(sql)
        assert info.relations == ()
        assert "~" not in info.fingerprint
    with_table = fingerprint("SELECT 1 FROM t")[0]
    plain, digest = with_table.split("~")
    assert len(plain) == 16 and len(digest) == 16
