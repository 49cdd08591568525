"""The SQL migration writer: its shape, and that it applies and rolls back with psql."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from advisor.indexes.ddl import make_suggestion
from advisor.model import IndexColumn, Verification
from advisor.schema.ddl import load_ddl
from advisor.suggest.migration import sql_migration
from tests.suggest.applied import indexes, psql_file

REPO = Path(__file__).resolve().parents[2]

EVENTS = make_suggestion(
    "public.events",
    (IndexColumn("user_id"), IndexColumn("created_at", descending=True)),
    query_keys=("abc:r", "def:b"),
    reason="public.events: user_id (equality); ORDER BY created_at DESC",
)
USERS = make_suggestion(
    "public.users",
    (IndexColumn(None, expression="lower(email)"),),
    where="deleted_at IS NULL",
    query_keys=("ghi:r",),
)


def statements(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith(("--", " "))]


def test_up_and_down_have_the_safe_migration_shape() -> None:
    up, down = sql_migration([EVENTS, USERS])
    assert statements(up) == [
        "SET lock_timeout = '2s';",
        "SET statement_timeout = 0;",
        'CREATE INDEX CONCURRENTLY IF NOT EXISTS "ix_events_user_id_created_at"',
        'CREATE INDEX CONCURRENTLY IF NOT EXISTS "ix_users_lower_email_where_deleted_at_is_null"',
        "RESET statement_timeout;",
        "RESET lock_timeout;",
    ]
    assert '    ON "public"."events" ("user_id", "created_at" DESC);' in up.splitlines()
    assert statements(down) == [
        "SET lock_timeout = '2s';",
        "SET statement_timeout = 0;",
        f'DROP INDEX CONCURRENTLY IF EXISTS "public"."{USERS.name}";',
        'DROP INDEX CONCURRENTLY IF EXISTS "public"."ix_events_user_id_created_at";',
        "RESET statement_timeout;",
        "RESET lock_timeout;",
    ]
    assert "BEGIN" not in statements(up) and "psql -v ON_ERROR_STOP=1" in up


def test_evidence_header_without_a_workload_or_data() -> None:
    verified = dataclasses.replace(
        EVENTS, verification=Verification(812.5, 0.42, before_buffers=9120, after_buffers=4)
    )
    up, _ = sql_migration([verified], lock_timeout="5s")
    lines = up.splitlines()
    assert (
        "-- Index: ix_events_user_id_created_at ON public.events (user_id, created_at DESC)"
        in lines
    )
    assert "-- Why: public.events: user_id (equality); ORDER BY created_at DESC" in lines
    assert "--   1. abc:r (not in the scanned workload)" in lines
    assert "--   verdict: helps; 812.5 ms -> 0.42 ms, shared buffers 9,120 -> 4" in lines
    # A figure that names no data says so rather than passing for a measurement on real rows.
    assert "--   data: not recorded (the figures name no data: treat them with care)" in lines
    assert "-- Index size and build time: unknown (the index was not built in a sandbox)." in lines
    assert "SET lock_timeout = '5s';" in lines


def test_nothing_to_create() -> None:
    up, down = sql_migration([])
    assert statements(up) == [] and statements(down) == []


def test_applies_twice_and_rolls_back_withpsql_file(fresh_db: str, tmp_path: Path) -> None:
    load_ddl(fresh_db, REPO / "fixtures" / "schemas" / "shop.sql")
    up, down = sql_migration([EVENTS, USERS])
    (tmp_path / "up.sql").write_text(up)
    (tmp_path / "down.sql").write_text(down)
    psql_file(fresh_db, tmp_path / "up.sql")
    psql_file(fresh_db, tmp_path / "up.sql")  # IF NOT EXISTS: a re-run is a no-op
    made = indexes(fresh_db)
    assert made[EVENTS.name] is True and made[USERS.name] is True
    psql_file(fresh_db, tmp_path / "down.sql")
    after = indexes(fresh_db)
    assert EVENTS.name not in after and USERS.name not in after
    assert "ix_events_kind" in after  # the schema's own indexes are untouched
