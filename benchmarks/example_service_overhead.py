"""Capture overhead on realistic endpoints: the example service (advisor demo's) served by
uvicorn alone and under ``advisor capture`` (call sites on), the same fixed request mix driven
at both, rounds interleaved. Target: >= 97 % of the uncaptured requests/s (median of rounds).

    python benchmarks/example_service_overhead.py [--rounds 5] [--requests 3000] [--size small]

The service runs its fixed variant (``EXAMPLE_FIXES=all``: eager loads, a pool sized for the
concurrency, the async engine), so that what is measured is the cost of capturing a healthy
service, not the planted problems.

Beside requests/s, each round reports the uvicorn process's own CPU time per request (user +
system, from ``/proc/PID/stat``, over the measured requests only): on a machine shared with
other work it is the steadier figure, since the load driver and PostgreSQL compete for the
same cores and move requests/s by several points from one round to the next.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from advisor.demo import DemoOptions, request_plan, seed_database
from advisor.demo.load import drive
from advisor.demo.service import served
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


def _round(
    dsn: str,
    plan: list[tuple[str, str]],
    warmup: int,
    capture: Path | None,
    log: Path,
    concurrency: int,
) -> tuple[float, float]:
    """(requests/s, server CPU us per request) of one round."""
    with served(dsn, "all", capture, log) as base:
        pid = _server_pid(urlsplit(base).port or 0)
        drive(base, plan[:warmup], concurrency=concurrency)
        before = _cpu_s(pid)
        routes, wall = drive(base, plan[warmup:], concurrency=concurrency)
        used = _cpu_s(pid) - before
    done = sum(r.count - r.errors for r in routes)
    return done / wall, used / done * 1e6


def _median_range(values: list[float], fmt: str) -> str:
    return f"{statistics.median(values):{fmt}} ({min(values):{fmt}}-{max(values):{fmt}})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=200, help="requests before measuring")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--size", choices=("small", "full"), default="small")
    args = parser.parse_args()
    options = DemoOptions(
        size=args.size, requests=args.requests, concurrency=args.concurrency, warmup=args.warmup
    )
    work = Path(tempfile.mkdtemp(prefix="advisor-overhead-"))
    rows: list[tuple[float, float, float, float]] = []
    with open_sandbox("local") as sandbox:
        dsn = create_database(sandbox, "example_overhead")
        seed_database(dsn, args.size)
        plan = request_plan(options)
        print("| round | uncaptured req/s | captured req/s | ratio | uncaptured CPU/req "
              "| captured CPU/req | CPU added | load avg |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|")
        for i in range(args.rounds):
            # Alternate which variant goes first, so a trend in the machine's load does not
            # always favour the same one.
            order = (None, work / f"c{i}.jsonl")
            if i % 2:
                order = order[::-1]
            results = {}
            for capture in order:
                log = work / ("bare.log" if capture is None else "captured.log")
                results[capture is None] = _round(
                    dsn, plan, options.warmup, capture, log, args.concurrency
                )
            (b_rps, b_cpu), (c_rps, c_cpu) = results[True], results[False]
            rows.append((b_rps, c_rps, b_cpu, c_cpu))
            print(
                f"| {i + 1} | {b_rps:.1f} | {c_rps:.1f} | {c_rps / b_rps * 100:.1f} % "
                f"| {b_cpu:.0f} us | {c_cpu:.0f} us | {(c_cpu / b_cpu - 1) * 100:+.1f} % "
                f"| {os.getloadavg()[0]:.2f} |",
                flush=True,
            )
    ratios = [c / b * 100 for b, c, _, _ in rows]
    added = [(c / b - 1) * 100 for _, _, b, c in rows]
    print(f"uncaptured: {_median_range([r[0] for r in rows], '.1f')} req/s, "
          f"{_median_range([r[2] for r in rows], '.0f')} us CPU/request")  # fmt: skip
    print(f"captured:   {_median_range([r[1] for r in rows], '.1f')} req/s, "
          f"{_median_range([r[3] for r in rows], '.0f')} us CPU/request")  # fmt: skip
    print(f"captured / uncaptured req/s per round: median {_median_range(ratios, '.1f')} %; "
          "target >= 97 %")  # fmt: skip
    print(f"server CPU per request added per round: median {_median_range(added, '+.1f')} %",
          )  # fmt: skip


if __name__ == "__main__":
    main()
