"""DDL loading: statement splitting, error messages naming file and line, SQLAlchemy models."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor.errors import InputError
from advisor.schema import load_ddl, load_metadata, schema_from_ddl, schema_from_metadata

TRICKY = """-- leading comment; with a semicolon
CREATE TABLE a (s text DEFAULT 'x;y''z');
/* block; /* nested; */ still comment */
CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $body$ SELECT 1; $body$;
\\connect somewhere
CREATE TABLE "we;ird" (s text DEFAULT E'it\\'s; fine');
CREATE TABLE b (id int REFERENCES nowhere)"""


def test_quotes_comments_and_meta_commands_in_ddl(fresh_db: str, pg_dsn: str) -> None:
    with pytest.raises(InputError) as info:
        schema_from_ddl(TRICKY, pg_dsn)
    assert str(info.value).startswith('<ddl>:7: relation "nowhere" does not exist')
    schema = load_ddl(fresh_db, TRICKY.rsplit(";", 1)[0])
    assert set(schema.tables) == {"public.a", "public.we;ird"}
    column = schema.tables["public.we;ird"].columns[0]
    assert column.default is not None and "it''s; fine" in column.default


def test_bad_ddl_names_the_file_and_line(tmp_path: Path, fresh_db: str) -> None:
    ddl = tmp_path / "schema.sql"
    ddl.write_text(
        "CREATE TABLE ok (id int PRIMARY KEY);\n\n"
        "CREATE INDEX ok_idx\n    ON ok (id);\n"
        "CREATE TABLE bad (\n    id int REFERENCES missing (id)\n);\n"
    )
    with pytest.raises(InputError) as info:
        load_ddl(fresh_db, ddl)
    message = str(info.value)
    assert message.startswith(f"{ddl}:5: ")
    assert 'relation "missing" does not exist' in message
    assert "CREATE TABLE bad" in message
    assert "\n" not in message


def test_syntax_error_points_at_the_line_inside_the_statement(fresh_db: str) -> None:
    text = "CREATE TABLE t1 (id int);\nCREATE TABLE t2 (\n  id int,\n  name txet oops\n);\n"
    with pytest.raises(InputError, match=r"^<ddl>:4: syntax error"):
        load_ddl(fresh_db, text)


def test_missing_file_is_an_input_error(tmp_path: Path, pg_dsn: str) -> None:
    with pytest.raises(InputError, match="cannot read the schema file"):
        schema_from_ddl(tmp_path / "nope.sql", pg_dsn)


def test_schema_from_ddl_uses_a_scratch_database(pg_dsn: str) -> None:
    schema = schema_from_ddl("CREATE TABLE scratch (id int PRIMARY KEY, v text);", pg_dsn)
    assert list(schema.tables) == ["public.scratch"]
    assert schema.source == "ddl"


def test_fixture_schema_loads(schema_factory: object) -> None:
    shop = Path(__file__).parents[2] / "fixtures" / "schemas" / "shop.sql"
    assert callable(schema_factory)
    schema = schema_factory(shop.read_text())
    assert schema.tables, "fixtures/schemas/shop.sql has tables"
    for table in schema.tables.values():
        assert table.columns


def test_models_from_sqlalchemy_metadata(fresh_db: str) -> None:
    schema = load_metadata(fresh_db, "tests.schema.models_example:Base")
    assert schema.source == "metadata"
    assert set(schema.tables) == {"crm.customers", "public.orders"}
    orders = schema.tables["public.orders"]
    (fk,) = orders.foreign_keys
    assert (fk.columns, fk.ref_table, fk.ref_columns) == (
        ("customer_id",),
        "crm.customers",
        ("id",),
    )
    status = orders.column("status")
    assert status is not None and status.type == "status"
    by_name = {i.name: i for i in orders.indexes}
    assert [k.column for k in by_name["ix_orders_customer_created"].keys] == [
        "customer_id",
        "created",
    ]
    assert "ix_orders_created" in by_name
    assert schema.tables["crm.customers"].unique_constraints == (("email",),)


def test_schema_from_metadata_accepts_a_metadata_object(pg_dsn: str) -> None:
    schema = schema_from_metadata("tests.schema.models_example:Base.metadata", pg_dsn)
    assert "crm.customers" in schema.tables


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("no_colon_here", "expected 'package.module:Base'"),
        ("tests.schema.no_such_module:Base", "cannot import tests.schema.no_such_module"),
        ("tests.schema.models_example:Nope", "has no attribute Nope"),
        ("tests.schema.models_example:Status", "neither a SQLAlchemy MetaData"),
    ],
)
def test_bad_metadata_specs(spec: str, expected: str, fresh_db: str) -> None:
    with pytest.raises(InputError, match=expected):
        load_metadata(fresh_db, spec)
