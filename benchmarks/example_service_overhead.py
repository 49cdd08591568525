"""Capture overhead on realistic endpoints: the example service (advisor demo's) served by
uvicorn alone and under ``advisor capture`` (call sites on), both running at once, the same
fixed request mix driven at both in small interleaved blocks. Target: >= 97 % of the
uncaptured requests/s (median of rounds).

    python benchmarks/example_service_overhead.py [--rounds 7] [--requests 3000] [--block 250]
    python benchmarks/example_service_overhead.py --aa      # the method's A/A test

Each round starts both servers, warms both, then sends the measured requests in blocks of
``--block`` in ABBA order (A B, B A, ...), summing per server the wall time of its own blocks
and its own CPU time: a drift of the machine within a round (other work starting, caches,
CPU frequency) falls on both servers alike. (One server at a time, bare then captured, made
the second server of a round pay the drift: per-round figures of +22 % to -11 %.) ``--aa``
runs two uncaptured servers the same way: its ratios show the method's own spread.

The service runs its fixed variant (``EXAMPLE_FIXES=all``: eager loads, a pool sized for the
concurrency, the async engine), so that what is measured is the cost of capturing a healthy
service, not the planted problems.

Beside requests/s, each round reports the uvicorn process's own CPU time per request (user +
system, from ``/proc/PID/stat``, over the measured requests only): on a machine shared with
other work it is the steadier figure, since the load driver and PostgreSQL compete for the
same cores and move requests/s by several points from one round to the next.

``--callgrind N`` counts instead the instructions per request of the same request mix served
in-process (httpx's ASGI transport, one request at a time, the fixed hash seed and the
objects of the warm-up frozen out of the collector), bare and under ``advisor capture``:
a figure this machine's load does not move (A/A: within 0.2 %), for what the medians of
rounds cannot resolve (their A/A spread is several points).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from callgrind import done_measuring, instructions_per_request, ready_to_measure

from advisor.demo import DemoOptions, request_plan, seed_database
from advisor.demo.load import drive
from advisor.demo.service import served, service_root
from advisor.sandbox import create_database, open_sandbox

_TICK = os.sysconf("SC_CLK_TCK")


def _server_pid(port: int) -> int:
    """The uvicorn process serving ``port`` (not the ``advisor capture`` parent, whose command
    line names the same arguments after ``--``)."""
    wanted = str(port).encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[1:3] == [b"-m", b"uvicorn"] and wanted in argv:
            return int(entry)
    raise RuntimeError(f"no uvicorn process serves port {port}")


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


@dataclass
class _Server:
    """One served variant of a round and what its blocks of requests added up to."""

    base: str
    pid: int
    wall_s: float = 0.0
    cpu_s: float = 0.0
    done: int = 0

    def run(self, block: list[tuple[str, str]], concurrency: int) -> None:
        """Drive ``block`` at this server, adding its wall time, CPU time and requests."""
        before = _cpu_s(self.pid)
        routes, wall = drive(self.base, block, concurrency=concurrency)
        self.cpu_s += _cpu_s(self.pid) - before
        self.wall_s += wall
        self.done += sum(r.count - r.errors for r in routes)

    def figures(self) -> tuple[float, float]:
        """(requests/s over its own blocks, CPU us per request)."""
        return self.done / self.wall_s, self.cpu_s / self.done * 1e6


def _round(
    dsn: str,
    plan: list[tuple[str, str]],
    args: argparse.Namespace,
    capture: Path | None,
    work: Path,
) -> tuple[tuple[float, float], tuple[float, float]]:
    """((req/s, CPU us/req) of server A, the same of B) of one round.

    Both servers run at once (A uncaptured; B under ``advisor capture``, or uncaptured too in
    the A/A mode); after a warm-up of each, the measured plan goes to both in blocks, in
    ABBA order (A B, B A, A B...), so a drift of the machine during the round falls on
    both alike instead of on whichever variant ran second.
    """
    warm, measured = plan[: args.warmup], plan[args.warmup :]
    with (
        served(dsn, "all", None, work / "a.log") as base_a,
        served(dsn, "all", capture, work / "b.log") as base_b,
    ):
        servers = [
            _Server(base, _server_pid(urlsplit(base).port or 0)) for base in (base_a, base_b)
        ]
        for server in servers:
            server.run(warm, args.concurrency)
        for index, start in enumerate(range(0, len(measured), args.block)):
            block = measured[start : start + args.block]
            for server in servers if index % 2 == 0 else servers[::-1]:
                server.run(block, args.concurrency)
    return servers[0].figures(), servers[1].figures()


def request_child(args: argparse.Namespace) -> None:
    """In a child process (``--request-child``): serve the request mix in-process, one
    request at a time, with the handshake of :mod:`callgrind` around the measured ones."""
    sys.path.insert(0, str(service_root()))
    os.environ.update(EXAMPLE_DSN=args.dsn, EXAMPLE_FIXES="all")
    import httpx
    from example_service.app import create_app

    options = DemoOptions(size=args.size, requests=args.warmup + args.callgrind, warmup=0)
    plan = request_plan(options)
    app = create_app()

    async def serve(requests: list[tuple[str, str]]) -> None:
        for _, path in requests:
            response = await client.get(path)
            assert response.status_code == 200, (path, response.status_code)

    async def main() -> None:
        async with app.router.lifespan_context(app):
            await serve(plan[: args.warmup])
            await asyncio.sleep(0.3)  # the capture writer drains the warm-up's lines
            gc.collect()
            gc.freeze()
            await ready_to_measure(args.handshake)
            await serve(plan[args.warmup :])
            await asyncio.sleep(0.3)  # and the measured requests' lines
            await done_measuring(args.handshake)

    transport = httpx.ASGITransport(app=app)
    client = httpx.AsyncClient(transport=transport, base_url="http://example")
    asyncio.run(main())


def instructions(dsn: str, args: argparse.Namespace, work: Path) -> dict[str, float]:
    """Instructions per request of the request mix, bare and under ``advisor capture``."""
    child = [sys.executable, __file__, "--request-child", "--dsn", dsn, "--size", args.size]
    child += ["--warmup", str(args.warmup), "--callgrind", str(args.callgrind)]
    # The CLI of this interpreter's environment (``python -m advisor`` would take the one of
    # the working directory first, a checkout's other than the installed one).
    script = Path(sys.executable).with_name("advisor")
    cli = [str(script)] if script.exists() else [sys.executable, "-m", "advisor"]
    capture = [*cli, "capture", "-o", str(work / "cg.jsonl"), "--"]
    os.environ["PYTHONHASHSEED"] = "0"  # both children: dict and set layouts alike
    found = {}
    for mode, wrapper in (("uncaptured", []), ("captured", capture)):
        prefix = str(work / f"cg-{mode}")
        handshake = [*child, "--handshake", prefix]
        found[mode] = instructions_per_request(handshake, prefix, args.callgrind, wrapper=wrapper)
    return found


def _median_range(values: list[float], fmt: str) -> str:
    return f"{statistics.median(values):{fmt}} ({min(values):{fmt}}-{max(values):{fmt}})"


def main() -> None:
    """Run the rounds and print a Markdown table and the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=200, help="requests before measuring")
    parser.add_argument("--block", type=int, default=250, help="requests per interleaved block")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--size", choices=("small", "full"), default="small")
    parser.add_argument(
        "--aa",
        action="store_true",
        help="A/A test of the method: both servers uncaptured (the ratio should read ~100 %%)",
    )
    parser.add_argument(
        "--callgrind",
        type=int,
        default=0,
        metavar="N",
        help="count instructions per request over N in-process requests instead (valgrind)",
    )
    parser.add_argument("--request-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dsn", help=argparse.SUPPRESS)
    parser.add_argument("--handshake", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.request_child:
        request_child(args)
        return
    if args.callgrind:
        with open_sandbox("local") as sandbox:
            dsn = create_database(sandbox, "example_overhead")
            seed_database(dsn, args.size)
            found = instructions(dsn, args, Path(tempfile.mkdtemp(prefix="advisor-cg-")))
        bare, captured = found["uncaptured"], found["captured"]
        print(f"instructions per request over {args.callgrind} requests (callgrind):")
        print(f"uncaptured {bare / 1e6:.2f} M, captured {captured / 1e6:.2f} M "
              f"({(captured / bare - 1) * 100:+.1f} %)")  # fmt: skip
        return
    options = DemoOptions(
        size=args.size, requests=args.requests, concurrency=args.concurrency, warmup=args.warmup
    )
    work = Path(tempfile.mkdtemp(prefix="advisor-overhead-"))
    b_name = "second uncaptured" if args.aa else "captured"
    rows: list[tuple[float, float, float, float]] = []
    with open_sandbox("local") as sandbox:
        dsn = create_database(sandbox, "example_overhead")
        seed_database(dsn, args.size)
        plan = request_plan(options)
        print(f"| round | uncaptured req/s | {b_name} req/s | ratio | uncaptured CPU/req "
              f"| {b_name} CPU/req | CPU added | load avg |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|")
        for i in range(args.rounds):
            capture = None if args.aa else work / f"c{i}.jsonl"
            (a_rps, a_cpu), (b_rps, b_cpu) = _round(dsn, plan, args, capture, work)
            rows.append((a_rps, b_rps, a_cpu, b_cpu))
            print(
                f"| {i + 1} | {a_rps:.1f} | {b_rps:.1f} | {b_rps / a_rps * 100:.1f} % "
                f"| {a_cpu:.0f} us | {b_cpu:.0f} us | {(b_cpu / a_cpu - 1) * 100:+.1f} % "
                f"| {os.getloadavg()[0]:.2f} |",
                flush=True,
            )
    ratios = [b / a * 100 for a, b, _, _ in rows]
    added = [(b / a - 1) * 100 for _, _, a, b in rows]
    print(f"uncaptured: {_median_range([r[0] for r in rows], '.1f')} req/s, "
          f"{_median_range([r[2] for r in rows], '.0f')} us CPU/request")  # fmt: skip
    print(f"{b_name}: {_median_range([r[1] for r in rows], '.1f')} req/s, "
          f"{_median_range([r[3] for r in rows], '.0f')} us CPU/request")  # fmt: skip
    print(f"{b_name} / uncaptured req/s per round: median {_median_range(ratios, '.1f')} %"
          + ("" if args.aa else "; target >= 97 %"))  # fmt: skip
    print(f"server CPU per request added per round: median {_median_range(added, '+.1f')} %")


if __name__ == "__main__":
    main()
