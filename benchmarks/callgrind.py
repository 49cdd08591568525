"""Instructions per request, counted by callgrind around a child's measured requests only.

The child (a benchmark's own child mode) warms up, touches ``PREFIX.ready``, waits for
``PREFIX.go``, serves its measured requests, touches ``PREFIX.done`` and waits for
``PREFIX.go`` to go; the parent switches callgrind's instrumentation on and off around the
measured part (``callgrind_control -i``), so start-up and warm-up are not counted. A figure
the machine's load does not move, unlike wall or CPU time on a shared machine.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["done_measuring", "instructions_per_request", "ready_to_measure"]


async def ready_to_measure(prefix: str) -> None:
    """The child's side, after its warm-up: say so and wait for instrumentation."""
    Path(prefix + ".ready").touch()
    while not Path(prefix + ".go").exists():
        await asyncio.sleep(0.05)


async def done_measuring(prefix: str) -> None:
    """The child's side, after its measured requests: say so and wait until the parent
    has switched instrumentation off."""
    Path(prefix + ".done").touch()
    while Path(prefix + ".go").exists():
        await asyncio.sleep(0.05)


def instructions_per_request(
    child: Sequence[str], prefix: str, count: int, *, wrapper: Sequence[str] = ()
) -> float:
    """Run ``wrapper + valgrind + child`` (``child`` told to use ``prefix`` for the handshake)
    and return the instructions counted over its ``count`` measured requests."""
    log = Path(prefix + ".log")
    for stale in (".ready", ".go", ".done"):  # an earlier run's handshake with this prefix
        Path(prefix + stale).unlink(missing_ok=True)
    argv = [*wrapper, "valgrind", "--tool=callgrind", "--instr-atstart=no"]
    argv += [f"--log-file={log}", f"--callgrind-out-file={prefix}.out", *child]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for(Path(prefix + ".ready"), process)
    pid = _valgrind_pid(log, process)
    subprocess.run(["callgrind_control", "-i", "on", str(pid)], capture_output=True)
    Path(prefix + ".go").touch()
    _wait_for(Path(prefix + ".done"), process)
    subprocess.run(["callgrind_control", "-i", "off", str(pid)], capture_output=True)
    Path(prefix + ".go").unlink()
    if process.wait() != 0:
        raise RuntimeError(f"the callgrind run failed; see {log}")
    collected = [line for line in log.read_text().splitlines() if "Collected :" in line]
    return int(collected[-1].split(":")[-1].replace(",", "")) / count


def _valgrind_pid(log: Path, process: subprocess.Popen[bytes]) -> int:
    """The pid valgrind runs the child as (its log lines start ``==PID==``): the process
    itself without a wrapper, a grandchild under one (``advisor capture -- valgrind ...``)."""
    for line in log.read_text().splitlines():
        if line.startswith("=="):
            return int(line.split("==")[1])
    return process.pid


def _wait_for(path: Path, process: subprocess.Popen[bytes]) -> None:
    while not path.exists():
        if process.poll() is not None:
            raise RuntimeError(f"the benchmark child exited ({process.returncode}) early")
        time.sleep(0.1)
