"""How fast does a scan read a large capture? Executions/s, shapes/s and peak memory.

Generates (in a temporary directory) a capture file of 1,000,000 statement executions
over 10,000 distinct query shapes: most are parameterized (``$1`` as asyncpg sends
them, ``%(name)s`` as psycopg does), some inline varying literal values and IN lists
of varying length; executions are grouped into request scopes with N+1 loops in them,
with varying ``params_hash``. Then, each stage in its own subprocess (so that
``ru_maxrss`` is that stage's peak memory):

    read       advisor.sources.capture_file.read_capture over the file
    workload   read + advisor.workload.build_workload (parse once per shape)
    scan       advisor.scan.scan without verification (rules and suggestions included),
               when it is importable

When the capture reader is not importable, ``workload`` runs on executions generated
in-process instead. Times are CPU seconds of the stage's process (wall time is shown
too): a shared machine's load must not change the verdict. Usage::

    python benchmarks/scan_throughput.py            # 1M executions
    python benchmarks/scan_throughput.py --quick    # 100k executions
    python benchmarks/scan_throughput.py --profile  # cProfile the workload stage
    python benchmarks/scan_throughput.py --stages scan --rounds 3 --compare ../old
        # the same capture scanned by this checkout and ../old (its own .venv), rounds
        # interleaved: median and range of CPU seconds and peak RSS per checkout
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from advisor.model import CallSite, Execution, Schema, Skipped  # noqa: E402

SHAPES = 10_000
TABLES = 100
LITERAL_SHARE = 0.2  # shapes that inline literal values instead of placeholders


def shape_sql(index: int, rng: random.Random) -> tuple[str, bool]:
    """The SQL template of shape ``index`` and whether it inlines literals (``{}``)."""
    table = _name("tbl_", index % TABLES)
    variant = index // TABLES
    cols = [f"c{(variant + k) % 12}" for k in range(1 + variant % 4)]
    literal = rng.random() < LITERAL_SHARE
    value = "{}" if literal else ("$1" if variant % 2 else "%(p1)s")
    where = [f"{cols[0]} = {value}"]
    if variant % 3 == 0:
        where.append(f"status IN ({'{}' if literal else '$2'})")
    if variant % 5 == 0:
        where.append("created_at > now() - interval '1 day'")
    select = ", ".join([f"v{variant}", *cols]) if variant % 7 else "*"
    sql = f"SELECT {select} FROM {table} WHERE {' AND '.join(where)}"
    if variant % 4 == 0:
        sql += f" ORDER BY c{variant % 12} DESC LIMIT {10 + variant % 50}"
    if variant % 11 == 0:
        sql = f"UPDATE {table} SET v{variant} = $2 WHERE id = {value}"
    if variant % 7 == 0:  # SELECT *: tell the shapes apart by a join
        other = _name("jn_", variant)
        sql = sql.replace(f"FROM {table}", f"FROM {table} JOIN {other} USING (id)", 1)
    return sql, literal


def _name(prefix: str, number: int) -> str:
    """A table name of letters (kept so since pglast's fingerprint, before advisor added
    the relations to its keys, merged names that differ in digits only)."""
    letters = ""
    while True:
        number, digit = divmod(number, 26)
        letters = chr(97 + digit) + letters
        if not number:
            return prefix + letters


def render(template: str, rng: random.Random) -> str:
    """Fill a literal template with varying values (and IN lists of varying length)."""
    if "{}" not in template:
        return template
    values = [str(rng.randrange(1000))]
    if template.count("{}") > 1:
        values.append(", ".join(f"'s{rng.randrange(5)}'" for _ in range(rng.randrange(1, 4))))
    return template.format(*values)


def executions(total: int, seed: int = 7) -> Iterator[dict[str, object]]:
    """Query events: request scopes of ~50 executions, some with an N+1 loop."""
    rng = random.Random(seed)
    templates = [shape_sql(i, rng) for i in range(SHAPES)]
    weights = [1.0 / (1 + i) ** 0.8 for i in range(SHAPES)]  # a few hot shapes, a long tail
    seq = 0
    request = 0
    while seq < total:
        request += 1
        scope = f"GET /r/{request % 5000}/{request}"
        picks = [(request * 3 + k) % SHAPES for k in range(3)]  # tail coverage
        picks += rng.choices(range(SHAPES), weights, k=40)
        if request % 4 == 0:
            picks += [rng.randrange(SHAPES)] * 20  # an N+1 loop
        for pick in picks:
            if seq >= total:
                return
            seq += 1
            template, _ = templates[pick]
            yield {
                "type": "query",
                "seq": seq,
                "scope": scope,
                "scope_kind": "request",
                "sql": render(template, rng),
                "params_hash": f"{rng.randrange(1 << 32):08x}",
                "duration_ms": round(rng.random(), 3),
                "rows": rng.randrange(5),
                "executemany": False,
                "call_site": {"path": "app/api.py", "line": 10 + pick % 300, "function": "h"},
                "origin": None,
                "orm": None,
                "error": None,
            }


def write_capture(path: Path, total: int) -> None:
    """Write a capture file of ``total`` query lines (format: docs/capture-format.md)."""
    with path.open("w", encoding="utf-8") as out:
        header = {"type": "header", "format": "advisor-capture", "version": 1, "schema": None}
        out.write(json.dumps(header) + "\n")
        dumps = json.JSONEncoder(separators=(",", ":")).encode
        for event in executions(total):
            out.write(dumps(event) + "\n")
        out.write(json.dumps({"type": "trailer", "events": total, "dropped": 0}) + "\n")


def in_process(total: int) -> Iterator[Execution | Skipped]:
    """The same workload as Executions, for when the capture reader is not available."""
    for n, event in enumerate(executions(total), start=2):
        site = event["call_site"]
        assert isinstance(site, dict)
        yield Execution(
            sql=str(event["sql"]),
            source=CallSite("generated", n),
            total_ms=float(event["duration_ms"]),  # type: ignore[arg-type]
            rows=int(event["rows"]),  # type: ignore[call-overload]
            scope=str(event["scope"]),
            scope_kind="request",
            seq=int(event["seq"]),  # type: ignore[call-overload]
            call_site=CallSite(site["path"], site["line"], site["function"]),
            params_hash=str(event["params_hash"]),
        )


def stage(name: str, path: str, total: int, profile: bool) -> dict[str, object]:
    """Run one stage in this process and measure it."""
    from advisor.workload import build_workload

    started, cpu_started = time.perf_counter(), time.process_time()
    result: dict[str, object] = {"stage": name}
    if name == "read":
        from advisor.sources.capture_file import read_capture

        result["items"] = sum(1 for _ in read_capture(path))
    elif name == "workload":
        try:
            from advisor.sources.capture_file import read_capture

            items = read_capture(path) if path else in_process(total)
        except ImportError:
            items = in_process(total)
        if profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            workload = profiler.runcall(build_workload, items, Schema())
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(15)
        else:
            workload = build_workload(items, Schema())
        result.update(
            executions=workload.executions,
            shapes=len(workload.shapes),
            groups=len(workload.groups),
            skipped=len(workload.skipped),
        )
    elif name == "scan":
        from advisor.scan import ScanOptions, scan

        outcome = scan(ScanOptions(sources=(path,), sandbox="none"))
        result.update(
            executions=outcome.workload.executions,
            shapes=len(outcome.workload.shapes),
            findings=len(outcome.findings),
        )
    result["wall_s"] = round(time.perf_counter() - started, 2)
    result["seconds"] = round(time.process_time() - cpu_started, 2)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result


def main() -> None:
    """Generate the capture, run each stage in a subprocess, print a summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k executions instead of 1M")
    parser.add_argument("--profile", action="store_true", help="cProfile the workload stage")
    parser.add_argument("--stages", default="read,workload,scan")
    parser.add_argument(
        "--compare",
        nargs="+",
        default=[],
        metavar="CHECKOUT",
        help="other checkouts (each with its .venv) to run on the same capture, interleaved",
    )
    parser.add_argument("--rounds", type=int, default=1, help="runs of each stage per checkout")
    parser.add_argument(
        "--child", nargs=3, metavar=("STAGE", "PATH", "TOTAL"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        name, path, total = args.child
        print(json.dumps(stage(name, path, int(total), args.profile)))
        return
    total = 100_000 if args.quick else 1_000_000
    try:
        import advisor.sources.capture_file  # noqa: F401

        have_reader = True
    except ImportError:
        have_reader = False
    with tempfile.TemporaryDirectory(prefix="advisor-bench-") as tmp:
        path = Path(tmp) / "capture.jsonl"
        if have_reader:
            started = time.perf_counter()
            write_capture(path, total)
            size = path.stat().st_size / 1e6
            print(
                f"generated {total:,} executions ({size:.0f} MB) in "
                f"{time.perf_counter() - started:.1f}s"
            )
        checkouts = [str(ROOT), *(str(Path(c).resolve()) for c in args.compare)]
        for name in args.stages.split(","):
            if name in ("read", "scan") and not have_reader:
                print(f"{name}: skipped (advisor.sources.capture_file is not importable)")
                continue
            runs: dict[str, list[dict[str, object]]] = {c: [] for c in checkouts}
            for number in range(args.rounds):
                # Interleaved, the order reversed every other round: a shared machine's
                # load then falls on every checkout alike.
                for checkout in checkouts if number % 2 == 0 else checkouts[::-1]:
                    result = _run(checkout, name, path if have_reader else None, total, args)
                    if result is not None:
                        runs[checkout].append(result)
                        _print(name, total, result, checkout if args.compare else None)
            if args.compare or args.rounds > 1:
                for checkout, results in runs.items():
                    _summary(name, checkout, results)


def _run(
    checkout: str, name: str, path: Path | None, total: int, args: argparse.Namespace
) -> dict[str, object] | None:
    """One stage in a child process of ``checkout``'s interpreter (its .venv, else this one)."""
    python = Path(checkout) / ".venv" / "bin" / "python"
    command = [
        str(python) if checkout != str(ROOT) and python.exists() else sys.executable,
        str(Path(checkout) / "benchmarks" / "scan_throughput.py"),
        "--child",
        name,
        str(path) if path is not None else "",
        str(total),
    ]
    if args.profile:
        command.append("--profile")
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=checkout)
    if done.returncode != 0:
        print(f"{name}: failed\n{done.stderr.strip()[-2000:]}")
        return None
    if args.profile and done.stderr:
        print(done.stderr)
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    result["load"] = round(os.getloadavg()[0], 2)
    return result


def _print(name: str, total: int, result: dict[str, object], checkout: str | None) -> None:
    seconds = float(result["seconds"]) or 1e-9  # type: ignore[arg-type]
    line = f"{name:9s} {seconds:6.2f}s CPU  {total / seconds:>10,.0f} executions/s"
    line += f"  peak {result['peak_rss_mb']} MB"
    if "shapes" in result:
        shapes = int(result["shapes"])  # type: ignore[call-overload]
        line += f"  shapes {shapes:,} ({shapes / seconds:,.0f}/s)"
    if checkout is not None:
        line += f"  [{checkout}]"
    print(line, {k: v for k, v in result.items() if k not in ("stage", "seconds", "peak_rss_mb")})


def _summary(name: str, checkout: str, results: list[dict[str, object]]) -> None:
    if not results:
        return
    cpu = [float(r["seconds"]) for r in results]  # type: ignore[arg-type]
    rss = [float(r["peak_rss_mb"]) for r in results]  # type: ignore[arg-type]
    load = [float(r["load"]) for r in results]  # type: ignore[arg-type]
    print(
        f"{name:9s} median {statistics.median(cpu):.2f}s CPU ({min(cpu):.2f}-{max(cpu):.2f}),"
        f" peak {statistics.median(rss):.1f} MB ({min(rss):.1f}-{max(rss):.1f}),"
        f" load {min(load):.1f}-{max(load):.1f}, {len(cpu)} runs  [{checkout}]"
    )


if __name__ == "__main__":
    main()
