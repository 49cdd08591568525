"""An index that no query has used since statistics started (ADV006).

## What it does
On a live database only (``--dsn`` against the real one: a throwaway database built
from DDL has no history), reports valid indexes whose ``pg_stat_user_indexes.idx_scan``
is zero, and says how long the statistics have been collecting. Indexes that back a
primary-key, unique or exclusion constraint, and UNIQUE indexes, are never reported
(they enforce something even when never scanned). When statistics are younger than
``min_stats_days`` it emits a note instead: a weekly or monthly job may not have run yet.
When the index is the only one serving a foreign key, the message says so (dropping it
would make deletes on the referenced table scan).

## Why is this bad?
An unused index is written on every INSERT and most UPDATEs, takes disk, memory for
cache and backup time, and can stop HOT updates, for no read it ever served.

## Example
```sql
CREATE INDEX ix_orders_shipped_at ON orders (shipped_at);
```

## Use instead
```sql
CREATE INDEX ix_orders_user_id_created_at ON orders (user_id, created_at);
```
Drop an index that no query used over a full business cycle (check replicas too: the
statistics are per server), with ``DROP INDEX CONCURRENTLY IF EXISTS``.

## Options
- ``min_stats_days`` (default 7): statistics younger than this give a note, not findings.
- ``now`` (default ""): the current time as an ISO timestamp (tests); empty means now.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from advisor.indexes.coverage import index_leads_with
from advisor.indexes.ddl import drop_index_sql
from advisor.model import Finding, Index, Note, Severity, Table
from advisor.rules.base import Outcome, Rule, RuleContext

__all__ = ["RULE", "check", "stats_age_days"]

CODE = "ADV006"
NAME = "unused-index"


def _parse_time(text: str) -> dt.datetime | None:
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def stats_age_days(stats_since: str | None, now: str = "") -> float | None:
    """Days between ``stats_since`` and ``now`` (ISO; empty = the current time)."""
    since = _parse_time(stats_since) if stats_since else None
    current = _parse_time(now) if now else dt.datetime.now(dt.UTC)
    if since is None or current is None:
        return None
    return (current - since).total_seconds() / 86_400


def _candidate(index: Index) -> bool:
    return (
        index.valid
        and index.scans == 0
        and not index.unique
        and not index.primary
        and index.constraint is None
    )


def _fk_note(table: Table, index: Index) -> str:
    for fk in table.foreign_keys:
        serving = [i for i in table.indexes if index_leads_with(i, fk.columns)]
        if serving == [index]:
            return (
                f"; it is the only index serving foreign key {fk.name} "
                f"({', '.join(fk.columns)}): dropping it makes deletes on {fk.ref_table} scan"
            )
    return ""


def _finding(table: Table, index: Index, age: float | None) -> Finding:
    since = (
        f"in {age:.0f} days of statistics"
        if age is not None
        else "since statistics were last reset (age unknown)"
    )
    size = "" if index.size_bytes is None else f" ({index.size_bytes:,} bytes)"
    fk = _fk_note(table, index)
    return Finding(
        rule=CODE,
        name=NAME,
        severity=Severity.LOW,
        message=f"index {index.name} on {table.qualified}{size} was never scanned {since}{fk}",
        sql=index.definition or None,
        fix=drop_index_sql(table.qualified, index.name),
        evidence={
            "table": table.qualified,
            "index": index.name,
            "scans": index.scans,
            "size_bytes": index.size_bytes,
            "stats_age_days": None if age is None else round(age, 1),
            "definition": index.definition,
        },
        confidence="low" if fk or age is None else "medium",
    )


def check(ctx: RuleContext) -> Iterator[Outcome]:
    """Findings for never-scanned indexes of a live database with old enough statistics."""
    if not ctx.live:
        return
    age = stats_age_days(ctx.schema.stats_since, ctx.options["now"])
    min_days = ctx.options["min_stats_days"]
    for table in ctx.schema.tables.values():
        for index in table.indexes:
            if not _candidate(index):
                continue
            if age is not None and age < min_days:
                yield Note(
                    rule=CODE,
                    fingerprint=f"{table.qualified}.{index.name}",
                    reason=(
                        f"index {index.name} was never scanned, but statistics are only "
                        f"{age:.1f} days old (< min_stats_days {min_days}): too young to judge"
                    ),
                )
                continue
            yield _finding(table, index, age)


RULE = Rule(
    code=CODE,
    name=NAME,
    severity=Severity.LOW,
    summary="An index that no query has used since statistics started",
    doc=__doc__ or "",
    check=check,
    options={"min_stats_days": 7, "now": ""},
)
