"""Review a migration: apply it in a sandbox database and measure what it does to a workload.

:func:`review_migration` takes a sandbox database that already holds the schema and the
rows to measure on (never a user's database) and:

1. measures every query of the workload that EXPLAIN can run, busiest first (calls x
   mean time), up to ``max_queries``: the "before";
2. applies the migration the way ``psql -v ON_ERROR_STOP=1 -f`` would: one statement at
   a time, outside any transaction of advisor's own (``CREATE INDEX CONCURRENTLY``
   refuses one), on a connection of its own (so its ``SET lock_timeout`` and the like
   stay in the migration's session), stopping at the first statement that fails with
   the file and line in the message;
3. reads what changed in the indexes (added, dropped, with size and validity: a failed
   concurrent build leaves an INVALID index behind) and ``ANALYZE``\\ s the tables that
   gained an expression index (the planner has no statistics for the expression until
   then);
4. measures the same queries again and sorts each into faster, slower or unchanged
   (:func:`~advisor.verify.effects.improved` / :func:`~advisor.verify.effects.regressed`
   with ``VerifyOptions.regress_tolerance`` and ``keep_min_ms``); a query that ran before
   and fails after (a dropped column) is reported as broken.

The measuring is :class:`~advisor.verify.effects.EffectMeter`'s, the same as
:func:`~advisor.verify.measure.verify_indexes`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import asyncpg

from advisor.db import connect, run
from advisor.errors import InputError
from advisor.model import CallSite, DataOrigin, QueryEffect, QueryShape, Skipped, Workload
from advisor.parse.lexer import split_sql
from advisor.schema.ddl import statement_error
from advisor.sqltext import quote_qualified
from advisor.verify.effects import EffectMeter, figure, improved, regressed
from advisor.verify.measure import VerifyOptions
from advisor.verify.params import EXPLAINABLE

__all__ = [
    "Change",
    "IndexChange",
    "MigrationReview",
    "MigrationStatement",
    "ReviewedQuery",
    "read_migration",
    "review_migration",
]

Progress = Callable[[str, int, int], None]
Change = Literal["faster", "slower", "unchanged"]

#: Queries measured at most, busiest first: each is run ``runs`` times before and after.
MAX_QUERIES = 200

_INDEXES = """
SELECT n.nspname || '.' || c.relname AS name, tn.nspname || '.' || t.relname AS table,
       pg_get_indexdef(i.indexrelid) AS definition, i.indisvalid AS valid,
       pg_relation_size(i.indexrelid) AS size, i.indexprs IS NOT NULL AS expression
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace tn ON tn.oid = t.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
"""


@dataclass(frozen=True, slots=True)
class MigrationStatement:
    """One statement of the migration file: where it starts, its text, and how long it
    took to apply in the sandbox (``ms``; None until it has run)."""

    line: int
    sql: str
    ms: float | None = None


@dataclass(frozen=True, slots=True)
class IndexChange:
    """An index the migration added or dropped (``name`` and ``table`` schema-qualified).

    ``valid`` is ``pg_index.indisvalid``: False for a concurrent build that failed;
    ``expression``: some key is an expression.
    """

    name: str
    table: str
    definition: str
    size_bytes: int
    valid: bool = True
    expression: bool = False


@dataclass(frozen=True, slots=True)
class ReviewedQuery:
    """One query of the workload before and after the migration, and the verdict."""

    key: str
    sql: str
    calls: int
    change: Change
    effect: QueryEffect
    location: CallSite | None = None


@dataclass(frozen=True, slots=True)
class MigrationReview:
    """What a migration did to the workload, in the sandbox, on the data named by ``data``.

    ``queries`` are ordered slower first, then faster, then unchanged, each by the
    calls-weighted time it gained or lost; ``broken`` are queries that ran before and
    fail after (key, SQL, the error); ``unmeasured`` queries EXPLAIN could not run even
    before (key, reason); ``left_out`` counts queries beyond ``max_queries``.
    """

    migration: str
    statements: tuple[MigrationStatement, ...]
    added: tuple[IndexChange, ...]
    dropped: tuple[IndexChange, ...]
    queries: tuple[ReviewedQuery, ...]
    broken: tuple[tuple[str, str, str], ...] = ()
    unmeasured: tuple[tuple[str, str], ...] = ()
    left_out: int = 0
    data: DataOrigin | None = None
    sandbox: str | None = None
    skipped: tuple[Skipped, ...] = ()

    def of(self, change: Change) -> tuple[ReviewedQuery, ...]:
        """The queries with verdict ``change``."""
        return tuple(q for q in self.queries if q.change == change)

    @property
    def total_ms(self) -> tuple[float, float]:
        """The workload's calls-weighted time of the measured queries, before and after
        (a timed-out run counts as its time box). An unchanged query counts its "before"
        on both sides: its difference was judged noise, and a shared machine's noise
        over many untouched queries would otherwise hide what the migration did."""
        before = after = 0.0
        for q in self.queries:
            old = figure(q.effect.before) or 0.0
            new = old if q.change == "unchanged" else figure(q.effect.after) or 0.0
            before, after = before + old * q.calls, after + new * q.calls
        return before, after


def read_migration(path: str | Path) -> tuple[MigrationStatement, ...]:
    """The statements of the migration file at ``path`` with their lines (psql
    meta-commands such as ``\\set ON_ERROR_STOP`` are dropped). Raises
    :class:`InputError` when it cannot be read or holds no statement."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{file}: cannot read the migration ({exc}); check the path") from exc
    statements = tuple(MigrationStatement(line, sql) for line, sql in split_sql(text))
    if not statements:
        raise InputError(f"{file}: the migration holds no SQL statement; give a .sql migration")
    return statements


def review_migration(
    dsn: str,
    workload: Workload,
    migration: str | Path,
    *,
    options: VerifyOptions,
    data: DataOrigin | None,
    statements: Sequence[MigrationStatement] | None = None,
    max_queries: int = MAX_QUERIES,
    progress: Progress | None = None,
) -> MigrationReview:
    """Apply the migration at ``migration`` (or its already read ``statements``) to the
    sandbox database ``dsn`` and measure the workload before and after; see the module
    docstring. Raises :class:`InputError` naming ``file:line`` when a statement fails."""
    name = str(migration)
    todo = tuple(statements) if statements is not None else read_migration(migration)

    async def go() -> MigrationReview:
        conn = await connect(dsn, readonly=False, statement_timeout_ms=0)
        try:
            return await _review(
                conn, dsn, workload, name, todo, options, data, max_queries, progress
            )
        finally:
            await conn.close()

    return run(go())


async def _review(
    conn: asyncpg.Connection,
    dsn: str,
    workload: Workload,
    name: str,
    todo: tuple[MigrationStatement, ...],
    options: VerifyOptions,
    data: DataOrigin | None,
    max_queries: int,
    progress: Progress | None,
) -> MigrationReview:
    def tell(what: str, done: int, total: int) -> None:
        if progress is not None:
            progress(what, done, total)

    keys = _measurable(workload)
    left_out = max(0, len(keys) - max_queries)
    keys = keys[:max_queries]
    meter = EffectMeter(conn, workload, runs=options.runs, time_box_ms=options.time_box_ms)
    for done, key in enumerate(keys):
        tell("measuring before the migration", done, len(keys))
        await meter.baseline(key)
    measured = [k for k in keys if k in meter.before]
    unmeasured = tuple(
        (k, meter.unmeasured.get(k, "not measured")) for k in keys if k not in measured
    )
    before = await _indexes(conn)
    tell("applying the migration", 0, len(todo))
    applied = await _apply(dsn, name, todo)
    after = await _indexes(conn)
    added = tuple(after[k] for k in after.keys() - before.keys())
    dropped = tuple(before[k] for k in before.keys() - after.keys())
    for table in sorted({quote_qualified(i.table) for i in added if i.expression}):
        await conn.execute(f"ANALYZE {table}")
    effects: list[QueryEffect] = []
    for done, key in enumerate(measured):
        tell("measuring after the migration", done, len(measured))
        effects.extend(await meter.effects([key]))
    seen = {e.key for e in effects}
    broken = tuple(
        (k, workload.shapes[k].query.sql, meter.unmeasured.get(k, "could not be measured"))
        for k in measured
        if k not in seen
    )
    return MigrationReview(
        migration=name,
        statements=applied,
        added=tuple(sorted(added, key=lambda i: i.name)),
        dropped=tuple(sorted(dropped, key=lambda i: i.name)),
        queries=_ordered([_reviewed(e, workload.shapes[e.key], options) for e in effects]),
        broken=broken,
        unmeasured=unmeasured,
        left_out=left_out,
        data=data,
        skipped=workload.skipped,
    )


def _measurable(workload: Workload) -> list[str]:
    """Shapes EXPLAIN can run, busiest first (calls x mean time, else calls)."""
    keys = [
        k
        for k, s in workload.shapes.items()
        if s.query.kind in EXPLAINABLE and not s.query.is_savepoint
    ]

    def weight(key: str) -> float:
        shape = workload.shapes[key]
        return shape.total_ms if shape.total_ms is not None else float(shape.calls)

    return sorted(keys, key=lambda k: -weight(k))


async def _apply(
    dsn: str, name: str, todo: tuple[MigrationStatement, ...]
) -> tuple[MigrationStatement, ...]:
    """Run each statement on a connection of the migration's own, timed; the first
    failure is an InputError naming ``name:line``."""
    conn = await connect(dsn, readonly=False, statement_timeout_ms=0)
    done: list[MigrationStatement] = []
    try:
        for stmt in todo:
            start = time.perf_counter()
            try:
                await conn.execute(stmt.sql)
            except asyncpg.PostgresError as exc:
                advice = "fix the migration and run again"
                raise statement_error(exc, name, stmt.line, stmt.sql, advice=advice) from exc
            ms = (time.perf_counter() - start) * 1000.0
            done.append(MigrationStatement(stmt.line, stmt.sql, ms))
        if conn.is_in_transaction():
            last = next((s.line for s in reversed(todo) if _opens(s.sql)), todo[-1].line)
            raise InputError(
                f"{name}:{last}: the migration leaves a transaction open (BEGIN without "
                "COMMIT), which psql rolls back at the end; add COMMIT"
            )
    finally:
        await conn.close()
    return tuple(done)


def _opens(sql: str) -> bool:
    words = sql.split(None, 1)
    return bool(words) and words[0].upper() in ("BEGIN", "START")


async def _indexes(conn: asyncpg.Connection) -> dict[tuple[str, str], IndexChange]:
    """Every index of the database by (name, definition): one re-created with another
    definition shows as dropped and added."""
    out: dict[tuple[str, str], IndexChange] = {}
    for r in await conn.fetch(_INDEXES):
        change = IndexChange(
            r["name"], r["table"], r["definition"], int(r["size"]), r["valid"], r["expression"]
        )
        out[(change.name, change.definition)] = change
    return out


def _reviewed(effect: QueryEffect, shape: QueryShape, options: VerifyOptions) -> ReviewedQuery:
    limits = {"tolerance": options.regress_tolerance, "min_ms": options.keep_min_ms}
    change: Change = "unchanged"
    if regressed(effect, **limits):
        change = "slower"
    elif improved(effect, **limits):
        change = "faster"
    return ReviewedQuery(
        key=effect.key,
        sql=shape.query.sql,
        calls=shape.calls,
        change=change,
        effect=effect,
        location=shape.location,
    )


def _ordered(queries: list[ReviewedQuery]) -> tuple[ReviewedQuery, ...]:
    rank = {"slower": 0, "faster": 1, "unchanged": 2}

    def delta(q: ReviewedQuery) -> float:
        before, after = figure(q.effect.before) or 0.0, figure(q.effect.after) or 0.0
        return abs(before - after) * q.calls

    return tuple(sorted(queries, key=lambda q: (rank[q.change], -delta(q))))
