"""A trigram GIN index verified like any other: generated text, a realistic search term,
the what-if oracle's real-index fallback (HypoPG has no GIN), EXPLAIN ANALYZE before/after."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from advisor.indexes.ddl import make_suggestion
from advisor.indexes.trigram import TRIGRAM_OPCLASS
from advisor.model import IndexColumn, Schema
from advisor.sandbox import create_database, drop_database
from advisor.schema.ddl import load_ddl
from advisor.schema.introspect import read_schema
from advisor.verify.data import DataPlan, PreparedData, prepare_data
from advisor.verify.measure import VerifyOptions, verify_indexes
from advisor.verify.params import statements_for
from advisor.verify.whatif import WhatIf
from tests.verify.builders import workload_of

DDL = """
CREATE TABLE recipes (
    id bigserial PRIMARY KEY,
    title text NOT NULL,
    notes varchar(200)
);
"""
SEARCH = "SELECT id, title FROM recipes WHERE title ILIKE $1 OR notes ILIKE $1"
CONTAINS = "SELECT id FROM recipes WHERE title LIKE '%' || $1 || '%'"


@pytest.fixture(scope="module")
def recipes(pg_dsn: str) -> Iterator[tuple[PreparedData, Schema]]:
    """100,000 generated recipes (text from the generator: hex of a hash)."""
    name = "advt_trgm_schema"
    try:
        schema = load_ddl(create_database(pg_dsn, name), DDL)
    finally:
        drop_database(pg_dsn, name)
    data = prepare_data(
        pg_dsn, schema, DataPlan(mode="generate", rows={"recipes": 100_000}), ddl=DDL
    )
    try:
        yield data, read_schema(data.dsn)
    finally:
        drop_database(pg_dsn, data.database)


def _search_index() -> tuple[IndexColumn, ...]:
    return (
        IndexColumn("title", opclass=TRIGRAM_OPCLASS),
        IndexColumn("notes", opclass=TRIGRAM_OPCLASS),
    )


def test_a_trigram_index_is_measured_and_kept(recipes: tuple[PreparedData, Schema]) -> None:
    data, schema = recipes
    workload = workload_of(schema, (SEARCH, 200), (CONTAINS, 50))
    keys = {shape.query.sql: key for key, shape in workload.shapes.items()}
    index = make_suggestion(
        "public.recipes", _search_index(), method="gin", query_keys=tuple(keys.values())
    )
    outcome = verify_indexes(
        data.dsn, workload, [index], options=VerifyOptions(runs=3), data=data.origin
    )
    (kept,) = outcome.kept
    v = kept.verification
    assert v is not None and v.verdict == "helps" and v.used
    assert v.plan_change is not None and v.plan_change.startswith("Seq Scan")
    assert "Bitmap Index Scan" in v.plan_change
    assert v.after_ms is not None and v.before_ms is not None and v.after_ms < v.before_ms * 0.5
    for effect in v.effects:
        # A search term drawn from the data, never NULL: the searches find rows.
        assert effect.before.params == "sampled"
        assert effect.after.plan is not None and (effect.after.plan.actual_rows or 0) > 0


def test_the_what_if_oracle_builds_trigram_indexes_for_real_under_hypopg(
    recipes: tuple[PreparedData, Schema],
) -> None:
    data, schema = recipes
    workload = workload_of(schema, (SEARCH, 200))
    (key,) = workload.shapes
    statements, refused = statements_for(workload.shapes.values(), data.dsn)
    assert not refused
    index = make_suggestion("public.recipes", _search_index(), method="gin", query_keys=(key,))
    with WhatIf(data.dsn, statements, hypopg=True) as oracle:
        assert oracle.method == "hypopg"
        before = oracle.costs([])[key]
        after = oracle.costs([index])[key]
        assert not oracle.unbuildable
        assert after < before * 0.2
        assert oracle.size_bytes(index) > 1_000_000
    # Built inside a rolled-back transaction: nothing is left behind.
    left = {i.name for i in read_schema(data.dsn).tables["public.recipes"].indexes}
    assert left == {"recipes_pkey"}
