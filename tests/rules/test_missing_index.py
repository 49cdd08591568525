"""ADV003 missing-index through advisor's own pipeline against a real PostgreSQL."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from advisor.db import connect, run
from advisor.model import CallSite, Execution, Finding, Note, Schema
from advisor.rules import fk_without_index, missing_index
from advisor.rules.base import Outcome, RuleContext
from advisor.schema.ddl import load_ddl
from advisor.schema.introspect import read_schema
from advisor.suggest import collect_suggestions
from advisor.workload import build_workload

REPO = Path(__file__).resolve().parents[2]
SHOP = (REPO / "fixtures" / "schemas" / "shop.sql").read_text(encoding="utf-8")

QUERIES = [
    "SELECT id, kind FROM events WHERE user_id = $1 ORDER BY created_at DESC LIMIT 20",
    "SELECT id FROM users WHERE lower(email) = $1",
    "SELECT id FROM users WHERE deleted_at IS NULL AND created_at >= $1",
    "SELECT id FROM orders WHERE user_id = $1 AND status = 'new' ORDER BY created_at LIMIT 10",
    "SELECT oi.quantity FROM products p JOIN order_items oi ON oi.product_id = p.id "
    "WHERE p.sku = $1",
    "SELECT * FROM orders WHERE id = $1",
    "SELECT id, name FROM users",
    "INSERT INTO events (user_id, kind) VALUES ($1, $2)",
    "SELECT id FROM audit_log WHERE actor_id = $1",
    "DELETE FROM events WHERE created_at < $1",
    "SELECT count(*) FROM events WHERE kind = $1",
]


def with_rows(schema: Schema, rows: int | None) -> Schema:
    tables = {k: dataclasses.replace(t, row_estimate=rows) for k, t in schema.tables.items()}
    return dataclasses.replace(schema, tables=tables)


def check(schema: Schema, queries: Sequence[str], calls: int = 1, **options: Any) -> list[Outcome]:
    items = [
        Execution(sql, source=CallSite("queries.sql", i + 1), calls=calls)
        for i, sql in enumerate(queries)
    ]
    workload = build_workload(items, schema)
    ctx = RuleContext(workload, schema, options={**missing_index.RULE.options, **options})
    return list(missing_index.check(ctx))


def findings(outcomes: Sequence[Outcome]) -> list[Finding]:
    return [o for o in outcomes if isinstance(o, Finding)]


def test_every_shape_gets_a_finding_or_a_note(schema_factory: Callable[[str], Schema]) -> None:
    schema = with_rows(schema_factory(SHOP), 2_000_000)
    items = [Execution(q, source=CallSite("q.sql", i)) for i, q in enumerate(QUERIES)]
    workload = build_workload(items, schema)
    outcomes = check(schema, QUERIES)
    explained = {o.fingerprint for o in outcomes}
    assert {s.query.fingerprint for s in workload.shapes.values()} <= explained
    assert all(o.rule == "ADV003" for o in outcomes)
    notes = [o.reason for o in outcomes if isinstance(o, Note)]
    assert any("covered by existing index orders_pkey" in n for n in notes)
    assert any("covered by existing index ix_events_kind" in n for n in notes)
    assert any("not a SELECT/UPDATE/DELETE" in n for n in notes)
    assert any("unknown table audit_log" in n for n in notes)


def test_severity_and_confidence_follow_size_and_frequency(
    schema_factory: Callable[[str], Schema],
) -> None:
    query = ["SELECT id FROM events WHERE user_id = $1 ORDER BY created_at DESC LIMIT 20"]
    big = with_rows(schema_factory(SHOP), 2_000_000)
    assert [f.severity.value for f in findings(check(big, query, calls=5000))] == ["high"]
    assert [f.severity.value for f in findings(check(big, query, calls=10))] == ["medium"]
    unknown = findings(check(with_rows(big, None), query, calls=5000))
    assert [(f.severity.value, f.confidence) for f in unknown] == [("medium", "medium")]
    assert "size unknown" in unknown[0].message
    small = check(with_rows(big, 5000), query)
    assert not findings(small)
    assert len(findings(check(with_rows(big, 5000), query, min_rows=1000))) == 1


def test_finding_carries_evidence_and_location(schema_factory: Callable[[str], Schema]) -> None:
    schema = with_rows(schema_factory(SHOP), 2_000_000)
    item = Execution(
        QUERIES[0],
        source=CallSite("capture.jsonl", 3),
        calls=4,
        total_ms=80.0,
        call_site=CallSite("app/api.py", 42, "list_events"),
    )
    workload = build_workload([item], schema)
    ctx = RuleContext(workload, schema, options=dict(missing_index.RULE.options))
    (finding,) = findings(list(missing_index.check(ctx)))
    assert finding.location == CallSite("app/api.py", 42, "list_events")
    assert finding.evidence["calls"] == 4 and finding.evidence["total_ms"] == 80.0
    assert finding.suggestion is not None
    shape = next(iter(workload.shapes.values()))
    assert finding.suggestion.query_keys == (shape.query.key,)
    assert finding.fix == finding.suggestion.sql


def test_suggestions_merge_across_queries_and_rules(
    schema_factory: Callable[[str], Schema],
) -> None:
    schema = with_rows(schema_factory(SHOP), 2_000_000)
    queries = [
        "SELECT id FROM events WHERE user_id = $1",
        "SELECT id FROM events WHERE user_id = $1 ORDER BY created_at DESC LIMIT 5",
        "SELECT kind FROM events WHERE user_id = $1 ORDER BY created_at DESC LIMIT 50",
    ]
    outcomes = check(schema, queries)
    workload = build_workload([Execution(q, CallSite("q.sql", 1)) for q in queries], schema)
    fk_ctx = RuleContext(workload, schema, options=dict(fk_without_index.RULE.options))
    all_findings = findings(outcomes) + findings(list(fk_without_index.check(fk_ctx)))
    merged = [s for s in collect_suggestions(all_findings) if s.table == "public.events"]
    assert [s.name for s in merged] == ["ix_events_user_id_created_at"]
    assert len(merged[0].query_keys) == 3


def _apply(dsn: str, statements: Sequence[str]) -> None:
    async def go() -> None:
        conn = await connect(dsn, readonly=False)
        try:
            for sql in statements:
                await conn.execute(sql)  # one at a time: CONCURRENTLY refuses a transaction
        finally:
            await conn.close()

    run(go())


def test_applied_suggestions_are_then_covered(fresh_db: str) -> None:
    schema = with_rows(load_ddl(fresh_db, SHOP), 2_000_000)
    queries = QUERIES[:5]
    before = findings(check(schema, queries))
    suggestions = collect_suggestions(before)
    assert len(suggestions) == len(before) == 5
    _apply(fresh_db, [s.sql for s in suggestions])
    after_schema = with_rows(read_schema(fresh_db), 2_000_000)
    valid = {i.name for t in after_schema.tables.values() for i in t.indexes if i.valid}
    assert {s.name for s in suggestions} <= valid
    after = check(after_schema, queries)
    assert not findings(after)
    reasons = [o.reason for o in after if isinstance(o, Note)]
    for s in suggestions:
        assert any(f"covered by existing index {s.name}" in r for r in reasons), s.name
