"""The SQL migration writer: its shape, and that it applies and rolls back with psql."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest

from advisor.db import connect, run
from advisor.model import IndexColumn, Verification
from advisor.schema.ddl import load_ddl
from advisor.suggest.migration import sql_migration
from advisor.suggest.sql import make_suggestion

REPO = Path(__file__).resolve().parents[2]

EVENTS = make_suggestion(
    "public.events",
    (IndexColumn("user_id"), IndexColumn("created_at", descending=True)),
    fingerprints=("abc:r", "def:b"),
    reason="public.events: user_id (equality); ORDER BY created_at DESC",
)
USERS = make_suggestion(
    "public.users",
    (IndexColumn(None, expression="lower(email)"),),
    where="deleted_at IS NULL",
    fingerprints=("ghi:r",),
)


def statements(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith(("--", " "))]


def test_up_and_down_follow_the_field_notes_shape() -> None:
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


def _psql(dsn: str, path: Path) -> None:
    psql = shutil.which("psql")
    if psql is None:
        pytest.fail("psql is not on PATH; install the PostgreSQL client to run this test")
    done = subprocess.run(
        [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-f", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def _valid_indexes(dsn: str) -> dict[str, bool]:
    async def go() -> dict[str, bool]:
        conn = await connect(dsn)
        try:
            rows = await conn.fetch(
                "SELECT c.relname, i.indisvalid FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname LIKE 'ix_%'"
            )
        finally:
            await conn.close()
        return {r["relname"]: r["indisvalid"] for r in rows}

    return run(go())


def test_applies_twice_and_rolls_back_with_psql(fresh_db: str, tmp_path: Path) -> None:
    load_ddl(fresh_db, REPO / "fixtures" / "schemas" / "shop.sql")
    up, down = sql_migration([EVENTS, USERS])
    (tmp_path / "up.sql").write_text(up)
    (tmp_path / "down.sql").write_text(down)
    _psql(fresh_db, tmp_path / "up.sql")
    _psql(fresh_db, tmp_path / "up.sql")  # IF NOT EXISTS: a re-run is a no-op
    made = _valid_indexes(fresh_db)
    assert made[EVENTS.name] is True and made[USERS.name] is True
    _psql(fresh_db, tmp_path / "down.sql")
    after = _valid_indexes(fresh_db)
    assert EVENTS.name not in after and USERS.name not in after
    assert "ix_events_kind" in after  # the schema's own indexes are untouched
