"""The what-if oracle on real rows: HypoPG and real indexes, caching, generic plans."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from advisor.db import connect, run
from advisor.indexes.ddl import make_suggestion
from advisor.model import IndexColumn
from advisor.verify.whatif import WhatIf
from tests.verify.choice_data import QUERIES, Shop, Stmt, build_shop, shop_database


@pytest.fixture(scope="module")
def shop(pg_dsn: str) -> Iterator[Shop]:
    with shop_database(pg_dsn) as dsn:
        yield build_shop(dsn)


BY_USER = make_suggestion("public.orders", (IndexColumn("user_id"),))
BY_ACCOUNT = make_suggestion("public.events", (IndexColumn("account_id"),))


def _orders_keys(shop: Shop) -> set[str]:
    return {key for name, key in shop.keys.items() if name.startswith("orders")}


@pytest.mark.parametrize("hypopg", [True, False], ids=["hypopg", "real-indexes"])
def test_an_index_lowers_the_cost_of_the_queries_it_serves_only(shop: Shop, hypopg: bool) -> None:
    with WhatIf(shop.dsn, shop.statements, hypopg=hypopg) as oracle:
        assert oracle.method == ("hypopg" if hypopg else "real indexes")
        base = oracle.costs(())
        with_index = oracle.costs([BY_USER])
        assert oracle.size_bytes(BY_USER) > 100_000
    by_user = shop.keys["orders_by_user"]
    assert with_index[by_user] < base[by_user] / 2
    for name in ("events_count", "events_kind", "events_since"):
        assert with_index[shop.keys[name]] == base[shop.keys[name]]
    assert oracle.tables_of(by_user) == frozenset({"public.orders"})


def test_costs_are_cached_per_query_by_the_indexes_on_its_tables(shop: Shop) -> None:
    with WhatIf(shop.dsn, shop.statements, hypopg=True) as oracle:
        baseline = oracle.explains
        assert baseline == len(shop.statements)
        oracle.costs([BY_USER])
        # Only the orders queries are re-costed: nothing on events changed.
        assert oracle.explains - baseline == len(_orders_keys(shop))
        oracle.costs([BY_USER])
        oracle.costs(())
        assert oracle.explains - baseline == len(_orders_keys(shop))
        oracle.costs([BY_USER, BY_ACCOUNT])
        # The orders half of this configuration is the one already costed.
        events = len(shop.statements) - len(_orders_keys(shop))
        assert oracle.explains - baseline == len(_orders_keys(shop)) + events


def test_real_indexes_are_rolled_back_and_hypothetical_ones_reset(shop: Shop) -> None:
    for hypopg in (True, False):
        with WhatIf(shop.dsn, shop.statements, hypopg=hypopg) as oracle:
            oracle.costs([BY_USER, BY_ACCOUNT])

    async def leftovers() -> tuple[int, int]:
        conn = await connect(shop.dsn, readonly=True)
        try:
            real = await conn.fetchval(
                "SELECT count(*) FROM pg_indexes WHERE indexname LIKE 'advisor_whatif%'"
            )
            hypothetical = await conn.fetchval("SELECT count(*) FROM hypopg_list_indexes")
            return int(real), int(hypothetical)
        finally:
            await conn.close()

    assert run(leftovers()) == (0, 0)


def test_a_generic_statement_is_costed_by_its_generic_plan(shop: Shop) -> None:
    sql = QUERIES["orders_by_user"][0]
    statements = {"generic": Stmt(sql, (), params="generic")}
    with WhatIf(shop.dsn, statements, hypopg=True) as oracle:
        base = oracle.costs(())["generic"]
        assert oracle.costs([BY_USER])["generic"] < base / 2


def test_a_statement_that_cannot_be_explained_is_left_out_with_its_reason(shop: Shop) -> None:
    statements = {
        "bad": Stmt("SELECT nope FROM orders WHERE user_id = $1", (1,)),
        "ok": Stmt(*QUERIES["orders_by_user"]),
    }
    with WhatIf(shop.dsn, statements) as oracle:
        assert set(oracle.costs([BY_USER])) == {"ok"}
    assert "nope" in oracle.failed["bad"]


def test_an_index_that_cannot_be_built_is_recorded_and_ignored(shop: Shop) -> None:
    broken = make_suggestion("public.orders", (IndexColumn("no_such_column"),))
    with WhatIf(shop.dsn, shop.statements, hypopg=False) as oracle:
        base = oracle.costs(())
        assert oracle.costs([broken]) == base
    assert oracle.unbuildable
