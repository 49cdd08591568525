"""Drive a fixed HTTP load at a running service and measure each route's latency.

Requests go out from ``concurrency`` workers sharing one queue, so the service sees that
many requests in flight; each route's latencies give p50/p95/p99 and its share of the
wall time gives requests per second.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import httpx

__all__ = ["RouteStats", "drive", "percentile"]


@dataclass(frozen=True, slots=True)
class RouteStats:
    """One route under load: ``count`` requests (``errors`` of them failed), latencies in ms."""

    route: str
    count: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    requests_per_s: float


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values`` by linear interpolation."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _stats(route: str, latencies: list[float], errors: int, wall_s: float) -> RouteStats:
    return RouteStats(
        route=route,
        count=len(latencies) + errors,
        errors=errors,
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
        p99_ms=percentile(latencies, 99),
        mean_ms=statistics.fmean(latencies) if latencies else 0.0,
        requests_per_s=(len(latencies) / wall_s) if wall_s > 0 else 0.0,
    )


async def _drive(
    base_url: str,
    plan: list[tuple[str, str]],
    concurrency: int,
    progress: Callable[[int, int], None] | None,
    timeout_s: float,
) -> tuple[dict[str, list[float]], dict[str, int], float]:
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    for item in plan:
        queue.put_nowait(item)
    latencies: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    done = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal done
        while True:
            try:
                route, path = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            started = time.perf_counter()
            try:
                response = await client.get(path)
                ok = response.status_code < 500
            except httpx.HTTPError:
                ok = False
            elapsed = (time.perf_counter() - started) * 1000
            if ok:
                latencies.setdefault(route, []).append(elapsed)
            else:
                errors[route] = errors.get(route, 0) + 1
            done += 1
            if progress is not None:
                progress(done, len(plan))

    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=timeout_s) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return latencies, errors, wall


def drive(
    base_url: str,
    requests: Iterable[tuple[str, str]],
    *,
    concurrency: int,
    progress: Callable[[int, int], None] | None = None,
    timeout_s: float = 60.0,
) -> tuple[tuple[RouteStats, ...], float]:
    """Send every ``(route, path)`` request; per-route stats (in first-seen order) and wall s.

    A route's requests per second is its completed requests over the whole run's wall
    time, so the routes' figures add up to the service's throughput.
    """
    plan = list(requests)
    latencies, errors, wall = asyncio.run(_drive(base_url, plan, concurrency, progress, timeout_s))
    routes = list(dict.fromkeys(route for route, _ in plan))
    stats = tuple(_stats(r, latencies.get(r, []), errors.get(r, 0), wall) for r in routes)
    return stats, wall
