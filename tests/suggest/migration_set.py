"""One fixed set of suggestions with their evidence, for the migration writers' tests.

Three indexes on the shop schema (fixtures/schemas/shop.sql): a verified
``events (user_id, created_at DESC)`` serving two queries (one "before" run hit the time
box), an unverified partial expression index on ``users`` whose query holds a backslash,
and an ADV004 foreign-key index on ``order_items`` outside the chosen set. The workload
and the schema's ``pg_stat_user_tables`` figures feed the write-overhead notes.
"""

from __future__ import annotations

import dataclasses

from advisor.indexes.ddl import make_suggestion
from advisor.model import (
    CallSite,
    Column,
    DataOrigin,
    IndexColumn,
    IndexSuggestion,
    Measurement,
    ParsedQuery,
    QueryEffect,
    QueryShape,
    Schema,
    StatementKind,
    Table,
    TableRef,
    TableStats,
    Verification,
    Workload,
)

__all__ = ["CHOSEN", "DATA", "FOREIGN_KEYS", "SCHEMA", "WORKLOAD"]

DATA = DataOrigin(
    kind="generated",
    summary="generated rows to the live tables' reltuples, shaped by pg_stats",
    tables={"public.events": "generated 1,000,000 rows", "public.users": "generated 50,000 rows"},
    server="15.8",
    source_server="15.4",
)


def _shape(
    key: str,
    sql: str,
    table: str,
    *,
    calls: int,
    total_ms: float | None,
    kind: StatementKind = "select",
    sites: tuple[CallSite, ...] = (),
) -> QueryShape:
    fingerprint, _, flag = key.partition(":")
    query = ParsedQuery(
        sql=sql,
        fingerprint=fingerprint,
        batched=flag == "b",
        kind=kind,
        tables=(TableRef(table, resolved=True),),
    )
    return QueryShape(query, calls, total_ms, None, (CallSite("capture.jsonl"),), sites)


WORKLOAD = Workload(
    shapes={
        s.query.key: s
        for s in (
            _shape(
                "5e1f0c9a2b7d4e10:r",
                "SELECT events.id, events.kind\n  FROM events WHERE events.user_id = $1\n"
                "  ORDER BY events.created_at DESC LIMIT 20",
                "public.events",
                calls=1200,
                total_ms=50280.0,
                sites=(
                    CallSite("app/api/events.py", 42, "list_events"),
                    CallSite("app/jobs/digest.py", 17, "send_digest"),
                ),
            ),
            _shape(
                "77ab03d1c9e2f456:r",
                "SELECT count(*) FROM events WHERE user_id = $1 AND created_at > $2",
                "public.events",
                calls=10,
                total_ms=61000.0,
                sites=(CallSite("app/api/stats.py", 8, "activity"),),
            ),
            _shape(
                "0c4d9e8f1a2b3c4d:r",
                "SELECT id FROM users WHERE lower(email) = lower($1) AND deleted_at IS NULL "
                'AND name LIKE \'a\\_%\' """ AND true',
                "public.users",
                calls=300,
                total_ms=None,
            ),
            _shape(
                "9f8e7d6c5b4a3921:r",
                "INSERT INTO events (user_id, kind) VALUES ($1, $2)",
                "public.events",
                calls=5000,
                total_ms=2500.0,
                kind="insert",
            ),
            _shape(
                "1b2c3d4e5f607182:r",
                "UPDATE events SET kind = $1 WHERE id = $2",
                "public.events",
                calls=40,
                total_ms=12.0,
                kind="update",
            ),
        )
    }
)

SCHEMA = Schema(
    tables={
        "public.events": Table(
            "public",
            "events",
            (Column("id", "bigint"), Column("user_id", "bigint"), Column("created_at", "tz")),
            stats=TableStats(n_tup_ins=1_250_000, n_tup_upd=4_100, n_tup_hot_upd=3_900),
        ),
    },
    source="dsn",
)


def _measured(key: str, ms: float | None, buffers: int | None, **kw: object) -> Measurement:
    return Measurement(key, ms, 5, shared_buffers=buffers, params="captured", **kw)  # type: ignore[arg-type]


_EVENTS_KEYS = ("5e1f0c9a2b7d4e10:r", "77ab03d1c9e2f456:r")
EVENTS: IndexSuggestion = dataclasses.replace(
    make_suggestion(
        "public.events",
        (IndexColumn("user_id"), IndexColumn("created_at", descending=True)),
        query_keys=_EVENTS_KEYS,
        reason="public.events: user_id (equality); ORDER BY created_at DESC; LIMIT 20",
    ),
    verification=Verification(
        before_ms=5041.9,
        after_ms=2.4,
        before_buffers=9120,
        after_buffers=36,
        used=True,
        verdict="helps",
        effects=(
            QueryEffect(
                _EVENTS_KEYS[0],
                _measured(_EVENTS_KEYS[0], 41.9, 9120),
                _measured(_EVENTS_KEYS[0], 0.1, 4),
                calls=1200,
                plan_change="Seq Scan -> Index Scan",
            ),
            QueryEffect(
                _EVENTS_KEYS[1],
                Measurement(_EVENTS_KEYS[1], None, 1, timed_out_ms=5000.0, params="captured"),
                _measured(_EVENTS_KEYS[1], 2.3, 32),
                calls=10,
                plan_change="Seq Scan -> Index Only Scan",
            ),
        ),
        plan_change="Seq Scan -> Index Scan",
        build_ms=812.4,
        size_bytes=22_437_888,
        data=DATA,
    ),
)
USERS = make_suggestion(
    "public.users",
    (IndexColumn(None, expression="lower(email)"),),
    include=("name",),
    where="deleted_at IS NULL",
    query_keys=("0c4d9e8f1a2b3c4d:r",),
    reason="public.users: lower(email) (equality); only rows WHERE deleted_at IS NULL",
)
ORDER_ITEMS_FK = make_suggestion(
    "public.order_items",
    (IndexColumn("product_id"),),
    reason="foreign key order_items_product_id_fkey (product_id) -> public.products",
)

CHOSEN = (EVENTS, USERS)
FOREIGN_KEYS = (ORDER_ITEMS_FK,)
