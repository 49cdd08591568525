"""A filtered, joined or sorted query that no index serves (ADV003).

## What it does
For every query shape and every table it reads, builds the btree index that would
serve it best: the equality columns (``=``, ``IN``, ``= ANY``, and the join columns of
the inner side of a join) first, the most selective first when ``pg_stats`` knows
``n_distinct``; then one range column, or the ORDER BY columns with their directions
(preferred with a LIMIT, so the scan stops after the first rows). The ORDER BY and
LIMIT are read where they limit: for SQLAlchemy's ``joinedload()`` of a collection with
``.limit()``, inside the derived table the query is wrapped in. Constant conditions
the code always sends (``deleted_at IS NULL``, ``status = 'active'`` beside parameters)
make it a partial index; ``lower(email) = $1`` gives an expression index. It fires
only when no valid existing index already serves the query; when an index leads with one
of its columns, the message says what that index lacks (the keys lead an index
with compatible directions, operator class, collation and predicate; or a unique
index covers the equality columns).

Every query that gets no suggestion gets a note that says why: covered by an existing
index, a small table, no filter/join/sort columns, a low-selectivity boolean, an
unknown table, not a SELECT/UPDATE/DELETE, or a captured statement that ran once or only
from migration or fixture code (set-up never justifies an index on its own). A statement
a test function itself issued counts as workload.

## Why is this bad?
Without an index PostgreSQL reads the whole table (a sequential scan) and sorts what it
found, on every execution: the cost grows with the table, not with the rows returned.
A query that takes 1 ms on a developer's laptop takes seconds on production data.

## Example
```sql
SELECT id, kind, created_at FROM events WHERE user_id = $1 ORDER BY created_at DESC LIMIT 20
```

## Use instead
Add the index the finding suggests, in its own migration (``CONCURRENTLY`` does not
lock writes); the query is then served by an index scan that stops after 20 rows:
```sql
CREATE INDEX ix_events_user_id_created_at ON events (user_id, created_at DESC);
SELECT id, kind, created_at FROM events WHERE user_id = $1 ORDER BY created_at DESC LIMIT 20
```

## Options
- ``min_rows`` (default 10000): tables with fewer estimated rows get a note instead (a
  sequential scan of a small table is cheap). Unknown sizes (a schema read from DDL)
  are judged by the query alone, and the message says so.
- ``large_rows`` (default 1000000) and ``frequent_calls`` (default 1000): a table at
  least this large read by a query called at least this often makes the finding high.
- ``include_max_columns`` (default 0, off): when the query selects at most this many
  other columns of the table, add them as ``INCLUDE`` columns (an index-only scan).

## Pattern searches (pg_trgm)
``LIKE``/``ILIKE`` patterns a btree cannot serve (``'%soup%'``, ``'%soup'``, ``'_oup'``,
SQLAlchemy's ``contains()`` as ``LIKE '%' || $1 || '%'``, and any ``ILIKE``, which is
case-folded) get a trigram GIN index when the table has no btree key to narrow it first
and is at least ``min_rows`` large:
``CREATE INDEX CONCURRENTLY IF NOT EXISTS "ix_products_name_trgm" ON "public"."products"
USING gin ("name" gin_trgm_ops);``. A search over several columns with ``OR``
(``name ILIKE $1 OR description ILIKE $1``) gets one multi-column GIN index: PostgreSQL
combines its columns with a BitmapOr, as fast as one index per column, in one build.
``lower(name) LIKE ...`` gets the expression key ``(lower(name)) gin_trgm_ops``.

- Only ``text`` and ``varchar`` columns (``char(n)`` is refused by ``gin_trgm_ops``; on
  ``citext`` such an index builds but is never used, LIKE on citext being citext's own
  operator: the note says to search ``col::text``); an existing trigram GIN or GiST index
  on the columns means no finding, and a btree never counts as serving one.
- ``LIKE $1`` is judged by the captured values of ``$1`` (``--keep-params``): a value
  starting with ``%`` or ``_`` makes it a trigram search; anchored values (``'soup%'``)
  are a ``text_pattern_ops`` btree's job (not suggested); with no captured value the
  note says the pattern is unknown and no prefix is guessed. ``ILIKE 'soup%'`` is not
  btree-indexable either (only by a ``lower(col)`` expression index with the query
  rewritten), so it is a trigram search too.
- The index needs the extension: ``CREATE EXTENSION IF NOT EXISTS pg_trgm;``, run once
  per database by a superuser or, since PostgreSQL 13 (pg_trgm is a trusted extension),
  by a user with ``CREATE`` on the database. The fix and the migrations carry that
  statement; a roll back drops the index, never the extension.
- Patterns with fewer than 3 characters between wildcards (``'%ab%'``) have no trigram to
  look up: the note says so and nothing is suggested.
- Verification builds the index for real (HypoPG has no GIN or GiST), and binds a search
  term taken from inside a real value of the column when no value was captured.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal

from advisor.indexes.candidates import Candidate, Rejection, plan_query
from advisor.indexes.coverage import covering_index
from advisor.indexes.ddl import describe_column, make_suggestion
from advisor.indexes.trigram import MIN_TRIGRAM_CHARS, extension_sql, required_extensions
from advisor.model import (
    CallSite,
    Finding,
    Index,
    IndexColumn,
    Note,
    QueryShape,
    Schema,
    Severity,
    Table,
)
from advisor.rules.base import Outcome, Rule, RuleContext
from advisor.rules.loops import in_test_code

__all__ = ["RULE", "check"]

CODE = "ADV003"
NAME = "missing-index"


# Said with every trigram suggestion: what applying it needs, and where it stops helping.
TRIGRAM_NOTE = (
    "it needs CREATE EXTENSION IF NOT EXISTS pg_trgm; once per database, by a superuser or "
    "(pg_trgm is trusted since PostgreSQL 13) a user with CREATE on the database; a trigram "
    f"index does not help patterns with fewer than {MIN_TRIGRAM_CHARS} characters between "
    "wildcards"
)


def _describe(candidate: Candidate) -> str:
    if candidate.method != "btree":
        keys = ", ".join(c.column or str(c.expression) for c in candidate.columns)
        text = f"{keys} (pattern search: LIKE/ILIKE '%...%')"
        return text + (f" WHERE {candidate.where_sql}" if candidate.where_sql else "")
    parts = []
    if candidate.equality:
        parts.append(", ".join(describe_column(c) for c in candidate.equality) + " (equality)")
    if candidate.tail_kind == "range":
        parts.append(f"{describe_column(candidate.tail[0])} (range)")
    elif candidate.tail_kind == "order":
        parts.append("ORDER BY " + ", ".join(describe_column(c) for c in candidate.tail))
    text = "; ".join(parts)
    return text + (f" WHERE {candidate.where_sql}" if candidate.where_sql else "")


def _severity(table: Table, shape: QueryShape, options: Mapping[str, Any]) -> Severity:
    large = table.row_estimate is not None and table.row_estimate >= options["large_rows"]
    if large and shape.calls >= options["frequent_calls"]:
        return Severity.HIGH
    return Severity.MEDIUM


def _finding(
    shape: QueryShape, table: Table, candidate: Candidate, options: Mapping[str, Any]
) -> Finding:
    query = shape.query
    size = (
        f"{table.row_estimate:,} rows"
        if table.row_estimate is not None
        else "table size unknown: no statistics, judged by the query alone"
    )
    reason = f"{table.qualified}: {_describe(candidate)}"
    suggestion = make_suggestion(
        table.qualified,
        candidate.columns,
        include=candidate.include,
        where=candidate.where_sql,
        method=candidate.method,
        query_keys=(query.key,),
        reason=reason,
    )
    extensions = required_extensions(candidate.columns)
    confidence: Literal["high", "medium"] = "high" if table.row_estimate is not None else "medium"
    location = shape.location
    partial = _leading_index(candidate, table) if candidate.method == "btree" else None
    if extensions:
        what = f"no trigram index serves {table.qualified} for {_describe(candidate)}"
    elif partial is None:
        what = f"no index serves {table.qualified} for {_describe(candidate)}"
    else:
        index, led, lacks = partial
        missing = ", ".join(describe_column(c) for c in lacks)
        what = (
            f"the existing index {index.name} on {table.qualified} leads with {led} but lacks "
            f"{missing} (the query wants {_describe(candidate)})"
        )
    return Finding(
        rule=CODE,
        name=NAME,
        severity=_severity(table, shape, options),
        message=f"{what} ({size}); suggested {suggestion.name}"
        + (f" ({TRIGRAM_NOTE})" if extensions else ""),
        location=location,
        fingerprint=query.fingerprint,
        sql=query.sql,
        fix="\n".join([*map(extension_sql, extensions), suggestion.sql]),
        evidence={
            "table": table.qualified,
            "row_estimate": table.row_estimate,
            "calls": shape.calls,
            "total_ms": shape.total_ms,
            "rows": shape.rows,
        },
        suggestion=suggestion,
        confidence=confidence,
    )


def _leading_index(
    candidate: Candidate, table: Table
) -> tuple[Index, str, list[IndexColumn]] | None:
    """A valid index whose first keys are columns the candidate wants: the index, the
    columns it leads with (as text) and the candidate's columns it lacks.

    The message then says what the existing index lacks instead of claiming that no
    index serves a column an index already leads with.
    """
    wanted = {c.column for c in candidate.columns if c.column is not None}
    for index in table.indexes:
        if not index.valid or index.predicate or index.method != "btree":
            continue
        served: list[str] = []
        for key in index.keys:
            if key.column is None or key.column not in wanted:
                break
            served.append(key.column)
        if served:
            lacks = [c for c in candidate.columns if c.column not in served]
            return index, ", ".join(served), lacks
    return None


def _setup_only(site: CallSite) -> bool:
    """A line in a migration, or in test code outside a test function (a fixture, a
    conftest.py helper): set-up, not the workload. A test function's own statement is
    the app's query as the test exercises it (through a library's helper, say): it counts.
    """
    path = site.path.replace("\\", "/")
    if "migrations/" in path or "/alembic/" in f"/{path}":
        return True
    return in_test_code(site) and not _in_test_function(site)


def _in_test_function(site: CallSite) -> bool:
    """pytest's default test names (``test*`` functions and methods), outside conftest.py."""
    function = site.function or ""
    return function.startswith("test") and not site.path.endswith("conftest.py")


def _workload_reason(shape: QueryShape) -> str | None:
    """Why a captured statement alone never justifies an index, or None."""
    if not shape.call_sites:
        return None  # a SQL file or pg_stat_statements: no application lines to judge by
    if all(_setup_only(site) for site in shape.call_sites):
        return "ran only from migration or fixture code: set-up, not the workload"
    if shape.calls < 2:
        return "ran once: a single execution does not justify an index on its own"
    return None


def _note(shape: QueryShape, reason: str) -> Note:
    return Note(rule=CODE, fingerprint=shape.query.fingerprint, reason=reason, sql=shape.query.sql)


def _check_candidate(
    shape: QueryShape, schema: Schema, candidate: Candidate, options: Mapping[str, Any]
) -> Outcome:
    table = schema.tables[candidate.table]
    index = covering_index(candidate, table)
    if index is not None:
        return _note(shape, f"covered by existing index {index.name} on {table.qualified}")
    rows, min_rows = table.row_estimate, options["min_rows"]
    if rows is not None and rows < min_rows:
        return _note(
            shape,
            f"small table: {table.qualified} has {rows:,} rows < {min_rows:,} "
            "(a sequential scan is cheap)",
        )
    return _finding(shape, table, candidate, options)


def check(ctx: RuleContext) -> Iterator[Outcome]:
    """Findings for query shapes no index serves; a note for every other one."""
    for shape in ctx.workload.shapes.values():
        reason = _workload_reason(shape)
        if reason is not None:
            yield _note(shape, reason)
            continue
        planned = plan_query(
            shape.query,
            ctx.schema,
            include_max_columns=ctx.options["include_max_columns"],
            samples=shape.samples,
        )
        for item in planned:
            if isinstance(item, Rejection):
                where = f"{item.table}: " if item.table else ""
                yield _note(shape, where + item.reason)
            else:
                yield _check_candidate(shape, ctx.schema, item, ctx.options)


RULE = Rule(
    code=CODE,
    name=NAME,
    severity=Severity.MEDIUM,
    summary="A filtered, joined or sorted query that no index serves",
    doc=__doc__ or "",
    check=check,
    options={
        "min_rows": 10_000,
        "large_rows": 1_000_000,
        "frequent_calls": 1_000,
        "include_max_columns": 0,
    },
)
