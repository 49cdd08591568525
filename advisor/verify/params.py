"""The statement to EXPLAIN for a query shape, with a value bound to every ``$n``.

Where the values come from, best first (:data:`advisor.model.ParamSource`):

    literal    the text has no ``$n``: run it as it is
    captured   the capture kept the application's values (``--keep-params``)
    sampled    each ``$n`` is compared with a column (:attr:`Predicate.params`), so it
               gets a value of that column from the sandbox's data, chosen
               deterministically (percentiles, so two runs bind the same values):
               ``col = $1`` the median value, ``col > $1`` the 90th percentile (a tenth
               of the rows), ``col < $1`` the 10th, ``BETWEEN`` the 45th and 55th,
               ``= ANY($1)`` five values spread over the column, ``LIKE $1`` a search
               for four characters from inside the median value (``'%b3f0%'``; for
               ``LIKE '%' || $1 || '%'`` just the term), ``LIMIT $n`` 20 and
               ``OFFSET $n`` 0
    generic    some ``$n`` cannot be bound: the statement is only costed with a generic
               plan (:mod:`advisor.verify.explain`), and says so

A bare NULL is never bound into a comparison (``x > NULL`` plans as a no-op). Values are
computed by the server as the type it inferred for each ``$n``, so asyncpg binds them
back without any conversion here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import asyncpg

from advisor.db import connect, first_line, run
from advisor.errors import DatabaseError
from advisor.model import ParamSource, Predicate, QueryShape
from advisor.parse.bind import paging_parameters
from advisor.sqltext import quote_ident, quote_qualified

__all__ = ["EXPLAINABLE", "Statement", "bind_statement", "statement_for", "statements_for"]

#: Statement kinds EXPLAIN accepts; DDL, COPY, SET ... are never measured.
EXPLAINABLE = frozenset({"select", "insert", "update", "delete"})

# Above this many rows the percentiles are read from a repeatable block sample.
_SAMPLE_ROWS = 200_000
_PAGING_VALUES = {"limit": 20, "offset": 0}
_ANY_FRACTIONS = (0.1, 0.3, 0.5, 0.7, 0.9)


@dataclass(frozen=True, slots=True)
class Statement:
    """What to EXPLAIN: ``sql`` (with ``$n``), the values to bind, where they came from,
    and whether it writes (``dml``: explained only in a transaction that is rolled back).

    With ``params == "generic"`` ``args`` is empty and the statement is only costed.
    """

    sql: str
    args: tuple[object, ...]
    params: ParamSource
    dml: bool


def statement_for(shape: QueryShape, dsn: str) -> Statement | None:
    """The statement for ``shape``, with values taken from the database at ``dsn`` (a
    sandbox); None when the shape is not a SELECT/INSERT/UPDATE/DELETE.

    Raises :class:`DatabaseError` when the server refuses the statement.
    """

    async def go() -> Statement | None:
        conn = await connect(dsn, readonly=True)
        try:
            return await bind_statement(conn, shape)
        finally:
            await conn.close()

    return run(go())


def statements_for(
    shapes: Iterable[QueryShape], dsn: str
) -> tuple[dict[str, Statement], dict[str, str]]:
    """:func:`statement_for` of many shapes over one connection: the statements by query
    key, and the reason for each shape the sandbox refused (the others still bind)."""

    async def go() -> tuple[dict[str, Statement], dict[str, str]]:
        bound: dict[str, Statement] = {}
        refused: dict[str, str] = {}
        conn = await connect(dsn, readonly=True)
        try:
            for shape in shapes:
                try:
                    statement = await bind_statement(conn, shape)
                except DatabaseError as exc:
                    refused[shape.query.key] = str(exc)
                    continue
                if statement is not None:
                    bound[shape.query.key] = statement
        finally:
            await conn.close()
        return bound, refused

    return run(go())


async def bind_statement(
    conn: asyncpg.Connection, shape: QueryShape, *, captured: Sequence[object] | None = None
) -> Statement | None:
    """:func:`statement_for` on an open connection; ``captured`` is one set of the
    application's values in ``$n`` order (by default the shape's first sample)."""
    query = shape.query
    if captured is None and shape.samples:
        captured = shape.samples[0]
    if query.kind not in EXPLAINABLE or query.is_savepoint:
        return None
    dml = query.kind != "select"
    try:
        prepared = await conn.prepare(query.sql)
        types = await _type_names(conn, [t.oid for t in prepared.get_parameters()])
        if not types:
            return Statement(query.sql, (), "literal", dml)
        if captured is not None and len(captured) == len(types):
            values = await _coerce(conn, captured, types)
            return Statement(query.sql, values, "captured", dml)
        sampled = await _sample(conn, shape, types)
    except asyncpg.PostgresError as exc:
        first = first_line(exc)
        raise DatabaseError(
            f"{shape.query.key}: the sandbox refused the statement ({first})"
        ) from exc
    if sampled is None:
        return Statement(query.sql, (), "generic", dml)
    return Statement(query.sql, sampled, "sampled", dml)


async def _type_names(conn: asyncpg.Connection, oids: list[int]) -> list[str]:
    if not oids:
        return []
    rows = await conn.fetch(
        "SELECT format_type(o, NULL) FROM unnest($1::oid[]) WITH ORDINALITY AS u(o, i) ORDER BY i",
        oids,
    )
    return [str(r[0]) for r in rows]


async def _coerce(
    conn: asyncpg.Connection, values: Sequence[object], types: Sequence[str]
) -> tuple[object, ...]:
    """Captured JSON values as the server reads them for each ``$n``'s type (a captured
    timestamp is an ISO string; a list becomes an array)."""
    out: list[object] = []
    for value, type_name in zip(values, types, strict=True):
        if value is None:
            out.append(None)  # the application really bound NULL here
        elif isinstance(value, (list, tuple)):
            out.append(
                await conn.fetchval(
                    f"SELECT ARRAY(SELECT jsonb_array_elements_text($1::jsonb))::{type_name}",
                    json.dumps(list(value)),
                )
            )
        else:
            text = ("true" if value else "false") if isinstance(value, bool) else str(value)
            out.append(await conn.fetchval(f"SELECT $1::text::{type_name}", text))
    return tuple(out)


async def _sample(
    conn: asyncpg.Connection, shape: QueryShape, types: Sequence[str]
) -> tuple[object, ...] | None:
    """A value for every ``$n`` from the data, or None when one cannot be had."""
    paging = paging_parameters(shape.query.sql)
    uses = _parameter_uses(shape.query.predicates)
    exprs: list[str] = []
    for n, type_name in enumerate(types, start=1):
        if n in paging:
            exprs.append(f"{_PAGING_VALUES[paging[n]]}::{type_name}")
            continue
        use = uses.get(n)
        if use is None:
            return None
        fraction = _fraction(use)
        source = await _source(conn, use[0])
        if fraction is None or source is None:
            return None
        order_by, from_table = source
        value = f"percentile_disc({fraction}) WITHIN GROUP ({order_by})"
        exprs.append(f"(SELECT ({_search_term(use[0], value)})::{type_name} FROM {from_table})")
    row = await conn.fetchrow("SELECT " + ", ".join(exprs))
    if row is None or any(value is None for value in row):
        return None  # an empty table, or a column of NULLs: never bind a bare NULL
    return tuple(row)


def _search_term(pred: Predicate, value: str) -> str:
    """``value`` as what a pattern search binds: a term from inside a real value (from its
    second character: a term that is not the value's start), so the search finds rows."""
    if pred.op == "pattern":  # '%' || $1 || '%': $1 is the term
        return f"substr(({value})::text, 2, 4)"
    if pred.op == "pattern_param":
        return f"'%' || substr(({value})::text, 2, 4) || '%'"
    return value


def _parameter_uses(predicates: Sequence[Predicate]) -> dict[int, tuple[Predicate, int]]:
    """``n -> (predicate, position of $n among its values)`` for column predicates (the
    branches of an ``OR`` of pattern matches count)."""
    out: dict[int, tuple[Predicate, int]] = {}
    for pred in (b for p in predicates for b in (p.alternatives or (p,))):
        if pred.column is None or pred.table is None or pred.expression is not None:
            continue
        for position, n in enumerate(pred.params):
            out.setdefault(n, (pred, position))
    return out


def _fraction(use: tuple[Predicate, int]) -> str | None:
    """The percentile (or array of them, for ``= ANY``) that stands for this ``$n``."""
    pred, position = use
    if pred.op == "any":
        return "ARRAY[" + ", ".join(str(f) for f in _ANY_FRACTIONS) + "]"
    if pred.op == "range":
        if len(pred.params) == 2:  # BETWEEN $1 AND $2: a tenth of the rows
            return ("0.45", "0.55")[position]
        return "0.9" if pred.bound == "lower" else "0.1"
    if pred.op == "in":  # IN ($1, $2, ...): values spread over the column
        return str(round((position + 1) / (len(pred.params) + 1), 4))
    if pred.op in ("eq", "neq", "pattern", "pattern_param"):
        return "0.5"
    return None


async def _source(conn: asyncpg.Connection, pred: Predicate) -> tuple[str, str] | None:
    """``("ORDER BY col", "table [TABLESAMPLE ...]")`` for the predicate's column."""
    assert pred.table is not None and pred.column is not None
    reltuples = await conn.fetchval(
        "SELECT reltuples FROM pg_class WHERE oid = to_regclass($1)", quote_qualified(pred.table)
    )
    if reltuples is None:
        return None
    sample = ""
    if reltuples > _SAMPLE_ROWS:
        percent = max(0.01, min(100.0, 100.0 * _SAMPLE_ROWS / float(reltuples)))
        sample = f" TABLESAMPLE SYSTEM ({percent:.4f}) REPEATABLE (0)"
    return f"ORDER BY {quote_ident(pred.column)}", quote_qualified(pred.table) + sample
