"""Schema snapshots: JSON round trip is exact."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from advisor.db import connect, run
from advisor.errors import InputError
from advisor.model import Schema
from advisor.schema import read_schema, schema_from_dict, schema_to_dict

RICH_DDL = (Path(__file__).parent / "rich.sql").read_text()


def _round_trip(schema: Schema) -> Schema:
    return schema_from_dict(json.loads(json.dumps(schema_to_dict(schema))))


def test_round_trip_of_a_rich_schema(schema_factory: Callable[[str], Schema]) -> None:
    schema = schema_factory(RICH_DDL)
    again = _round_trip(schema)
    assert again == schema
    assert list(again.tables) == list(schema.tables)


def test_round_trip_with_statistics(fresh_db: str) -> None:
    async def fill() -> None:
        conn = await connect(fresh_db, readonly=False)
        try:
            await conn.execute(
                "CREATE TABLE t (id int PRIMARY KEY, x float8, s text);"
                "INSERT INTO t SELECT g, random(), md5(g::text) FROM generate_series(1, 500) g;"
                "ANALYZE t;"
            )
        finally:
            await conn.close()

    run(fill())
    schema = read_schema(fresh_db)
    table = schema.tables["public.t"]
    assert table.row_estimate == 500 and table.stats is not None
    assert any(c.n_distinct is not None for c in table.columns)
    assert _round_trip(schema) == schema


def test_empty_schema_round_trip() -> None:
    assert _round_trip(Schema()) == Schema()


@pytest.mark.parametrize(
    "data",
    [
        {"format": 99},
        {"tables": [{"name": "t"}]},
        {"tables": [{"schema": "s", "name": "t", "columns": [{"x": 1}]}]},
    ],
)
def test_malformed_snapshots_are_input_errors(data: dict[str, object]) -> None:
    with pytest.raises(InputError):
        schema_from_dict(data)
