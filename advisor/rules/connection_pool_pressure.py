"""Requests queue for a database connection: the pool is too small (ADV009).

## What it does
Reads the connection-pool checkouts capture timed (each instrumented engine's
``QueuePool`` or ``AsyncAdaptedQueuePool``) and fires when checkouts waited for a free
connection: the 95th percentile of the waits above ``max_wait_p95_ms``, or any checkout
that timed out. It reports the pool's settings (``pool_size``, ``max_overflow``,
``pool_timeout``), the peak connections in use and checkouts waiting at once, the routes
that waited longest, a suggested size, and the server's ``max_connections`` when known
(a live ``--dsn``, or the capture's own schema snapshot). It also fires, waits or not,
when ``(pool_size + max_overflow) x workers`` would exceed ``max_connections``.

Not counted as waiting: a checkout that opened a new connection (that is connecting, and
a pool warming up does it once per connection).

## Why is this bad?
A request that waits for a connection waits before its first query: the latency of every
query behind it is added to its own, and at ``pool_timeout`` it fails with
``QueuePool limit ... reached``. The opposite mistake is as real: many workers, each with
a large pool, exhaust the server's ``max_connections`` (100 by default).

## Example
```python
engine = create_async_engine(url, pool_size=2, max_overflow=0)  # 16 concurrent requests
```

## Use instead
```python
# pool_size >= the concurrent requests one worker serves, within max_connections / workers
engine = create_async_engine(url, pool_size=16, max_overflow=4, pool_timeout=10)
```

Or put PgBouncer (transaction pooling) in front of PostgreSQL when many workers need more
connections than the server should hold.

## Options
- ``max_wait_p95_ms`` (default 5.0): the 95th percentile of the waits above which the pool
  is reported.
- ``workers`` (default 1): processes (``uvicorn --workers N``, gunicorn workers) that each
  hold such a pool.
- ``reserve_connections`` (default 10): connections of ``max_connections`` kept for other
  clients (migrations, psql, monitoring) when sizing.
"""

from __future__ import annotations

from collections.abc import Iterator

from advisor.model import Finding, PoolUsage, Severity
from advisor.rules.base import Outcome, Rule, RuleContext
from advisor.rules.stats import percentile

__all__ = ["RULE", "check"]

CODE = "ADV009"
NAME = "connection-pool-pressure"


def _suggested(pool: PoolUsage, waited: bool, per_worker_cap: int | None) -> int:
    """Enough connections for the demand seen: those in use plus those waiting at once
    (more than now when checkouts waited), within one worker's share of the server."""
    demand = pool.peak_in_use + pool.peak_waiting
    if waited:
        demand = max(demand, (pool.size or 0) + 1)
    demand = max(1, demand)
    return demand if per_worker_cap is None else max(1, min(demand, per_worker_cap))


def check(ctx: RuleContext) -> Iterator[Outcome]:
    """Yield one finding per pool whose checkouts waited (or timed out)."""
    workers = max(1, ctx.options["workers"])
    max_connections = ctx.schema.max_connections
    cap = None
    if max_connections is not None:
        cap = max(1, (max_connections - ctx.options["reserve_connections"]) // workers)
    for pool in ctx.workload.pools:
        p95 = percentile(pool.waits_ms, 95) if pool.waits_ms else 0.0
        capacity = (pool.size or 0) + max(0, pool.max_overflow or 0)
        over = max_connections is not None and capacity * workers > max_connections
        waited = p95 > ctx.options["max_wait_p95_ms"] or pool.timeouts > 0
        if not waited and not over:
            continue
        suggested = _suggested(pool, waited, cap)
        settings = (
            f"pool_size={pool.size}, max_overflow={pool.max_overflow}, "
            f"pool_timeout={pool.timeout_s:g} s"
            if pool.timeout_s is not None
            else f"pool_size={pool.size}, max_overflow={pool.max_overflow}"
        )
        server = "" if max_connections is None else f"; the server allows {max_connections}"
        warning = (
            f"; warning: {capacity} x {workers} workers = {capacity * workers} connections "
            f"exceed max_connections ({max_connections})"
            if over
            else ""
        )
        routes = f" (longest waits: {', '.join(pool.scopes[:3])})" if pool.scopes else ""
        timeouts = f", {pool.timeouts} timed out" if pool.timeouts else ""
        yield Finding(
            rule=CODE,
            name=NAME,
            severity=Severity.HIGH if pool.timeouts or over else Severity.MEDIUM,
            message=(
                (
                    "checkouts waited for a database connection"
                    if waited
                    else "checkouts hardly waited"
                )
                + f": p95 {p95:.1f} ms, max "
                f"{max(pool.waits_ms, default=0.0):.1f} ms over {len(pool.waits_ms)} of "
                f"{pool.checkouts} checkouts{timeouts}{routes}; {settings}; peak "
                f"{pool.peak_in_use} in use and {pool.peak_waiting} waiting at once"
                f"{server}{warning}"
            ),
            fix=(
                f"set pool_size to about {suggested} (the connections in use plus those "
                f"waiting at once), keeping (pool_size + max_overflow) x {workers} workers "
                "within max_connections; beyond that, put PgBouncer in front"
            ),
            evidence={
                "pool": pool.pool,
                "pool_class": pool.pool_class,
                "pool_size": pool.size,
                "max_overflow": pool.max_overflow,
                "pool_timeout_s": pool.timeout_s,
                "checkouts": pool.checkouts,
                "waited": len(pool.waits_ms),
                "wait_p95_ms": round(p95, 3),
                "wait_max_ms": round(max(pool.waits_ms, default=0.0), 3),
                "timeouts": pool.timeouts,
                "peak_in_use": pool.peak_in_use,
                "peak_waiting": pool.peak_waiting,
                "scopes": list(pool.scopes),
                "max_connections": max_connections,
                "workers": workers,
                "suggested_pool_size": suggested,
            },
        )


RULE = Rule(
    code=CODE,
    name=NAME,
    severity=Severity.MEDIUM,
    summary="Requests waited for a connection from a pool too small for their concurrency.",
    doc=__doc__ or "",
    check=check,
    options={"max_wait_p95_ms": 5.0, "workers": 1, "reserve_connections": 10},
)
