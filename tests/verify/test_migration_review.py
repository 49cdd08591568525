"""``advisor verify MIGRATION.sql``: a migration applied in a sandbox, the workload measured
before and after it, on a real PostgreSQL (the session's server as the sandbox)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from advisor.errors import InputError
from advisor.report.migration import render, to_json
from advisor.scan import ScanOptions, review
from tests.test_cli import advisor
from tests.verify.builders import SHOP

FEED = "SELECT id, total FROM orders WHERE user_id = $1 ORDER BY created_at DESC LIMIT 20;"
ITEMS = "SELECT id, sku FROM items WHERE order_id = $1;"
QUERIES = f"{FEED}\n{ITEMS}\nSELECT count(*) FROM users;\n"
FEED_INDEX = "CREATE INDEX orders_user_created ON orders (user_id, created_at DESC);\n"


def _files(tmp_path: Path, migration: str, schema: str = SHOP) -> tuple[Path, Path, Path]:
    (tmp_path / "schema.sql").write_text(schema)
    (tmp_path / "queries.sql").write_text(QUERIES)
    (tmp_path / "migration.sql").write_text(migration)
    return tmp_path / "schema.sql", tmp_path / "queries.sql", tmp_path / "migration.sql"


def _options(schema: Path, queries: Path, sandbox: str) -> ScanOptions:
    return ScanOptions(
        sources=(str(queries),), schema_file=str(schema), sandbox=sandbox, verify_runs=3
    )


def test_a_useful_index_makes_the_query_faster_with_its_plan(tmp_path: Path, pg_dsn: str) -> None:
    migration = (
        "SET lock_timeout = '2s';\n"
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_user_created\n"
        "    ON public.orders (user_id, created_at DESC);\n"
        "RESET lock_timeout;\n"
    )
    schema, queries, path = _files(tmp_path, migration)
    seen: list[str] = []

    reviewed = review(_options(schema, queries, pg_dsn), str(path), lambda w, d, t: seen.append(w))

    assert [s.line for s in reviewed.statements] == [1, 2, 4]
    assert all(s.ms is not None and s.ms >= 0 for s in reviewed.statements)
    (added,) = reviewed.added
    assert added.name == "public.orders_user_created" and added.table == "public.orders"
    assert added.valid and added.size_bytes > 8192 and not reviewed.dropped
    (faster,) = reviewed.of("faster")
    assert faster.sql.startswith("SELECT id, total FROM orders")
    assert faster.effect.plan_change is not None
    assert (
        faster.effect.plan_change.startswith("Seq Scan")
        and "Index Scan" in faster.effect.plan_change
    )
    assert faster.effect.after.plan is not None and faster.effect.before.ms is not None
    assert faster.effect.after.ms is not None and faster.effect.after.ms < faster.effect.before.ms
    assert not reviewed.of("slower") and not reviewed.broken
    assert len(reviewed.of("unchanged")) == 2  # items and users: untouched by the index
    assert reviewed.data is not None and reviewed.data.kind == "as-is"
    before, after = reviewed.total_ms
    gain = faster.effect.before.ms - faster.effect.after.ms
    assert after == pytest.approx(before - gain)  # the unchanged ones count as before
    assert "measuring before the migration" in seen and "measuring after the migration" in seen

    doc = to_json(reviewed)
    assert doc["summary"]["faster"] == 1 and doc["summary"]["slower"] == 0
    first = doc["queries"][0]
    assert first["change"] == "faster" and first["before"]["plan"]["children"] is not None
    assert first["after"]["plan"] is not None and " -> " in first["text"]
    assert doc["indexes"]["added"][0]["definition"].startswith("CREATE INDEX orders_user_created")
    console = Console(width=200, record=True)
    console.print(render(reviewed))
    text = console.export_text()
    assert "Faster (1)" in text and "+ public.orders_user_created on public.orders" in text
    assert "before:" in text and "Index Scan using orders_user_created on orders" in text
    assert "1 faster, 0 slower, 2 unchanged" in text


def test_dropping_an_index_a_query_needs_is_flagged_slower(tmp_path: Path, pg_dsn: str) -> None:
    schema, queries, path = _files(
        tmp_path, "DROP INDEX CONCURRENTLY IF EXISTS orders_user_created;\n", SHOP + FEED_INDEX
    )

    proc = advisor(
        "verify", str(path), "--workload", str(queries), "--schema", str(schema),
        "--sandbox", pg_dsn,
    )  # fmt: skip

    assert proc.returncode == 1, proc.stderr  # a slower query fails the check
    text = " ".join(proc.stdout.split())  # the terminal width wraps lines
    assert "- public.orders_user_created on public.orders" in text
    assert "Slower (1)" in text and "Index Scan -> Seq Scan" in text
    assert "0 faster, 1 slower, 2 unchanged" in text


def test_a_syntax_error_names_the_file_and_line(tmp_path: Path, pg_dsn: str) -> None:
    migration = (
        "SET lock_timeout = '2s';\n\nCREATE INDEX ix ON orders (user_id;\nRESET lock_timeout;\n"
    )
    schema, queries, path = _files(tmp_path, migration)

    proc = advisor(
        "verify", str(path), "-w", str(queries), "--schema", str(schema), "--sandbox", pg_dsn
    )

    assert proc.returncode == 2
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"advisor: error: {path}:3: syntax error at ")
    assert "fix the migration and run again" in line and not proc.stdout


def test_concurrently_inside_begin_and_an_open_transaction_are_errors(
    tmp_path: Path, pg_dsn: str
) -> None:
    schema, queries, path = _files(
        tmp_path, "BEGIN;\nCREATE INDEX CONCURRENTLY ix ON orders (user_id);\nCOMMIT;\n"
    )
    with pytest.raises(InputError, match=r":2: CREATE INDEX CONCURRENTLY cannot run inside"):
        review(_options(schema, queries, pg_dsn), str(path))
    path.write_text("BEGIN;\nCREATE INDEX ix ON orders (user_id);\n")
    with pytest.raises(InputError, match=r":1: the migration leaves a transaction open"):
        review(_options(schema, queries, pg_dsn), str(path))


def test_an_alembic_style_sql_file_applies_with_its_settings(tmp_path: Path, pg_dsn: str) -> None:
    # As `alembic upgrade --sql` writes a revision with an autocommit_block().
    migration = """\\set ON_ERROR_STOP on
BEGIN;
CREATE TABLE alembic_version (
    version_num VARCHAR(32) NOT NULL,
    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
-- Running upgrade  -> 1a2b3c4d5e6f
COMMIT;
SET lock_timeout = '2s';
SET statement_timeout = 0;
CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_items_order_id ON public.items (order_id);
RESET statement_timeout;
RESET lock_timeout;
BEGIN;
INSERT INTO alembic_version (version_num) VALUES ('1a2b3c4d5e6f');
COMMIT;
"""
    schema, queries, path = _files(tmp_path, migration)
    report = tmp_path / "review.json"

    proc = advisor(
        "verify", str(path), "-w", str(queries), "--schema", str(schema), "--sandbox", pg_dsn,
        "--format", "json", "-o", str(report),
    )  # fmt: skip

    assert proc.returncode == 0, proc.stderr
    doc = json.loads(report.read_text())
    assert doc["format"] == "advisor-migration-review" and doc["version"] == 1
    assert len(doc["statements"]) == 11  # the psql meta-command is not a statement
    added = {i["name"] for i in doc["indexes"]["added"]}
    assert added == {"public.ix_items_order_id", "public.alembic_version_pkc"}
    (faster,) = [q for q in doc["queries"] if q["change"] == "faster"]
    assert faster["sql"].startswith("SELECT id, sku FROM items")
    assert faster["before"]["params"] == "sampled" and faster["plan_change"]
    assert doc["data"]["kind"] == "as-is" and doc["summary"]["broken"] == 0


def test_a_query_that_fails_after_the_migration_is_reported(tmp_path: Path, pg_dsn: str) -> None:
    schema, queries, path = _files(tmp_path, "ALTER TABLE items DROP COLUMN sku;\n")

    reviewed = review(_options(schema, queries, pg_dsn), str(path))

    (broken,) = reviewed.broken
    assert broken[1].startswith("SELECT id, sku FROM items") and "sku" in broken[2]
    assert {q.sql.split()[1] for q in reviewed.queries} == {"id,", "count(*)"}


def test_an_empty_or_missing_migration_is_an_input_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sql"
    empty.write_text("-- nothing yet\n")
    proc = advisor("verify", str(empty), "--schema", str(empty))
    assert proc.returncode == 2 and "holds no SQL statement" in proc.stderr
    proc = advisor("verify", str(tmp_path / "missing.sql"))
    assert proc.returncode == 2 and "cannot read the migration" in proc.stderr


def test_the_dsn_database_is_only_read(tmp_path: Path, pg_dsn: str, fresh_db: str) -> None:
    from advisor.schema.introspect import read_schema
    from tests.verify.builders import make_database

    make_database(fresh_db)
    schema, queries, path = _files(tmp_path, "CREATE INDEX ix_items_order ON items (order_id);\n")
    options = ScanOptions(
        sources=(str(queries),), schema_file=str(schema), dsn=fresh_db, sandbox=pg_dsn
    )

    reviewed = review(options, str(path))

    assert [i.name for i in reviewed.added] == ["public.ix_items_order"]
    source = read_schema(fresh_db)
    assert {i.name for t in source.tables.values() for i in t.indexes} == {
        "users_pkey",
        "orders_pkey",
        "items_pkey",
    }
