"""Capture overhead, side by side in one run: none, advisor (with/without call sites), queryspy.

Modes: ``advisor-listeners-only`` has advisor's listeners (and middleware) in place but
drops every event before recording it: what capture through SQLAlchemy's events costs
before any of its own work.

1. Per statement: a loop of simple queries on one connection (Core ``text()`` and ORM
   ``select``), timed one by one; added microseconds = (median, p99) of a mode minus
   those of the uncaptured loop. Modes run interleaved in rounds, so drift hits all alike.
2. Per request: requests/s of a FastAPI endpoint issuing 5 queries per request
   (in-process through httpx's ASGITransport, 10 concurrent clients), interleaved too,
   with the process CPU time per request (steadier than wall time on a busy machine);
   both are medians over 20 rounds.
   The ``-cpu`` rows of part 1 are the application thread's CPU time per statement.

Targets: <= 15 us added per statement with call sites; >= 97 % of uncaptured requests/s;
less overhead than queryspy.

    ADVISOR_BENCH_DSN=postgresql://postgres@127.0.0.1:55432/postgres \\
        python benchmarks/capture_overhead.py [--statements 20000] [--requests 3000] [--json]

Without ADVISOR_BENCH_DSN a throwaway server is started (advisor.sandbox).
All modes share one engine (two identical engines differ by up to 20 us per statement on a
busy machine), so "none" runs with SQLAlchemy's (empty) event dispatch switched on, as
every mode does after a listener was once added.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "fixtures" / "apps"))
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import queryspy  # noqa: E402
from queryspy.asgi import QuerySpyMiddleware  # noqa: E402
from shop_app.api import async_url, create_app  # noqa: E402
from shop_app.models import User  # noqa: E402
from shop_app.seed import seed  # noqa: E402
from sqlalchemy import create_engine, select, text  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

import advisor.capture as capture  # noqa: E402
from advisor.capture.asgi import AdvisorMiddleware  # noqa: E402

MODES = ("none", "advisor", "advisor-no-call-sites", "advisor-listeners-only", "queryspy")


@contextlib.contextmanager
def database() -> Iterator[str]:
    """A fresh, seeded database on ADVISOR_BENCH_DSN's server or on a sandbox."""
    from advisor.sandbox import create_database, drop_database, open_sandbox

    with contextlib.ExitStack() as stack:
        server: Any = os.environ.get("ADVISOR_BENCH_DSN")
        if not server:
            server = stack.enter_context(open_sandbox("auto"))
        name = f"advbench_{uuid.uuid4().hex[:10]}"
        dsn = create_database(server, name)
        try:
            engine = create_engine(dsn.replace("postgresql://", "postgresql+psycopg://", 1))
            seed(engine)
            engine.dispose()
            yield dsn
        finally:
            drop_database(server, name)


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --------------------------------------------------------------------- mode switching
# Every mode runs on the SAME engine and connection: two identical engines differ by up to
# 20 us per statement on a busy machine, which would swamp the overhead being measured.


def recorders(engine: Any, tmp: Path, tag: str) -> dict[str, Any]:
    """Advisor recorders for ``engine``, created detached: with and without call sites,
    and with its listeners attached but every event dropped at once (``max_pending=0``:
    the floor of capture through SQLAlchemy's events, with nothing recorded)."""
    found = {}
    for mode, sites, pending in (
        ("advisor", True, 50_000),
        ("advisor-no-call-sites", False, 50_000),
        ("advisor-listeners-only", True, 0),
    ):
        handle = capture.instrument(
            engine,
            output=str(tmp / f"{tag}-{mode}.jsonl"),
            call_sites=sites,
            introspect_schema=False,
            max_pending=pending,
        )
        handle.recorder.detach()
        found[mode] = handle
    return found


@contextlib.contextmanager
def enabled(mode: str, engine: Any, handles: dict[str, Any], spy: bool) -> Iterator[None]:
    """Capture ``engine`` the way ``mode`` says for the duration of the block."""
    if mode in handles:
        handles[mode].recorder.attach(engine)
        try:
            yield
        finally:
            handles[mode].recorder.detach()
    elif mode == "queryspy" and spy:
        with queryspy.record():
            yield
    else:
        yield


# --------------------------------------------------------------------- per statement


def statement_overhead(dsn: str, total: int, tmp: Path) -> dict[str, dict[str, float]]:
    """Per-statement wall and thread-CPU time per mode, Core and ORM loops; added vs none."""
    engine = create_engine(dsn.replace("postgresql://", "postgresql+psycopg://", 1))
    handles = recorders(engine, tmp, "stmt")
    kinds = ("core", "orm", "core-cpu", "orm-cpu")
    samples: dict[str, dict[str, list[float]]] = {m: {k: [] for k in kinds} for m in MODES}
    rounds = 40
    order = list(MODES)
    per_round = max(1, total // rounds)
    stmt = text("SELECT 1")
    orm_stmt = select(User).where(User.id == 1)
    clock, cpu = time.perf_counter, time.thread_time
    try:
        # Connect while listeners exist: a Connection decides at creation whether to
        # dispatch events at all.
        handles["advisor"].recorder.attach(engine)
        conn = engine.connect()
        session = Session(bind=conn)
        handles["advisor"].recorder.detach()
        for _ in range(rounds):
            random.shuffle(order)
            for mode in order:
                row = samples[mode]
                with enabled(mode, engine, handles, spy=True):
                    for _ in range(per_round):
                        start, start_cpu = clock(), cpu()
                        conn.execute(stmt)
                        row["core"].append(clock() - start)
                        row["core-cpu"].append(cpu() - start_cpu)
                    for _ in range(per_round):
                        start, start_cpu = clock(), cpu()
                        session.execute(orm_stmt).scalar_one()
                        row["orm"].append(clock() - start)
                        row["orm-cpu"].append(cpu() - start_cpu)
                    session.expunge_all()
        session.close()
        conn.close()
    finally:
        for handle in handles.values():
            handle.uninstrument()
        engine.dispose()
    result: dict[str, dict[str, float]] = {}
    for kind in kinds:
        base = samples["none"][kind]
        base_med, base_p99 = statistics.median(base), percentile(base, 0.99)
        for mode in MODES:
            values = samples[mode][kind]
            result[f"{kind}/{mode}"] = {
                "median_us": statistics.median(values) * 1e6,
                "p99_us": percentile(values, 0.99) * 1e6,
                "added_median_us": (statistics.median(values) - base_med) * 1e6,
                "added_p99_us": (percentile(values, 0.99) - base_p99) * 1e6,
            }
    return result


# --------------------------------------------------------------------- per request


async def _burst(client: httpx.AsyncClient, count: int, concurrency: int) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) for ``count`` requests."""

    async def worker(n: int) -> None:
        for _ in range(n):
            response = await client.get("/bench")
            assert response.status_code == 200

    start, start_cpu = time.perf_counter(), time.process_time()
    share = count // concurrency
    await asyncio.gather(*(worker(share) for _ in range(concurrency)))
    return time.perf_counter() - start, time.process_time() - start_cpu


def request_rate(
    dsn: str, total: int, tmp: Path, concurrency: int = 10
) -> dict[str, dict[str, float]]:
    """Requests/s and CPU us per request per mode (5 queries per request), interleaved."""

    async def main() -> dict[str, dict[str, float]]:
        engine = create_async_engine(async_url(dsn), pool_size=10, max_overflow=0)
        handles = recorders(engine, tmp, "req")
        app = create_app(dsn, engine)
        quiet = logging.getLogger("queryspy-bench")
        quiet.addHandler(logging.NullHandler())
        quiet.propagate = False
        wrapped: dict[str, Any] = {
            "none": app,
            "advisor": AdvisorMiddleware(app),
            "advisor-no-call-sites": AdvisorMiddleware(app),
            "advisor-listeners-only": AdvisorMiddleware(app),
            "queryspy": QuerySpyMiddleware(app, logger=quiet, add_headers=False),
        }
        clients = {
            mode: httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://b")
            for mode, asgi in wrapped.items()
        }
        # Per round: requests/s and CPU us per request. Reported as medians over the rounds:
        # a burst of another process, or one of the app's full garbage collections (~50 ms
        # each, a few per run), lands in one round of one mode and would skew a plain total.
        rps: dict[str, list[float]] = {mode: [] for mode in MODES}
        cpu: dict[str, list[float]] = {mode: [] for mode in MODES}
        rounds = 20
        order = list(MODES)
        per_round = max(concurrency, total // rounds // concurrency * concurrency)
        try:
            for mode in MODES:  # warm-up: pools, compiled caches
                with enabled(mode, engine, handles, spy=False):
                    await _burst(clients[mode], concurrency * 5, concurrency)
            for _ in range(rounds):
                random.shuffle(order)
                for mode in order:
                    with enabled(mode, engine, handles, spy=False):
                        wall, used = await _burst(clients[mode], per_round, concurrency)
                    rps[mode].append(per_round / wall)
                    cpu[mode].append(1e6 * used / per_round)
        finally:
            for client in clients.values():
                await client.aclose()
            await engine.dispose()
            for handle in handles.values():
                handle.uninstrument()
        return {
            mode: {"rps": statistics.median(rps[mode]), "cpu_us": statistics.median(cpu[mode])}
            for mode in MODES
        }

    return asyncio.run(main())


def main() -> int:
    """Run both measurements and print a table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statements", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=3_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with database() as dsn, tempfile.TemporaryDirectory() as tmp:
        stmts = statement_overhead(dsn, args.statements, Path(tmp))
        rates = request_rate(dsn, args.requests, Path(tmp))
    if args.json:
        print(json.dumps({"statements": stmts, "requests_per_s": rates}, indent=2))
        return 0
    print(f"Per statement ({args.statements} per mode and loop; added = mode - none):")
    print(f"  {'loop/mode':34} {'median':>9} {'p99':>9} {'added med':>10} {'added p99':>10}")
    for key, row in stmts.items():
        print(
            f"  {key:34} {row['median_us']:8.1f}u {row['p99_us']:8.1f}u "
            f"{row['added_median_us']:9.1f}u {row['added_p99_us']:9.1f}u"
        )
    print(
        f"\nFastAPI endpoint, 5 queries per request ({args.requests} requests per mode, "
        "medians of 20 rounds):"
    )
    base = rates["none"]
    for mode, row in rates.items():
        print(
            f"  {mode:34} {row['rps']:8.0f} req/s {100 * row['rps'] / base['rps']:6.1f} % "
            f"of none   {row['cpu_us']:7.0f} us CPU/request "
            f"({row['cpu_us'] - base['cpu_us']:+5.0f})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
