"""A Schema rendered back to DDL recreates the same tables, keys and indexes."""

from __future__ import annotations

from collections.abc import Callable

from advisor.model import Schema
from advisor.schema.render import render_schema

DDL = """
CREATE SCHEMA billing;
CREATE TABLE accounts (
    id bigserial PRIMARY KEY,
    email varchar(120) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    status text NOT NULL DEFAULT 'active',
    score numeric(6, 2) DEFAULT round(random()::numeric, 2),
    UNIQUE (email)
);
CREATE FUNCTION next_code() RETURNS text LANGUAGE sql AS $$ SELECT 'c' $$;
CREATE TABLE billing.invoices (
    id serial PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id),
    parent_id int REFERENCES billing.invoices (id),
    code text DEFAULT next_code(),
    amount numeric(12, 2) NOT NULL
);
CREATE INDEX invoices_account_amount ON billing.invoices (account_id, amount DESC)
    WHERE amount > 0;
"""


def _shape(schema: Schema) -> dict[str, object]:
    return {
        name: (
            [(c.name, c.type, c.nullable) for c in t.columns],
            t.primary_key,
            t.unique_constraints,
            sorted((fk.columns, fk.ref_table, fk.ref_columns) for fk in t.foreign_keys),
            sorted(i.definition for i in t.indexes),
        )
        for name, t in schema.tables.items()
    }


def test_rendered_schema_recreates_tables_keys_and_indexes(
    schema_factory: Callable[[str], Schema],
) -> None:
    original = schema_factory(DDL)
    rendered = render_schema(original)
    again = schema_factory(rendered)
    assert _shape(again) == _shape(original)
    defaults = {
        (n, c.name): c.default for n, t in again.tables.items() for c in t.columns if c.default
    }
    # safe defaults repeat (serial sequences are recreated and owned); a user function's not
    assert defaults[("public.accounts", "created_at")] == "now()"
    assert defaults[("public.accounts", "status")] == "'active'::text"
    assert defaults[("billing.invoices", "id")].startswith("nextval(")
    assert ("billing.invoices", "code") not in defaults
    assert "OWNED BY" in rendered
