"""The call-site walk of the statement listener, per statement, side by side in one run.

``find()`` is the walk a Core statement paid before it carried callers (the call site
only); ``trace()`` gives the call site and the application frames above it, and is what
every statement pays now. The stack is a test run's: the statement's frame under six
installed-package frames, a repository helper, a service, a test function, and thirty
test-runner frames above it. Rounds interleaved; thread CPU time per call, median and
range over the rounds.

    python benchmarks/call_site_walk.py [--calls 20000] [--rounds 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from advisor.capture.frames import SiteFinder  # noqa: E402

_LIBRARY = "def nest(depth, fn):\n    return fn() if depth == 0 else nest(depth - 1, fn)\n"
_APP = """
import benchrunner


def repository(walk, calls, timer):
    return benchrunner.nest(6, lambda: timer(walk, calls))  # the statement runs below here


def service(walk, calls, timer):
    return repository(walk, calls, timer)  # the loop that calls the helper


def test_body(walk, calls, timer):
    return service(walk, calls, timer)
"""


def _timer(walk: Callable[[], Any], calls: int) -> float:
    start = time.thread_time_ns()
    for _ in range(calls):
        walk()
    return (time.thread_time_ns() - start) / calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        library = Path(tmp, "lib", "site-packages", "benchrunner")
        library.mkdir(parents=True)
        (library / "__init__.py").write_text(_LIBRARY)
        Path(tmp, "benchapp.py").write_text(_APP)
        sys.path[:0] = [tmp, str(library.parent)]
        import benchapp  # type: ignore[import-not-found]
        import benchrunner  # type: ignore[import-not-found]

        finder = SiteFinder(root=tmp)
        walks = {"find() (call site only)": finder.find, "trace() (site + callers)": finder.trace}
        results: dict[str, list[float]] = {name: [] for name in walks}
        names = list(walks)
        for n in range(args.rounds):
            for name in names if n % 2 else names[::-1]:
                walk = walks[name]
                results[name].append(
                    benchrunner.nest(
                        30, lambda walk=walk: benchapp.test_body(walk, args.calls, _timer)
                    )
                )
    for name, values in results.items():
        print(
            f"{name:26s} median {statistics.median(values):6.0f} ns/statement "
            f"(range {min(values):.0f}-{max(values):.0f})"
        )
    print("load average", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
