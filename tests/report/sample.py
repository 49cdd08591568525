"""One fixed scan result, built by hand, that every report format is rendered from.

It has a finding of every rule, two suggestions verified with plans before and after, a
rejected candidate, a measured N+1 loop, and a triage (a suppression, a baseline).
Characters that need escaping somewhere (``%``, ``,``, ``:``, ``|``, ``<``, newlines) are
in the messages on purpose.
"""

from __future__ import annotations

from advisor.model import (
    CallSite,
    DataOrigin,
    Finding,
    FindingKey,
    IndexColumn,
    IndexSuggestion,
    LoopCost,
    Measurement,
    Note,
    ParsedQuery,
    PlanNode,
    QueryEffect,
    QueryShape,
    ScanResult,
    Schema,
    Severity,
    Skipped,
    Triage,
    Verification,
    Workload,
)

ROOT = "/srv/shop"
DATA = DataOrigin(
    kind="generated",
    summary="generated 100,000 rows in public.orders, 1,000 in public.users",
    tables={"public.orders": "generated 100,000 rows", "public.users": "generated 1,000 rows"},
    server="PostgreSQL 15.8",
)


def _seq_plan(ms: float) -> PlanNode:
    return PlanNode(
        node_type="Limit",
        estimated_rows=20,
        actual_rows=20,
        loops=1,
        actual_ms=ms,
        total_cost=2100.5,
        shared_hit=10,
        shared_read=830,
        children=(
            PlanNode(
                node_type="Sort",
                estimated_rows=98,
                actual_rows=100,
                loops=1,
                actual_ms=ms * 0.95,
                detail="Sort Key: created_at DESC",
                children=(
                    PlanNode(
                        node_type="Seq Scan",
                        relation="public.orders",
                        estimated_rows=98,
                        actual_rows=100,
                        loops=1,
                        actual_ms=ms * 0.8,
                        total_cost=2090.0,
                        shared_hit=10,
                        shared_read=830,
                        detail="Filter: (user_id = 42)",
                    ),
                ),
            ),
        ),
    )


def _index_plan(ms: float) -> PlanNode:
    return PlanNode(
        node_type="Limit",
        estimated_rows=20,
        actual_rows=20,
        loops=1,
        actual_ms=ms,
        total_cost=12.3,
        shared_hit=4,
        shared_read=0,
        children=(
            PlanNode(
                node_type="Index Scan",
                relation="public.orders",
                index="orders_user_id_created_at_idx",
                estimated_rows=98,
                actual_rows=20,
                loops=1,
                actual_ms=ms * 0.9,
                shared_hit=4,
                shared_read=0,
                detail="Index Cond: (user_id = 42)",
            ),
        ),
    )


ORDERS_FP = "9c1f0a2b3c4d5e6f~a1b2c3"
USERS_FP = "0badc0ffee000001~d4e5f6"
LOOP_FP = "feedbeef00000002~a1b2c3"

_effect = QueryEffect(
    key=f"{ORDERS_FP}:r",
    before=Measurement(
        key=f"{ORDERS_FP}:r",
        ms=14.2,
        runs=5,
        shared_buffers=840,
        cost=2100.5,
        plan=_seq_plan(14.2),
        params="captured",
        spread_ms=(13.9, 15.0),
    ),
    after=Measurement(
        key=f"{ORDERS_FP}:r",
        ms=0.31,
        runs=5,
        shared_buffers=4,
        cost=12.3,
        plan=_index_plan(0.31),
        params="captured",
        spread_ms=(0.29, 0.4),
    ),
    calls=120,
    plan_change="Seq Scan -> Index Scan",
)
_loop_effect = QueryEffect(
    key=f"{LOOP_FP}:r",
    before=Measurement(key=f"{LOOP_FP}:r", ms=0.9, runs=5, plan=_seq_plan(0.9)),
    after=Measurement(key=f"{LOOP_FP}:r", ms=0.05, runs=5, plan=_index_plan(0.05)),
    calls=3000,
    plan_change="Seq Scan -> Index Scan",
)

ORDERS_INDEX = IndexSuggestion(
    table="public.orders",
    columns=(IndexColumn("user_id"), IndexColumn("created_at", descending=True)),
    name="orders_user_id_created_at_idx",
    sql="CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_user_id_created_at_idx "
    "ON public.orders (user_id, created_at DESC);",
    query_keys=(ORDERS_FP, LOOP_FP),
    reason="serves 2 query shapes: equality on user_id, sorted by created_at DESC",
    verification=Verification(
        before_ms=15.1,
        after_ms=0.36,
        before_cost=2200.0,
        after_cost=14.0,
        before_buffers=850,
        after_buffers=6,
        used=True,
        verdict="helps",
        effects=(_effect, _loop_effect),
        plan_change="Seq Scan -> Index Scan",
        build_ms=85.0,
        size_bytes=2_260_992,
        data=DATA,
    ),
)
USERS_INDEX = IndexSuggestion(
    table="public.users",
    columns=(IndexColumn(None, expression="lower(email)"),),
    name="users_lower_email_idx",
    sql="CREATE INDEX CONCURRENTLY IF NOT EXISTS users_lower_email_idx "
    "ON public.users (lower(email));",
    query_keys=(USERS_FP,),
    reason="equality on lower(email)",
)
REJECTED = IndexSuggestion(
    table="public.users",
    columns=(IndexColumn("status"),),
    name="users_status_idx",
    sql="CREATE INDEX CONCURRENTLY IF NOT EXISTS users_status_idx ON public.users (status);",
    query_keys=(USERS_FP,),
    verification=Verification(
        before_ms=3.0,
        after_ms=3.1,
        used=False,
        verdict="not-used",
        detail="the planner kept the Seq Scan",
    ),
)

FINDINGS = (
    Finding(
        rule="ADV001",
        name="n-plus-one",
        severity=Severity.HIGH,
        message="30 queries of one shape in GET /users, one per row loaded at line 18",
        location=CallSite(f"{ROOT}/app/users.py", 24, "list_users"),
        origin=CallSite(f"{ROOT}/app/users.py", 18, "list_users"),
        fingerprint=LOOP_FP,
        sql="SELECT * FROM orders WHERE user_id = $1",
        fix="select(User).options(selectinload(User.orders))",
        evidence={"count": 30, "scopes": 3, "total_ms": 27.5},
        loop_cost=LoopCost(
            queries=30,
            loop_ms=27.5,
            batched_ms=1.2,
            batched_sql="SELECT * FROM orders WHERE user_id = ANY($1)",
            data=DATA,
        ),
    ),
    Finding(
        rule="ADV003",
        name="missing-index",
        severity=Severity.HIGH,
        message="no index serves user_id = $1 ORDER BY created_at DESC LIMIT 20 on public.orders",
        location=CallSite(f"{ROOT}/app/orders.py", 41, "recent_orders"),
        fingerprint=ORDERS_FP,
        sql="SELECT id, total FROM orders WHERE user_id = $1 ORDER BY created_at DESC LIMIT 20",
        evidence={"table": "public.orders", "calls": 120, "rows": 2400},
        suggestion=ORDERS_INDEX,
    ),
    Finding(
        rule="ADV002",
        name="select-star-wide-table",
        severity=Severity.MEDIUM,
        message="SELECT * fetches 42 columns (3,1 kB per row) of public.users: name them | "
        "<all>: 100% of width",
        location=CallSite(f"{ROOT}/app/users.py", 12, "get_user"),
        fingerprint=USERS_FP,
        sql="SELECT * FROM users WHERE lower(email) = $1",
        fix="select(User.id, User.email, User.name)",
        evidence={"table": "public.users", "row_width_bytes": 3100, "columns": 42},
    ),
    Finding(
        rule="ADV003",
        name="missing-index",
        severity=Severity.MEDIUM,
        message="no index serves lower(email) = $1 on public.users",
        location=CallSite(f"{ROOT}/app/users.py", 12, "get_user"),
        fingerprint=USERS_FP,
        evidence={"table": "public.users", "calls": 8},
        suggestion=USERS_INDEX,
        confidence="medium",
    ),
    Finding(
        rule="ADV004",
        name="fk-without-index",
        severity=Severity.MEDIUM,
        message="foreign key order_items_order_id_fkey has no index on (order_id)",
        location=CallSite("schema.sql", 30),
        evidence={"table": "public.order_items", "foreign_key": "order_items_order_id_fkey"},
    ),
    Finding(
        rule="ADV005",
        name="duplicate-index",
        severity=Severity.LOW,
        message="orders_user_idx is covered by orders_user_id_created_at_idx",
        location=CallSite("schema.sql", 44),
        evidence={"table": "public.orders", "index": "orders_user_idx"},
        fix="DROP INDEX CONCURRENTLY IF EXISTS orders_user_idx;",
    ),
    Finding(
        rule="ADV006",
        name="unused-index",
        severity=Severity.LOW,
        message="users_legacy_idx has had 0 scans in 30 days\nsize 12 MB",
        evidence={"table": "public.users", "index": "users_legacy_idx", "scans": 0},
        confidence="low",
    ),
    Finding(
        rule="ADV007",
        name="repeated-identical-query",
        severity=Severity.INFO,
        message="the same query with the same parameters ran 12 times in POST /checkout",
        location=CallSite(f"{ROOT}/app/checkout.py", 77, "checkout"),
        fingerprint="1234abcd00000003",
        sql="SELECT value FROM settings WHERE key = $1",
        evidence={"count": 12, "worst_scope": "POST /checkout"},
    ),
    Finding(
        rule="ADV008",
        name="blocking-call-in-event-loop",
        severity=Severity.MEDIUM,
        message="a synchronous database call blocked the event loop in GET /accounts/{id}: "
        "p95 4.2 ms per request, 120.5 ms in all over 30 requests (30 statements)",
        location=CallSite(f"{ROOT}/app/accounts.py", 31, "get_account"),
        fingerprint="1234abcd00000004",
        sql="SELECT id, balance FROM accounts WHERE id = $1",
        fix="use the async engine (`create_async_engine` with asyncpg)",
        evidence={"scopes": 30, "blocked_p95_ms": 4.2},
    ),
    Finding(
        rule="ADV009",
        name="connection-pool-pressure",
        severity=Severity.HIGH,
        message="checkouts waited for a database connection: p95 41.0 ms; pool_size=2, "
        "max_overflow=0; warning: 2 x 60 workers = 120 connections exceed max_connections (100)",
        fix="raise pool_size to about 16, keeping (pool_size + max_overflow) x workers within "
        "max_connections",
        evidence={"wait_p95_ms": 41.0, "pool_size": 2, "suggested_pool_size": 16},
    ),
    Finding(
        rule="ADV010",
        name="cache-candidate",
        severity=Severity.LOW,
        message="the same read with the same parameters returned the same result 200 times "
        "across 200 scopes: a 60 s cache would have served 99% of them (49.8 ms of query time)",
        location=CallSite(f"{ROOT}/app/prices.py", 18, "product_price"),
        fingerprint="1234abcd00000005",
        sql="SELECT rate FROM currencies WHERE code = $1",
        fix="cache the result in the app for up to 60 s",
        evidence={"reads": 200, "hit_share": 0.995, "ttl_s": 60.0},
    ),
)

SUPPRESSED = Finding(
    rule="ADV002",
    name="select-star-wide-table",
    severity=Severity.MEDIUM,
    message="SELECT * fetches 30 columns of public.audit_log",
    location=CallSite(f"{ROOT}/app/export.py", 9, "export"),
)


def _shapes() -> dict[str, QueryShape]:
    shapes = {}
    for fp, sql, calls in (
        (ORDERS_FP, "SELECT id, total FROM orders WHERE user_id = $1", 120),
        (USERS_FP, "SELECT * FROM users WHERE lower(email) = $1", 8),
        (LOOP_FP, "SELECT * FROM orders WHERE user_id = $1", 3000),
    ):
        query = ParsedQuery(sql=sql, fingerprint=fp, batched=False, kind="select")
        shapes[query.key] = QueryShape(query, calls, None, None, (CallSite("capture.jsonl"),))
    return shapes


def sample_result() -> ScanResult:
    """The fixed scan result the golden files are rendered from."""
    return ScanResult(
        findings=FINDINGS,
        suggestions=(ORDERS_INDEX, USERS_INDEX),
        notes=(Note("ADV003", USERS_FP, "the table has 12 rows: a sequential scan is cheaper"),),
        skipped=(Skipped(CallSite("queries.sql", 7), 'syntax error at or near "FORM"'),),
        workload=Workload(shapes=_shapes(), executions=3128),
        schema=Schema(source="ddl", server_version=150008),
        sandbox="local PostgreSQL 15.8",
        sources=("capture.jsonl",),
        rejected=(REJECTED,),
        data=DATA,
        triage=Triage(
            suppressed=(
                (SUPPRESSED, "[[tool.advisor.suppress]] rule='ADV002', table='audit_log'"),
            ),
            unused=("app/legacy.py:3: advisor: ignore[ADV001] suppresses nothing",),
            baselined=2,
            gone=(FindingKey("ADV001", "0000aaaa~bbb", "app/cart.py", "cart", "N+1 in cart"),),
            against="baseline.json",
        ),
    )
