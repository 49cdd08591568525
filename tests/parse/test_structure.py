"""Structure extraction (sqlglot) against a schema: tables, columns, predicates, order."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from advisor.model import Column, ColumnRef, JoinKey, OrderItem, Predicate, Schema, Table, TableRef
from advisor.parse import parse

ROOT = Path(__file__).resolve().parents[2]


def _table(name: str, *columns: str, schema: str = "public") -> Table:
    return Table(schema, name, tuple(Column(c, "text") for c in columns))


SCHEMA = Schema(
    {
        t.qualified: t
        for t in (
            _table("users", "id", "email", "name", "created_at"),
            _table("orders", "id", "user_id", "status", "created_at", "total_cents"),
            _table("order_items", "id", "order_id", "product_id", "quantity"),
            _table("events", "id", "user_id", "kind", "created_at", schema="audit"),
        )
    },
    source="ddl",
)


def preds(sql: str) -> list[Predicate]:
    return list(parse(sql, SCHEMA).predicates)


def test_tables_aliases_and_qualification() -> None:
    q = parse("SELECT o.id FROM orders o JOIN users AS u ON u.id = o.user_id", SCHEMA)
    assert q.tables == (
        TableRef("public.orders", "o", True),
        TableRef("public.users", "u", True),
    )
    assert q.joins == (
        JoinKey(ColumnRef("public.users", "id"), ColumnRef("public.orders", "user_id")),
    )
    assert q.selected == (ColumnRef("public.orders", "id"),)
    assert q.unknown == ()


def test_schema_qualified_table() -> None:
    q = parse("SELECT kind FROM audit.events WHERE user_id = $1", SCHEMA)
    assert q.tables == (TableRef("audit.events", None, True),)
    assert q.predicates == (Predicate("audit.events", "user_id", "eq", parameterized=True),)


def test_unqualified_columns_resolve_to_the_only_table_having_them() -> None:
    q = parse(
        "SELECT email, status FROM orders o JOIN users u ON u.id = o.user_id WHERE id = $1", SCHEMA
    )
    assert q.selected == (ColumnRef("public.users", "email"), ColumnRef("public.orders", "status"))
    # both tables have "id": ambiguous
    assert q.predicates == (Predicate(None, "id", "eq", parameterized=True),)


def test_cte_names_are_not_tables() -> None:
    q = parse(
        "WITH recent AS (SELECT * FROM orders WHERE created_at > $1) "
        "SELECT r.id FROM recent r WHERE r.status = 'new'",
        SCHEMA,
    )
    assert [t.table for t in q.tables] == ["public.orders"]
    assert Predicate("public.orders", "created_at", "range", parameterized=True) in q.predicates
    assert q.star_tables == ()  # the outer level reads r.id: PostgreSQL fetches only that
    assert q.unknown == ()


def test_correlated_subquery_columns_resolve_outward() -> None:
    q = parse(
        "SELECT id FROM orders o WHERE EXISTS "
        "(SELECT 1 FROM order_items i WHERE i.order_id = o.id AND quantity > 3)",
        SCHEMA,
    )
    assert (
        JoinKey(ColumnRef("public.order_items", "order_id"), ColumnRef("public.orders", "id"))
        in q.joins
    )
    assert Predicate("public.order_items", "quantity", "range", constant="3") in q.predicates


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("status = 'new'", Predicate("public.orders", "status", "eq", constant="'new'")),
        ("$1 = status", Predicate("public.orders", "status", "eq", parameterized=True)),
        ("status IN ('a', 'b', 'c')", Predicate("public.orders", "status", "in", in_size=3)),
        (
            "status IN ($1)",
            Predicate("public.orders", "status", "in", parameterized=True, in_size=1),
        ),
        ("id = ANY($1)", Predicate("public.orders", "id", "any", parameterized=True)),
        ("id = ANY(ARRAY[1, 2])", Predicate("public.orders", "id", "any", in_size=2)),
        ("created_at < now()", Predicate("public.orders", "created_at", "range")),
        ("total_cents >= 10", Predicate("public.orders", "total_cents", "range", constant="10")),
        (
            "created_at BETWEEN $1 AND $2",
            Predicate("public.orders", "created_at", "range", parameterized=True),
        ),
        ("user_id IS NULL", Predicate("public.orders", "user_id", "is_null")),
        ("user_id IS NOT NULL", Predicate("public.orders", "user_id", "is_not_null")),
        ("NOT (user_id IS NULL)", Predicate("public.orders", "user_id", "is_not_null")),
        (
            "status LIKE 'ab%'",
            Predicate("public.orders", "status", "like_prefix", constant="'ab%'"),
        ),
        ("status <> 'x'", Predicate("public.orders", "status", "neq", constant="'x'")),
        ("status LIKE '%ab'", Predicate("public.orders", "status", "pattern", constant="'%ab'")),
        (
            "lower(status) = $1",
            Predicate("public.orders", None, "eq", expression="lower(status)", parameterized=True),
        ),
        (
            "(status = 'a' OR status = 'b')",
            Predicate(
                "public.orders", "status", "other", expression="status = 'a' OR status = 'b'"
            ),
        ),
        ("user_id IN (SELECT id FROM users)", Predicate("public.orders", "user_id", "in")),
        ("status", Predicate("public.orders", "status", "eq", constant="TRUE")),
        ("NOT status", Predicate("public.orders", "status", "eq", constant="FALSE")),
        ("status = true", Predicate("public.orders", "status", "eq", constant="TRUE")),
    ],
)
def test_predicate_ops(where: str, expected: Predicate) -> None:
    assert preds(f"SELECT id FROM orders WHERE {where}")[:1] == [expected]


@pytest.mark.parametrize(
    ("where", "params", "bound"),
    [
        ("$1 = status", (1,), None),
        ("created_at > $2", (2,), "lower"),
        ("$1 > created_at", (1,), "upper"),
        ("created_at <= $1::timestamptz", (1,), "upper"),
        ("created_at BETWEEN $3 AND $4", (3, 4), None),
        ("status IN ($2, $1)", (2, 1), None),
        ("id = ANY($1)", (1,), None),
        ("status = 'new'", (), None),
    ],
)
def test_predicates_name_their_parameters(
    where: str, params: tuple[int, ...], bound: str | None
) -> None:
    (pred,) = preds(f"SELECT id FROM orders WHERE {where}")[:1]
    assert (pred.params, pred.bound) == (params, bound)


def test_join_on_conjuncts_are_predicates_too() -> None:
    q = parse("SELECT o.id FROM orders o JOIN users u ON u.id = o.user_id AND u.name = $1", SCHEMA)
    assert q.predicates == (Predicate("public.users", "name", "eq", parameterized=True),)
    assert len(q.joins) == 1


def test_join_using() -> None:
    q = parse("SELECT 1 FROM orders JOIN order_items USING (id)", SCHEMA)
    assert q.joins == (
        JoinKey(ColumnRef("public.orders", "id"), ColumnRef("public.order_items", "id")),
    )


def test_star_tables() -> None:
    assert parse("SELECT * FROM orders o JOIN users u ON u.id = o.user_id", SCHEMA).star_tables == (
        "public.orders",
        "public.users",
    )
    assert parse("SELECT u.*, o.id FROM orders o JOIN users u ON true", SCHEMA).star_tables == (
        "public.users",
    )
    assert parse("SELECT count(*) FROM orders", SCHEMA).star_tables == ()
    exists = "SELECT id FROM users u WHERE EXISTS (SELECT * FROM orders o WHERE o.user_id = u.id)"
    assert parse(exists, SCHEMA).star_tables == ()


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT id FROM (SELECT * FROM orders) s",
        "SELECT s.id, s.status FROM (SELECT o.* FROM orders o) AS s WHERE s.user_id = $1",
        "WITH p AS (SELECT * FROM orders) SELECT id FROM p",
        "WITH p AS NOT MATERIALIZED (SELECT * FROM orders) SELECT a.id FROM p a JOIN p b ON true",
        "WITH p AS MATERIALIZED (SELECT * FROM orders) SELECT id FROM users",  # never computed
        "SELECT * FROM (SELECT id FROM orders) s",
        "SELECT * FROM (SELECT * FROM (SELECT id FROM orders) a) b",
        "SELECT id FROM (SELECT * FROM (SELECT * FROM orders) a) b",
        "SELECT id FROM (SELECT * FROM orders UNION ALL SELECT * FROM orders) s",
        "SELECT id FROM (SELECT DISTINCT ON (user_id) * FROM orders) s",
        "SELECT u.id FROM users u JOIN LATERAL (SELECT * FROM orders o WHERE o.user_id = u.id) x"
        " ON true",
        "SELECT id FROM users u WHERE EXISTS (SELECT * FROM (SELECT * FROM orders) v)",
    ],
)
def test_a_star_in_a_derived_table_or_cte_counts_only_when_it_reaches_the_output(sql: str) -> None:
    assert parse(sql, SCHEMA).star_tables == ()


@pytest.mark.parametrize(
    ("sql", "stars"),
    [
        ("SELECT * FROM (SELECT * FROM orders) s", ("public.orders",)),
        ("SELECT * FROM (SELECT * FROM (SELECT * FROM orders) a) b", ("public.orders",)),
        ("WITH p AS (SELECT * FROM orders) SELECT * FROM p", ("public.orders",)),
        (
            "WITH p AS (SELECT * FROM orders), q AS (SELECT * FROM p) SELECT * FROM q",
            ("public.orders",),
        ),
        (
            "SELECT s.*, u.email FROM users u"
            " JOIN (SELECT o.* FROM orders o) s ON s.user_id = u.id",
            ("public.orders",),
        ),
        (
            "SELECT * FROM users u JOIN (SELECT * FROM orders) s ON s.user_id = u.id",
            ("public.users", "public.orders"),
        ),
        # UNION branches are the output
        ("SELECT * FROM orders UNION ALL SELECT * FROM orders", ("public.orders",)),
        (
            "SELECT id FROM users UNION SELECT * FROM (SELECT * FROM orders) s",
            ("public.orders",),
        ),
        (
            "SELECT * FROM (SELECT id FROM users UNION ALL SELECT * FROM orders) s",
            ("public.orders",),
        ),
        # PostgreSQL computes whole rows: materialized CTEs, DISTINCT, UNION, INTERSECT, EXCEPT
        ("WITH p AS MATERIALIZED (SELECT * FROM orders) SELECT id FROM p", ("public.orders",)),
        (
            "WITH p AS (SELECT * FROM orders) SELECT a.id FROM p a JOIN p b ON a.id = b.id",
            ("public.orders",),
        ),
        (
            "WITH RECURSIVE r AS (SELECT * FROM orders UNION ALL SELECT o.* FROM orders o"
            " JOIN r ON r.id = o.id + 1) SELECT id FROM r",
            ("public.orders",),
        ),
        ("SELECT id FROM (SELECT DISTINCT * FROM orders) s", ("public.orders",)),
        ("SELECT id FROM (SELECT * FROM orders UNION SELECT * FROM orders) s", ("public.orders",)),
        (
            "SELECT id FROM (SELECT * FROM orders EXCEPT ALL SELECT * FROM orders) s",
            ("public.orders",),
        ),
        # INSERT ... SELECT copies whole rows: a * there counts, as it always did
        ("INSERT INTO orders SELECT * FROM orders WHERE id = $1", ("public.orders",)),
        ("INSERT INTO orders SELECT * FROM (SELECT * FROM orders) s", ("public.orders",)),
    ],
)
def test_a_star_reaching_the_output_counts(sql: str, stars: tuple[str, ...]) -> None:
    assert parse(sql, SCHEMA).star_tables == stars


def test_order_by_group_by_limit() -> None:
    q = parse(
        "SELECT user_id, created_at AS c FROM orders GROUP BY user_id, 2 "
        "ORDER BY c DESC, 1 NULLS FIRST, lower(status) LIMIT 10",
        SCHEMA,
    )
    assert q.order_by == (
        OrderItem(ColumnRef("public.orders", "created_at"), descending=True),
        OrderItem(ColumnRef("public.orders", "user_id"), nulls_first=True),
        OrderItem(None, expression="lower(status)"),
    )
    assert q.group_by == (
        ColumnRef("public.orders", "user_id"),
        ColumnRef("public.orders", "created_at"),
    )
    assert (q.limit, q.has_limit) == (10, True)


def test_parameterized_limit() -> None:
    q = parse("SELECT id FROM orders ORDER BY created_at DESC NULLS LAST LIMIT %s", SCHEMA)
    assert (q.limit, q.has_limit) == (None, True)
    assert q.order_by == (OrderItem(ColumnRef("public.orders", "created_at"), True, False),)


def test_update_and_delete_predicates() -> None:
    q = parse("UPDATE orders SET status = $1 WHERE id = $2", SCHEMA)
    assert q.kind == "update"
    assert q.predicates == (Predicate("public.orders", "id", "eq", parameterized=True),)
    q = parse(
        "DELETE FROM order_items i USING orders o WHERE i.order_id = o.id AND o.status = 'x'",
        SCHEMA,
    )
    assert q.kind == "delete"
    assert q.predicates == (Predicate("public.orders", "status", "eq", constant="'x'"),)
    assert len(q.joins) == 1


def test_update_from_and_delete_using_read_their_joins() -> None:
    q = parse(
        "UPDATE order_items i SET quantity = 0 FROM orders o JOIN users u ON u.id = o.user_id"
        " WHERE i.order_id = o.id AND u.email = $1",
        SCHEMA,
    )
    assert [t.table for t in q.tables] == ["public.order_items", "public.orders", "public.users"]
    assert set(q.joins) == {
        JoinKey(ColumnRef("public.users", "id"), ColumnRef("public.orders", "user_id")),
        JoinKey(ColumnRef("public.order_items", "order_id"), ColumnRef("public.orders", "id")),
    }
    assert q.predicates == (Predicate("public.users", "email", "eq", parameterized=True),)
    q = parse(
        "DELETE FROM order_items i USING orders o, users u"
        " WHERE i.order_id = o.id AND o.user_id = u.id",
        SCHEMA,
    )
    assert [t.table for t in q.tables] == ["public.order_items", "public.orders", "public.users"]
    assert len(q.joins) == 2


def test_insert_select_reads_its_source() -> None:
    q = parse("INSERT INTO orders (user_id) SELECT id FROM users WHERE email = $1", SCHEMA)
    assert [t.table for t in q.tables] == ["public.orders", "public.users"]
    assert q.predicates == (Predicate("public.users", "email", "eq", parameterized=True),)


def test_unknown_tables_and_columns_are_noted_not_fatal() -> None:
    q = parse("SELECT nope FROM orders WHERE ghost = 1 AND x.y = 2", SCHEMA)
    assert "column nope" in q.unknown
    assert "column ghost" in q.unknown
    q = parse("SELECT a FROM missing WHERE b = $1", SCHEMA)
    assert q.tables == (TableRef("missing", None, False),)
    assert q.unknown == ("table missing",)
    assert q.predicates == (Predicate("missing", "b", "eq", parameterized=True),)


def test_statement_sqlglot_cannot_read_keeps_pglast_fields() -> None:
    # valid PostgreSQL that sqlglot does not understand
    q = parse("SELECT * FROM orders WHERE id = $1 FOR NO KEY UPDATE OF orders NOWAIT", SCHEMA)
    assert q.fingerprint
    assert q.kind == "select"
    q2 = parse("CREATE STATISTICS s (dependencies) ON user_id, status FROM orders", SCHEMA)
    assert q2.kind == "other"
    assert q2.fingerprint


def test_against_the_shop_schema(schema_factory: Callable[[str], Schema]) -> None:
    schema = schema_factory((ROOT / "fixtures" / "schemas" / "shop.sql").read_text())
    q = parse(
        "SELECT e.* FROM events e JOIN users u ON u.id = e.user_id "
        "WHERE e.user_id = %(uid)s AND lower(u.email) = %(email)s "
        "ORDER BY e.created_at DESC LIMIT 20",
        schema,
    )
    assert q.tables == (TableRef("public.events", "e", True), TableRef("public.users", "u", True))
    assert q.star_tables == ("public.events",)
    assert q.predicates == (
        Predicate("public.events", "user_id", "eq", parameterized=True),
        Predicate("public.users", None, "eq", expression="lower(email)", parameterized=True),
    )
    assert q.order_by == (OrderItem(ColumnRef("public.events", "created_at"), descending=True),)
    assert q.unknown == ()


@pytest.mark.parametrize(
    "sql", ["SET search_path TO public", "VACUUM orders", "CREATE INDEX ON orders (status)"]
)
def test_utility_statements_have_no_structure(sql: str) -> None:
    q = parse(sql, SCHEMA)
    assert (q.kind, q.tables, q.predicates, q.unknown) == ("other", (), (), ())


def test_a_table_read_twice_is_listed_once_per_alias() -> None:
    q = parse(
        "UPDATE orders SET status = 'x' WHERE id IN (SELECT id FROM orders WHERE status = 'y')",
        SCHEMA,
    )
    assert q.tables == (TableRef("public.orders", None, True),)
    q = parse("SELECT 1 FROM orders a JOIN orders b ON b.user_id = a.user_id", SCHEMA)
    assert [t.alias for t in q.tables] == ["a", "b"]
    assert q.joins == (
        JoinKey(ColumnRef("public.orders", "user_id"), ColumnRef("public.orders", "user_id")),
    )


def test_derived_tables_are_scanned_but_are_not_tables() -> None:
    q = parse(
        "SELECT count(*) FROM (SELECT orders.id FROM orders WHERE orders.status = $1) AS anon_1",
        SCHEMA,
    )
    assert q.tables == (TableRef("public.orders", None, True),)
    assert q.predicates == (Predicate("public.orders", "status", "eq", parameterized=True),)
    assert q.star_tables == ()


# SQLAlchemy 2.x, select(Order).options(joinedload(Order.items)).where(Order.user_id == x)
# .order_by(Order.created_at.desc()).limit(20), as psycopg and as asyncpg send it.
_JOINEDLOAD_LIMIT = (
    "SELECT anon_1.id, anon_1.user_id, anon_1.created_at, order_items_1.id AS id_1, "
    "order_items_1.order_id, order_items_1.quantity \n"
    "FROM (SELECT orders.id AS id, orders.user_id AS user_id, orders.created_at AS created_at \n"
    "FROM orders \n"
    "WHERE orders.user_id = {user}::INTEGER ORDER BY orders.created_at DESC \n"
    " LIMIT {limit}) AS anon_1 LEFT OUTER JOIN order_items AS order_items_1 "
    "ON anon_1.id = order_items_1.order_id ORDER BY anon_1.created_at DESC"
)


@pytest.mark.parametrize(
    ("user", "limit", "value"),
    [
        ("%(user_id_1)s", "%(param_1)s::INTEGER", None),
        ("$1", "$2::INTEGER", None),
        ("$1", "20", 20),
    ],
)
def test_a_wrapping_level_without_limit_takes_the_derived_sort_and_limit(
    user: str, limit: str, value: int | None
) -> None:
    q = parse(_JOINEDLOAD_LIMIT.format(user=user, limit=limit), SCHEMA)
    assert q.sql.count("$") == (2 if value is None else 1)  # placeholders normalized
    assert q.order_by == (OrderItem(ColumnRef("public.orders", "created_at"), descending=True),)
    assert (q.limit, q.has_limit) == (value, True)
    assert q.predicates == (Predicate("public.orders", "user_id", "eq", parameterized=True),)
    assert q.unknown == ()


def test_the_derived_sort_resolves_in_the_derived_scope() -> None:
    q = parse(
        "SELECT s.id, i.quantity FROM (SELECT o.id, o.created_at AS c FROM orders o "
        "ORDER BY c, 1 DESC LIMIT 5) s JOIN order_items i ON i.order_id = s.id "
        "GROUP BY s.id, i.quantity ORDER BY s.c",
        SCHEMA,
    )
    assert q.order_by == (
        OrderItem(ColumnRef("public.orders", "created_at")),
        OrderItem(ColumnRef("public.orders", "id"), descending=True),
    )
    assert (q.limit, q.has_limit) == (5, True)
    # GROUP BY stays the outermost level's
    assert q.group_by == (ColumnRef(None, "id"), ColumnRef("public.order_items", "quantity"))


_DERIVED = "SELECT s.id FROM (SELECT orders.id, orders.created_at FROM orders {inner}) s"


@pytest.mark.parametrize(
    ("sql", "order", "limit", "has_limit"),
    [
        # a derived table without LIMIT (or without ORDER BY) carries nothing
        (
            _DERIVED.format(inner="ORDER BY orders.created_at") + " ORDER BY s.created_at",
            (OrderItem(ColumnRef(None, "created_at")),),
            None,
            False,
        ),
        (_DERIVED.format(inner="LIMIT 5"), (), None, False),
        # an outer LIMIT wins over the derived table's ORDER BY ... LIMIT
        (
            _DERIVED.format(inner="ORDER BY orders.created_at DESC LIMIT 100")
            + " ORDER BY s.id LIMIT 5",
            (OrderItem(ColumnRef(None, "id")),),
            5,
            True,
        ),
        # a UNION at the top is read as before: its own ORDER BY, no LIMIT
        (
            _DERIVED.format(inner="ORDER BY orders.created_at LIMIT 5")
            + " UNION SELECT id FROM users ORDER BY 1",
            (OrderItem(ColumnRef(None, "id")),),
            None,
            False,
        ),
        # the derived table is joined, not the FROM: not the level that limits
        (
            "SELECT u.id FROM users u JOIN (SELECT orders.user_id FROM orders "
            "ORDER BY orders.created_at LIMIT 5) s ON s.user_id = u.id ORDER BY u.created_at",
            (OrderItem(ColumnRef("public.users", "created_at")),),
            None,
            False,
        ),
    ],
)
def test_other_derived_tables_keep_the_outermost_sort_and_limit(
    sql: str, order: tuple[OrderItem, ...], limit: int | None, has_limit: bool
) -> None:
    q = parse(sql, SCHEMA)
    assert q.order_by == order
    assert (q.limit, q.has_limit) == (limit, has_limit)
