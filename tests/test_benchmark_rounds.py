"""benchmarks/index_rounds.py: configurations measured in interleaved rounds on a real
PostgreSQL, the drift control and the reading of a gap."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from advisor.db import connect, run
from advisor.indexes.ddl import make_suggestion
from advisor.model import IndexColumn, IndexSuggestion
from advisor.verify.params import Statement

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import index_quality  # noqa: E402
import index_rounds  # noqa: E402

# Two of the benchmark's query names (their calls weigh the totals): a point lookup an
# index serves, and a count no index changes.
POINT, COUNT = "customer_orders", "tpch_q1"


async def _load(dsn: str) -> None:
    conn = await connect(dsn, readonly=False, statement_timeout_ms=0)
    try:
        await conn.execute(
            "CREATE TABLE t (id int PRIMARY KEY, a int NOT NULL, b text NOT NULL);"
            "INSERT INTO t SELECT g, g % 5000, md5(g::text) FROM generate_series(1, 50000) g"
        )
        await conn.execute("VACUUM ANALYZE t")
    finally:
        await conn.close()


@pytest.fixture()
def table(fresh_db: str) -> str:
    run(_load(fresh_db))
    return fresh_db


def test_rounds_are_shuffled_merged_and_read_against_the_drift_control(table: str) -> None:
    stmts = {
        POINT: Statement("SELECT b FROM t WHERE a = $1", (7,), "captured", False),
        COUNT: Statement("SELECT count(*) FROM t", (), "literal", False),
    }
    index = make_suggestion("t", (IndexColumn("a"),), reason="test")
    order: list[str] = []

    def measure(name: str, indexes: Sequence[IndexSuggestion]) -> index_rounds.Config:
        order.append(name)
        return asyncio.run(
            index_quality.measure_config(table, name, indexes, stmts, runs=2, time_box_ms=5000)
        )

    plan = [("none", ()), ("indexed", (index,)), ("again", ())]
    none, indexed, again = index_rounds.measure_rounds(plan, measure, rounds=3, seed=1)

    # every configuration once per round, and not always in the same order
    rounds = [order[i : i + 3] for i in range(0, 9, 3)]
    assert all(sorted(r) == ["again", "indexed", "none"] for r in rounds)
    assert len({tuple(r) for r in rounds}) > 1
    assert [c.name for c in (none, indexed, again)] == ["none", "indexed", "again"]
    for c in (none, indexed, again):
        assert len(c.round_ms) == 3
        m = c.times[POINT]
        assert m.ms is not None and m.spread_ms is not None
        assert m.spread_ms[0] <= m.ms <= m.spread_ms[1]
    assert indexed.sizes[index.name] > 0

    # the count's plan is the same everywhere: it is the control; the lookup's is not
    control = index_rounds.drift_control([none, indexed, again])
    assert control.queries == (COUNT,)
    assert set(control.ms[COUNT]) == {"none", "indexed", "again"}
    assert control.floor == pytest.approx(control.spread(COUNT))
    lines = index_rounds.control_lines(control, ["none", "indexed", "again"])
    assert lines[1].startswith(COUNT) and lines[-1].startswith("total")

    split = index_rounds.gap(none, indexed)
    assert split.same_plan_ms + split.other_ms == pytest.approx(split.a_ms - split.b_ms)
    assert split.other_ms > 0  # the sequential scan for a = 7 is slower than the index
    assert split.same == (COUNT,)

    found = index_rounds.losses(none, indexed, control.floor)
    assert [loss.query for loss in found] == [POINT]
    assert found[0].winner_uses == (index.name,)
    assert index_rounds.losses(indexed, none, control.floor) == []

    choice = {"not_chosen": [{"name": index.name, "reason": "below min_gain"}]}
    text = index_rounds.analysis(found, choice)
    assert text[0].startswith(f"{POINT} x ") and index.name in text[0]
    assert text[1].strip() == f"{index.name}: not chosen: below min_gain"
    assert index_rounds.why_left_out("other", choice) == "not among the choice's candidates"


def test_plan_shape_names_nodes_relations_and_indexes_not_figures() -> None:
    from advisor.model import PlanNode

    scan = PlanNode("Index Scan", relation="t", index="t_a_idx", actual_ms=1.0)
    slower = PlanNode("Index Scan", relation="t", index="t_a_idx", actual_ms=9.0)
    assert index_rounds.plan_shape(PlanNode("Sort", children=(scan,))) == index_rounds.plan_shape(
        PlanNode("Sort", children=(slower,))
    )
    assert index_rounds.plan_shape(PlanNode("Sort", children=(scan,))) == (
        "Sort(Index Scan/t/t_a_idx)"
    )
    assert index_rounds.plan_shape(None) == "?"
    assert index_rounds.plan_indexes(PlanNode("Sort", children=(scan,))) == {"t_a_idx"}
