"""ADV004 fk-without-index, ADV005 duplicate-index and ADV006 unused-index."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from advisor.db import connect, run
from advisor.model import (
    Finding,
    ForeignKey,
    Index,
    IndexKey,
    Note,
    Schema,
    Table,
    TableStats,
    Workload,
)
from advisor.rules import duplicate_index, fk_without_index, unused_index
from advisor.rules.base import Outcome, Rule, RuleContext
from advisor.rules.duplicate_index import redundant_indexes
from advisor.rules.unused_index import stats_age_days
from advisor.schema.ddl import load_ddl
from advisor.schema.introspect import read_schema
from tests.indexes.builders import idx, schema, table

REPO = Path(__file__).resolve().parents[2]
SHOP = (REPO / "fixtures" / "schemas" / "shop.sql").read_text(encoding="utf-8")
COLS = {"id": "bigint", "a": "bigint", "b": "bigint", "c": "text"}


def run_rule(rule: Rule, sch: Schema, *, live: bool = False, **options: Any) -> list[Outcome]:
    ctx = RuleContext(Workload({}), sch, options={**rule.options, **options}, live=live)
    return list(rule.check(ctx))


def only_findings(outcomes: Sequence[Outcome]) -> list[Finding]:
    return [o for o in outcomes if isinstance(o, Finding)]


# --------------------------------------------------------------------------- ADV004


def child(*indexes: Index, rows: int | None = None) -> Table:
    t = table("child", COLS, indexes=indexes, rows=rows)
    fk = ForeignKey("child_a_fkey", ("a",), "public.parent", ("id",))
    return Table(
        t.schema, t.name, t.columns, foreign_keys=(fk,), indexes=indexes, row_estimate=rows
    )


def test_fk_rule_findings_notes_and_write_activity() -> None:
    parent = Table(
        "public",
        "parent",
        table("parent", {"id": "bigint"}).columns,
        stats=TableStats(n_tup_del=1200, n_tup_upd=30),
    )
    (finding,) = only_findings(run_rule(fk_without_index.RULE, schema(child(), parent)))
    assert finding.suggestion is not None and finding.suggestion.name == "ix_child_a"
    assert "1,200 deletes" not in finding.message  # statistics of a throwaway database
    (live,) = only_findings(run_rule(fk_without_index.RULE, schema(child(), parent), live=True))
    assert "public.parent has had 1,200 deletes and 30 updates" in live.message
    assert live.evidence["ref_deletes"] == 1200
    small = run_rule(fk_without_index.RULE, schema(child(rows=50), parent))
    assert [type(o) for o in small] == [Note] and "small table" in small[0].reason  # type: ignore[union-attr]
    assert run_rule(fk_without_index.RULE, schema(child(idx("i", "a", "b")), parent)) == []


# --------------------------------------------------------------------------- ADV005


def names(t: Table) -> list[tuple[str, str, str]]:
    return [(r.name, k.name, kind) for r, k, kind in redundant_indexes(t)]


def test_exact_duplicate_keeps_constraint_then_unique_then_first_name() -> None:
    pk = idx("t_pkey", "id", unique=True, primary=True, constraint="p")
    assert names(table("t", COLS, indexes=(idx("z_copy", "id"), pk))) == [
        ("z_copy", "t_pkey", "duplicate")
    ]
    assert names(table("t", COLS, indexes=(idx("b", "a"), idx("a", "a")))) == [
        ("b", "a", "duplicate")
    ]
    three = table("t", COLS, indexes=(idx("c", "a"), idx("b", "a"), idx("a", "a")))
    assert sorted(names(three)) == [("b", "a", "duplicate"), ("c", "a", "duplicate")]


def test_constraint_backed_never_dropped() -> None:
    u1 = idx("u1", "a", unique=True, constraint="u")
    u2 = idx("u2", "a", unique=True, constraint="u")
    assert names(table("t", COLS, indexes=(u1, u2))) == []
    assert names(table("t", COLS, indexes=(u1, idx("ab", "a", "b")))) == []


def test_prefix_rules() -> None:
    t = table("t", COLS, indexes=(idx("a", "a"), idx("ab", "a", "b"), idx("abc", "a", "b", "c")))
    # Both name the longest; never (a, b), which is itself dropped.
    assert sorted(names(t)) == [("a", "abc", "prefix"), ("ab", "abc", "prefix")]
    assert names(table("t", COLS, indexes=(idx("ab", "a", "b"), idx("ba", "b", "a")))) == []
    unique = idx("ua", "a", unique=True)
    assert names(table("t", COLS, indexes=(unique, idx("ab", "a", "b")))) == []
    desc = idx("a_desc", "a DESC")  # DESC NULLS FIRST: (a, b) read backward
    assert names(table("t", COLS, indexes=(desc, idx("ab", "a", "b")))) == [
        ("a_desc", "ab", "prefix")
    ]
    desc_nulls_last = idx("a_desc_nl", IndexKey("a", descending=True))
    assert names(table("t", COLS, indexes=(desc_nulls_last, idx("ab", "a", "b")))) == []
    incl = idx("a_incl", "a", include=("c",))
    assert names(table("t", COLS, indexes=(incl, idx("ab", "a", "b")))) == []
    assert names(table("t", COLS, indexes=(incl, idx("abc", "a", "b", "c")))) == [
        ("a_incl", "abc", "prefix")
    ]


def test_predicates_methods_validity_compared_strictly() -> None:
    p1 = idx("p1", "a", predicate="(c IS NULL)")
    p2 = idx("p2", "a", "b", predicate="(c IS NULL)")
    assert names(table("t", COLS, indexes=(p1, p2))) == [("p1", "p2", "prefix")]
    assert names(table("t", COLS, indexes=(p1, idx("ab", "a", "b")))) == []
    assert names(table("t", COLS, indexes=(idx("h", "a", method="hash"), idx("b", "a")))) == []
    assert names(table("t", COLS, indexes=(idx("a", "a"), idx("ab", "a", "b", valid=False)))) == []


def test_duplicate_rule_fix_is_a_drop() -> None:
    t = table("t", COLS, indexes=(idx("a", "a", size_bytes=16384), idx("ab", "a", "b")))
    (finding,) = only_findings(run_rule(duplicate_index.RULE, schema(t)))
    assert finding.fix == 'DROP INDEX CONCURRENTLY IF EXISTS "public"."a";'
    assert "16,384 bytes" in finding.message and finding.suggestion is None


# --------------------------------------------------------------------------- ADV006


def test_stats_age_days() -> None:
    assert stats_age_days("2026-11-01T00:00:00+00:00", "2026-11-08T12:00:00Z") == 7.5
    assert stats_age_days("2026-11-01T00:00:00", "2026-11-02T00:00:00Z") == 1.0
    assert stats_age_days(None) is None and stats_age_days("garbage") is None


def unused_schema(stats_since: str | None) -> Schema:
    indexes = (
        idx("t_pkey", "id", unique=True, primary=True, constraint="p", scans=0),
        idx("ix_b", "b", scans=0, size_bytes=8192),
        idx("ix_c", "c", scans=12),
        idx("ix_unknown", "a", "c", scans=None),
        idx("ux_c", "c", "b", unique=True, scans=0),
        idx("ix_broken", "b", "c", valid=False, scans=0),
    )
    t = table("t", COLS, indexes=indexes)
    return Schema({t.qualified: t}, source="dsn", stats_since=stats_since)


def test_unused_only_live_only_droppable() -> None:
    sch = unused_schema("2026-10-01T00:00:00Z")
    assert run_rule(unused_index.RULE, sch, now="2026-11-23T00:00:00Z") == []
    (finding,) = only_findings(
        run_rule(unused_index.RULE, sch, live=True, now="2026-11-23T00:00:00Z")
    )
    assert "ix_b on public.t (8,192 bytes) was never scanned in 53 days" in finding.message
    assert finding.fix == 'DROP INDEX CONCURRENTLY IF EXISTS "public"."ix_b";'
    assert finding.evidence["stats_age_days"] == 53.0


def test_unused_young_or_unknown_statistics() -> None:
    young = run_rule(
        unused_index.RULE,
        unused_schema("2026-11-20T00:00:00Z"),
        live=True,
        now="2026-11-23T00:00:00Z",
    )
    assert [type(o) for o in young] == [Note]
    unknown = only_findings(run_rule(unused_index.RULE, unused_schema(None), live=True))
    assert [f.confidence for f in unknown] == ["low"] and "age unknown" in unknown[0].message


def test_unused_index_of_a_foreign_key_says_so() -> None:
    t = child(idx("ix_child_a", "a", scans=0))
    sch = Schema({t.qualified: t}, stats_since="2026-01-01T00:00:00Z")
    (finding,) = only_findings(
        run_rule(unused_index.RULE, sch, live=True, now="2026-11-23T00:00:00Z")
    )
    assert "only index serving foreign key child_a_fkey" in finding.message
    assert finding.confidence == "low"


# --------------------------------------------------------------------------- round trips


def _apply(dsn: str, statements: Sequence[str]) -> None:
    async def go() -> None:
        conn = await connect(dsn, readonly=False)
        try:
            for sql in statements:
                await conn.execute(sql)
        finally:
            await conn.close()

    run(go())


def test_fk_suggestions_applied_silence_the_rule(fresh_db: str) -> None:
    sch = load_ddl(fresh_db, SHOP)
    found = only_findings(run_rule(fk_without_index.RULE, sch))
    assert sorted(f.evidence["foreign_key"] for f in found) == [
        "events_user_id_fkey",
        "order_items_product_id_fkey",
        "orders_user_id_fkey",
    ]
    _apply(fresh_db, [f.fix or "" for f in found])
    assert run_rule(fk_without_index.RULE, read_schema(fresh_db)) == []


def test_duplicate_drops_applied_silence_the_rule(
    fresh_db: str, schema_factory: Callable[[str], Schema]
) -> None:
    extra = (
        "\nCREATE INDEX ix_users_email ON users (email);"
        "\nCREATE INDEX ix_orders_status_created ON orders (status, created_at);"
        "\nCREATE INDEX ix_events_created_user ON events (created_at, user_id);"
    )
    assert len(only_findings(run_rule(duplicate_index.RULE, schema_factory(SHOP + extra)))) == 2
    sch = load_ddl(fresh_db, SHOP + extra)
    found = only_findings(run_rule(duplicate_index.RULE, sch))
    _apply(fresh_db, [f.fix or "" for f in found])
    after = read_schema(fresh_db)
    assert run_rule(duplicate_index.RULE, after) == []
    left = {i.name for t in after.tables.values() for i in t.indexes}
    assert {"users_email_key", "ix_orders_status_created", "ix_events_created_user"} <= left
