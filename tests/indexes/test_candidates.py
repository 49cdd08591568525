"""Which btree index one query wants, per table, and why there is none."""

from __future__ import annotations

from advisor.indexes.candidates import Candidate, Rejection, plan_query
from advisor.model import IndexColumn, JoinKey, OrderItem, Predicate
from tests.indexes.builders import col, eq, query, schema, table

EVENTS = table(
    "events",
    {
        "id": "bigint",
        "user_id": "bigint",
        "kind": "text",
        "created_at": "timestamptz",
        "deleted_at": "timestamptz",
        "is_public": "boolean",
        "email": "text",
    },
    rows=1_000_000,
)
USERS = table("users", {"id": "bigint", "email": "text", "name": "text"}, rows=100_000)
SHOP = schema(EVENTS, USERS)


def only(planned: tuple[Candidate | Rejection, ...]) -> Candidate:
    assert len(planned) == 1, planned
    item = planned[0]
    assert isinstance(item, Candidate), item
    return item


def rejected(planned: tuple[Candidate | Rejection, ...]) -> str:
    assert len(planned) == 1 and isinstance(planned[0], Rejection), planned
    return planned[0].reason


def desc(column: str) -> OrderItem:
    return OrderItem(col("events", column), descending=True)


def test_equality_then_order_by_with_direction() -> None:
    q = query(
        "events", predicates=(eq("events", "user_id"),), order_by=(desc("created_at"),), limit=20
    )
    cand = only(plan_query(q, SHOP))
    assert cand.equality == (IndexColumn("user_id"),)
    assert cand.tail == (IndexColumn("created_at", descending=True),)
    assert cand.tail_kind == "order"


def test_most_selective_equality_first_when_statistics_known() -> None:
    stats = table(
        "t",
        {"a": "int", "b": "int", "c": "int"},
        rows=1_000_000,
        n_distinct={"a": 5, "b": -0.5, "c": 1000},
    )
    q = query("t", predicates=(eq("t", "a"), eq("t", "c"), eq("t", "b")))
    cand = only(plan_query(q, schema(stats)))
    assert [c.column for c in cand.equality] == ["b", "c", "a"]


def test_query_order_kept_when_statistics_unknown() -> None:
    q = query("events", predicates=(eq("events", "kind"), eq("events", "user_id")))
    assert [c.column for c in only(plan_query(q, SHOP)).equality] == ["kind", "user_id"]


def test_range_without_limit_beats_order_by() -> None:
    q = query(
        "events",
        predicates=(eq("events", "user_id"), eq("events", "created_at", op="range")),
        order_by=(OrderItem(col("events", "kind")),),
    )
    cand = only(plan_query(q, SHOP))
    assert cand.tail_kind == "range" and cand.tail == (IndexColumn("created_at"),)


def test_order_by_with_limit_beats_range_on_another_column() -> None:
    q = query(
        "events",
        predicates=(eq("events", "user_id"), eq("events", "created_at", op="range")),
        order_by=(OrderItem(col("events", "kind")),),
        limit=5,
    )
    cand = only(plan_query(q, SHOP))
    assert cand.tail_kind == "order" and cand.tail == (IndexColumn("kind"),)


def test_order_by_column_fixed_by_equality_is_skipped() -> None:
    q = query(
        "events",
        predicates=(eq("events", "user_id"),),
        order_by=(OrderItem(col("events", "user_id")), desc("created_at")),
        limit=5,
    )
    cand = only(plan_query(q, SHOP))
    assert cand.columns == (IndexColumn("user_id"), IndexColumn("created_at", descending=True))


def test_mixed_directions_kept_per_column() -> None:
    q = query(
        "events",
        predicates=(eq("events", "user_id"),),
        order_by=(OrderItem(col("events", "kind")), desc("created_at")),
        limit=5,
    )
    assert [c.descending for c in only(plan_query(q, SHOP)).tail] == [False, True]


def test_is_null_becomes_partial_predicate_not_key() -> None:
    q = query(
        "events", predicates=(eq("events", "deleted_at", op="is_null"), eq("events", "user_id"))
    )
    cand = only(plan_query(q, SHOP))
    assert cand.columns == (IndexColumn("user_id"),)
    assert cand.where_sql == "deleted_at IS NULL"


def test_literal_beside_parameters_is_partial() -> None:
    q = query(
        "events", predicates=(eq("events", "user_id"), eq("events", "kind", constant="'login'"))
    )
    cand = only(plan_query(q, SHOP))
    assert cand.columns == (IndexColumn("user_id"),)
    assert cand.where == ("kind = 'login'",)


def test_literal_in_all_literal_statement_is_a_key() -> None:
    q = query(
        "events",
        predicates=(
            eq("events", "user_id", constant="42"),
            eq("events", "kind", constant="'login'"),
        ),
    )
    cand = only(plan_query(q, SHOP))
    assert [c.column for c in cand.columns] == ["user_id", "kind"]
    assert cand.where == ()


def test_boolean_constant_is_always_partial() -> None:
    q = query(
        "events",
        predicates=(eq("events", "is_public", constant="TRUE"),),
        order_by=(desc("created_at"),),
        limit=10,
    )
    cand = only(plan_query(q, SHOP))
    assert cand.columns == (IndexColumn("created_at", descending=True),)
    assert cand.where_sql == "is_public = TRUE"


def test_expression_key() -> None:
    pred = Predicate("public.users", None, "eq", expression="lower(email)", parameterized=True)
    cand = only(plan_query(query("users", predicates=(pred,)), SHOP))
    assert cand.columns == (IndexColumn(None, expression="lower(email)"),)


def test_include_only_when_asked_and_few() -> None:
    q = query(
        "events",
        predicates=(eq("events", "user_id"),),
        selected=(col("events", "id"), col("events", "kind")),
    )
    assert only(plan_query(q, SHOP)).include == ()
    assert only(plan_query(q, SHOP, include_max_columns=2)).include == ("id", "kind")
    assert only(plan_query(q, SHOP, include_max_columns=1)).include == ()


def test_join_inner_side_gets_join_columns() -> None:
    q = query(
        "users",
        "events",
        predicates=(eq("users", "email"),),
        joins=(JoinKey(col("events", "user_id"), col("users", "id")),),
    )
    planned = {item.table: item for item in plan_query(q, SHOP)}
    inner = planned["public.events"]
    assert isinstance(inner, Candidate) and inner.columns == (IndexColumn("user_id"),)
    outer = planned["public.users"]
    assert isinstance(outer, Candidate) and outer.columns == (IndexColumn("email"),)


def test_join_without_any_filter_is_rejected() -> None:
    q = query("users", "events", joins=(JoinKey(col("events", "user_id"), col("users", "id")),))
    reasons = [r.reason for r in plan_query(q, SHOP) if isinstance(r, Rejection)]
    assert len(reasons) == 2 and all("joined without a filter" in r for r in reasons)


def test_order_by_of_another_table_is_not_this_tables_tail() -> None:
    q = query(
        "users",
        "events",
        predicates=(eq("events", "user_id"),),
        joins=(JoinKey(col("events", "user_id"), col("users", "id")),),
        order_by=(OrderItem(col("users", "name")),),
        limit=5,
    )
    planned = {item.table: item for item in plan_query(q, SHOP)}
    events = planned["public.events"]
    assert isinstance(events, Candidate) and events.tail == ()


def test_aliases_and_unqualified_columns_resolve() -> None:
    pred = Predicate("e", "user_id", "eq", parameterized=True)
    bare = Predicate(None, "kind", "eq", parameterized=True)
    q = query("events", predicates=(pred, bare), aliases={"events": "e"})
    assert [c.column for c in only(plan_query(q, SHOP)).columns] == ["user_id", "kind"]


def test_reasons_for_no_candidate() -> None:
    assert "not a SELECT/UPDATE/DELETE" in rejected(
        plan_query(query("events", kind="insert"), SHOP)
    )
    assert rejected(plan_query(query("events"), SHOP)) == "no filter, join or sort columns"
    assert "low-selectivity boolean" in rejected(
        plan_query(query("events", predicates=(eq("events", "is_public"),)), SHOP)
    )
    assert "ORDER BY without LIMIT" in rejected(
        plan_query(query("events", order_by=(desc("created_at"),)), SHOP)
    )
    only_null = query("events", predicates=(eq("events", "deleted_at", op="is_null"),))
    assert "only constant conditions (deleted_at IS NULL)" in rejected(plan_query(only_null, SHOP))
    unknown = query("audit")
    assert rejected(plan_query(unknown, SHOP)) == "unknown table public.audit"


def test_neq_and_like_predicates_are_not_keys() -> None:
    neq = query("events", predicates=(eq("events", "kind", op="neq"),))
    assert rejected(plan_query(neq, SHOP)).startswith("no indexable condition")
    like = query("events", predicates=(eq("events", "email", op="like_prefix"),))
    assert "text_pattern_ops" in rejected(plan_query(like, SHOP))


def test_partial_predicate_quotes_reserved_column_names() -> None:
    odd = table("odd", {"id": "bigint", "user": "text", "order": "timestamptz"}, rows=10**6)
    q = query(
        "odd",
        predicates=(
            eq("odd", "id", op="range"),
            eq("odd", "order", op="is_null"),
            eq("odd", "user", constant="'x'"),
        ),
    )
    cand = only(plan_query(q, schema(odd)))
    assert cand.where == ('"order" IS NULL', "\"user\" = 'x'")
    assert cand.fixed == ("order", "user")


def test_order_by_expression_on_the_only_table() -> None:
    q = query("users", order_by=(OrderItem(None, expression="lower(name)"),), limit=10)
    assert only(plan_query(q, SHOP)).tail == (IndexColumn(None, expression="lower(name)"),)
