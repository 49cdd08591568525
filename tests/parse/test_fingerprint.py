"""Fingerprints: literals merge, per-row and batched lookups never share a key."""

from __future__ import annotations

import pytest

from advisor.errors import ParseError
from advisor.model import Schema
from advisor.parse import fingerprint, parse


def test_literals_and_placeholder_styles_merge() -> None:
    variants = [
        "SELECT * FROM orders WHERE user_id = 1",
        "select * from orders where user_id = 42",
        "SELECT * FROM orders WHERE user_id = $1",
        "SELECT * FROM orders WHERE user_id = %s",
        "SELECT * FROM orders WHERE user_id = %(uid)s",
        "SELECT * FROM orders WHERE user_id = :uid",
        "SELECT * FROM orders WHERE user_id = ?",
        "SELECT * FROM orders /* comment */ WHERE user_id = 7",
    ]
    assert len({fingerprint(sql) for sql in variants}) == 1
    assert fingerprint(variants[0])[1] is False


@pytest.mark.parametrize(
    ("per_row", "batched"),
    [
        ("SELECT * FROM t WHERE id = $1", "SELECT * FROM t WHERE id = ANY($1)"),
        ("SELECT * FROM t WHERE id IN ($1)", "SELECT * FROM t WHERE id IN ($1, $2, $3)"),
        ("SELECT * FROM t WHERE id IN (1)", "SELECT * FROM t WHERE id IN (1, 2)"),
        (
            "SELECT * FROM a JOIN b ON b.a_id = a.id AND b.k = $1",
            "SELECT * FROM a JOIN b ON b.a_id = a.id AND b.k = ANY(ARRAY[1, 2])",
        ),
    ],
)
def test_batched_and_per_row_keys_differ(per_row: str, batched: str) -> None:
    one, many = parse(per_row, Schema()), parse(batched, Schema())
    assert one.batched is False
    assert many.batched is True
    assert one.key != many.key


def test_batched_lists_of_any_length_share_a_key() -> None:
    keys = {
        parse(f"SELECT * FROM t WHERE id IN ({', '.join(['1'] * n)})", Schema()).key
        for n in (2, 3, 10)
    }
    assert len(keys) == 1


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM t WHERE id NOT IN (1, 2)",
        "SELECT * FROM t WHERE id <> ALL($1)",
        "SELECT * FROM t WHERE id IN (SELECT x FROM u)",
        "SELECT id IN (1, 2) FROM t WHERE id = $1",
    ],
)
def test_not_batched(sql: str) -> None:
    assert fingerprint(sql)[1] is False


@pytest.mark.parametrize(
    ("sql", "kind", "savepoint"),
    [
        ("SELECT 1", "select", False),
        ("WITH x AS (SELECT 1) SELECT * FROM x", "select", False),
        ("INSERT INTO t VALUES (1)", "insert", False),
        ("UPDATE t SET a = 1", "update", False),
        ("DELETE FROM t", "delete", False),
        ("CREATE TABLE t (a int)", "other", False),
        ("SAVEPOINT sa_savepoint_1", "other", True),
        ("RELEASE SAVEPOINT sa_savepoint_1", "other", True),
        ("BEGIN", "other", True),
        ("COMMIT", "other", True),
    ],
)
def test_kind_and_transaction_control(sql: str, kind: str, savepoint: bool) -> None:
    parsed = parse(sql, Schema())
    assert parsed.kind == kind
    assert parsed.is_savepoint is savepoint


def test_savepoint_names_merge() -> None:
    assert fingerprint("SAVEPOINT sa_savepoint_1") == fingerprint("SAVEPOINT sa_savepoint_2")


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT * FORM t", 'syntax error at or near "FORM" at position 10'),
        ("SELECT 'abc", "unterminated quoted string"),
        ("-- nothing", "no SQL statement"),
        ("", "no SQL statement"),
    ],
)
def test_parse_errors_carry_postgres_message(sql: str, message: str) -> None:
    with pytest.raises(ParseError, match=message) as info:
        fingerprint(sql)
    assert "\n" not in str(info.value)


def test_parse_error_of_a_huge_statement_is_one_short_line() -> None:
    sql = "SELECT " + ", ".join(["1"] * 200_000) + " FORM t"
    with pytest.raises(ParseError) as info:
        parse(sql, Schema())
    assert len(str(info.value)) < 300
