"""Trigram keys: pattern lengths, names that never collide with a btree, DDL with opclass."""

from __future__ import annotations

import pytest

from advisor.indexes.ddl import key_sql, make_suggestion
from advisor.indexes.naming import index_name
from advisor.indexes.trigram import (
    TRIGRAM_OPCLASS,
    extension_statements,
    hypopg_supports,
    longest_run,
)
from advisor.model import IndexColumn

TITLE = IndexColumn("title", opclass=TRIGRAM_OPCLASS)


@pytest.mark.parametrize(
    ("pattern", "run"),
    [("%ab12%", 4), ("%ab%", 2), ("_a%b", 1), ("100!%%", 4), ("soup", 4), ("%", 0)],
)
def test_longest_run_between_wildcards(pattern: str, run: int) -> None:
    assert longest_run(pattern, escape="!" if "!" in pattern else "\\") == run


def test_a_trigram_name_differs_from_the_btree_on_the_same_column() -> None:
    btree = index_name("public.recipes", (IndexColumn("title"),))
    trgm = index_name("public.recipes", (TITLE,), method="gin")
    gist = index_name(
        "public.recipes", (IndexColumn("title", opclass="gist_trgm_ops"),), method="gist"
    )
    assert (btree, trgm, gist) == (
        "ix_recipes_title",
        "ix_recipes_title_trgm",
        "ix_recipes_title_gist_trgm",
    )


def test_ddl_carries_the_operator_class_and_the_extension() -> None:
    lower = IndexColumn(None, expression="lower(title)", opclass=TRIGRAM_OPCLASS)
    assert key_sql(TITLE) == '"title" gin_trgm_ops'
    assert key_sql(lower) == "(lower(title)) gin_trgm_ops"
    s = make_suggestion("public.recipes", (TITLE, lower), method="gin")
    assert s.sql.endswith('USING gin ("title" gin_trgm_ops, (lower(title)) gin_trgm_ops);')
    assert extension_statements(s.columns) == ("CREATE EXTENSION IF NOT EXISTS pg_trgm;",)
    assert extension_statements((IndexColumn("title"),)) == ()
    assert not hypopg_supports("gin") and hypopg_supports("btree")
