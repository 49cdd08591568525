"""The Python examples of the rules that need a running service (ADV008-ADV010), run as one.

Each rule's Example and Use instead blocks are executed as the module of a FastAPI app
(``example.py``) served by uvicorn under capture, driven with concurrent real HTTP, and the
capture is scanned. The Example must fire its rule at a line of ``example.py``; the Use
instead must not fire it. The names the blocks use (``app``, ``url``, ``select``,
``sessions``, ``Account``, ``Rate``, ``TTLCache``) are provided here, and the engines they
create connect to the test database whatever URL the example spells.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Numeric, create_engine, select, text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import NullPool
from starlette.concurrency import run_in_threadpool

import advisor.capture as capture
from advisor.capture.asgi import AdvisorMiddleware
from advisor.model import Finding
from advisor.rules import find_rule, run_rules
from advisor.rules.docs import parse_doc
from advisor.schema import read_schema
from advisor.sources.capture_file import read_capture
from advisor.sources.capture_pools import read_pools
from advisor.workload import build_workload
from tests.capture.conftest import url
from tests.serving import get_all, serve


class Base(DeclarativeBase):
    """The tables the examples name."""


class Account(Base):
    """``accounts`` (ADV008's example)."""

    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


class Rate(Base):
    """``rates`` (ADV010's example): a currency's exchange rate."""

    __tablename__ = "rates"
    code: Mapped[str] = mapped_column(primary_key=True)
    rate: Mapped[Decimal] = mapped_column(Numeric)


class TTLCache(dict[Any, Any]):
    """The small TTL cache ADV010's Use instead asks for (cachetools' name and signature):
    an entry older than ``ttl`` seconds is gone."""

    def __init__(self, maxsize: int, ttl: float) -> None:
        super().__init__()
        self.maxsize, self.ttl = maxsize, ttl
        self._born: dict[Any, float] = {}

    def __setitem__(self, key: Any, value: Any) -> None:
        if len(self) >= self.maxsize and key not in self:
            self.pop(next(iter(self)))
        self._born[key] = time.monotonic()
        super().__setitem__(key, value)

    def get(self, key: Any, default: Any = None) -> Any:
        """The live entry for ``key``, else ``default``."""
        if key in self and time.monotonic() - self._born[key] > self.ttl:
            del self[key]
        return super().get(key, default)


def _slow_route(app: FastAPI, names: dict[str, Any]) -> None:
    """ADV009's blocks only size the pool: the route that uses it, 20 ms per request."""
    engine = names["engine"]

    @app.get("/slow")
    async def slow() -> dict[str, str]:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT pg_sleep(0.02)"))
        return {"ok": "yes"}


@dataclasses.dataclass(frozen=True)
class DocApp:
    """How to drive one rule's example app: request waves (each wave all in flight at once),
    a route the blocks leave out, and option overrides with the reason for them."""

    rule: str
    waves: tuple[tuple[str, ...], ...]
    routes: Callable[[FastAPI, dict[str, Any]], None] | None = None
    options: dict[str, Any] = dataclasses.field(default_factory=dict)


APPS = [
    # A primary-key lookup on a one-row table blocks the loop for well under the default
    # 1 ms threshold: the threshold is the table's size, not the rule's logic.
    DocApp("ADV008", (("/accounts/1",) * 24,), options={"min_blocked_ms": 0.0}),
    # 16 requests of 20 ms at once, twice: the second wave finds the pool's connections open.
    DocApp("ADV009", (("/slow",) * 16, ("/slow",) * 16), routes=_slow_route),
    # One request first, so that the Use instead's cache is filled before the others ask.
    DocApp(
        "ADV010",
        (("/products/1/price?currency=USD",), ("/products/1/price?currency=USD",) * 23),
    ),
]


@pytest.fixture()
def example_db(fresh_db: str) -> Iterator[str]:
    """A database holding one account and one rate."""
    engine = create_engine(url(fresh_db, "psycopg"))
    try:
        Base.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO accounts VALUES (1, 'Ada')"))
            conn.execute(text("INSERT INTO rates VALUES ('USD', 1.08), ('EUR', 1)"))
    finally:
        engine.dispose()
    yield fresh_db


@contextmanager
def _names(dsn: str) -> Iterator[dict[str, Any]]:
    """What an example's module sees; the engines it creates are disposed afterwards."""
    engines: list[Any] = []

    def sync_engine(_url_as_written: str, **kw: Any) -> Any:
        engines.append(create_engine(url(dsn, "psycopg"), **kw))
        return engines[-1]

    def async_engine(_url_as_written: str, **kw: Any) -> Any:
        engines.append(create_async_engine(url(dsn, "asyncpg"), **kw))
        return engines[-1]

    # NullPool: the sessions' connections belong to uvicorn's loop and must not outlive it.
    shared = create_async_engine(url(dsn, "asyncpg"), poolclass=NullPool)
    try:
        yield {
            "url": url(dsn, "asyncpg"),
            "create_engine": sync_engine,
            "create_async_engine": async_engine,
            "select": select,
            "sessions": async_sessionmaker(shared),
            "run_in_threadpool": run_in_threadpool,
            "Account": Account,
            "Rate": Rate,
            "TTLCache": TTLCache,
        }
    finally:
        for engine in engines:
            # An async pool's connections belong to uvicorn's loop: closed without awaiting.
            (engine.sync_engine if hasattr(engine, "sync_engine") else engine).pool.dispose()


def _run(doc_app: DocApp, code: str, dsn: str, folder: Path) -> list[Finding]:
    """Serve ``code`` as ``folder/example.py`` under capture, drive it, and scan it."""
    folder.mkdir()
    example = folder / "example.py"
    example.write_text(code, encoding="utf-8")
    output = folder / "capture.jsonl"
    app = FastAPI()
    with _names(dsn) as names:
        names["app"] = app
        exec(compile(code, str(example), "exec"), names)
        if doc_app.routes is not None:
            doc_app.routes(app, names)
        app.add_middleware(AdvisorMiddleware)
        with capture.instrument(output=str(output), root=str(folder)), serve(app) as base:
            for wave in doc_app.waves:
                get_all(base, list(wave))
    schema = read_schema(dsn)
    workload = build_workload(read_capture(str(output)), schema)
    workload = dataclasses.replace(workload, pools=read_pools(str(output)))
    rule = find_rule(doc_app.rule)
    outcomes = run_rules([rule], workload, schema, options={rule.code: doc_app.options})
    return [o for o in outcomes if isinstance(o, Finding)]


@pytest.mark.parametrize("doc_app", APPS, ids=lambda a: a.rule)
def test_service_example_fires_and_use_instead_does_not(
    doc_app: DocApp, example_db: str, tmp_path: Path
) -> None:
    doc = parse_doc(find_rule(doc_app.rule).doc)
    [example] = doc.code_blocks("Example", "python")
    [fixed] = doc.code_blocks("Use instead", "python")
    fired = _run(doc_app, example.code, example_db, tmp_path / "example")
    assert fired, f"{doc_app.rule}: its Example gives no finding"
    for finding in fired:
        assert finding.rule == doc_app.rule
        if doc_app.rule != "ADV009":  # a pool's finding is the engine's, not a line's
            assert finding.location is not None and finding.location.path == "example.py"
    still = _run(doc_app, fixed.code, example_db, tmp_path / "fixed")
    assert still == [], [f.message for f in still]
