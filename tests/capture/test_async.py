"""Capture through AsyncEngine (asyncpg and psycopg drivers): call sites cross the greenlet."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from shop_app.models import Order, User
from shop_app.seed import ORDERS_PER_USER, USERS
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, selectinload

import advisor.capture as capture
from advisor.model import Execution

from .conftest import line_of, url

Read = Callable[[Path], list[Execution]]
HERE = "tests/capture/test_async.py"
DRIVERS = ["asyncpg", "psycopg"]


def _line_of(marker: str) -> int:
    return line_of(__file__, marker)


async def _orders_n_plus_one(dsn: str, driver: str, output: Path) -> list[int]:
    engine = create_async_engine(url(dsn, driver))
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    try:
        with capture.instrument(engine, output=str(output)):
            async with sessions() as session:
                orders = (await session.scalars(select(Order).limit(4))).all()  # mark:async-origin
                counts = [len(await o.awaitable_attrs.items) for o in orders]  # mark:async-lazy
                await session.run_sync(_sync_part)
                loaded = (
                    await session.scalars(select(User).options(selectinload(User.orders)))
                ).all()
                assert sum(len(u.orders) for u in loaded) == USERS * ORDERS_PER_USER
    finally:
        await engine.dispose()
    return counts


def _sync_part(session: Session) -> None:
    user = session.get(User, 1)
    assert user is not None
    assert len(user.orders) == ORDERS_PER_USER  # mark:run-sync-lazy


@pytest.mark.parametrize("driver", DRIVERS)
def test_async_lazy_loads_with_call_sites(
    driver: str, shop_dsn: str, capture_file: Path, executions: Read
) -> None:
    counts = asyncio.run(_orders_n_plus_one(shop_dsn, driver, capture_file))
    assert counts == [2, 2, 2, 2]
    found = executions(capture_file)
    lazy_items = [e for e in found if e.orm and e.orm.kind == "lazy" and e.orm.attribute == "items"]
    assert len(lazy_items) == 4
    for e in lazy_items:
        assert e.call_site is not None and e.call_site.path == HERE
        assert e.call_site.line == _line_of("# mark:async-lazy")
        assert e.origin is not None and e.origin.line == _line_of("# mark:async-origin")
    in_sync = [e for e in found if e.orm and e.orm.attribute == "orders" and e.orm.kind == "lazy"]
    assert len(in_sync) == 1 and in_sync[0].call_site is not None
    assert in_sync[0].call_site.line == _line_of("# mark:run-sync-lazy")
    batched = [e for e in found if e.orm and e.orm.kind == "batched"]
    assert len(batched) == 1
    if driver == "asyncpg":
        assert "$1" in lazy_items[0].sql  # the statement as sent to the driver


@pytest.mark.parametrize("driver", DRIVERS)
def test_async_concurrent_manual_scopes_do_not_mix(
    driver: str, shop_dsn: str, capture_file: Path, executions: Read
) -> None:
    async def worker(engine: object, n: int) -> None:
        with capture.scope(f"worker-{n}"):
            async with engine.connect() as conn:  # type: ignore[attr-defined]
                for _ in range(3):
                    await conn.execute(text("SELECT CAST(:n AS integer)"), {"n": n})
                    await asyncio.sleep(0)

    async def main() -> None:
        engine = create_async_engine(url(shop_dsn, driver), pool_size=10)
        try:
            with capture.instrument(engine, output=str(capture_file), keep_params=True):
                await asyncio.gather(*(worker(engine, n) for n in range(30)))
        finally:
            await engine.dispose()

    asyncio.run(main())
    found = executions(capture_file)
    assert len(found) == 90
    lines = [line for line in capture_file.read_text().splitlines() if '"type": "query"' in line]
    for line in lines:
        data = json.loads(line)
        params = data["params"]  # positional for asyncpg, named for psycopg
        n = params[0] if isinstance(params, list) else params["n"]
        assert data["scope"] == f"worker-{n}"
    assert len({(e.scope, e.scope_id) for e in found}) == 30


@pytest.mark.parametrize("driver", DRIVERS)
def test_async_failing_statement(
    driver: str, shop_dsn: str, capture_file: Path, executions: Read
) -> None:
    async def main() -> str:
        engine = create_async_engine(url(shop_dsn, driver))
        try:
            with capture.instrument(engine, output=str(capture_file)):
                async with engine.connect() as conn:
                    with pytest.raises(DBAPIError) as raised:
                        await conn.execute(text("SELECT 1/0"))
                    return type(raised.value.orig).__name__
        finally:
            await engine.dispose()

    error_type = asyncio.run(main())
    failed = [e for e in executions(capture_file) if e.error]
    assert len(failed) == 1 and failed[0].error is not None
    assert failed[0].error.startswith(error_type)
