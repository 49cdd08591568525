"""The workload-wide index choice on real rows, costed by the what-if oracle."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from advisor.errors import ConfigError
from advisor.model import CallSite, Execution, IndexSuggestion
from advisor.suggest.choose import Choice, ChoiceBudget, choose, parse_size
from advisor.suggest.select import index_identity
from advisor.verify.whatif import WhatIf, choose_indexes
from tests.verify.choice_data import QUERIES, Shop, build_shop, shop_database


@pytest.fixture(scope="module")
def shop_dsn(pg_dsn: str) -> Iterator[str]:
    with shop_database(pg_dsn) as dsn:
        yield dsn


@pytest.fixture(scope="module")
def shop(shop_dsn: str) -> Shop:
    return build_shop(shop_dsn)


def _run(shop: Shop, budget: ChoiceBudget | None = None, hypopg: bool = True) -> Choice:
    return choose_indexes(
        shop.dsn,
        shop.workload,
        shop.findings,
        shop.schema,
        budget or ChoiceBudget(),
        shop.statements,
        hypopg=hypopg,
    )


def _reasons(choice: Choice) -> dict[str, str]:
    return {item.suggestion.name: item.reason for item in choice.not_chosen}


def test_a_few_indexes_serve_what_the_per_query_candidates_serve(shop: Shop) -> None:
    candidates = [f.suggestion for f in shop.findings if f.rule == "ADV003" and f.suggestion]
    assert len(candidates) >= 6
    choice = _run(shop)
    assert 2 <= len(choice.chosen) <= 3
    assert choice.method == "hypopg"
    with WhatIf(shop.dsn, shop.statements, hypopg=True) as oracle:
        base, every = oracle.costs(()), oracle.costs(candidates)
    # Every query weighs the same here (100 calls, 5 s), so the workload's cost with all the
    # candidates is the mean ratio; the chosen few come within 5 % of it.
    with_all = sum(every[k] / base[k] for k in base) * choice.cost_before / len(base)
    assert choice.cost_after <= with_all * 1.05
    # Every candidate left out says why, and every query is served or has a note.
    # (a chosen index may be a candidate extended by a column of another candidate)
    assert {c.name for c in candidates} <= {c.name for c in choice.chosen} | set(_reasons(choice))
    assert set(_reasons(choice)) <= {c.name for c in candidates}
    served = {key for c in choice.chosen for key in c.query_keys}
    noted = {n.fingerprint for n in choice.notes}
    for name, key in shop.keys.items():
        shape = shop.workload.shapes[key]
        assert key in served or shape.query.fingerprint in noted, name
    reasons = _reasons(choice)
    assert reasons["ix_events_created_at"].startswith(
        "saves 0.00 % of the reducible cost (0.30 % needed)"
    )
    assert any(r.startswith("served by ix_") and "already chosen" in r for r in reasons.values())
    since = shop.workload.shapes[shop.keys["events_since"]].query.fingerprint
    assert [n.reason for n in choice.notes if n.fingerprint == since] == [
        f"no index chosen for it (ix_events_created_at): {reasons['ix_events_created_at']}"
    ]
    for index in choice.chosen:
        assert "chosen for the workload: serves" in index.reason


def test_fk_indexes_without_queries_stay_out_of_the_choice(shop: Shop) -> None:
    assert any(f.rule == "ADV004" for f in shop.findings)
    choice = _run(shop)
    names = {c.name for c in choice.chosen} | set(_reasons(choice))
    assert "ix_orders_coupon_id" not in names


def test_the_index_budget_stops_the_choice(shop: Shop) -> None:
    choice = _run(shop, ChoiceBudget(max_indexes=1))
    assert len(choice.chosen) == 1
    assert "budget reached: --max-indexes 1" in _reasons(choice).values()


def test_the_size_budget_stops_the_choice(shop: Shop) -> None:
    choice = _run(shop, ChoiceBudget(max_bytes=parse_size("100kB")))
    assert choice.chosen == ()
    assert all(
        r.startswith("budget reached: the set would take")
        for r in _reasons(choice).values()
        if "of the reducible cost" not in r
    )
    assert choice.notes


def test_write_heavy_tables_need_a_larger_benefit(shop_dsn: str) -> None:
    inserts = Execution(
        "INSERT INTO events (id, account_id, kind, created_at) VALUES ($1, $2, $3, now())",
        CallSite("shop.sql", 99),
        calls=100_000,
        total_ms=1_000.0,
    )
    # The gains are shares of the reducible cost (70 % of this shop's), so the penalty that
    # keeps the events index out with a 99.7 % write share is 200 (60 % needed, it saves 37 %).
    budget = ChoiceBudget(write_penalty=200.0)
    quiet = _run(build_shop(shop_dsn), budget)
    busy = _run(build_shop(shop_dsn, extra=(inserts,)), budget)
    assert any(c.table == "public.events" for c in quiet.chosen)
    assert not any(c.table == "public.events" for c in busy.chosen)
    assert any(c.table == "public.orders" for c in busy.chosen)
    reason = _reasons(busy)["ix_events_account_id"]
    assert reason.startswith("write-heavy table public.events (captured workload: 100,000 ")
    assert "required" in reason


def test_a_query_no_index_helps_does_not_dilute_the_threshold(shop_dsn: str) -> None:
    # events_since keeps every row: no candidate makes it cheaper. Here it takes 1,000 times
    # the time of the user lookup, so against the whole workload the lookup's index would
    # save 0.1 % (under 0.3 %); against what the candidates can take off at all it saves
    # nearly all of it (TPC-H's Q1 and Q12/Q14's indexes were this case).
    since = Execution(
        QUERIES["events_since"][0], CallSite("shop.sql", 98), calls=100, total_ms=5_000_000.0
    )
    shop = build_shop(shop_dsn, names=("orders_by_user", "events_since"), extra=(since,))
    choice = _run(shop)
    assert [c.name for c in choice.chosen] == ["ix_orders_user_id"]
    assert choice.cost_before - choice.cost_after < 0.003 * choice.cost_before
    assert choice.cost_floor > 0.99 * choice.cost_before
    reasons = _reasons(choice)
    assert reasons["ix_events_created_at"].startswith("saves 0.00 % of the reducible cost")
    assert "% of the reducible cost)" in choice.chosen[0].reason


def test_extending_a_chosen_index_beats_adding_one(shop_dsn: str) -> None:
    shop = build_shop(shop_dsn, names=("orders_by_user", "orders_recent"))
    choice = _run(shop)
    assert [s.action for s in choice.steps] == ["add", "extend"]
    assert [c.name for c in choice.chosen] == ["ix_orders_user_id_created_at"]
    assert set(choice.chosen[0].query_keys) == set(shop.statements)
    assert _reasons(choice) == {
        "ix_orders_user_id": "served by ix_orders_user_id_created_at already chosen"
    }


def test_an_extension_never_puts_an_equality_key_behind_a_range_key(shop_dsn: str) -> None:
    # An oracle that, like the planner on TPC-H's orders, estimates (created_at, status)
    # as good as (status, created_at) for "status = $1 AND created_at in a range" (it
    # assumes the columns independent): the choice still never builds the first, whose
    # real scan reads the whole range (2.90 ms against 0.03 ms there).
    shop = build_shop(shop_dsn, names=("orders_day", "orders_status_day"))
    day, status_day = shop.keys["orders_day"], shop.keys["orders_status_day"]

    class Independent:
        def costs(self, config: Sequence[IndexSuggestion]) -> dict[str, float]:
            keys = [tuple(c.column for c in s.columns) for s in config]
            dated = any(k[:1] == ("created_at",) for k in keys)
            both = any({"status", "created_at"} <= set(k[:2]) for k in keys)
            return {day: 10.0 if dated else 100.0, status_day: 5.0 if both else 60.0}

        def size_bytes(self, suggestion: IndexSuggestion) -> int:
            return 8192 * len(suggestion.columns)

    candidates = [f.suggestion for f in shop.findings if f.rule == "ADV003" and f.suggestion]
    assert {c.name for c in candidates} == {"ix_orders_created_at", "ix_orders_status_created_at"}
    choice = choose(
        candidates, shop.workload, Independent(), budget=ChoiceBudget(), schema=shop.schema
    )
    assert [s.action for s in choice.steps] == ["add", "add"]
    assert [c.name for c in choice.chosen] == [
        "ix_orders_created_at",
        "ix_orders_status_created_at",
    ]
    assert choice.chosen[1].query_keys == (status_day,)


def test_hypopg_and_real_indexes_agree_on_a_small_case(shop_dsn: str) -> None:
    shop = build_shop(shop_dsn, names=("events_count", "events_kind", "events_since"))
    hypothetical, real = _run(shop, hypopg=True), _run(shop, hypopg=False)
    assert real.method == "real indexes"
    assert [index_identity(c) for c in hypothetical.chosen] == [
        index_identity(c) for c in real.chosen
    ]
    assert len(real.chosen) == 1


def test_choose_is_pure_over_any_oracle(shop: Shop) -> None:
    # An oracle that never finds a gain: nothing is chosen and every candidate says so.
    class Flat:
        def costs(self, config: object) -> dict[str, float]:
            return dict.fromkeys(shop.statements, 100.0)

        def size_bytes(self, suggestion: object) -> int:
            return 8192

    suggestions = [f.suggestion for f in shop.findings if f.rule == "ADV003" and f.suggestion]
    choice = choose(suggestions, shop.workload, Flat(), budget=ChoiceBudget(), schema=shop.schema)
    assert choice.chosen == ()
    assert all(
        r.startswith("saves 0.00 % of the reducible cost") for r in _reasons(choice).values()
    )


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("50MB", 50 * 1024**2),
        ("1.5G", int(1.5 * 1024**3)),
        ("200kB", 204_800),
        ("4096", 4096),
        ("3 MiB", 3 * 1024**2),
    ],
)
def test_sizes_read_like_people_write_them(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_a_size_that_is_not_one_says_how_to_write_it() -> None:
    with pytest.raises(ConfigError, match="write it like 50MB"):
        parse_size("lots")
