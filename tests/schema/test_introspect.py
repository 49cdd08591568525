"""Introspection of a real catalog: every index feature, keys, statistics, exclusions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest

from advisor.db import connect, run
from advisor.model import Index, Schema, Table
from advisor.schema import introspect, read_schema

RICH_DDL = (Path(__file__).parent / "rich.sql").read_text()


@pytest.fixture(scope="module")
def rich(schema_factory: Callable[[str], Schema]) -> Schema:
    return schema_factory(RICH_DDL)


def _table(schema: Schema, name: str) -> Table:
    table = schema.tables.get(name)
    assert table is not None, f"{name} missing from {sorted(schema.tables)}"
    return table


def _index(table: Table, name: str) -> Index:
    for index in table.indexes:
        if index.name == name:
            return index
    raise AssertionError(f"{name} missing from {[i.name for i in table.indexes]}")


def _execute(dsn: str, sql: str) -> None:
    async def go() -> None:
        conn = await connect(dsn, readonly=False)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    run(go())


def test_tables_schemas_and_partitions(rich: Schema) -> None:
    assert set(rich.tables) == {
        "public.users",
        "public.events",
        "billing.Invoices",
        "billing.lines",
    }
    assert rich.source == "ddl"
    assert rich.server_version is not None and rich.server_version >= 120000
    assert rich.search_path == ("public",)
    assert rich.find('billing."Invoices"') is _table(rich, "billing.Invoices")
    assert rich.find("users") is _table(rich, "public.users")
    for table in rich.tables.values():
        assert table.row_estimate is None, "never analyzed: no row estimate"
        assert table.qualified in rich.tables


def test_columns(rich: Schema) -> None:
    users = _table(rich, "public.users")
    assert [c.name for c in users.columns] == ["id", "email", "handle", "created_at", "deleted_at"]
    handle = users.column("handle")
    assert handle is not None and handle.type == "character varying(40)" and not handle.nullable
    created = users.column("created_at")
    assert created is not None and created.default == "now()"
    deleted = users.column("deleted_at")
    assert deleted is not None and deleted.nullable and deleted.avg_width is None
    amount = _table(rich, "billing.Invoices").column("amount")
    assert amount is not None and amount.type == "numeric(12,2)"


def test_keys(rich: Schema) -> None:
    users = _table(rich, "public.users")
    assert users.primary_key == ("id",)
    assert users.unique_constraints == (("handle",),), "a unique index is not a constraint"
    invoices = _table(rich, "billing.Invoices")
    assert invoices.primary_key == ("InvoiceId",)
    (fk,) = invoices.foreign_keys
    assert (fk.columns, fk.ref_table, fk.ref_columns) == (("userId",), "public.users", ("id",))
    lines = _table(rich, "billing.lines")
    assert lines.primary_key == ("invoice_id", "line_no")
    assert lines.foreign_keys[0].ref_table == "billing.Invoices"
    assert _table(rich, "public.events").primary_key == ("id", "occurred_at")


def test_constraint_backed_indexes(rich: Schema) -> None:
    users = _table(rich, "public.users")
    pkey = _index(users, "users_pkey")
    assert (pkey.primary, pkey.unique, pkey.constraint) == (True, True, "p")
    handle_key = _index(users, "users_handle_key")
    assert (handle_key.primary, handle_key.unique, handle_key.constraint) == (False, True, "u")
    unique_index = _index(users, "users_email_lower_uidx")
    assert unique_index.unique and unique_index.constraint is None
    exclusion = _index(_table(rich, "billing.Invoices"), "no_overlap")
    assert (exclusion.constraint, exclusion.method) == ("x", "gist")
    assert [k.column for k in exclusion.keys] == ["room", "period"]


def test_index_keys(rich: Schema) -> None:
    users = _table(rich, "public.users")
    expr = _index(users, "users_email_lower_uidx").keys
    assert [(k.column, k.expression) for k in expr] == [(None, "lower(email)")]
    desc = _index(users, "users_created_desc_idx").keys
    assert [(k.column, k.descending, k.nulls_first) for k in desc] == [
        ("created_at", True, False),
        ("id", False, False),
    ]
    (nulls,) = _index(users, "users_deleted_first_idx").keys
    assert (nulls.descending, nulls.nulls_first) == (False, True)
    invoices = _table(rich, "billing.Invoices")
    amount = _index(invoices, "Invoices_user_amount_idx").keys[1]
    assert (amount.column, amount.descending, amount.nulls_first) == ("amount", True, True)


def test_index_opclass_collation_include_predicate(rich: Schema) -> None:
    users = _table(rich, "public.users")
    assert _index(users, "users_email_pattern_idx").keys[0].opclass == "text_pattern_ops"
    assert _index(users, "users_handle_pattern_idx").keys[0].opclass == "varchar_pattern_ops"
    assert _index(users, "users_created_desc_idx").keys[0].opclass is None
    assert _index(users, "users_email_c_idx").keys[0].collation == "C"
    assert _index(users, "users_email_pattern_idx").keys[0].collation is None
    incl = _index(users, "users_email_incl_idx")
    assert [k.column for k in incl.keys] == ["email"]
    assert incl.include == ("handle", "created_at")
    assert _index(users, "users_active_idx").predicate == "deleted_at IS NULL"
    assert _index(users, "users_pkey").predicate is None
    for index in users.indexes:
        assert index.table == "public.users"
        assert index.valid and index.method == "btree"
        assert index.definition.startswith(("CREATE INDEX", "CREATE UNIQUE INDEX"))
        assert index.size_bytes is not None and index.size_bytes > 0


def test_partitioned_table_indexes(rich: Schema) -> None:
    events = _table(rich, "public.events")
    gin = _index(events, "events_payload_gin")
    assert gin.method == "gin" and gin.keys[0].opclass == "jsonb_path_ops"
    partial_unique = _index(events, "events_id_uidx")
    assert partial_unique.unique and partial_unique.predicate == "user_id IS NOT NULL"
    assert [c.name for c in events.columns] == ["id", "occurred_at", "user_id", "payload"]


def test_extension_owned_tables_are_left_out(fresh_db: str) -> None:
    _execute(
        fresh_db,
        """CREATE EXTENSION btree_gist;
           CREATE TABLE mine (id int PRIMARY KEY);
           CREATE TABLE owned_by_extension (id int);
           ALTER EXTENSION btree_gist ADD TABLE owned_by_extension;""",
    )
    schema = read_schema(fresh_db)
    assert set(schema.tables) == {"public.mine"}
    assert schema.source == "dsn"


def test_live_statistics(fresh_db: str) -> None:
    rows = 2000
    _execute(
        fresh_db,
        f"""CREATE TABLE items (id int PRIMARY KEY, kind text NOT NULL, note text);
            INSERT INTO items SELECT g, 'kind' || (g % 4), CASE WHEN g % 2 = 0 THEN 'x' END
            FROM generate_series(1, {rows}) g;
            CREATE TABLE parted (id int, day date) PARTITION BY RANGE (day);
            CREATE TABLE parted_a PARTITION OF parted
                FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
            CREATE TABLE parted_b PARTITION OF parted
                FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
            INSERT INTO parted SELECT g, date '2024-06-01' + (g % 400)
                FROM generate_series(1, {rows}) g;
            UPDATE items SET note = 'y' WHERE id <= 10;
            ANALYZE items; ANALYZE parted;
            SET enable_seqscan = off;
            CREATE INDEX parted_id_idx ON parted (id);
            SELECT kind FROM items WHERE id = 7;
            SELECT day FROM parted WHERE id = 7 AND day = date '2024-06-08';
            SELECT pg_stat_force_next_flush();""",
    )
    schema = read_schema(fresh_db)
    items = _table(schema, "public.items")
    assert items.row_estimate == rows
    assert items.size_bytes is not None and items.size_bytes > 8192
    kind = items.column("kind")
    assert kind is not None and kind.n_distinct == 4 and kind.null_frac == 0
    assert kind.avg_width is not None and kind.avg_width > 0
    note = items.column("note")
    assert note is not None and note.null_frac is not None and 0.4 < note.null_frac < 0.6
    assert items.stats is not None
    assert items.stats.n_tup_ins == rows and items.stats.n_tup_upd == 10
    assert _index(items, "items_pkey").scans == 1
    parted = _table(schema, "public.parted")
    assert parted.row_estimate == rows
    assert parted.stats is not None and parted.stats.n_tup_ins == rows
    assert parted.size_bytes is not None and parted.size_bytes > 2 * 8192
    parted_index = _index(parted, "parted_id_idx")
    assert parted_index.scans == 1, "the sum of its partitions' index scans"
    assert parted_index.size_bytes is not None and parted_index.size_bytes > 8192
    assert set(schema.tables) == {"public.items", "public.parted"}, "no partitions"
    assert schema.stats_since is not None


def test_introspect_on_an_open_connection(fresh_db: str) -> None:
    _execute(fresh_db, 'CREATE SCHEMA "Odd Schema"; CREATE TABLE "Odd Schema"."T" ("A b" int);')

    async def go() -> Schema:
        conn: asyncpg.Connection = await connect(fresh_db)
        try:
            return await introspect(conn, source="capture")
        finally:
            await conn.close()

    schema = run(go())
    table = _table(schema, "Odd Schema.T")
    assert [c.name for c in table.columns] == ["A b"]
    assert schema.source == "capture"


def test_the_snapshot_child_imports_only_the_catalog_reader() -> None:
    # capture runs `python -m advisor.schema` for every snapshot: the DDL and MetaData
    # paths (sqlglot, SQLAlchemy, the parser) stay unimported until asked for.
    import subprocess
    import sys

    probe = (
        "import sys, advisor.schema.__main__, advisor.schema as s; "
        "print(sorted(m for m in ('sqlglot', 'sqlalchemy', 'advisor.parse') if m in sys.modules)); "
        "print(callable(s.introspect), callable(s.schema_from_ddl))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[0] == "[]"
    assert out[1] == "True True"  # the lazy name, once asked for, and the eager one
