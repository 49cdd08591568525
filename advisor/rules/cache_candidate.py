"""The same read, same parameters, same result, request after request: cache it (ADV010).

## What it does
Finds a SELECT that many scopes (requests, tests) ran with the same parameters and got the
same result each time, on tables the captured workload rarely writes. Capture hashes each
small read's result (the values never leave the app, only a CRC-32 does); this rule replays
the reads in capture order against a time-to-live cache and reports the share of them the
cache would have served (the hit potential), the time that would have saved, and the
invalidation hazard: the writes to those tables seen in the workload, with their call sites.

Not flagged: a read whose table is written between two of its executions (a TTL cache
would have served stale rows, so such a read is never counted as a hit), a read whose
result changes, reads repeated inside one scope only (ADV007), and large results (capture
hashes results of up to 32 values).

## Why is this bad?
Every request pays a round trip, a connection checkout and the query itself for an answer
that has not changed: currency rates, feature flags, a tenant's settings. A short TTL cache
in the app serves most of them from memory and takes that load off the database.

## Example
```python
@app.get("/products/{product_id}/price")
async def product_price(product_id: int, currency: str):
    async with sessions() as session:
        rate = await session.scalar(select(Rate.rate).where(Rate.code == currency))
    ...
```

## Use instead
```python
rates = TTLCache(maxsize=1024, ttl=60)  # cachetools; or any small TTL cache

@app.get("/products/{product_id}/price")
async def product_price(product_id: int, currency: str):
    rate = rates.get(currency)
    if rate is None:
        async with sessions() as session:
            rate = rates[currency] = await session.scalar(
                select(Rate.rate).where(Rate.code == currency)
            )
    ...
```

Invalidate the entry where the table is written (the hazard lists those call sites), or
keep the TTL shorter than the staleness the feature can tolerate.

## Options
- ``ttl_s`` (default 60.0): the cache's time to live, in seconds.
- ``min_reads`` (default 20): executions of one read (same parameters) worth a finding.
- ``min_scopes`` (default 5): distinct scopes (requests) it must span.
- ``min_hit_share`` (default 0.5): the share of its executions the cache must serve.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence

from advisor.model import CallSite, Finding, ReadEvent, RepeatedRead, Severity, TableWrites
from advisor.rules.base import Outcome, Rule, RuleContext
from advisor.rules.loops import shape_for
from advisor.sqltext import one_line

__all__ = ["RULE", "check", "replay"]

CODE = "ADV010"
NAME = "cache-candidate"


def replay(reads: Sequence[ReadEvent], write_seqs: Sequence[int], ttl_s: float) -> list[bool]:
    """For each read (in capture order), whether a TTL cache would have served it rightly.

    A read is a hit when the cached entry is younger than ``ttl_s``, holds the same
    result, and no write to the read's tables came in between; otherwise it (re)fills the
    cache. Reads without a time (``at``) only age by writes.

    >>> r = [ReadEvent(i, float(i), i, "a", 1.0) for i in range(4)]
    >>> replay(r, [], 60.0), replay(r, [1], 60.0)
    ([False, True, True, True], [False, False, True, True])
    """
    hits: list[bool] = []
    cached: ReadEvent | None = None
    for read in sorted(reads, key=_order):
        hit = cached is not None and cached.result_hash == read.result_hash
        if hit and cached is not None:
            if cached.at is not None and read.at is not None and read.at - cached.at > ttl_s:
                hit = False
            elif cached.seq is not None and read.seq is not None:
                hit = bisect_right(write_seqs, cached.seq) == bisect_right(write_seqs, read.seq)
        hits.append(hit)
        if not hit:
            cached = read
    return hits


def _writes_to(tables: Sequence[str], writes: Mapping[str, TableWrites]) -> list[TableWrites]:
    return [writes[t] for t in tables if t in writes]


def check(ctx: RuleContext) -> Iterator[Outcome]:
    """Yield one finding per read (shape and parameters) that a TTL cache would mostly serve."""
    for series in ctx.workload.reads:
        if len(series.reads) >= ctx.options["min_reads"]:
            finding = _finding(ctx, series)
            if finding is not None:
                yield finding


def _finding(ctx: RuleContext, series: RepeatedRead) -> Finding | None:
    shape = shape_for(ctx.workload, series.key)
    if shape is None or shape.query.kind != "select" or not shape.query.tables:
        return None
    ttl_s = ctx.options["ttl_s"]
    tables = sorted({ref.table for ref in shape.query.tables})
    written = _writes_to(tables, ctx.workload.writes)
    seqs = sorted(seq for w in written for seq in w.seqs)
    hits = replay(series.reads, seqs, ttl_s)
    served = [r for r, hit in zip(sorted(series.reads, key=_order), hits, strict=True) if hit]
    reads = len(series.reads)
    share = len(served) / reads
    saved = sum(r.ms or 0.0 for r in served)
    scopes = len({r.scope_id for r in series.reads})
    if scopes < ctx.options["min_scopes"] or share < ctx.options["min_hit_share"]:
        return None
    hazard = _hazard(written)
    return Finding(
        rule=CODE,
        name=NAME,
        severity=Severity.LOW,
        message=(
            f"the same read with the same parameters returned the same result {reads} times "
            f"across {scopes} scopes: a {ttl_s:g} s cache would have served {share:.0%} of "
            f"them ({saved:.1f} ms of query time){hazard}: {one_line(shape.query.sql)}"
        ),
        location=series.call_sites[0] if series.call_sites else shape.location,
        fingerprint=shape.query.fingerprint,
        sql=shape.query.sql,
        fix=(
            f"cache the result in the app for up to {ttl_s:g} s (a small TTL cache keyed by "
            "the parameters), and invalidate it where the tables are written"
            if written
            else f"cache the result in the app for up to {ttl_s:g} s "
            "(a small TTL cache keyed by the parameters)"
        ),
        evidence={
            "reads": reads,
            "scopes": scopes,
            "hits": len(served),
            "hit_share": round(share, 4),
            "ttl_s": ttl_s,
            "saved_ms": round(saved, 3),
            "tables": tables,
            "writes": {w.table: w.count for w in written},
            "write_sites": [str(s) for w in written for s in w.call_sites],
        },
    )


def _order(read: ReadEvent) -> tuple[bool, int]:
    return (read.seq is None, read.seq or 0)


def _hazard(written: Sequence[TableWrites]) -> str:
    if not written:
        return ", and the workload never writes its tables"
    sites: list[CallSite] = [s for w in written for s in w.call_sites]
    where = f" at {', '.join(str(s) for s in sites[:3])}" if sites else ""
    count = sum(w.count for w in written)
    return f"; invalidation hazard: {count} writes to its tables{where}"


RULE = Rule(
    code=CODE,
    name=NAME,
    severity=Severity.LOW,
    summary="The same read with the same result across scopes: a TTL cache would serve it.",
    doc=__doc__ or "",
    check=check,
    options={"ttl_s": 60.0, "min_reads": 20, "min_scopes": 5, "min_hit_share": 0.5},
)
