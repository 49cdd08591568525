"""Across requests, through a real uvicorn server and real HTTP: statements that block the
event loop (ADV008), checkouts that wait for a pooled connection (ADV009) and reads a cache
would serve (ADV010) are recorded and found."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

import advisor.capture as capture
from advisor.capture.asgi import AdvisorMiddleware
from advisor.model import Execution, Finding
from advisor.rules import RULES, run_rules
from advisor.schema import read_schema
from advisor.sources.capture_pools import read_pools
from advisor.workload import build_workload
from tests.serving import get_all, serve

from .conftest import line_of, url

Read = Callable[[Path], list[Execution]]
REQUESTS = 24
LOOKUP = "SELECT rate FROM fx_rates WHERE code = :code"
COUNTER = "SELECT hits FROM page_hits WHERE page = :page"


def _prepare(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS fx_rates, page_hits"))
        conn.execute(text("CREATE TABLE fx_rates (code text PRIMARY KEY, rate numeric)"))
        conn.execute(text("INSERT INTO fx_rates VALUES ('EUR', 1), ('USD', 1.08)"))
        conn.execute(text("CREATE TABLE page_hits (page text PRIMARY KEY, hits int)"))
        conn.execute(text("INSERT INTO page_hits VALUES ('home', 0)"))


def _app(sync: Engine, dsn: str) -> FastAPI:
    app = FastAPI()
    # NullPool: its connections belong to uvicorn's loop and must not outlive it.
    async_engine = create_async_engine(url(dsn, "asyncpg"), poolclass=NullPool)

    @app.get("/blocking")
    async def blocking() -> dict[str, str]:
        with sync.connect() as conn:
            conn.execute(text("SELECT pg_sleep(0.01)"))  # mark:blocking
        return {"ok": "yes"}

    @app.get("/threaded")
    def threaded() -> dict[str, str]:
        with sync.connect() as conn:
            conn.execute(text("SELECT pg_sleep(0.01)"))  # mark:threaded
        return {"ok": "yes"}

    @app.get("/price")
    async def price() -> dict[str, str]:
        async with async_engine.connect() as conn:
            rate = (await conn.execute(text(LOOKUP), {"code": "USD"})).scalar()  # mark:lookup
        return {"rate": str(rate)}

    @app.get("/hits")
    async def hits() -> dict[str, int]:
        async with async_engine.begin() as conn:
            await conn.execute(text("UPDATE page_hits SET hits = hits + 1 WHERE page = 'home'"))
            count = (await conn.execute(text(COUNTER), {"page": "home"})).scalar()
        return {"hits": int(count or 0)}

    app.add_middleware(AdvisorMiddleware)
    return app


def _findings(shop_dsn: str, capture_file: Path, read: Read) -> list[Finding]:
    schema = read_schema(shop_dsn)
    workload = build_workload(read(capture_file), schema)
    workload = dataclasses.replace(workload, pools=read_pools(str(capture_file)))
    outcomes = run_rules(RULES, workload, schema)
    return [o for o in outcomes if isinstance(o, Finding)]


def test_blocking_calls_and_cache_candidates_under_load(
    shop_dsn: str, capture_file: Path, executions: Read
) -> None:
    sync = create_engine(url(shop_dsn, "psycopg"), pool_size=REQUESTS, max_overflow=0)
    _prepare(sync)
    app = _app(sync, shop_dsn)
    paths = [p for _ in range(REQUESTS) for p in ("/blocking", "/threaded", "/price", "/hits")]
    try:
        with capture.instrument(output=str(capture_file)), serve(app) as base:
            get_all(base, paths)
        findings = _findings(shop_dsn, capture_file, executions)
    finally:
        with sync.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS fx_rates, page_hits"))
        sync.dispose()
    _check_lines(executions(capture_file))
    _check_findings(findings)


def _check_lines(found: list[Execution]) -> None:
    sleeps = [e for e in found if "pg_sleep" in e.sql]
    by_scope = {
        scope: [e.blocks_loop for e in sleeps if e.scope == scope]
        for scope in ("GET /blocking", "GET /threaded")
    }
    assert by_scope["GET /blocking"] == [True] * REQUESTS
    assert by_scope["GET /threaded"] == [False] * REQUESTS
    assert not any(e.blocks_loop for e in found if e.scope in ("GET /price", "GET /hits"))
    lookups = [e for e in found if e.scope == "GET /price" and "fx_rates" in e.sql]
    assert len(lookups) == REQUESTS and len({e.result_hash for e in lookups}) == 1
    assert lookups[0].result_hash is not None and lookups[0].at is not None
    counters = [e for e in found if "page_hits" in e.sql and e.sql.startswith("SELECT")]
    assert len({e.result_hash for e in counters}) == REQUESTS  # a new count each time


def _check_findings(findings: list[Finding]) -> None:
    here = "tests/capture/test_across_requests.py"
    (blocking,) = [f for f in findings if f.rule == "ADV008"]
    assert blocking.location is not None and blocking.location.path == here
    assert blocking.location.line == line_of(__file__, "# mark" + ":blocking")
    assert blocking.evidence["scope"] == "GET /blocking"
    assert blocking.evidence["scopes"] == REQUESTS
    assert 10.0 <= blocking.evidence["blocked_p95_ms"] < 1000.0  # type: ignore[operator]
    assert "create_async_engine" in (blocking.fix or "")
    (cached,) = [f for f in findings if f.rule == "ADV010"]
    assert cached.location is not None
    assert cached.location.line == line_of(__file__, "# mark" + ":lookup")
    assert cached.evidence["reads"] == REQUESTS and cached.evidence["scopes"] == REQUESTS
    assert cached.evidence["hits"] == REQUESTS - 1 and cached.evidence["writes"] == {}


CONCURRENT = 20


def _pool_findings(shop_dsn: str, capture_file: Path, read: Read, size: int) -> list[Finding]:
    engine = create_async_engine(url(shop_dsn, "asyncpg"), pool_size=size, max_overflow=0)
    app = FastAPI()

    @app.get("/slow")
    async def slow() -> dict[str, str]:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT pg_sleep(0.02)"))
        return {"ok": "yes"}

    app.add_middleware(AdvisorMiddleware)
    with capture.instrument(engine, output=str(capture_file)), serve(app) as base:
        # Twice: the first round opens the pool's connections, the second finds them open.
        get_all(base, ["/slow"] * CONCURRENT)
        get_all(base, ["/slow"] * CONCURRENT)
        # The pool's connections belong to uvicorn's loop: closed without awaiting them.
        engine.sync_engine.pool.dispose()
    return [f for f in _findings(shop_dsn, capture_file, read) if f.rule == "ADV009"]


def test_pool_of_two_under_twenty_concurrent_requests_waits(
    shop_dsn: str, capture_file: Path, executions: Read
) -> None:
    (finding,) = _pool_findings(shop_dsn, capture_file, executions, 2)
    evidence = finding.evidence
    assert evidence["pool_size"] == 2 and evidence["checkouts"] == 2 * CONCURRENT
    assert evidence["peak_in_use"] == 2
    # 20 requests of 20 ms on 2 connections: the last ones wait about 9 x 20 ms.
    assert 40.0 <= evidence["wait_p95_ms"] < 5000.0  # type: ignore[operator]
    assert evidence["peak_waiting"] >= 10  # type: ignore[operator]
    assert evidence["scopes"] == ["GET /slow"]
    assert evidence["max_connections"] == 100  # the test server's default
    assert "pool_size=2, max_overflow=0" in finding.message


def test_pool_of_twenty_does_not_wait(shop_dsn: str, capture_file: Path, executions: Read) -> None:
    assert _pool_findings(shop_dsn, capture_file, executions, CONCURRENT) == []
