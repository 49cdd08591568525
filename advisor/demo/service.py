"""The example service: where its code is, and running it under ``advisor capture``.

The service lives in ``fixtures/example_service`` of the source tree; a wheel carries a copy
as ``advisor/_example/example_service`` (see ``pyproject.toml``), a directory of its own so
that only that package lands on the service's ``sys.path``. It runs as a child process,
``advisor capture -o FILE -- python -m uvicorn --factory example_service.app:create_app``,
exactly the way a user would capture their own service.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from advisor.errors import AdvisorError

__all__ = ["DemoError", "free_port", "served", "service_root"]

_HERE = Path(__file__).resolve().parent


class DemoError(AdvisorError):
    """The demo could not run a step (the example service did not start, a request failed)."""


def service_root() -> Path:
    """The directory that contains the ``example_service`` package."""
    for candidate in (_HERE.parent / "_example", _HERE.parent.parent / "fixtures"):
        if (candidate / "example_service" / "app.py").is_file():
            return candidate
    raise DemoError(
        "the example service is missing (neither advisor/_example/example_service nor "
        "fixtures/example_service); reinstall db-advisor"
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-5:]
            raise DemoError(
                f"the example service exited with code {proc.returncode}: " + " | ".join(tail)
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        time.sleep(0.1)
    raise DemoError(f"the example service did not answer {url} within {timeout_s:.0f} s; see {log}")


def _default_sigint() -> None:
    # The server is stopped with SIGINT. A shell starts background jobs (`advisor demo &`
    # in a script) with SIGINT ignored, and an ignored signal stays ignored across exec:
    # the server would never stop and its capture would never be merged.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextlib.contextmanager
def served(
    dsn: str, fixes: str, capture_file: Path | None, log: Path, *, timeout_s: float = 60.0
) -> Iterator[str]:
    """Serve the example service under ``advisor capture`` and yield its base URL; with
    ``capture_file`` None, uvicorn alone (the overhead benchmark's baseline).

    On leaving the block the server gets SIGINT (as from a terminal), shuts down, and the
    capture is merged into ``capture_file``.
    """
    port = free_port()
    env = dict(os.environ)
    env["EXAMPLE_DSN"] = dsn
    env["EXAMPLE_FIXES"] = fixes
    root = str(service_root())
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    argv = [
        sys.executable, "-m", "uvicorn", "--factory", "example_service.app:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    if capture_file is not None:
        argv = [sys.executable, "-m", "advisor", "capture", "-o", str(capture_file), "--", *argv]
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_default_sigint
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base + "/health", proc, log, timeout_s)
        yield base
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    if capture_file is not None and not capture_file.is_file():
        raise DemoError(f"the capture of the example service was not written; see {log}")
