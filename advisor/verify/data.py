"""Data to measure on: a sandbox database with the schema and realistic rows.

:func:`prepare_data` creates a new database on a sandbox server, applies the schema (the
user's DDL when given, else the :class:`~advisor.model.Schema` rendered back to DDL) and
fills it from one of these sources:

``copy``      a bounded, consistent copy of a live database (read-only, one snapshot;
              whole tables up to a size limit, FK-consistent samples above it);
``generate``  rows generated in the server to a target per table (``DataPlan.rows``, else
              the source's ``reltuples``, else :data:`DEFAULT_ROWS`), shaped by ``pg_stats``;
``seed``      the user's SQL script, run after the schema;
``as-is``     the rows the user's DDL inserts itself (``generate_series`` seeds).

``auto`` copies when a source DSN is given and generates otherwise. Copy and generate load
the way ``pg_restore`` does (keys, indexes and foreign keys dropped, rebuilt after the
rows); every mode ends with ``ANALYZE``. The returned :class:`DataOrigin` says what the
rows are, per table, with the sandbox's and the source's server versions.

The work is done by :mod:`~advisor.verify.load` (keys off and on, orphans),
:mod:`~advisor.verify.copy`, :mod:`~advisor.verify.generate` (with
:mod:`~advisor.verify.values`) and :mod:`~advisor.verify.versions` (re-exported here).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import asyncpg

from advisor.db import connect, redact_dsn, run
from advisor.errors import ConfigError, DatabaseError, InputError
from advisor.model import DataKind, DataOrigin, Schema
from advisor.sandbox import create_database, drop_database
from advisor.schema.ddl import apply_statements
from advisor.schema.render import render_schema
from advisor.sqltext import quote_qualified
from advisor.verify import copy as copying
from advisor.verify import generate
from advisor.verify.load import (
    Detached,
    TargetTable,
    detach_keys,
    insert_unchecked,
    reattach_keys,
    remove_orphans,
    reset_sequences,
    target_tables,
    try_foreign_keys,
)
from advisor.verify.versions import SandboxMatch, matching_sandbox, version_text

__all__ = [
    "DEFAULT_COPY_LIMIT_BYTES",
    "DEFAULT_ROWS",
    "DataMode",
    "DataPlan",
    "PreparedData",
    "Progress",
    "SandboxMatch",
    "matching_sandbox",
    "prepare_data",
    "row_targets",
    "version_text",
]

DataMode = Literal["auto", "copy", "generate", "seed", "as-is"]
Progress = Callable[[str, int, int], None]

_BUILD_MEMORY = "256MB"
DEFAULT_ROWS = 10_000
"""Rows generated for a table when neither ``DataPlan.rows`` nor ``reltuples`` says."""
DEFAULT_COPY_LIMIT_BYTES = 64 * 1024 * 1024
"""Tables up to this size (``pg_table_size``) are copied whole; larger ones sampled."""


@dataclass(frozen=True, slots=True)
class DataPlan:
    """How to fill the sandbox database.

    ``rows`` maps tables (``"public.orders"`` or ``"orders"``) to row targets for
    ``generate``; ``seed_script`` is the SQL file of ``seed``; ``copy_limit_bytes`` the
    size up to which ``copy`` takes a table whole; ``min_sample_fraction`` the smallest
    share a sampled table keeps; ``seed`` makes generation and sampling repeatable;
    ``source_timeout_ms`` is the statement timeout on the source database.
    """

    mode: DataMode = "auto"
    rows: Mapping[str, int] = field(default_factory=dict)
    seed_script: Path | None = None
    copy_limit_bytes: int = DEFAULT_COPY_LIMIT_BYTES
    min_sample_fraction: float = 0.001
    seed: int = 42
    source_timeout_ms: int = 120_000


@dataclass(frozen=True, slots=True)
class PreparedData:
    """A sandbox database ready to measure on: its DSN, its name, and what its rows are.

    ``seconds`` is the wall time of each step (``schema``, ``rows``, ``keys``, ``analyze``).
    """

    dsn: str
    database: str
    origin: DataOrigin
    seconds: Mapping[str, float] = field(default_factory=dict)


def _resolve_mode(plan: DataPlan, source_dsn: str | None) -> DataMode:
    mode = plan.mode
    if mode == "auto":
        return "copy" if source_dsn else "generate"
    if mode == "copy" and not source_dsn:
        raise ConfigError("data mode copy needs a source database: pass --dsn URL")
    if mode == "seed" and plan.seed_script is None:
        raise ConfigError("data mode seed needs a script: pass --seed FILE.sql")
    return mode


def row_targets(
    schema: Schema, names: tuple[str, ...], requested: Mapping[str, int]
) -> dict[str, int]:
    """Rows to generate per qualified table name: requested, else reltuples, else default."""
    wanted: dict[str, int] = {}
    for key, count in requested.items():
        name = key
        if key not in names:
            table = schema.find(key)
            name = table.qualified if table is not None else key
        if name not in names:
            raise ConfigError(
                f"--rows names table {key!r}, which the schema does not have; "
                "use schema.table or a table name on the search path"
            )
        if count < 0:
            raise ConfigError(f"--rows {key}={count}: a row count cannot be negative")
        wanted[name] = count
    out: dict[str, int] = {}
    for name in names:
        table = schema.tables.get(name)
        estimate = table.row_estimate if table is not None else None
        out[name] = wanted.get(name, estimate if estimate else DEFAULT_ROWS)
    return out


def prepare_data(
    server_dsn: str,
    schema: Schema,
    plan: DataPlan,
    *,
    ddl: str | None = None,
    source_dsn: str | None = None,
    progress: Progress | None = None,
) -> PreparedData:
    """A new database on ``server_dsn`` holding ``schema`` (or ``ddl``) and rows per ``plan``.

    The database is dropped again when preparing it fails. ``source_dsn`` is only ever
    opened read-only. Raises :class:`ConfigError` for a plan that cannot run,
    :class:`InputError` for DDL or a seed script that fails, :class:`DatabaseError` when a
    database fails. ``progress(what, done, total)`` is told of each table as it is filled.
    """
    mode = _resolve_mode(plan, source_dsn)
    seed_text = _read_seed(plan.seed_script) if mode == "seed" else None
    name = f"advisor_data_{uuid.uuid4().hex[:12]}"
    dsn = create_database(server_dsn, name)
    try:
        steps = _Steps(progress)
        origin = run(_prepare(dsn, schema, plan, mode, ddl, source_dsn, seed_text, steps))
    except BaseException:
        drop_database(server_dsn, name)
        raise
    return PreparedData(dsn=dsn, database=name, origin=origin, seconds=steps.seconds)


def _read_seed(path: Path | None) -> str:
    assert path is not None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the seed script ({exc})") from exc


class _Steps:
    """Wall time per step, and the caller's progress callback told of each table."""

    def __init__(self, progress: Progress | None) -> None:
        self.seconds: dict[str, float] = {}
        self.progress = progress
        self._step = ""
        self._started = 0.0

    def start(self, step: str) -> None:
        """End the current step and start ``step``."""
        now = time.perf_counter()
        if self._step:
            self.seconds[self._step] = self.seconds.get(self._step, 0.0) + now - self._started
        self._step, self._started = step, now

    def tell(self, what: str, done: int, total: int) -> None:
        """Report progress (``what``: a phrase such as ``generating public.orders``)."""
        if self.progress is not None:
            self.progress(what, done, total)


async def _prepare(
    dsn: str,
    schema: Schema,
    plan: DataPlan,
    mode: DataMode,
    ddl: str | None,
    source_dsn: str | None,
    seed_text: str | None,
    steps: _Steps,
) -> DataOrigin:
    conn = await connect(dsn, readonly=False, statement_timeout_ms=0)
    try:
        steps.start("schema")
        await _apply_schema(conn, schema, ddl, source_dsn)
        server = str(await conn.fetchval("SHOW server_version")).split()[0]
        notes: tuple[str, ...] = ()
        kind: DataKind
        if mode == "seed":
            assert seed_text is not None and plan.seed_script is not None
            steps.start("rows")
            await apply_statements(conn, seed_text, name=str(plan.seed_script))
            tables = await target_tables(conn)
            phrases = {n: f"seeded {await _count(conn, n):,} rows" for n in tables}
            kind = "seed"
            summary = f"rows from the seed script {plan.seed_script.name}"
        elif mode == "as-is":
            # The schema DDL inserted its own rows (generate_series seeds): they are the data.
            steps.start("rows")
            counts = {n: await _count(conn, n) for n in await target_tables(conn)}
            phrases = {n: f"{c:,} rows from the schema DDL" for n, c in counts.items()}
            kind = "as-is"
            summary = (
                f"the --schema file as written (about {sum(counts.values()):,} rows); "
                "no rows were generated"
            )
        else:
            tables = await target_tables(conn)
            detached = await detach_keys(conn)
            steps.start("rows")
            await conn.execute("SET session_replication_role = replica")
            if mode == "copy":
                assert source_dsn is not None
                phrases, sampled = await _copy(conn, tables, schema, plan, source_dsn, steps)
                kind = "sampled" if sampled else "copied"
            else:
                phrases = await _generate(conn, tables, schema, plan, steps)
                kind = "generated"
            await conn.execute("RESET session_replication_role")
            steps.start("keys")
            # Index builds and FK validation of a million rows spill to disk at the defaults.
            await conn.execute(f"SET maintenance_work_mem = '{_BUILD_MEMORY}'")
            await conn.execute(f"SET work_mem = '{_BUILD_MEMORY}'")
            notes = await _finish_keys(conn, detached, phrases)
            await reset_sequences(conn)
            summary = _summary(kind, phrases, source_dsn)
        steps.start("analyze")
        await conn.execute("ANALYZE")
        steps.start("")
    except asyncpg.PostgresError as exc:
        raise DatabaseError(f"preparing the sandbox data failed: {exc}") from exc
    finally:
        await conn.close()
    if notes:
        summary += "; " + "; ".join(notes)
    return DataOrigin(
        kind=kind,
        summary=summary,
        tables=phrases,
        server=server,
        source_server=version_text(schema.server_version),
    )


async def _apply_schema(
    conn: asyncpg.Connection, schema: Schema, ddl: str | None, source_dsn: str | None
) -> None:
    if ddl is not None:
        await apply_statements(conn, ddl, name="<schema DDL>")
        return
    prelude, postlude = await copying.source_extras(source_dsn) if source_dsn else ("", "")
    text = render_schema(schema, prelude=prelude, postlude=postlude)
    await apply_statements(conn, text, name="<rendered schema>")


async def _count(conn: asyncpg.Connection, table: str) -> int:
    return int(await conn.fetchval(f"SELECT count(*) FROM {quote_qualified(table)}"))


async def _finish_keys(
    conn: asyncpg.Connection, detached: Detached, phrases: dict[str, str]
) -> tuple[str, ...]:
    """Rebuild the keys; rows dropped to keep the foreign keys are named per table.

    The orphan search (an anti-join per foreign key) runs only when validating the foreign
    keys found an orphan: a generated or whole copy has none, so it is paid for once.
    """
    notes = list(await reattach_keys(conn, Detached(detached.unique, detached.indexes, ())))
    if await try_foreign_keys(conn, detached.foreign_keys):
        return tuple(notes)
    for table, count in (await remove_orphans(conn, detached.foreign_keys)).items():
        if table in phrases:
            phrases[table] += f" ({count:,} rows whose parent was absent removed or unlinked)"
    notes += await reattach_keys(conn, Detached((), (), detached.foreign_keys))
    return tuple(notes)


async def _generate(
    conn: asyncpg.Connection,
    tables: Mapping[str, TargetTable],
    schema: Schema,
    plan: DataPlan,
    steps: _Steps,
) -> dict[str, str]:
    targets = row_targets(schema, tuple(tables), plan.rows)
    gen = generate.generation_plan(tables, schema.tables, targets, seed=plan.seed)
    phrases: dict[str, str] = {}
    for name, reason in gen.skipped.items():
        phrases[name] = f"not generated: {reason}"
    for done, (name, expressions) in enumerate(gen.expressions.items()):
        rows = gen.rows[name]
        steps.tell(f"generating {name}", done, len(gen.expressions))
        unchecked = ""
        if rows:
            sql = generate.insert_sql(name, rows, expressions)
            try:
                await conn.execute(sql)
            except asyncpg.CheckViolationError:
                unchecked = await insert_unchecked(conn, name, sql)
        shaped = " shaped by pg_stats" if name in gen.shaped else ""
        phrases[name] = f"generated {rows:,} rows{shaped}{unchecked}"
    steps.tell("generated", len(gen.expressions), len(gen.expressions))
    return phrases


async def _copy(
    conn: asyncpg.Connection,
    tables: Mapping[str, TargetTable],
    schema: Schema,
    plan: DataPlan,
    source_dsn: str,
    steps: _Steps,
) -> tuple[dict[str, str], bool]:
    src = await connect(source_dsn, readonly=True, statement_timeout_ms=plan.source_timeout_ms)
    try:
        async with src.transaction(isolation="repeatable_read", readonly=True):
            source_tables = await copying.source_tables(src, schema)
            sizes = await copying.table_sizes(src, source_tables)
            cplan = copying.copy_plan(
                tables,
                source_tables,
                sizes,
                limit_bytes=plan.copy_limit_bytes,
                min_fraction=plan.min_sample_fraction,
                seed=plan.seed,
            )
            source_major = int(await src.fetchval("SHOW server_version_num")) // 10_000
            binary = source_major == int(await conn.fetchval("SHOW server_version_num")) // 10_000
            phrases: dict[str, str] = {}
            for done, item in enumerate(cplan.tables):
                steps.tell(f"copying {item.table}", done, len(cplan.tables))
                rows = await copying.copy_rows(src, conn, item, binary=binary)
                phrases[item.table] = copying.copy_phrase(item, rows)
            steps.tell("copied", len(cplan.tables), len(cplan.tables))
    except asyncpg.PostgresError as exc:
        raise DatabaseError(f"{redact_dsn(source_dsn)}: reading rows failed: {exc}") from exc
    finally:
        await src.close()
    for name in tables:
        phrases.setdefault(name, "empty: the source has no such table")
    return phrases, any(item.where for item in cplan.tables)


def _summary(kind: str, phrases: Mapping[str, str], source_dsn: str | None) -> str:
    tables = len(phrases)
    if kind == "generated":
        return f"generated rows in {tables} table(s) (advisor's generator, seeded)"
    where = redact_dsn(source_dsn) if source_dsn else "the source"
    if kind == "sampled":
        return f"a consistent sample of {tables} table(s) of {where}"
    return f"a copy of {tables} table(s) of {where}"
