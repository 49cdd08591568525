"""A what-if cost oracle: the planner's estimated cost of each query under a set of indexes.

:class:`WhatIf` answers "what would each query cost if these indexes existed?" with plain
``EXPLAIN (VERBOSE, FORMAT JSON)`` (nothing runs) in a sandbox database that holds the
data:

- **HypoPG** when the extension is installed in that database (or can be): each index of
  a configuration is created hypothetically (``hypopg_create_index``), the queries are
  explained, then ``hypopg_reset()``. Hypothetical indexes take object ids from a small
  range, so the reset comes after every configuration, not at the end.
  An index HypoPG cannot make (GIN, GiST: a trigram index) is built for real in the same
  rolled-back transaction, its extension (``pg_trgm``) created first.
- **Real indexes** otherwise: ``CREATE INDEX`` (not concurrently) inside a transaction that
  is rolled back after the queries are explained, so nothing is left behind even if the
  sandbox were not throwaway.

Every EXPLAIN runs inside a transaction that is rolled back, so a DML statement is never
executed. A query is costed with the values its :class:`Costable` binds; one whose
``params`` is ``"generic"`` gets its generic plan (``EXPLAIN (GENERIC_PLAN)`` on 16+, a
prepared statement under ``plan_cache_mode = force_generic_plan`` before), whose cost does
not depend on any value, so no bare NULL ever reaches the estimate.

Costs are cached per query by the part of the configuration on the tables that query's plan
reads (from the baseline plan): adding an index on ``orders`` never re-costs a query on
``events``. ``explains`` counts the EXPLAINs sent, for tests and progress.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from types import TracebackType
from typing import Any, Literal, Protocol

import asyncpg

from advisor.db import connect, redact_dsn
from advisor.errors import DatabaseError
from advisor.indexes.ddl import create_index_sql
from advisor.indexes.trigram import extension_statements, hypopg_supports
from advisor.model import Finding, IndexSuggestion, Schema, Workload
from advisor.sqltext import quote_qualified
from advisor.suggest.choose import Choice, ChoiceBudget, choose
from advisor.suggest.select import index_identity
from advisor.verify.explain import explain_generic

__all__ = ["Costable", "WhatIf", "choose_indexes"]

Identity = tuple[object, ...]
Method = Literal["hypopg", "real indexes"]


class Costable(Protocol):
    """What the oracle needs of a statement (``advisor.verify.params.Statement`` fits)."""

    @property
    def sql(self) -> str:
        """The SQL text, with ``$n`` placeholders."""
        ...

    @property
    def args(self) -> tuple[object, ...]:
        """The values bound to ``$1``, ``$2`` ... (empty for a generic plan)."""
        ...

    @property
    def params(self) -> str:
        """Where the values came from; ``"generic"`` asks for the generic plan."""
        ...


def _relations(node: Mapping[str, Any]) -> Iterator[str]:
    if "Relation Name" in node:
        yield f"{node.get('Schema', 'public')}.{node['Relation Name']}"
    for child in node.get("Plans", ()):
        yield from _relations(child)


def _plan_of(raw: object) -> Mapping[str, Any]:
    doc = json.loads(raw) if isinstance(raw, str) else raw
    plan: Mapping[str, Any] = doc[0]["Plan"]  # type: ignore[index]
    return plan


class WhatIf:
    """The cost oracle over one sandbox database; use it as a context manager.

    ``statements`` maps query keys to what to explain. ``hypopg``: None picks HypoPG when
    the extension is (or can be) installed in the database, True requires it, False always
    builds real indexes. Raises :class:`DatabaseError` when the database cannot be reached.
    Queries that cannot be explained are left out of every answer; ``failed`` says why.
    """

    def __init__(
        self,
        dsn: str,
        statements: Mapping[str, Costable],
        *,
        hypopg: bool | None = None,
        statement_timeout_ms: int = 60_000,
    ) -> None:
        self._dsn = dsn
        self._statements = dict(statements)
        self._want_hypopg = hypopg
        self._timeout_ms = statement_timeout_ms
        self._loop: asyncio.AbstractEventLoop | None = None
        self._conn: asyncpg.Connection | None = None
        self._server_version = 0
        self._tables: dict[str, frozenset[str]] = {}
        self._cache: dict[tuple[str, frozenset[Identity]], float] = {}
        self._sizes: dict[Identity, int] = {}
        self.method: Method = "real indexes"
        self.failed: dict[str, str] = {}
        self.unbuildable: dict[Identity, str] = {}
        self.explains = 0

    # ------------------------------------------------------------------ lifetime

    def __enter__(self) -> WhatIf:
        self._loop = asyncio.new_event_loop()
        try:
            self._run(self._open())
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection and the event loop (idempotent)."""
        if self._loop is None:
            return
        if self._conn is not None:
            self._loop.run_until_complete(self._conn.close())
            self._conn = None
        self._loop.close()
        self._loop = None

    def _run(self, coro: Any) -> Any:
        if self._loop is None:
            raise RuntimeError("WhatIf is used outside its 'with' block")
        return self._loop.run_until_complete(coro)

    async def _open(self) -> None:
        self._conn = await connect(self._dsn, readonly=False, statement_timeout_ms=self._timeout_ms)
        self._server_version = int(await self._conn.fetchval("SHOW server_version_num"))
        self.method = "hypopg" if await self._hypopg_ready() else "real indexes"
        for key, stmt in self._statements.items():
            try:
                plan = await self._explain_rolled_back(stmt)
            except asyncpg.PostgresError as exc:
                self.failed[key] = str(exc).splitlines()[0]
                continue
            self._tables[key] = frozenset(_relations(plan))
            self._cache[(key, frozenset())] = float(plan["Total Cost"])

    async def _hypopg_ready(self) -> bool:
        assert self._conn is not None
        if self._want_hypopg is False:
            return False
        installed = await self._conn.fetchval(
            "SELECT count(*) FROM pg_extension WHERE extname = 'hypopg'"
        )
        if not installed:
            try:
                await self._conn.execute("CREATE EXTENSION IF NOT EXISTS hypopg")
            except asyncpg.PostgresError as exc:
                if self._want_hypopg:
                    raise DatabaseError(
                        f"{redact_dsn(self._dsn)}: HypoPG is not available ({exc}); install "
                        "postgresql-<major>-hypopg or cost with real indexes"
                    ) from exc
                return False
        return True

    # ------------------------------------------------------------------ answers

    @property
    def keys(self) -> tuple[str, ...]:
        """The query keys the oracle can cost (those whose baseline EXPLAIN worked)."""
        return tuple(k for k in self._statements if k not in self.failed)

    def tables_of(self, key: str) -> frozenset[str]:
        """The qualified tables the baseline plan of ``key`` reads."""
        return self._tables.get(key, frozenset())

    def costs(self, config: Sequence[IndexSuggestion]) -> Mapping[str, float]:
        """The estimated total cost of every costable query with ``config`` present."""
        todo: dict[frozenset[Identity], list[str]] = {}
        out: dict[str, float] = {}
        by_id = {index_identity(s): s for s in config}
        for key in self.keys:
            tables = self._tables[key]
            relevant = frozenset(i for i, s in by_id.items() if s.table in tables)
            cached = self._cache.get((key, relevant))
            if cached is None:
                todo.setdefault(relevant, []).append(key)
            else:
                out[key] = cached
        for relevant, keys in todo.items():
            indexes = [by_id[i] for i in relevant]
            for key, cost in self._run(self._cost_config(indexes, keys)).items():
                self._cache[(key, relevant)] = cost
                out[key] = cost
        return out

    def size_bytes(self, suggestion: IndexSuggestion) -> int:
        """The index's estimated size (HypoPG) or real size in the sandbox, in bytes."""
        ident = index_identity(suggestion)
        if ident not in self._sizes:
            self._run(self._cost_config([suggestion], []))
        return self._sizes.get(ident, 0)

    # ------------------------------------------------------------------ the work

    async def _cost_config(
        self, indexes: Sequence[IndexSuggestion], keys: Sequence[str]
    ) -> dict[str, float]:
        assert self._conn is not None
        conn = self._conn
        out: dict[str, float] = {}
        tr = conn.transaction()
        await tr.start()
        try:
            for n, s in enumerate(indexes):
                await self._create(s, n)
            for key in keys:
                plan = await self._explain(self._statements[key], savepoint=True)
                if plan is not None:
                    out[key] = float(plan["Total Cost"])
        finally:
            await tr.rollback()
            if self.method == "hypopg":
                await conn.execute("SELECT hypopg_reset()")
        return out

    async def _create(self, s: IndexSuggestion, n: int) -> None:
        assert self._conn is not None
        ident = index_identity(s)
        if ident in self.unbuildable:
            return
        try:
            async with self._conn.transaction():
                if self.method == "hypopg" and hypopg_supports(s.method):
                    row = await self._conn.fetchrow(
                        "SELECT indexrelid FROM hypopg_create_index($1)", s.sql
                    )
                    size = await self._conn.fetchval("SELECT hypopg_relation_size($1)", row[0])
                else:
                    name = f"advisor_whatif_{n}"
                    for statement in extension_statements(s.columns):
                        await self._conn.execute(statement)
                    await self._conn.execute(_plain_create(s, name))
                    schema = s.table.partition(".")[0]
                    size = await self._conn.fetchval(
                        "SELECT pg_relation_size(to_regclass($1))",
                        quote_qualified(f"{schema}.{name}"),
                    )
        except asyncpg.PostgresError as exc:
            self.unbuildable[ident] = str(exc).splitlines()[0]
            return
        self._sizes.setdefault(ident, int(size or 0))

    async def _explain_rolled_back(self, stmt: Costable) -> Mapping[str, Any]:
        assert self._conn is not None
        tr = self._conn.transaction()
        await tr.start()
        try:
            plan = await self._explain(stmt, savepoint=False)
            assert plan is not None
            return plan
        finally:
            await tr.rollback()

    async def _explain(self, stmt: Costable, *, savepoint: bool) -> Mapping[str, Any] | None:
        """The plan of ``stmt``; with ``savepoint``, None (not an aborted transaction)
        when it fails."""
        assert self._conn is not None
        self.explains += 1
        if not savepoint:
            return await self._plan(stmt)
        try:
            async with self._conn.transaction():
                return await self._plan(stmt)
        except asyncpg.PostgresError:
            return None

    async def _plan(self, stmt: Costable) -> Mapping[str, Any]:
        assert self._conn is not None
        conn = self._conn
        if stmt.params != "generic":
            return _plan_of(
                await conn.fetchval(f"EXPLAIN (VERBOSE, FORMAT JSON) {stmt.sql}", *stmt.args)
            )
        raw = await explain_generic(
            conn, stmt.sql, "VERBOSE, FORMAT JSON", server_version=self._server_version
        )
        return _plan_of(raw)


def _plain_create(s: IndexSuggestion, name: str) -> str:
    # Inside a transaction: no CONCURRENTLY; a private name, so IF NOT EXISTS never
    # silently skips a build because an index of that name already exists.
    sql = create_index_sql(
        s.table, s.columns, name, include=s.include, where=s.where, method=s.method
    )
    return sql.replace("CREATE INDEX CONCURRENTLY IF NOT EXISTS", "CREATE INDEX", 1)


# Only ADV003's per-query candidates compete for the set: an FK index (ADV004) with no
# query behind it keeps its own finding and migration.
CANDIDATE_RULES = frozenset({"ADV003"})


def choose_indexes(
    dsn: str,
    workload: Workload,
    findings: Sequence[Finding],
    schema: Schema,
    budget: ChoiceBudget,
    statements: Mapping[str, Costable],
    *,
    hypopg: bool | None = None,
) -> Choice:
    """The workload-wide index set for ``findings``' missing-index candidates, costed in
    the sandbox database ``dsn`` (which must hold the data) by a :class:`WhatIf` oracle."""
    candidates = [
        f.suggestion for f in findings if f.rule in CANDIDATE_RULES and f.suggestion is not None
    ]
    with WhatIf(dsn, statements, hypopg=hypopg) as oracle:
        choice = choose(
            candidates, workload, oracle, budget=budget, schema=schema, failed=oracle.failed
        )
        return replace(choice, method=oracle.method)
