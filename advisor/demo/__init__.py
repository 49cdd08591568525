"""``advisor demo``: the example service found slow, fixed and measured, end to end.

1. a sandbox PostgreSQL; the example service's database created and seeded;
2. the service served by uvicorn under ``advisor capture``; a fixed load driven at it;
3. the capture scanned against the seeded database, the suggested indexes verified with
   EXPLAIN ANALYZE on a copy of its data, the report kept;
4. the verified indexes applied and the service's fixes switched on (``EXAMPLE_FIXES``);
5. the same load again; a before/after table per route: requests/s, p50, p95, p99 and
   queries per request.

Nothing here prints: steps are reported through ``progress``; the CLI renders.
"""

from __future__ import annotations

import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from advisor.demo.load import RouteStats, drive
from advisor.demo.service import DemoError, served, service_root
from advisor.model import IndexSuggestion, ScanResult

__all__ = [
    "DemoError",
    "DemoOptions",
    "DemoResult",
    "Phase",
    "RouteRow",
    "queries_per_request",
    "request_plan",
    "run_demo",
    "seed_database",
]

Progress = Callable[[str], None]
LoadProgress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """How big and how long: ``size`` is ``"full"`` (400,000 events) or ``"small"``."""

    size: str = "full"
    requests: int = 1200
    concurrency: int = 16
    sandbox: str = "auto"
    workdir: Path | None = None
    warmup: int = 40


@dataclass(frozen=True, slots=True)
class Phase:
    """One load run: per-route stats, queries per request per route, the capture file."""

    name: str
    fixes: str
    routes: tuple[RouteStats, ...]
    queries_per_request: dict[str, float]
    wall_s: float
    capture: Path


@dataclass(frozen=True, slots=True)
class RouteRow:
    """One row of the before/after table."""

    route: str
    before: RouteStats
    after: RouteStats
    queries_before: float | None
    queries_after: float | None


@dataclass(frozen=True, slots=True)
class DemoResult:
    """Everything the demo measured and found."""

    before: Phase
    after: Phase
    scan: ScanResult
    applied: tuple[str, ...]
    workdir: Path
    sandbox: str
    rows: tuple[RouteRow, ...] = field(default=())


def _importable() -> None:
    """Put the example service's package on ``sys.path`` (it runs in this process too)."""
    root = str(service_root())
    if root not in sys.path:
        sys.path.insert(0, root)


def seed_database(dsn: str, size: str) -> None:
    """Create and fill the example service's tables in the database at ``dsn``."""
    from sqlalchemy import create_engine

    _importable()
    from example_service.seed import Size, seed

    engine = create_engine(dsn.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        seed(engine, Size.small() if size == "small" else Size())
    finally:
        engine.dispose()


def request_plan(options: DemoOptions) -> list[tuple[str, str]]:
    """The warm-up and measured requests of one run, the same in every run."""
    _importable()
    from example_service.load import requests
    from example_service.seed import Size

    size = Size.small() if options.size == "small" else Size()
    return list(requests(options.warmup + options.requests, size))


def queries_per_request(capture: Path) -> dict[str, float]:
    """Mean statements per request scope, by route (``GET /records`` -> 41.0)."""
    from advisor.model import Execution
    from advisor.sources.capture_file import read_capture

    per_scope: Counter[tuple[str, int | None]] = Counter()
    for item in read_capture(str(capture)):
        if isinstance(item, Execution) and item.scope_kind == "request" and item.scope:
            per_scope[(item.scope, item.scope_id)] += item.calls
    by_route: dict[str, list[int]] = defaultdict(list)
    for (route, _), count in per_scope.items():
        by_route[route].append(count)
    return {route: sum(counts) / len(counts) for route, counts in by_route.items()}


def _phase(
    name: str,
    fixes: str,
    dsn: str,
    workdir: Path,
    plan: list[tuple[str, str]],
    options: DemoOptions,
    load_progress: LoadProgress | None,
) -> Phase:
    capture = workdir / f"{name}.jsonl"
    with served(dsn, fixes, capture, workdir / f"{name}.log") as base:
        # Warm-up: connections, plans and caches settle before anything is measured.
        drive(base, plan[: options.warmup], concurrency=options.concurrency)
        routes, wall = drive(
            base, plan[options.warmup :], concurrency=options.concurrency, progress=load_progress
        )
    failed = sum(r.errors for r in routes)
    if failed:
        raise DemoError(f"{failed} requests failed in the {name} run; see {workdir / name}.log")
    return Phase(name, fixes, routes, queries_per_request(capture), wall, capture)


def _verified(result: ScanResult) -> tuple[IndexSuggestion, ...]:
    """The suggestions EXPLAIN ANALYZE showed to help (foreign-key hygiene ones, which no
    query of the load needs, stay findings)."""
    return tuple(
        s for s in result.suggestions if s.verification and s.verification.verdict == "helps"
    )


def _apply(dsn: str, suggestions: tuple[IndexSuggestion, ...]) -> tuple[str, ...]:
    """Create the verified indexes on the demo's own database (a sandbox), one at a time."""
    import asyncpg

    from advisor.db import connect, run

    async def apply() -> tuple[str, ...]:
        conn = await connect(dsn, readonly=False, statement_timeout_ms=0)
        try:
            for suggestion in suggestions:
                await conn.execute(suggestion.sql)
            await conn.execute("ANALYZE")
        except asyncpg.PostgresError as exc:
            raise DemoError(f"applying the suggested indexes failed: {exc}") from exc
        finally:
            await conn.close()
        return tuple(s.name for s in suggestions)

    return run(apply())


def _rows(before: Phase, after: Phase) -> tuple[RouteRow, ...]:
    after_by_route = {r.route: r for r in after.routes}
    return tuple(
        RouteRow(
            route=b.route,
            before=b,
            after=after_by_route[b.route],
            queries_before=before.queries_per_request.get(b.route),
            queries_after=after.queries_per_request.get(b.route),
        )
        for b in before.routes
        if b.route in after_by_route
    )


def run_demo(
    options: DemoOptions,
    progress: Progress | None = None,
    load_progress: LoadProgress | None = None,
) -> DemoResult:
    """Run the whole demo; raises :class:`DemoError` when a step fails."""
    from advisor.sandbox import create_database, open_sandbox
    from advisor.scan import ScanOptions, scan

    say = progress or (lambda _message: None)
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="advisor-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    with open_sandbox(options.sandbox) as sandbox:
        say(f"sandbox: {sandbox.description}")
        dsn = create_database(sandbox, "advisor_demo")
        say(f"seeding the example service's database ({options.size} size)")
        seed_database(dsn, options.size)
        plan = request_plan(options)
        say(f"before: {options.requests} requests, {options.concurrency} at a time")
        before = _phase("before", "", dsn, workdir, plan, options, load_progress)
        say("scanning the capture, verifying the suggested indexes on a copy of the data")
        result = scan(ScanOptions(sources=(str(before.capture),), dsn=dsn, verify=True))
        verified = _verified(result)
        say(f"applying {len(verified)} verified index(es) and the code fixes")
        applied = _apply(dsn, verified)
        say(f"after: the same {options.requests} requests")
        after = _phase("after", "all", dsn, workdir, plan, options, load_progress)
        return DemoResult(
            before=before,
            after=after,
            scan=result,
            applied=applied,
            workdir=workdir,
            sandbox=sandbox.description,
            rows=_rows(before, after),
        )
