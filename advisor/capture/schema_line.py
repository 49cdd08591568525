"""``schema`` lines: server version and schema snapshots of the first PostgreSQL engine seen.

The first connect writes the line without a snapshot (the app's migrations have usually
not run yet); a snapshot is taken after DDL (``create_all``, Alembic's operations) and at
the end of the capture (by ``advisor capture`` itself, once the command has exited); the
last one that has tables is the one kept (a suite may drop its
tables, or its database, at the end). Each snapshot runs ``python -m advisor.schema`` in
a child process with advisor's own Python (``ADVISOR_CAPTURE_PYTHON``, set by ``advisor
capture``; else this interpreter), so asyncpg and the scan side are never imported into
the application, and the app's connections are never used. A failure is counted in the
trailer (``schema_errors``); it never reaches the application.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from typing import Any

from advisor.capture.writer import CaptureWriter

__all__ = [
    "DSN_FILE_PREFIX",
    "ENV_DSN_DIR",
    "ENV_PYTHON",
    "ENV_PYTHONPATH",
    "SchemaProbe",
    "server_version_number",
    "snapshot",
]

ENV_PYTHON = "ADVISOR_CAPTURE_PYTHON"
ENV_PYTHONPATH = "ADVISOR_CAPTURE_PYTHONPATH"
# Under `advisor capture`: the private directory where the DSN is left for the CLI, which
# takes the end-of-run snapshot itself once the command has exited (a process being shut
# down, like a pytest-xdist worker, may be killed before a slow snapshot completes).
ENV_DSN_DIR = "ADVISOR_CAPTURE_DIR"
DSN_FILE_PREFIX = "dsn-"
_ZERO_CODE_WAIT = 5.0
# DDL comes in bursts (create_all, a migration): snapshot once it has been quiet this long.
_QUIET = 0.2
_TIMEOUT = 60.0
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def server_version_number(info: tuple[int, ...] | None) -> int | None:
    """``(15, 18)`` as PostgreSQL's ``server_version_num`` (150018)."""
    if not info:
        return None
    major = info[0]
    minor = info[1] if len(info) > 1 else 0
    if major >= 10:
        return major * 10000 + minor
    patch = info[2] if len(info) > 2 else 0
    return major * 10000 + minor * 100 + patch


def _child() -> tuple[list[str], dict[str, str]]:
    """The command and environment of the snapshot process (never captured itself)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADVISOR_CAPTURE_")}
    env.pop("PYTEST_PLUGINS", None)
    python = os.environ.get(ENV_PYTHON)
    if python:
        # advisor's own environment: none of the app's PYTHONPATH.
        env["PYTHONPATH"] = os.environ.get(ENV_PYTHONPATH, _PACKAGE_PARENT)
    else:
        python = sys.executable
        extra = env.get("PYTHONPATH")
        env["PYTHONPATH"] = os.pathsep.join([_PACKAGE_PARENT, *([extra] if extra else [])])
    return [python, "-m", "advisor.schema"], env


def snapshot(dsn: str, timeout: float = _TIMEOUT) -> dict[str, Any]:
    """The schema snapshot of ``dsn`` from a child process; RuntimeError when it fails."""
    argv, env = _child()
    done = subprocess.run(
        argv, input=dsn + "\n", capture_output=True, text=True, env=env, timeout=timeout
    )
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise RuntimeError(f"schema snapshot failed ({reason})")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


class SchemaProbe:
    """Snapshots the first PostgreSQL engine's schema in a thread and submits ``schema``
    lines: one without a snapshot at the first connect, the later ones when they have
    tables."""

    def __init__(self, writer: CaptureWriter) -> None:
        self.writer = writer
        self._dsn: str | None = None
        self._line: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._ddl_at = 0.0  # time of the last DDL not yet covered by a snapshot
        self._submitted = False
        self._finished = False

    def engine_seen(self, engine: Any) -> bool:
        """Start with ``engine``; False when it is not PostgreSQL (never raises)."""
        dialect = engine.dialect
        if dialect.name != "postgresql":
            return False
        self._dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._line = {
            "type": "schema",
            "server_version": server_version_number(dialect.server_version_info),
            "dialect": dialect.name,
            "driver": dialect.driver,
        }
        # No snapshot yet: at the first connect the app's migrations have usually not run
        # (and one costs a child Python). DDL and the end of the capture call for one;
        # under `advisor capture` the CLI takes the last, once the command has exited.
        self._leave_dsn(self._dsn)
        self._submitted = True
        self.writer.submit(self._line | {"schema": None})
        return True

    @staticmethod
    def _leave_dsn(dsn: str) -> None:
        directory = os.environ.get(ENV_DSN_DIR)
        if not directory:
            return
        path = os.path.join(directory, f"{DSN_FILE_PREFIX}{os.getpid()}")
        with contextlib.suppress(OSError):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(dsn)

    def ddl_seen(self) -> None:
        """A DDL statement ran: snapshot again once the burst is over."""
        self._ddl_at = time.monotonic()
        if self._dsn is not None:
            self._start()

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return  # it loops while DDL keeps coming
            self._thread = threading.Thread(
                target=self._run, name="advisor-capture-schema", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while True:
            while self._ddl_at and time.monotonic() - self._ddl_at < _QUIET:
                time.sleep(_QUIET)
            self._ddl_at = 0.0
            self._take()
            with self._lock:
                if not self._ddl_at:
                    self._thread = None
                    return

    def _take(self) -> None:
        if self._dsn is None:
            return
        try:
            schema: dict[str, Any] | None = snapshot(self._dsn)
        except Exception:
            schema = None
            self.writer.schema_errors += 1
        if self._submitted and not (schema and schema.get("tables")):
            return
        self._submitted = True
        self.writer.submit(self._line | {"schema": schema})

    def finish(self, timeout: float = _TIMEOUT) -> None:
        """The end-of-capture snapshot (after the app's migrations), before the trailer;
        under ``advisor capture`` the CLI takes that one, and this waits less."""
        if self._finished:
            return
        self._finished = True
        zero_code = bool(os.environ.get(ENV_DSN_DIR))
        thread = self._thread
        if thread is not None:
            thread.join(_ZERO_CODE_WAIT if zero_code else timeout)
        if not zero_code:
            self._take()
