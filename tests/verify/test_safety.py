"""Issue 11 "Safety": a scan with --dsn never writes to the user's database.

The workload holds every kind of write (UPDATE, DELETE, INSERT, CREATE INDEX, DROP,
TRUNCATE); the source's tables, rows, indexes, constraints and extensions must be
identical afterwards: a fingerprint of the catalog and a checksum of every table.
"""

from __future__ import annotations

from pathlib import Path

from advisor.db import connect, run
from advisor.scan import ScanOptions, scan
from tests.verify.builders import make_database

WRITES = """
UPDATE orders SET status = 'lost' WHERE user_id = 7;
DELETE FROM items WHERE order_id < 100;
INSERT INTO users (id, email) VALUES (100000, 'x@example.com');
CREATE INDEX ix_orders_status ON orders (status);
DROP TABLE items;
TRUNCATE users CASCADE;
SELECT * FROM orders WHERE user_id = 7 ORDER BY created_at DESC LIMIT 20;
"""

CATALOG = """
SELECT md5(string_agg(line, E'\\n' ORDER BY line)) FROM (
    SELECT 'rel ' || c.oid::regclass || ' ' || c.relkind::text FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
    UNION ALL SELECT 'idx ' || pg_get_indexdef(indexrelid) || ' ' || indisvalid::text FROM pg_index
        WHERE indrelid::regclass::text NOT LIKE 'pg_%'
    UNION ALL SELECT 'con ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
        WHERE connamespace = 'public'::regnamespace
    UNION ALL SELECT 'ext ' || extname || ' ' || extversion FROM pg_extension
) AS catalog(line)
"""


def _fingerprint(dsn: str) -> dict[str, str]:
    async def go() -> dict[str, str]:
        conn = await connect(dsn)
        try:
            out = {"catalog": str(await conn.fetchval(CATALOG))}
            for (table,) in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ):
                out[table] = str(
                    await conn.fetchval(
                        f"SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, ',' "
                        f"ORDER BY t::text), '')) FROM {table} t"
                    )
                )
            return out
        finally:
            await conn.close()

    return run(go())


def test_scan_with_dsn_leaves_the_source_identical(fresh_db: str, tmp_path: Path) -> None:
    make_database(fresh_db)
    run(_write(fresh_db, "CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    workload = tmp_path / "writes.sql"
    workload.write_text(WRITES)
    before = _fingerprint(fresh_db)
    assert set(before) == {"catalog", "users", "orders", "items"}

    result = scan(ScanOptions(sources=(str(workload),), dsn=fresh_db))

    assert result.workload.shapes  # the writes were read and scanned
    assert _fingerprint(fresh_db) == before
    # The fingerprint does see a changed row and a new index (so the test can fail).
    run(_write(fresh_db, "UPDATE orders SET status = 'lost' WHERE id = 1"))
    after_update = _fingerprint(fresh_db)
    assert after_update["orders"] != before["orders"]
    run(_write(fresh_db, "CREATE INDEX ix_orders_status ON orders (status)"))
    assert _fingerprint(fresh_db)["catalog"] != after_update["catalog"]


async def _write(dsn: str, sql: str) -> None:
    conn = await connect(dsn, readonly=False)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()
