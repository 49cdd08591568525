"""Capture overhead, side by side in one run: none, advisor (with/without call sites), queryspy.

Modes: ``advisor-listeners-only`` has advisor's listeners (and middleware) in place but
drops every event before recording it: what capture through SQLAlchemy's events costs
before any of its own work.

1. Per statement: a loop of simple queries on one connection (Core ``text()`` and ORM
   ``select``), timed one by one; added microseconds = (median, p99) of a mode minus
   those of the uncaptured loop. Modes run interleaved in rounds, so drift hits all alike.
2. Per request: requests/s of a FastAPI endpoint issuing 5 queries per request (through
   httpx's ASGITransport, 10 concurrent clients), with the process CPU time per request
   (steadier than wall time on a busy machine): each mode serves in a process of its own
   (a listener on the Engine class, queryspy's, switches SQLAlchemy's connection-event
   dispatch on for the whole process), once per round, rounds shuffled; medians of
   ``--rounds``. ``--callgrind N`` also counts each mode's instructions per request under
   valgrind, around N measured requests only: a figure the machine's load does not move.
   The ``-cpu`` rows of part 1 are the application thread's CPU time per statement.

Targets: <= 15 us added per statement with call sites; on the 5-query endpoint no more CPU
per request than queryspy (median of the rounds, their range shown); under +5 % wall time
on the test suite.

    ADVISOR_BENCH_DSN=postgresql://postgres@127.0.0.1:55432/postgres \\
        python benchmarks/capture_overhead.py [--statements 20000] [--requests 3000] \\
            [--rounds 5] [--callgrind 300] [--json]
    python benchmarks/capture_overhead.py --suite 300 [--rounds 5]

3. ``--suite TESTS``: wall time of a generated pytest suite of TESTS ORM-heavy tests (lazy
   loads, a get loop, selectinload, an ORM UPDATE) run uncaptured, under ``advisor capture``
   and with ``pytest --advisor-capture``, rounds interleaved; median and range of the rounds.
   Target: under +5 %.

Without ADVISOR_BENCH_DSN a throwaway server is started (advisor.sandbox).
In part 1 all modes share one engine (two identical engines differ by up to 20 us per
statement on a busy machine), so "none" runs with SQLAlchemy's (empty) connection-event
dispatch switched on, as every mode does after queryspy's listener was once added.
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
import subprocess
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
from callgrind import done_measuring, instructions_per_request, ready_to_measure  # noqa: E402
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
def enabled(mode: str, engine: Any, handles: dict[str, Any]) -> Iterator[None]:
    """Capture ``engine`` the way ``mode`` says for the duration of the block."""
    if mode in handles:
        handles[mode].recorder.attach(engine)
        try:
            yield
        finally:
            handles[mode].recorder.detach()
    elif mode == "queryspy":
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
                with enabled(mode, engine, handles):
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


# Each mode serves its requests in a process of its own: SQLAlchemy's connection-event
# dispatch, once switched on by a listener on the Engine class (queryspy's), stays on for
# every engine of the process, so a shared process would charge queryspy's dispatch cost to
# every mode, the uncaptured one included.


def _request_app(dsn: str, mode: str, tmp: Path) -> tuple[Any, Any, Any]:
    """(ASGI app, engine, capture handle or None) of one mode."""
    engine = create_async_engine(async_url(dsn), pool_size=10, max_overflow=0)
    app: Any = create_app(dsn, engine)
    handle = None
    if mode.startswith("advisor"):
        handle = capture.instrument(
            engine,
            output=str(tmp / f"req-{mode}.jsonl"),
            call_sites=mode != "advisor-no-call-sites",
            introspect_schema=False,
            max_pending=0 if mode == "advisor-listeners-only" else 50_000,
        )
        app = AdvisorMiddleware(app)
    elif mode == "queryspy":
        quiet = logging.getLogger("queryspy-bench")
        quiet.addHandler(logging.NullHandler())
        quiet.propagate = False
        app = QuerySpyMiddleware(app, logger=quiet, add_headers=False)
    return app, engine, handle


def request_child(dsn: str, mode: str, count: int, handshake: str | None) -> dict[str, float]:
    """In a child process: warm up, then time ``count`` requests to ``/bench`` (10 clients).

    With ``handshake`` (a file name prefix), wait for ``PREFIX.go`` before the measured
    requests and write ``PREFIX.done`` after them: the parent switches callgrind's
    instrumentation on and off around them.
    """
    concurrency = 10

    async def main() -> dict[str, float]:
        with tempfile.TemporaryDirectory() as tmp:
            app, engine, handle = _request_app(dsn, mode, Path(tmp))
            transport = httpx.ASGITransport(app=app)
            client = httpx.AsyncClient(transport=transport, base_url="http://b")

            async def worker(n: int) -> None:
                for _ in range(n):
                    response = await client.get("/bench")
                    assert response.status_code == 200

            try:
                await asyncio.gather(*(worker(30) for _ in range(concurrency)))
                await asyncio.sleep(0.2)  # the writer's wake-up: its backlog is the warm-up's
                if handshake:
                    await ready_to_measure(handshake)
                start, start_cpu = time.perf_counter(), time.process_time()
                await asyncio.gather(*(worker(count // concurrency) for _ in range(concurrency)))
                await asyncio.sleep(0.15)  # the writer thread's last drain of these requests
                wall = time.perf_counter() - start - 0.15
                used = time.process_time() - start_cpu
                if handshake:
                    await done_measuring(handshake)
            finally:
                await client.aclose()
                await engine.dispose()
                if handle is not None:
                    handle.uninstrument()
        done = count // concurrency * concurrency
        return {"rps": done / wall, "cpu_us": 1e6 * used / done}

    return asyncio.run(main())


def _child_argv(dsn: str, mode: str, count: int, handshake: str | None = None) -> list[str]:
    argv = [sys.executable, __file__, "--request-child", mode, "--dsn", dsn]
    argv += ["--requests", str(count)]
    return argv + (["--handshake", handshake] if handshake else [])


def request_rate(dsn: str, total: int, rounds: int) -> dict[str, dict[str, float]]:
    """Requests/s and CPU us per request per mode (5 queries per request): ``rounds`` rounds,
    each mode once per round in a fresh process, in a shuffled order; medians and ranges."""
    rps: dict[str, list[float]] = {mode: [] for mode in MODES}
    cpu: dict[str, list[float]] = {mode: [] for mode in MODES}
    order = list(MODES)
    for _ in range(rounds):
        random.shuffle(order)
        for mode in order:
            done = subprocess.run(
                _child_argv(dsn, mode, total), capture_output=True, text=True, check=True
            )
            row = json.loads(done.stdout.strip().splitlines()[-1])
            rps[mode].append(row["rps"])
            cpu[mode].append(row["cpu_us"])
    return {
        mode: {
            "rps": statistics.median(rps[mode]),
            "cpu_us": statistics.median(cpu[mode]),
            "cpu_us_min": min(cpu[mode]),
            "cpu_us_max": max(cpu[mode]),
        }
        for mode in MODES
    }


def request_instructions(dsn: str, count: int, tmp: Path) -> dict[str, float]:
    """Instructions per request per mode, counted by callgrind around the measured requests
    only (start-up and warm-up excluded): a figure the machine's load does not move."""
    found: dict[str, float] = {}
    os.environ["PYTHONHASHSEED"] = "0"  # every child: dict and set layouts alike
    for mode in MODES:
        prefix = str(tmp / f"cg-{mode}")
        child = _child_argv(dsn, mode, count, prefix)
        found[mode] = instructions_per_request(child, prefix, count)
    return found


# --------------------------------------------------------------------- test-suite mode

SUITE_CONFTEST = """
import os
import pytest
from sqlalchemy import create_engine

@pytest.fixture(scope="session")
def engine():
    eng = create_engine(os.environ["BENCH_DSN"].replace("postgresql://", "postgresql+psycopg://"))
    yield eng
    eng.dispose()
"""

# One file of ORM-heavy tests: lazy loads (an N+1), a session.get loop, joined and
# selectin loads, a write rolled back; {n} tests per file.
SUITE_TESTS = """
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload
from shop_app.models import Order, User

@pytest.mark.parametrize("i", range({n}))
def test_orm(engine, i):
    with Session(engine) as session:
        users = session.scalars(select(User).order_by(User.id)).all()
        assert sum(len(user.orders) for user in users) > 0
        for order_id in range(1, 6):
            session.get(Order, order_id + i % 5)
        eager = session.scalars(select(User).options(selectinload(User.orders))).all()
        assert eager
        session.execute(update(User).where(User.id == 1).values(bio="x"))
        session.rollback()
"""

SUITE_MODES = ("none", "advisor capture", "pytest --advisor-capture")


def _write_suite(directory: Path, tests: int) -> None:
    (directory / "conftest.py").write_text(SUITE_CONFTEST)
    per_file = 50
    for index in range(max(1, tests // per_file)):
        (directory / f"test_orm_{index}.py").write_text(SUITE_TESTS.format(n=per_file))


def _suite_argv(mode: str, directory: Path, out: Path) -> list[str]:
    pytest_argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(directory)]
    if mode == "advisor capture":
        return [sys.executable, "-m", "advisor", "capture", "-o", str(out), "--", *pytest_argv]
    if mode == "pytest --advisor-capture":
        return [*pytest_argv, f"--advisor-capture={out}"]
    return pytest_argv


def suite_overhead(dsn: str, tests: int, rounds: int, tmp: Path) -> dict[str, dict[str, float]]:
    """Wall seconds of a generated ORM-heavy pytest suite per mode, interleaved rounds."""
    import subprocess

    directory = tmp / "suite"
    directory.mkdir()
    _write_suite(directory, tests)
    env = {
        **os.environ,
        "BENCH_DSN": dsn,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "fixtures" / "apps"), str(ROOT)]),
    }
    walls: dict[str, list[float]] = {mode: [] for mode in SUITE_MODES}
    cpus: dict[str, list[float]] = {mode: [] for mode in SUITE_MODES}
    order = list(SUITE_MODES)
    for _ in range(rounds):
        random.shuffle(order)
        for mode in order:
            argv = _suite_argv(mode, directory, tmp / "suite.jsonl")
            before = _children_cpu()
            start = time.perf_counter()
            subprocess.run(argv, env=env, cwd=tmp, check=True, capture_output=True)
            walls[mode].append(time.perf_counter() - start)
            cpus[mode].append(_children_cpu() - before)
    base = statistics.median(walls["none"])
    base_cpu = statistics.median(cpus["none"])
    return {
        mode: {
            "median_s": statistics.median(values),
            "min_s": min(values),
            "max_s": max(values),
            "overhead_pct": 100 * (statistics.median(values) / base - 1),
            "cpu_s": statistics.median(cpus[mode]),
            "cpu_overhead_pct": 100 * (statistics.median(cpus[mode]) / base_cpu - 1),
        }
        for mode, values in walls.items()
    }


def _children_cpu() -> float:
    """CPU seconds of every finished child process (and theirs): steadier than wall time
    on a busy machine."""
    import resource

    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _print_requests(
    rates: dict[str, dict[str, float]], instructions: dict[str, float], requests: int, rounds: int
) -> None:
    print(
        f"\nFastAPI endpoint, 5 queries per request ({requests} requests per mode and round, "
        f"each mode in its own process; medians of {rounds} rounds):"
    )
    base = rates["none"]
    for mode, row in rates.items():
        print(
            f"  {mode:34} {row['rps']:8.0f} req/s {100 * row['rps'] / base['rps']:6.1f} % "
            f"of none   {row['cpu_us']:7.0f} us CPU/request "
            f"({row['cpu_us'] - base['cpu_us']:+5.0f}; rounds {row['cpu_us_min']:.0f}"
            f"-{row['cpu_us_max']:.0f})"
        )
    verdict = "met" if rates["advisor"]["cpu_us"] <= rates["queryspy"]["cpu_us"] else "NOT met"
    print(f"  target (advisor CPU/request <= queryspy's): {verdict}")
    if instructions:
        print("Instructions per request (callgrind, measured requests only):")
        for mode, count in instructions.items():
            print(
                f"  {mode:34} {count / 1e6:6.3f} M ({(count - instructions['none']) / 1e3:+6.0f} k)"
            )


def main() -> int:
    """Run the measurements and print a table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statements", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=3_000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--suite",
        type=int,
        default=0,
        metavar="TESTS",
        help="instead: time a generated ORM-heavy pytest suite of TESTS tests per mode",
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds of --suite / requests")
    parser.add_argument(
        "--callgrind",
        type=int,
        default=0,
        metavar="REQUESTS",
        help="also count instructions per request under valgrind's callgrind (300 is plenty)",
    )
    parser.add_argument("--request-child", help=argparse.SUPPRESS)
    parser.add_argument("--dsn", help=argparse.SUPPRESS)
    parser.add_argument("--handshake", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.request_child:
        print(
            json.dumps(request_child(args.dsn, args.request_child, args.requests, args.handshake))
        )
        return 0
    if args.suite:
        with database() as dsn, tempfile.TemporaryDirectory() as tmp:
            suite = suite_overhead(dsn, args.suite, args.rounds, Path(tmp))
        if args.json:
            print(json.dumps({"suite": suite}, indent=2))
            return 0
        print(f"pytest suite of {args.suite} ORM-heavy tests, median of {args.rounds} rounds:")
        for mode, row in suite.items():
            print(
                f"  {mode:26} {row['median_s']:6.2f} s ({row['min_s']:.2f}-{row['max_s']:.2f})"
                f"  {row['overhead_pct']:+5.1f} %   CPU {row['cpu_s']:6.2f} s"
                f"  {row['cpu_overhead_pct']:+5.1f} %"
            )
        print("  target: under +5 % wall time")
        return 0
    instructions: dict[str, float] = {}
    with database() as dsn, tempfile.TemporaryDirectory() as tmp:
        stmts = statement_overhead(dsn, args.statements, Path(tmp))
        rates = request_rate(dsn, args.requests, args.rounds)
        if args.callgrind:
            instructions = request_instructions(dsn, args.callgrind, Path(tmp))
    if args.json:
        out = {"statements": stmts, "requests_per_s": rates, "instructions": instructions}
        print(json.dumps(out, indent=2))
        return 0
    print(f"Per statement ({args.statements} per mode and loop; added = mode - none):")
    print(f"  {'loop/mode':34} {'median':>9} {'p99':>9} {'added med':>10} {'added p99':>10}")
    for key, row in stmts.items():
        print(
            f"  {key:34} {row['median_us']:8.1f}u {row['p99_us']:8.1f}u "
            f"{row['added_median_us']:9.1f}u {row['added_p99_us']:9.1f}u"
        )
    _print_requests(rates, instructions, args.requests, args.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
