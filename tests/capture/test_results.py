"""Result hashes never consume or change the application's rows; run_sync is not blocking."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.ext.asyncio import create_async_engine

import advisor.capture as capture
from advisor.capture.results import MAX_CELLS
from advisor.model import Execution

from .conftest import url

Read = Callable[[Path], list[Execution]]
ROWS = "SELECT * FROM (VALUES (1, 'a'), (2, NULL), (3, '')) AS t(n, s) WHERE n <= :n"


def test_psycopg_rows_survive_hashing(engine: Engine, capture_file: Path, executions: Read) -> None:
    with capture.instrument(engine, output=str(capture_file)), engine.connect() as conn:
        first = conn.execute(text(ROWS), {"n": 3}).all()
        again = conn.execute(text(ROWS), {"n": 3})
        assert again.fetchone() == (1, "a")  # the cursor's position is untouched
        assert again.fetchall() == [(2, None), (3, "")]
        fewer = conn.execute(text(ROWS), {"n": 2}).all()
        big = conn.execute(text("SELECT generate_series(1, :n)"), {"n": MAX_CELLS + 1}).all()
        streamed = conn.execution_options(stream_results=True).execute(text(ROWS), {"n": 3})
        assert streamed.all() == first
    assert first == [(1, "a"), (2, None), (3, "")] and len(fewer) == 2 and len(big) == MAX_CELLS + 1
    hashes = [e.result_hash for e in executions(capture_file)]
    assert hashes[0] == hashes[1] and hashes[0] is not None
    assert hashes[2] not in (None, hashes[0])
    assert hashes[3:] == [None, None]  # too large; a server-side cursor


def test_asyncpg_rows_survive_hashing_and_run_sync_is_not_blocking(
    shop_dsn: str, capture_file: Path, executions: Read
) -> None:
    def in_run_sync(conn: Connection) -> list[tuple[object, ...]]:
        return [tuple(r) for r in conn.execute(text(ROWS), {"n": 1})]

    async def main() -> tuple[object, ...]:
        engine = create_async_engine(url(shop_dsn, "asyncpg"))
        try:
            with capture.instrument(engine, output=str(capture_file)):
                async with engine.connect() as conn:
                    rows = (await conn.execute(text(ROWS), {"n": 3})).all()
                    synced = await conn.run_sync(in_run_sync)
            return (rows, synced)
        finally:
            await engine.dispose()

    rows, synced = asyncio.run(main())
    assert rows == [(1, "a"), (2, None), (3, "")] and synced == [(1, "a")]
    found = [e for e in executions(capture_file) if "VALUES" in e.sql]
    assert len(found) == 2 and not any(e.blocks_loop for e in found)
    assert all(e.result_hash is not None for e in found)
    assert found[0].result_hash != found[1].result_hash
