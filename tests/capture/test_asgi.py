"""ASGI middleware: one scope per request, named by route template, never mixed."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import httpx
from fastapi import FastAPI
from shop_app.api import async_url, create_app
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

import advisor.capture as capture
from advisor.capture.asgi import AdvisorMiddleware
from advisor.model import Execution

Read = Callable[[Path], list[Execution]]
REQUESTS = 250


def _app(dsn: str) -> tuple[FastAPI, object]:
    engine = create_async_engine(async_url(dsn), pool_size=20, max_overflow=0, pool_timeout=60)
    app = create_app(dsn, engine)

    @app.get("/echo/{n}")
    async def echo(n: int) -> dict[str, int]:
        for _ in range(3):
            async with engine.connect() as conn:
                value = (await conn.execute(text("SELECT CAST(:n AS integer)"), {"n": n})).scalar()
            await asyncio.sleep(0)
        return {"n": value}

    app.add_middleware(AdvisorMiddleware)
    return app, engine


def test_concurrent_requests_never_mix(shop_dsn: str, capture_file: Path, executions: Read) -> None:
    async def main() -> None:
        app, engine = _app(shop_dsn)
        transport = httpx.ASGITransport(app=app)
        try:
            with capture.instrument(engine, output=str(capture_file), keep_params=True):
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                    responses = await asyncio.gather(
                        *(client.get(f"/echo/{n}") for n in range(REQUESTS)),
                        *(client.get(f"/users/{1 + n % 5}/orders") for n in range(20)),
                    )
            assert all(r.status_code == 200 for r in responses)
            assert [r.json()["n"] for r in responses[:REQUESTS]] == list(range(REQUESTS))
        finally:
            await engine.dispose()  # type: ignore[attr-defined]

    asyncio.run(main())
    by_request: dict[int | None, list[dict[str, object]]] = defaultdict(list)
    for line in capture_file.read_text().splitlines():
        data = json.loads(line)
        if data["type"] == "query" and data["scope"] == "GET /echo/{n}":
            by_request[data["scope_id"]].append(data)
    assert len(by_request) == REQUESTS
    for lines in by_request.values():
        values = {json.dumps(x["params"]) for x in lines}
        assert len(lines) == 3 and len(values) == 1  # one request's three queries, its own n
        assert {x["scope_kind"] for x in lines} == {"request"}
    orders = [e for e in executions(capture_file) if e.scope == "GET /users/{user_id}/orders"]
    assert len({e.scope_id for e in orders}) == 20
    lazy = [e for e in orders if e.orm and e.orm.kind == "lazy"]
    assert len(lazy) == 20 * 3
    assert all(e.call_site and e.call_site.path.endswith("shop_app/api.py") for e in lazy)
    assert all(e.call_site and e.call_site.function == "list_orders" for e in lazy)


def test_route_template_inside_a_mount(shop_dsn: str, capture_file: Path, executions: Read) -> None:
    engine = create_async_engine(async_url(shop_dsn))

    async def item(request: object) -> JSONResponse:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return JSONResponse({})

    app = Starlette(routes=[Mount("/api", routes=[Route("/items/{item_id}", item)])])
    app.add_middleware(AdvisorMiddleware)

    async def main() -> int:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as c:
            response = await c.get("/api/items/42")
        await engine.dispose()
        return response.status_code

    with capture.instrument(engine, output=str(capture_file)):
        assert asyncio.run(main()) == 200
    assert [e.scope for e in executions(capture_file)] == ["GET /api/items/{item_id}"]
