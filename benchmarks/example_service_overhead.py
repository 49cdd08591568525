"""Capture overhead on realistic endpoints: the example service (advisor demo's) served by
uvicorn alone and under ``advisor capture`` (call sites on), the same fixed request mix driven
at both, rounds interleaved. Target: >= 97 % of the uncaptured requests/s (median of rounds).

    python benchmarks/example_service_overhead.py [--rounds 5] [--requests 600] [--size small]

The service runs its fixed variant (``EXAMPLE_FIXES=all``: eager loads, a pool sized for the
concurrency, the async engine), so that what is measured is the cost of capturing a healthy
service, not the planted problems.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from advisor.demo import DemoOptions, request_plan, seed_database
from advisor.demo.load import drive
from advisor.demo.service import served
from advisor.sandbox import create_database, open_sandbox


def _round(
    dsn: str,
    plan: list[tuple[str, str]],
    warmup: int,
    capture: Path | None,
    log: Path,
    concurrency: int,
) -> float:
    with served(dsn, "all", capture, log) as base:
        drive(base, plan[:warmup], concurrency=concurrency)
        routes, wall = drive(base, plan[warmup:], concurrency=concurrency)
    return sum(r.count - r.errors for r in routes) / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--size", choices=("small", "full"), default="small")
    args = parser.parse_args()
    options = DemoOptions(size=args.size, requests=args.requests, concurrency=args.concurrency)
    work = Path(tempfile.mkdtemp(prefix="advisor-overhead-"))
    with open_sandbox("local") as sandbox:
        dsn = create_database(sandbox, "example_overhead")
        seed_database(dsn, args.size)
        plan = request_plan(options)
        bare: list[float] = []
        captured: list[float] = []
        for i in range(args.rounds):
            bare.append(
                _round(dsn, plan, options.warmup, None, work / "bare.log", args.concurrency)
            )
            captured.append(
                _round(
                    dsn,
                    plan,
                    options.warmup,
                    work / f"c{i}.jsonl",
                    work / "captured.log",
                    args.concurrency,
                )
            )
            print(
                f"round {i + 1}: uncaptured {bare[-1]:.1f} req/s, captured {captured[-1]:.1f} "
                f"req/s ({captured[-1] / bare[-1] * 100:.1f} %)",
                file=sys.stderr,
            )
    ratios = [c / b * 100 for b, c in zip(bare, captured, strict=True)]
    print(
        f"uncaptured: median {statistics.median(bare):.1f} req/s "
        f"(range {min(bare):.1f}-{max(bare):.1f})"
    )
    print(
        f"captured:   median {statistics.median(captured):.1f} req/s "
        f"(range {min(captured):.1f}-{max(captured):.1f})"
    )
    print(
        f"captured / uncaptured per round: median {statistics.median(ratios):.1f} % "
        f"(range {min(ratios):.1f}-{max(ratios):.1f} %); target >= 97 %"
    )


if __name__ == "__main__":
    main()
