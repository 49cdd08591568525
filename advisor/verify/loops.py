"""An N+1 loop, measured: N per-row queries as the application ran them against the one
batched query its fix produces (``= ANY($1)`` with the same N keys).

Both run in the sandbox on its data, from this process over one connection, and are
timed on the client: the cost of a loop is mostly its round trips, which the server's
``Execution Time`` never shows. Keys are N distinct values of the column the per-row
query compares with, the same for both sides; the batched query must return as many
rows as the loop did, or the figures are not reported. The first of several runs only
warms the cache; each side's figure is the median of the others.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

import asyncpg

from advisor.db import connect, run
from advisor.model import DataOrigin, Finding, LoopCost, QueryShape, Workload, query_key
from advisor.parse.bind import batched_form
from advisor.sqltext import quote_ident, quote_qualified

__all__ = ["measure_loop", "measure_loops"]

N_PLUS_ONE = "ADV001"


def measure_loops(
    dsn: str,
    workload: Workload,
    findings: Sequence[Finding],
    *,
    runs: int = 3,
    max_queries: int = 200,
    data: DataOrigin | None = None,
) -> tuple[Finding, ...]:
    """``findings`` with ``loop_cost`` set on each N+1 finding that could be measured in
    the sandbox database ``dsn`` (loops longer than ``max_queries`` run that many)."""

    async def go() -> tuple[Finding, ...]:
        conn = await connect(dsn, readonly=True)
        try:
            out: list[Finding] = []
            for finding in findings:
                shape = _shape_of(workload, finding)
                count = _loop_length(finding)
                cost = None
                if shape is not None and count > 1:
                    cost = await measure_loop(
                        conn, shape, min(count, max_queries), runs=runs, data=data
                    )
                out.append(replace(finding, loop_cost=cost) if cost is not None else finding)
            return tuple(out)
        finally:
            await conn.close()

    return run(go())


async def measure_loop(
    conn: asyncpg.Connection,
    shape: QueryShape,
    queries: int,
    *,
    runs: int = 3,
    data: DataOrigin | None = None,
) -> LoopCost | None:
    """The loop of ``queries`` executions of ``shape`` against its batched form; None when
    the shape is not a per-row lookup by one column, or the data has too few keys."""
    query = shape.query
    batched = batched_form(query.sql) if query.kind == "select" else None
    pred = next((p for p in query.predicates if p.params == (1,) and p.op == "eq"), None)
    if batched is None or pred is None or pred.column is None or pred.table is None:
        return None
    try:
        (param,) = (await conn.prepare(query.sql)).get_parameters()
        type_name = await conn.fetchval("SELECT format_type($1, NULL)", param.oid)
        keys = await conn.fetchval(
            f"SELECT ARRAY(SELECT DISTINCT {quote_ident(pred.column)}::{type_name} AS k "
            f"FROM {quote_qualified(pred.table)} WHERE {quote_ident(pred.column)} IS NOT NULL "
            f"ORDER BY k LIMIT {int(queries)})"
        )
        if len(keys) < 2:
            return None
        loop_ms, loop_rows = await _median(runs, lambda: _loop(conn, query.sql, keys))
        batched_ms, batched_rows = await _median(runs, lambda: _batched(conn, batched, keys))
    except asyncpg.PostgresError:
        return None
    if loop_rows != batched_rows:
        return None  # not the same rows: the rewrite does not stand for the loop
    return LoopCost(len(keys), loop_ms, batched_ms, batched, data=data)


async def _loop(conn: asyncpg.Connection, sql: str, keys: Sequence[object]) -> int:
    rows = 0
    for key in keys:
        rows += len(await conn.fetch(sql, key))
    return rows


async def _batched(conn: asyncpg.Connection, sql: str, keys: Sequence[object]) -> int:
    return len(await conn.fetch(sql, list(keys)))


async def _median(runs: int, work: Callable[[], Awaitable[int]]) -> tuple[float, int]:
    times: list[float] = []
    rows = 0
    for run_no in range(max(1, runs)):
        start = time.perf_counter()
        rows = await work()
        if run_no > 0 or runs <= 1:  # the first of several runs only warms the cache
            times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times), rows


def _shape_of(workload: Workload, finding: Finding) -> QueryShape | None:
    if finding.rule != N_PLUS_ONE or finding.fingerprint is None:
        return None
    return workload.shapes.get(query_key(finding.fingerprint, False))


def _loop_length(finding: Finding) -> int:
    value = finding.evidence.get("count", finding.evidence.get("calls", 0))
    return int(value) if isinstance(value, (int, float)) else 0
