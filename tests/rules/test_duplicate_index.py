"""ADV005 duplicate-index on real schemas: a kept index is never one the rule drops."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from advisor.db import connect, run
from advisor.model import Finding, Schema, Workload
from advisor.rules import duplicate_index
from advisor.rules.base import RuleContext
from advisor.rules.duplicate_index import redundant_indexes
from advisor.schema.ddl import load_ddl
from advisor.schema.introspect import read_schema

REPO = Path(__file__).resolve().parents[2]
SHOP = (REPO / "fixtures" / "schemas" / "shop.sql").read_text(encoding="utf-8")

# Each scenario: extra DDL on the shop schema -> (dropped, kept, kind) for its table.
SCENARIOS: dict[str, tuple[str, str, list[tuple[str, str, str]]]] = {
    "chain": (
        """
        CREATE INDEX ix_events_user ON events (user_id);
        CREATE INDEX ix_events_user_created ON events (user_id, created_at);
        CREATE INDEX ix_events_user_created_kind ON events (user_id, created_at, kind);
        """,
        "public.events",
        [
            ("ix_events_user", "ix_events_user_created_kind", "prefix"),
            ("ix_events_user_created", "ix_events_user_created_kind", "prefix"),
        ],
    ),
    "duplicate_then_prefix": (
        """
        CREATE INDEX ix_orders_status_copy ON orders (status);
        CREATE INDEX ix_orders_status_created ON orders (status, created_at);
        """,
        "public.orders",
        [
            ("ix_orders_status", "ix_orders_status_created", "prefix"),
            ("ix_orders_status_copy", "ix_orders_status_created", "prefix"),
        ],
    ),
    "duplicates_of_the_longest": (
        """
        CREATE INDEX ix_events_kind_created ON events (kind, created_at);
        CREATE INDEX ix_events_kind_created_2 ON events (kind, created_at);
        CREATE INDEX ix_events_kind_2 ON events (kind);
        """,
        "public.events",
        [
            ("ix_events_kind", "ix_events_kind_created", "prefix"),
            ("ix_events_kind_2", "ix_events_kind_created", "prefix"),
            ("ix_events_kind_created_2", "ix_events_kind_created", "duplicate"),
        ],
    ),
    "constraint_copy_and_prefix": (
        """
        CREATE INDEX ix_users_id ON users (id);
        CREATE INDEX ix_users_id_email ON users (id, email);
        CREATE INDEX ix_users_id_email_name ON users (id, email, name);
        """,
        "public.users",
        [
            ("ix_users_id", "users_pkey", "duplicate"),
            ("ix_users_id_email", "ix_users_id_email_name", "prefix"),
        ],
    ),
    "unique_in_the_chain_stays": (
        """
        CREATE UNIQUE INDEX ux_order_items_order_product ON order_items (order_id, product_id);
        CREATE INDEX ix_order_items_order_product ON order_items (order_id, product_id);
        CREATE INDEX ix_order_items_order_product_qty
            ON order_items (order_id, product_id, quantity);
        """,
        "public.order_items",
        [
            ("ix_order_items_order_id", "ix_order_items_order_product_qty", "prefix"),
            ("ix_order_items_order_product", "ux_order_items_order_product", "duplicate"),
        ],
    ),
    "descending_copies": (
        """
        CREATE INDEX ix_events_created_desc ON events (created_at DESC);
        CREATE INDEX ix_events_created ON events (created_at);
        CREATE INDEX ix_events_created_desc_nl ON events (created_at DESC NULLS LAST);
        CREATE INDEX ix_events_created_kind ON events (created_at, kind);
        """,
        "public.events",
        [
            ("ix_events_created", "ix_events_created_kind", "prefix"),
            ("ix_events_created_desc", "ix_events_created_kind", "prefix"),
        ],
    ),
}


def findings(sch: Schema) -> list[Finding]:
    ctx = RuleContext(Workload({}), sch, options={}, live=False)
    return [o for o in duplicate_index.RULE.check(ctx) if isinstance(o, Finding)]


def assert_kept_never_dropped(found: list[Finding]) -> None:
    dropped = {(f.evidence["table"], f.evidence["index"]) for f in found}
    kept = {(f.evidence["table"], f.evidence["kept"]) for f in found}
    assert not dropped & kept, sorted(dropped & kept)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_kept_index_is_never_dropped(
    scenario: str, schema_factory: Callable[[str], Schema]
) -> None:
    extra, table, want = SCENARIOS[scenario]
    sch = schema_factory(SHOP + extra)
    got = [(r.name, k.name, kind) for r, k, kind in redundant_indexes(sch.tables[table])]
    assert got == want
    assert_kept_never_dropped(findings(sch))


def test_all_drops_applied_leave_every_kept_index(fresh_db: str) -> None:
    ddl = SHOP + "".join(extra for extra, _, _ in SCENARIOS.values())
    found = findings(load_ddl(fresh_db, ddl))
    assert len(found) == sum(len(want) for _, _, want in SCENARIOS.values())
    assert_kept_never_dropped(found)

    async def drop_all() -> None:
        conn = await connect(fresh_db, readonly=False)
        try:
            for finding in found:
                await conn.execute(finding.fix or "")
        finally:
            await conn.close()

    run(drop_all())
    after = read_schema(fresh_db)
    left = {(t.qualified, i.name) for t in after.tables.values() for i in t.indexes}
    assert {(f.evidence["table"], f.evidence["kept"]) for f in found} <= left
    assert ("public.events", "ix_events_created_desc_nl") in left
    assert findings(after) == []
