"""Index names and the CREATE / DROP INDEX text."""

from __future__ import annotations

from advisor.indexes.ddl import create_index_sql, describe_column, drop_index_sql, make_suggestion
from advisor.indexes.naming import MAX_IDENTIFIER_BYTES, index_name
from advisor.model import IndexColumn

USER_TIME = (IndexColumn("user_id"), IndexColumn("created_at", descending=True))


def test_name_is_readable_and_deterministic() -> None:
    assert index_name("public.events", USER_TIME) == "ix_events_user_id_created_at"
    assert index_name("public.events", USER_TIME) == index_name("public.events", USER_TIME)


def test_partial_expression_and_method_change_the_name() -> None:
    lower = (IndexColumn(None, expression="lower(email)"),)
    assert index_name("public.users", lower) == "ix_users_lower_email"
    partial = index_name("public.users", lower, where="deleted_at IS NULL")
    assert partial == "ix_users_lower_email_where_deleted_at_is_null"
    assert index_name("public.users", lower, method="hash") == "ix_users_lower_email_hash"


def test_long_names_fit_63_bytes_and_stay_distinct() -> None:
    cols_a = tuple(IndexColumn(f"a_rather_long_column_name_{i}") for i in range(4))
    cols_b = (*cols_a[:3], IndexColumn("something_else_entirely"))
    a, b = index_name("public.t", cols_a), index_name("public.t", cols_b)
    assert len(a.encode()) <= MAX_IDENTIFIER_BYTES and len(b.encode()) <= MAX_IDENTIFIER_BYTES
    assert a != b and a.startswith("ix_t_a_rather_long_column_name_0")


def test_multibyte_names_are_cut_on_a_character_boundary() -> None:
    name = index_name("public.tabelle", tuple(IndexColumn("größe_" * 4 + str(i)) for i in range(3)))
    assert len(name.encode()) <= MAX_IDENTIFIER_BYTES
    name.encode().decode("utf-8")


def test_create_index_sql() -> None:
    sql = create_index_sql("public.events", USER_TIME, "ix_events_user_id_created_at")
    assert sql == (
        'CREATE INDEX CONCURRENTLY IF NOT EXISTS "ix_events_user_id_created_at" '
        'ON "public"."events" ("user_id", "created_at" DESC);'
    )
    full = create_index_sql(
        "public.users",
        (IndexColumn(None, expression="lower(email)"), IndexColumn("id", nulls_first=True)),
        "ix",
        include=("name",),
        where="deleted_at IS NULL",
    )
    assert full.endswith(
        'ON "public"."users" ((lower(email)), "id" NULLS FIRST) INCLUDE ("name") '
        "WHERE deleted_at IS NULL;"
    )


def test_default_nulls_order_is_not_spelled_out() -> None:
    assert describe_column(IndexColumn("a", descending=True, nulls_first=True)) == "a DESC"
    assert describe_column(IndexColumn("a", descending=True, nulls_first=False)) == (
        "a DESC NULLS LAST"
    )
    assert describe_column(IndexColumn("a", nulls_first=False)) == "a"


def test_drop_index_sql_names_the_schema() -> None:
    assert drop_index_sql("public.events", "ix_a") == (
        'DROP INDEX CONCURRENTLY IF EXISTS "public"."ix_a";'
    )


def test_make_suggestion_fills_name_and_sql() -> None:
    s = make_suggestion("public.events", USER_TIME, query_keys=("k:r",), reason="why")
    assert s.name == "ix_events_user_id_created_at"
    assert s.sql.startswith(
        'CREATE INDEX CONCURRENTLY IF NOT EXISTS "ix_events_user_id_created_at"'
    )
    assert s.query_keys == ("k:r",) and s.reason == "why"
