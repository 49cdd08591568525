"""A synchronous database call inside ``async def``: it freezes the event loop (ADV008).

## What it does
Finds statements that ran through a *synchronous* driver (``create_engine`` with psycopg,
psycopg2, ...) on a thread that was running an asyncio event loop: an ``async def``
endpoint, a background task, a startup hook. Capture marks each such statement
(``blocks_loop``); this rule reports one finding per scope name (route) and call site,
with the total and the 95th-percentile time the loop was blocked per request.

Not flagged: statements of an async engine (``create_async_engine``; its sync-looking
calls inside ``run_sync`` and SQLAlchemy's greenlet bridge never block the loop), and a
sync engine used from a plain ``def`` endpoint, which FastAPI runs in its threadpool.

## Why is this bad?
While the statement runs, the whole event loop waits: every other request of that worker,
health checks included, stands still. "The endpoint is async" does not make its database
call async; under load the latency of one slow query is added to every concurrent request.

## Example
```python
engine = create_engine("postgresql+psycopg://app@db/shop")

@app.get("/accounts/{account_id}")
async def get_account(account_id: int):
    with engine.connect() as conn:  # blocks the event loop
        return conn.execute(select(Account).where(Account.id == account_id)).one()._asdict()
```

## Use instead
```python
engine = create_async_engine("postgresql+asyncpg://app@db/shop")

@app.get("/accounts/{account_id}")
async def get_account(account_id: int):
    async with engine.connect() as conn:
        return (await conn.execute(select(Account).where(Account.id == account_id))).one()._asdict()
```

When the call must stay synchronous, move it off the loop: make the endpoint a plain
``def``, or ``await run_in_threadpool(fetch_account, account_id)`` (Starlette) /
``await asyncio.to_thread(fetch_account, account_id)``.

## Options
- ``min_blocked_ms`` (default 1.0): the 95th percentile of the time one request's
  statements from one line blocked the loop, below which nothing is reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from advisor.model import Finding, Severity
from advisor.rules.base import Outcome, Rule, RuleContext
from advisor.rules.loops import shape_for
from advisor.rules.stats import percentile
from advisor.sqltext import one_line

__all__ = ["RULE", "check"]

CODE = "ADV008"
NAME = "blocking-call-in-event-loop"
_HIGH_MS = 50.0  # a loop frozen this long per request is felt by every concurrent request

FIX = (
    "use the async engine (`create_async_engine` with asyncpg, `async with engine.connect()`); "
    "if the call must stay sync, run it off the loop: a plain `def` endpoint, "
    "`await run_in_threadpool(...)` or `await asyncio.to_thread(...)`"
)


def check(ctx: RuleContext) -> Iterator[Outcome]:
    """Yield one finding per (scope name, call site) whose statements blocked the loop."""
    for site in ctx.workload.blocking:
        if not site.per_scope_ms:
            continue
        p95 = percentile(site.per_scope_ms, 95)
        if p95 < ctx.options["min_blocked_ms"]:
            continue
        shape = shape_for(ctx.workload, site.key)
        sql = shape.query.sql if shape is not None else None
        requests = len(site.per_scope_ms)
        total = sum(site.per_scope_ms)
        kind = site.scope_kind or "scope"
        yield Finding(
            rule=CODE,
            name=NAME,
            severity=Severity.HIGH if p95 >= _HIGH_MS else Severity.MEDIUM,
            message=(
                f"a synchronous database call blocked the event loop in {site.scope}: "
                f"p95 {p95:.1f} ms per {kind}, {total:.1f} ms in all over {requests} "
                f"{kind}s ({site.executions} statements)" + (f": {one_line(sql)}" if sql else "")
            ),
            location=site.call_site,
            fingerprint=shape.query.fingerprint if shape is not None else None,
            sql=sql,
            fix=FIX,
            evidence={
                "scope": site.scope,
                "scopes": requests,
                "executions": site.executions,
                "blocked_total_ms": round(total, 3),
                "blocked_mean_ms": round(total / requests, 3),
                "blocked_p95_ms": round(p95, 3),
                "blocked_max_ms": round(max(site.per_scope_ms), 3),
            },
        )


RULE = Rule(
    code=CODE,
    name=NAME,
    severity=Severity.MEDIUM,
    summary="A synchronous database call ran on a thread running an asyncio event loop.",
    doc=__doc__ or "",
    check=check,
    options={"min_blocked_ms": 1.0},
)
