"""What every kind of sandbox shares: the :class:`Sandbox` record and the server setup."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Literal

import asyncpg

from advisor.db import connect

__all__ = ["PG_SETTINGS", "Sandbox", "SandboxKind", "prepare"]

SandboxKind = Literal["local", "docker", "embedded", "url"]

# A throwaway server need not survive a crash: skip the disk flushes.
PG_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


@dataclass(frozen=True, slots=True)
class Sandbox:
    """A running throwaway server: connect with ``dsn`` (superuser, database ``postgres``).

    ``server_version`` is ``server_version_num`` (150018); ``hypopg`` says whether the
    HypoPG extension is installed in the ``dsn`` database.
    """

    dsn: str
    kind: SandboxKind
    description: str
    server_version: int
    hypopg: bool


async def prepare(dsn: str, *, preload: bool) -> tuple[int, bool, str]:
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
