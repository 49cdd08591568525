"""HypoPG hands out object ids from a small range (the few thousand below
FirstNormalObjectId): a choice that tries thousands of hypothetical indexes must reset
between configurations, or creation starts failing and indexes silently drop out."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import permutations

import pytest

from advisor.db import connect, run
from advisor.indexes.ddl import make_suggestion
from advisor.model import IndexColumn, IndexSuggestion
from advisor.verify.whatif import WhatIf
from tests.verify.choice_data import Shop, build_shop, shop_database

COLUMNS = ("user_id", "status", "created_at", "total", "note", "coupon_id", "id")
PER_CONFIG = 20
CREATIONS = 5_000  # more than the ~4,400 object ids HypoPG has on PostgreSQL 15


@pytest.fixture(scope="module")
def shop(pg_dsn: str) -> Iterator[Shop]:
    with shop_database(pg_dsn) as dsn:
        yield build_shop(dsn)


def _indexes() -> list[IndexSuggestion]:
    keys = [*permutations(COLUMNS, 2), *permutations(COLUMNS, 3)]
    return [make_suggestion("public.orders", tuple(IndexColumn(c) for c in key)) for key in keys]


def test_thousands_of_hypothetical_indexes_through_one_oracle(shop: Shop) -> None:
    indexes = _indexes()
    configs = [
        [indexes[(start + k) % len(indexes)] for k in range(PER_CONFIG)]
        for start in range(CREATIONS // PER_CONFIG)
    ]
    assert len({frozenset(s.name for s in c) for c in configs}) == len(configs)  # no cache hit
    by_user = shop.keys["orders_by_user"]
    with WhatIf(shop.dsn, shop.statements, hypopg=True) as oracle:
        assert oracle.method == "hypopg"
        for config in configs:
            costs = oracle.costs(config)
            assert set(costs) == set(shop.statements)
        assert oracle.unbuildable == {}, next(iter(oracle.unbuildable.values()))
        # After thousands of others, a configuration is costed as a fresh oracle costs it.
        late = oracle.costs([indexes[0], indexes[1]])[by_user]
    with WhatIf(shop.dsn, shop.statements, hypopg=True) as fresh:
        assert fresh.costs([indexes[0], indexes[1]])[by_user] == pytest.approx(late)

    async def hypothetical() -> int:
        conn = await connect(shop.dsn, readonly=True)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM hypopg_list_indexes"))
        finally:
            await conn.close()

    assert run(hypothetical()) == 0
