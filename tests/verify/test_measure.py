"""verify_indexes: real indexes built, measured before/after, kept or dropped with numbers."""

from __future__ import annotations

import pytest

from advisor.db import connect, run
from advisor.indexes.ddl import make_suggestion
from advisor.model import (
    DataOrigin,
    IndexColumn,
    IndexSuggestion,
    Measurement,
    PlanNode,
    QueryEffect,
    Schema,
)
from advisor.verify.measure import VerifyOptions, verdict_of, verify_indexes
from tests.verify.builders import make_database, workload_of

FEED = "SELECT id, total FROM orders WHERE user_id = $1 ORDER BY created_at DESC LIMIT 20"
BY_USER = "SELECT * FROM orders WHERE user_id = $1"
ITEMS = "SELECT id, sku FROM items WHERE order_id = $1"
DATA = DataOrigin("generated", "generated in the test")


@pytest.fixture()
def shop(fresh_db: str) -> tuple[str, Schema]:
    return fresh_db, make_database(fresh_db)


def test_keeps_what_helps_and_drops_what_no_plan_uses(shop: tuple[str, Schema]) -> None:
    dsn, schema = shop
    workload = workload_of(schema, (FEED, 100), (BY_USER, 10), (ITEMS, 300))
    keys = {shape.query.sql: key for key, shape in workload.shapes.items()}
    feed = make_suggestion(
        "public.orders",
        (IndexColumn("user_id"), IndexColumn("created_at", descending=True)),
        query_keys=(keys[FEED],),
    )
    status = make_suggestion("public.orders", (IndexColumn("status"),), query_keys=(keys[BY_USER],))
    items = make_suggestion("public.items", (IndexColumn("order_id"),), query_keys=(keys[ITEMS],))
    seen: list[tuple[str, int, int]] = []

    outcome = verify_indexes(
        dsn,
        workload,
        [feed, status, items],
        options=VerifyOptions(runs=3),
        data=DATA,
        progress=lambda *a: seen.append(a),
    )

    assert [s.name for s in outcome.kept] == [feed.name, items.name]
    (gone,) = outcome.dropped
    assert gone.name == status.name and gone.verification is not None
    assert gone.verification.verdict == "not-used" and "no plan used" in str(
        gone.verification.detail
    )
    for kept in outcome.kept:
        v = kept.verification
        assert v is not None and v.verdict == "helps" and v.used and v.data == DATA
        assert v.after_ms < v.before_ms * 0.5
        assert v.plan_change is not None and v.plan_change.startswith("Seq Scan")
        assert v.build_ms is not None and v.build_ms > 0
        assert v.size_bytes is not None and v.size_bytes > 8192
        served = [e for e in v.effects if e.key in kept.query_keys]
        assert served and all(e.before.params == "sampled" for e in served)
    feed_v = outcome.kept[0].verification
    assert feed_v is not None
    # The other query on orders was measured too: the index must not slow it.
    assert {e.key for e in feed_v.effects} == {keys[FEED], keys[BY_USER]}
    assert {e.key for e in outcome.together} == set(keys.values())
    assert seen[0] == (f"measuring {feed.name}", 0, 3)
    assert ("measuring the kept set together", 3, 3) in seen
    assert seen[-1] == ("measuring each index given the others", 0, 0)
    assert _indexes(dsn) == {"orders_pkey", "users_pkey", "items_pkey"}  # all dropped again


def _indexes(dsn: str) -> set[str]:
    from advisor.schema.introspect import read_schema

    schema = read_schema(dsn)
    return {i.name for t in schema.tables.values() for i in t.indexes}


def _m(ms: float | None, timed_out: float | None = None) -> Measurement:
    return Measurement("k", ms, 2, timed_out_ms=timed_out)


def test_verdicts_weigh_calls_and_say_why() -> None:
    opts = VerifyOptions()

    def effect(key: str, before: Measurement, after: Measurement, calls: int = 1) -> QueryEffect:
        return QueryEffect(key, before, after, calls=calls)

    helps = [effect("a", _m(4.0), _m(0.1))]
    assert verdict_of(helps, ["a"], True, opts) == ("helps", "4.00 ms -> 0.10 ms per call")
    small = [effect("a", _m(0.25), _m(0.1))]  # 60 % faster, but 0.15 ms is noise
    assert verdict_of(small, ["a"], True, opts)[0] == "no-gain"
    assert verdict_of(helps, ["a"], False, opts)[0] == "not-used"
    # Served query faster, but a busy write on the table is much slower.
    write = Measurement("w", 3.0, 2, plan=PlanNode("ModifyTable"))
    mixed = [*helps, effect("w", _m(1.0), write, calls=50)]
    verdict, why = verdict_of(mixed, ["a"], True, opts)
    assert verdict == "regresses" and why.startswith("w slower: 1.00 ms -> 3.00 ms")
    # A timed-out before counts as the time box: a lower bound of the gain.
    timed = [effect("a", _m(None, 5000.0), _m(2.0))]
    assert verdict_of(timed, ["a"], True, opts)[0] == "helps"
    # A read whose plan did not change was not slowed by the index: noise.
    noise = [*helps, effect("r", _m(1.0), _m(3.0), calls=50)]
    assert verdict_of(noise, ["a"], True, opts)[0] == "helps"
    weighted = [effect("a", _m(2.0), _m(0.1), calls=1), effect("b", _m(1.0), _m(1.0), calls=99)]
    assert verdict_of(weighted, ["a", "b"], True, opts)[0] == "no-gain"


def test_a_regression_the_index_saves_far_more_than_stays_in_the_evidence() -> None:
    opts = VerifyOptions()
    write = Measurement("w", 3.0, 2, plan=PlanNode("ModifyTable"))
    # 400 lookups 10 ms faster against one 5-call write 2 ms slower: kept, regression named.
    lookups = QueryEffect("a", _m(10.0), _m(0.1), calls=400)
    small = [lookups, QueryEffect("w", _m(1.0), write, calls=5)]
    verdict, why = verdict_of(small, ["a"], True, opts)
    assert verdict == "helps"
    assert why == "10.00 ms -> 0.10 ms per call; w slower: 1.00 ms -> 3.00 ms (5 calls)"
    # The same write 500 times: 1,000 ms lost is more than 10 % of the 3,960 ms saved.
    large = [lookups, QueryEffect("w", _m(1.0), write, calls=500)]
    assert verdict_of(large, ["a"], True, opts)[0] == "regresses"


def test_a_regression_of_a_query_another_index_serves_waits_for_the_set() -> None:
    # Alone, (o_orderdate) takes the clerk's query too (read backward, 12 ms -> 87 ms);
    # beside (o_clerk, o_orderdate) it never does: the set built together judges that.
    opts = VerifyOptions()
    scan = Measurement("c", 87.0, 2, plan=PlanNode("Index Scan Backward"))
    effects = [
        QueryEffect("s", _m(17.0), _m(0.1), calls=400),
        QueryEffect("c", _m(12.0), scan, calls=150, plan_change="Seq Scan -> Index Scan"),
    ]
    assert verdict_of(effects, ["s"], True, opts)[0] == "regresses"
    verdict, why = verdict_of(effects, ["s"], True, opts, deferred={"c"})
    assert (verdict, why) == ("helps", "17.00 ms -> 0.10 ms per call")


def test_an_index_of_the_same_name_is_never_dropped(shop: tuple[str, Schema]) -> None:
    dsn, schema = shop
    workload = workload_of(schema, (ITEMS, 10))
    (key,) = workload.shapes
    items = make_suggestion("public.items", (IndexColumn("order_id"),), query_keys=(key,))
    run(_execute(dsn, items.sql))

    outcome = verify_indexes(dsn, workload, [items], options=VerifyOptions(), data=None)

    (gone,) = outcome.dropped
    assert gone.verification is not None and gone.verification.verdict == "error"
    assert "already exists" in str(gone.verification.detail)
    assert items.name in _indexes(dsn)


async def _execute(dsn: str, sql: str) -> None:
    conn = await connect(dsn, readonly=False)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def test_a_regression_a_second_look_does_not_confirm_leaves_the_index(
    shop: tuple[str, Schema],
) -> None:
    # A loaded machine's figure: BY_USER "measured" 50 ms with the set, against 0.5 ms
    # before. Measured again side by side, with the feed index and without it, the plan
    # is the same and so is the time: the index is kept, the figures in its evidence.
    from advisor.verify.measure import _Verifier

    dsn, schema = shop
    workload = workload_of(schema, (FEED, 100), (BY_USER, 10))
    keys = {shape.query.sql: key for key, shape in workload.shapes.items()}
    feed = make_suggestion(
        "public.orders",
        (IndexColumn("user_id"), IndexColumn("created_at", descending=True)),
        query_keys=(keys[FEED],),
    )
    (judged,) = verify_indexes(dsn, workload, [feed], options=VerifyOptions(), data=None).kept
    noisy = QueryEffect(
        keys[BY_USER],
        Measurement(keys[BY_USER], 0.5, 3, plan=PlanNode("Seq Scan", relation="orders")),
        Measurement(keys[BY_USER], 50.0, 3, plan=PlanNode("Index Scan", index=feed.name)),
        calls=10,
        plan_change="Seq Scan -> Index Scan",
    )

    async def look() -> tuple[bool, list[str], bool]:
        conn = await connect(dsn, readonly=False)
        try:
            verifier = _Verifier(conn, workload, VerifyOptions(), None, None)
            await verifier._build(judged)
            condemned, kept = await verifier._second_look((judged, noisy), [judged])
            built = await verifier._exists(judged)
            await verifier._drop(judged)
            return condemned, [str(s.verification.detail) for s in kept if s.verification], built
        finally:
            await conn.close()

    condemned, details, built = run(look())
    assert not condemned and built
    (detail,) = details
    assert judged.verification is not None
    assert detail.startswith(str(judged.verification.detail) + "; with the set built together, ")
    assert f"{keys[BY_USER]} measured 0.50 ms -> 50.00 ms, then " in detail
    assert detail.endswith("without this index, side by side: not its regression")
    assert _indexes(dsn) == {"orders_pkey", "users_pkey", "items_pkey"}


def test_a_left_out_candidate_the_set_leaves_slow_is_measured_and_added(
    shop: tuple[str, Schema],
) -> None:
    # The choice took the feed index and left out the items lookup (300 calls) and a
    # useless (sku) one for the same query: the second opinion measures both beside the
    # set, the most time at stake first; the lookup is kept on its measured saving, and
    # (sku) is then measured against the grown set and stays out, its figures said.
    dsn, schema = shop
    workload = workload_of(schema, (FEED, 100), (ITEMS, 300))
    keys = {shape.query.sql: key for key, shape in workload.shapes.items()}
    feed, items, sku = _feed_and_items(keys)
    options = VerifyOptions(runs=3, keep_min_ms=0.05)

    outcome = verify_indexes(
        dsn, workload, [feed], options=options, data=DATA, left_out=[items, sku]
    )

    assert [s.name for s in outcome.kept] == [feed.name, items.name]
    assert [s.name for s in outcome.looked] == [items.name, sku.name]
    assert [s.name for s in outcome.added] == [items.name]
    added = outcome.kept[1].verification
    assert added is not None and added.verdict == "helps" and added.used
    assert str(added.detail).startswith(
        f"added after measurement beside the verified set: {keys[ITEMS]} "
    )
    assert " x 300 calls; measured given the others: the set without it is " in str(added.detail)
    assert added.after_ms < added.before_ms * 0.5
    out = outcome.looked[1].verification
    assert out is not None and out.verdict in ("not-used", "no-gain")
    assert str(out.detail).startswith(f"measured beside the verified set ({keys[ITEMS]} ")
    # The set's figures now include the added index: ITEMS is fast "together".
    (together,) = [e for e in outcome.together if e.key == keys[ITEMS]]
    assert together.after.ms is not None and together.before.ms is not None
    assert together.after.ms < together.before.ms * 0.5
    assert _indexes(dsn) == {"orders_pkey", "users_pkey", "items_pkey"}


def test_the_second_opinion_is_bounded_and_skips_what_the_set_made_fast(
    shop: tuple[str, Schema],
) -> None:
    # BY_USER is served by the chosen (user_id, created_at DESC): its own (user_id) has
    # nothing left to save and is not looked at; of the two items candidates only the
    # first is measured (second_looks=1).
    dsn, schema = shop
    workload = workload_of(schema, (FEED, 100), (BY_USER, 300), (ITEMS, 300))
    keys = {shape.query.sql: key for key, shape in workload.shapes.items()}
    feed, items, sku = _feed_and_items(keys)
    by_user = make_suggestion(
        "public.orders", (IndexColumn("user_id"),), query_keys=(keys[BY_USER],)
    )
    options = VerifyOptions(runs=3, keep_min_ms=0.05, second_looks=1)

    outcome = verify_indexes(
        dsn, workload, [feed], options=options, data=DATA, left_out=[by_user, sku, items]
    )

    assert [s.name for s in outcome.looked] == [sku.name]
    assert [s.name for s in outcome.kept] == [feed.name]
    none = verify_indexes(dsn, workload, [feed], options=options, data=DATA)
    assert none.looked == () and none.added == ()


def test_a_budget_leaves_no_candidate_to_add_back() -> None:
    from advisor.suggest.choose import Choice, ChoiceBudget, NotChosen
    from advisor.verify.stage import left_out_of

    items = make_suggestion("public.items", (IndexColumn("order_id"),), query_keys=("k",))
    choice = Choice(chosen=(), not_chosen=(NotChosen(items, "saves 0.1 %"),))
    assert left_out_of(choice, ChoiceBudget()) == [items]
    assert left_out_of(choice, ChoiceBudget(max_indexes=3)) == []
    assert left_out_of(choice, ChoiceBudget(max_bytes=1 << 20)) == []


def _feed_and_items(keys: dict[str, str]) -> tuple[IndexSuggestion, ...]:
    """The feed's index, the items lookup's and a useless (sku) one for the lookup."""
    feed = make_suggestion(
        "public.orders",
        (IndexColumn("user_id"), IndexColumn("created_at", descending=True)),
        query_keys=(keys[FEED],),
    )
    items = make_suggestion("public.items", (IndexColumn("order_id"),), query_keys=(keys[ITEMS],))
    sku = make_suggestion("public.items", (IndexColumn("sku"),), query_keys=(keys[ITEMS],))
    return feed, items, sku
