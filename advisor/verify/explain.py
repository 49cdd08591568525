"""``EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)`` of one statement, several times, time-boxed.

Every run is inside a transaction that is rolled back, whatever the statement: DML
(UPDATE/DELETE/INSERT) never changes the data it is measured on, and ``SET LOCAL
statement_timeout`` bounds each run. The first of several runs only warms the cache;
``Measurement.ms`` is the median of the others' ``Execution Time`` and ``spread_ms``
their range. A run that hits the time box ends the measurement: the query took longer
than that (``ms=None``, ``timed_out_ms``) and is not run again (a 20 s "before" is
reported as "> 5 s", not run five times).

A statement whose ``$n`` could not be bound (``params == "generic"``) is only costed,
with a generic plan: ``EXPLAIN (GENERIC_PLAN)`` on PostgreSQL 16+, before that a
prepared statement under ``plan_cache_mode = force_generic_plan`` explained with NULLs
typed by the statement itself (the generic plan never looks at them).
"""

from __future__ import annotations

import json
import statistics
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import asyncpg

from advisor.db import first_line
from advisor.errors import DatabaseError
from advisor.model import Measurement, PlanNode
from advisor.verify.params import Statement

__all__ = ["explain", "explain_generic", "iter_nodes", "plan_change", "plan_tree", "uses_index"]

_DETAIL_KEYS = ("Index Cond", "Recheck Cond", "Hash Cond", "Merge Cond", "Sort Key", "Filter")
# Nodes that show how a table is read or the order made; what "plan change" compares.
_SHAPE_NODES = ("Scan", "Sort")


class _Rollback(Exception):
    """Raised inside a transaction block to roll it back."""


async def explain(
    conn: asyncpg.Connection,
    stmt: Statement,
    *,
    analyze: bool,
    runs: int,
    time_box_ms: float,
    key: str = "",
) -> Measurement:
    """Measure ``stmt`` (``key`` names its query shape in the result).

    ``analyze=False`` (or a generic statement) only plans it: ``cost`` and ``plan`` are
    set, ``ms`` is None. Raises :class:`DatabaseError` when the server refuses it.
    """
    if stmt.params == "generic" or not analyze:
        if stmt.params == "generic":
            plan = await _generic_plan(conn, stmt, time_box_ms)
        else:
            plain = await _explain_once(conn, stmt, "FORMAT JSON", time_box_ms)
            if plain is None:  # even planning hit the time box
                return Measurement(key, None, 0, timed_out_ms=time_box_ms, params=stmt.params)
            plan = plain
        return Measurement(key, None, 0, cost=_cost(plan), plan=plan_tree(plan), params=stmt.params)
    times: list[float] = []
    last: dict[str, Any] | None = None
    for run_no in range(max(1, runs)):
        found = await _explain_once(conn, stmt, "ANALYZE, BUFFERS, FORMAT JSON", time_box_ms)
        if found is None:
            return Measurement(key, None, run_no + 1, timed_out_ms=time_box_ms, params=stmt.params)
        if run_no > 0 or runs <= 1:  # the first of several runs only warms the cache
            times.append(float(found.get("Execution Time", 0.0)))
            last = found
    assert last is not None
    root = last["Plan"]
    buffers = int(root.get("Shared Hit Blocks", 0)) + int(root.get("Shared Read Blocks", 0))
    return Measurement(
        key,
        statistics.median(times),
        len(times),
        shared_buffers=buffers,
        cost=_cost(last),
        plan=plan_tree(last),
        params=stmt.params,
        spread_ms=(min(times), max(times)),
    )


async def _explain_once(
    conn: asyncpg.Connection, stmt: Statement, options: str, time_box_ms: float
) -> dict[str, Any] | None:
    """One EXPLAIN in a rolled-back transaction; None when it hit the time box."""
    found: list[dict[str, Any]] = []
    try:
        async with conn.transaction():
            await conn.execute(f"SET LOCAL statement_timeout = {max(1, int(time_box_ms))}")
            text = await conn.fetchval(f"EXPLAIN ({options}) {stmt.sql}", *stmt.args)
            found.append(_first(text))
            raise _Rollback
    except _Rollback:
        return found[0]
    except asyncpg.QueryCanceledError:
        return None
    except asyncpg.PostgresError as exc:
        raise DatabaseError(f"EXPLAIN failed: {first_line(exc)}") from exc


async def _generic_plan(
    conn: asyncpg.Connection, stmt: Statement, time_box_ms: float
) -> dict[str, Any]:
    version = int(await conn.fetchval("SHOW server_version_num"))
    try:
        async with conn.transaction():
            await conn.execute(f"SET LOCAL statement_timeout = {max(1, int(time_box_ms))}")
            raw = await explain_generic(conn, stmt.sql, "FORMAT JSON", server_version=version)
            return _first(raw)
    except asyncpg.PostgresError as exc:
        raise DatabaseError(f"EXPLAIN of a generic plan failed: {first_line(exc)}") from exc


async def explain_generic(
    conn: asyncpg.Connection, sql: str, options: str, *, server_version: int
) -> object:
    """``EXPLAIN (options)`` of ``sql``'s generic plan, as the server returns it, inside
    the caller's transaction: ``GENERIC_PLAN`` on 16+; before that a prepared statement
    under ``plan_cache_mode = force_generic_plan``, explained with NULLs (a generic plan
    does not depend on the values) and deallocated again. The prepared name is unique,
    so one left behind by a failed EXPLAIN (an aborted transaction cannot DEALLOCATE) is
    harmless; a fresh PREPARE each time also sees indexes (real or hypothetical) come and
    go, which a cached generic plan would not."""
    if server_version >= 160000:
        return await conn.fetchval(f"EXPLAIN (GENERIC_PLAN, {options}) {sql}")
    name = f"advisor_{uuid.uuid4().hex[:12]}"
    await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
    await conn.execute(f"PREPARE {name} AS {sql}")
    count = await conn.fetchval(
        "SELECT cardinality(parameter_types) FROM pg_prepared_statements WHERE name = $1", name
    )
    nulls = ", ".join(["NULL"] * int(count or 0))
    execute = f"EXECUTE {name}({nulls})" if nulls else f"EXECUTE {name}"
    raw = await conn.fetchval(f"EXPLAIN ({options}) {execute}")
    await conn.execute(f"DEALLOCATE {name}")
    return raw


def _first(text: object) -> dict[str, Any]:
    data = json.loads(text) if isinstance(text, str) else text
    if isinstance(data, list):
        data = data[0]
    assert isinstance(data, dict)
    return data


def _cost(plan: Mapping[str, Any]) -> float | None:
    value = plan.get("Plan", {}).get("Total Cost")
    return float(value) if value is not None else None


def plan_tree(data: object) -> PlanNode:
    """The :class:`PlanNode` tree of an ``EXPLAIN (FORMAT JSON)`` result (its text, the
    list PostgreSQL returns, the object in it, or that object's ``"Plan"``)."""
    if isinstance(data, str):
        data = json.loads(data)
    if isinstance(data, list):
        data = data[0]
    if not isinstance(data, dict):
        raise ValueError("not an EXPLAIN (FORMAT JSON) result")
    return _node(data.get("Plan", data))


def _node(raw: Mapping[str, Any]) -> PlanNode:
    loops = raw.get("Actual Loops")
    total = raw.get("Actual Total Time")
    detail = next((raw[k] for k in _DETAIL_KEYS if k in raw), None)
    if isinstance(detail, list):
        detail = ", ".join(str(d) for d in detail)
    return PlanNode(
        node_type=str(raw.get("Node Type", "?")),
        relation=raw.get("Relation Name"),
        index=raw.get("Index Name"),
        estimated_rows=_float(raw.get("Plan Rows")),
        actual_rows=_float(raw.get("Actual Rows")),
        loops=int(loops) if loops is not None else None,
        actual_ms=float(total) * int(loops) if total is not None and loops else None,
        total_cost=_float(raw.get("Total Cost")),
        shared_hit=_int(raw.get("Shared Hit Blocks")),
        shared_read=_int(raw.get("Shared Read Blocks")),
        detail=str(detail) if detail is not None else None,
        children=tuple(_node(child) for child in raw.get("Plans", ())),
    )


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, (int, float)) else None


def iter_nodes(plan: PlanNode) -> Iterator[PlanNode]:
    """Every node of ``plan``, parents before their children."""
    yield plan
    for child in plan.children:
        yield from iter_nodes(child)


def uses_index(plan: PlanNode | None, name: str) -> bool:
    """Whether any node of ``plan`` reads the index called ``name``."""
    return plan is not None and any(node.index == name for node in iter_nodes(plan))


def _shape(plan: PlanNode) -> str:
    # Leaves first, so the text reads in the order rows flow: "Seq Scan + Sort".
    nodes = reversed(list(iter_nodes(plan)))
    parts = [n.node_type for n in nodes if n.node_type.endswith(_SHAPE_NODES)]
    return " + ".join(dict.fromkeys(parts)) or plan.node_type


def plan_change(before: PlanNode | None, after: PlanNode | None) -> str | None:
    """``"Seq Scan + Sort -> Index Scan"``: how the scans and sorts changed; None when
    they did not (or a plan is missing)."""
    if before is None or after is None:
        return None
    old, new = _shape(before), _shape(after)
    return None if old == new else f"{old} -> {new}"
