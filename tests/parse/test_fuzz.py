"""Random and mutated SQL never crashes the readers: only ParseError or Skipped."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advisor.errors import ParseError
from advisor.model import CallSite, Column, Execution, Schema, Skipped, Table
from advisor.parse import fingerprint, parse
from advisor.sources.sql_file import read_sql
from advisor.workload import build_workload

SCHEMA = Schema(
    {
        "public.orders": Table(
            "public", "orders", tuple(Column(c, "int") for c in ("id", "user_id", "status"))
        ),
        "public.users": Table("public", "users", tuple(Column(c, "int") for c in ("id", "email"))),
    }
)
SEEDS = [
    "SELECT * FROM orders o JOIN users u ON u.id = o.user_id WHERE o.status IN ('a', 'b')",
    "SELECT id FROM orders WHERE user_id = %(uid)s AND status = :s ORDER BY 1 DESC LIMIT ?",
    "WITH x AS (SELECT id FROM users) "
    "UPDATE orders SET status = $1 WHERE user_id IN (SELECT id FROM x)",
    "DELETE FROM orders USING users WHERE users.id = orders.user_id AND email LIKE 'a%'",
    'SELECT $$ a ; b $$, E\'\\\'\', "odd""name" FROM orders -- c\n/* d /* e */ */',
]
TOKENS = [
    "SELECT",
    "FROM",
    "WHERE",
    "AND",
    "OR",
    "IN",
    "(",
    ")",
    ",",
    ";",
    "'",
    '"',
    "$$",
    "$1",
    "%s",
    "%(a)s",
    ":a",
    "?",
    "::",
    "--",
    "/*",
    "*/",
    "\\",
    "=",
    "ANY",
    "NULL",
    "orders",
    "id",
    "\x00",
    "é",
    "\n",
]
mutated = st.builds(
    lambda seed, cuts: _mutate(seed, cuts),
    st.sampled_from(SEEDS),
    st.lists(st.tuples(st.integers(0, 200), st.sampled_from([*TOKENS, ""])), max_size=6),
)
texts = st.one_of(st.text(max_size=200), mutated, st.lists(st.sampled_from(TOKENS)).map(" ".join))


def _mutate(seed: str, cuts: list[tuple[int, str]]) -> str:
    for pos, token in cuts:
        pos = min(pos, len(seed))
        seed = seed[:pos] + token + seed[pos + 1 :]
    return seed


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts)
def test_parse_raises_only_parse_error(sql: str) -> None:
    try:
        parsed = parse(sql, SCHEMA)
    except ParseError as exc:
        assert "\n" not in str(exc)
    else:
        assert parsed.fingerprint == fingerprint(sql)[0]


@settings(max_examples=200, deadline=None)
@given(texts)
def test_read_sql_and_workload_never_crash(text: str) -> None:
    items = list(read_sql("fuzz.sql", text))
    assert all(isinstance(i, Execution | Skipped) for i in items)
    workload = build_workload(items, SCHEMA)
    parsed = sum(shape.calls for shape in workload.shapes.values())
    executions = [i for i in items if isinstance(i, Execution)]
    assert workload.executions == len(executions)
    assert parsed + sum(1 for s in workload.skipped if s.sql is not None) <= len(executions)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 3),
            st.one_of(st.integers(-5, 10**6).map(str), st.text("ab'c ;%", max_size=6)),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_workload_grouping_matches_parse_keys(values: list[tuple[int, str]]) -> None:
    templates = [
        "SELECT * FROM orders WHERE id = {}",
        "SELECT * FROM orders WHERE id IN ({}, 2)",
        "SELECT * FROM orders WHERE status = '{}' LIMIT 5",
        "UPDATE orders SET status = '{}' WHERE id = 1",
    ]
    sqls = []
    for index, value in values:
        literal = value.replace("'", "''") if index in (2, 3) else value
        sqls.append(templates[index].format(literal))
    items = [Execution(sql, CallSite("q.sql", n)) for n, sql in enumerate(sqls)]
    workload = build_workload(items, SCHEMA)
    expected: dict[str, int] = {}
    for sql in sqls:
        try:
            key = parse(sql, SCHEMA).key
        except ParseError:
            continue
        expected[key] = expected.get(key, 0) + 1
    assert {k: s.calls for k, s in workload.shapes.items()} == expected
