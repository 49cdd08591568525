"""The evidence a DBA reads at the top of a migration file, as plain text lines.

For one index: what it is and why, the queries of the workload it serves (key, calls,
total and mean time, call site, the SQL), what EXPLAIN ANALYZE measured before and after
it and on which data, its size and build time, and the write overhead of its table. A
suggestion without a :class:`~advisor.model.Verification` says "not verified" in so many
words: a DBA must never mistake an estimate for a measurement.

The SQL writer turns the lines into ``--`` comments and the Alembic writer into the
revision's docstring; neither adds evidence of its own.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from dataclasses import dataclass

from advisor.indexes.ddl import describe_column
from advisor.model import (
    DataOrigin,
    IndexSuggestion,
    Measurement,
    QueryEffect,
    Schema,
    TableStats,
    Verification,
    Workload,
)
from advisor.sqltext import one_line
from advisor.units import format_bytes, format_ms

__all__ = ["EvidenceContext", "evidence_lines"]

_SQL_CHARS = 160
# Lines fit a linter's 88 columns with the "-- " the SQL writer adds.
_WIDTH = 85
_DML = ("insert", "update", "delete")


@dataclass(frozen=True, slots=True)
class EvidenceContext:
    """What the evidence is read from besides the suggestion itself.

    ``data`` is the scan's data origin, used when a verification does not name its own;
    ``foreign_key`` marks an ADV004 index that is outside the chosen set.
    """

    workload: Workload | None = None
    schema: Schema | None = None
    data: DataOrigin | None = None
    foreign_key: bool = False


def _para(text: str, indent: str = "") -> list[str]:
    """One paragraph of prose, wrapped; continuation lines indented two more spaces."""
    return textwrap.wrap(
        text,
        _WIDTH,
        initial_indent=indent,
        subsequent_indent=indent + "  ",
        break_long_words=False,
        break_on_hyphens=False,
    )


def _definition(s: IndexSuggestion) -> str:
    text = f"{s.name} ON {s.table}"
    if s.method != "btree":
        text += f" USING {s.method}"
    text += " (" + ", ".join(describe_column(c) for c in s.columns) + ")"
    if s.include:
        text += " INCLUDE (" + ", ".join(s.include) + ")"
    if s.where:
        text += f" WHERE {one_line(s.where, None)}"
    return text


def _kind(s: IndexSuggestion, ctx: EvidenceContext) -> list[str]:
    if not ctx.foreign_key:
        return ["Kind: chosen for the workload (one of the indexes advisor suggests creating)."]
    use = (
        f"{len(s.query_keys)} query shape(s) of the workload filter or join on its columns"
        if s.query_keys
        else "no query of the workload uses it"
    )
    return _para(
        "Kind: foreign-key index (ADV004 fk-without-index), NOT part of the chosen set: "
        f"{use}. It keeps DELETEs and key UPDATEs of the referenced rows from scanning "
        f"{s.table}; apply it for that reason, or leave it out."
    )


def _shape_lines(number: int, key: str, workload: Workload | None) -> list[str]:
    shape = workload.shapes.get(key) if workload is not None else None
    if shape is None:
        return [f"  {number}. {key} (not in the scanned workload)"]
    stats = [f"{shape.calls:,} call{'s' if shape.calls != 1 else ''}"]
    if shape.total_ms is not None:
        stats.append(f"{format_ms(shape.total_ms)} total")
        if shape.calls:
            stats.append(f"{format_ms(shape.total_ms / shape.calls)} mean")
    else:
        stats.append("time not recorded")
    where = shape.location
    sites = len(shape.call_sites)
    if where is not None:
        more = f" (+{sites - 1} more call site{'s' if sites > 2 else ''})" if sites > 1 else ""
        stats.append(f"at {where}{more}")
    source = " (pg_stat_statements)" if shape.from_pg_stat_statements else ""
    return [
        *_para(f"{number}. {key}{source}: {', '.join(stats)}", "  "),
        *textwrap.wrap(
            one_line(shape.query.sql, _SQL_CHARS),
            _WIDTH,
            initial_indent="     SQL: ",
            subsequent_indent=" " * 10,
            break_long_words=False,
            break_on_hyphens=False,
        ),
    ]


def _queries(s: IndexSuggestion, workload: Workload | None) -> list[str]:
    if not s.query_keys:
        return ["Queries it serves: none recorded."]
    lines = [f"Queries it serves ({len(s.query_keys)}):"]
    for number, key in enumerate(s.query_keys, 1):
        lines.extend(_shape_lines(number, key, workload))
    return lines


def _measured(m: Measurement) -> str:
    if m.ms is None:
        limit = m.timed_out_ms
        return f"> {format_ms(limit)} (time box)" if limit is not None else "not measured"
    return format_ms(m.ms)


def _effect(effect: QueryEffect) -> list[str]:
    text = f"{effect.key}: {_measured(effect.before)} -> {_measured(effect.after)}"
    if effect.plan_change:
        text += f" ({effect.plan_change})"
    before, after = effect.before.shared_buffers, effect.after.shared_buffers
    if before is not None and after is not None:
        text += f", shared buffers {before:,} -> {after:,}"
    runs = max(effect.before.runs, effect.after.runs)
    text += f"; median of {runs} run{'s' if runs != 1 else ''}, {effect.after.params} parameters"
    return _para(text.strip(), "  ")


def _data(origin: DataOrigin | None, table: str) -> list[str]:
    if origin is None:
        return ["  data: not recorded (the figures name no data: treat them with care)"]
    lines = _para(f"data: {origin.kind}: {one_line(origin.summary, None)}", "  ")
    if table in origin.tables:
        lines.extend(_para(f"{table}: {one_line(origin.tables[table], None)}", "  "))
    servers = []
    if origin.server:
        servers.append(f"sandbox PostgreSQL {origin.server}")
    if origin.source_server:
        servers.append(f"source PostgreSQL {origin.source_server}")
    if servers:
        lines.append(f"  servers: {', '.join(servers)}")
    return lines


def _verified(v: Verification, s: IndexSuggestion, ctx: EvidenceContext) -> list[str]:
    head = f"  verdict: {v.verdict}; {format_ms(v.before_ms)} -> {format_ms(v.after_ms)}"
    if v.plan_change:
        head += f" ({v.plan_change})"
    if v.before_buffers is not None and v.after_buffers is not None:
        head += f", shared buffers {v.before_buffers:,} -> {v.after_buffers:,}"
    lines = ["Measured with EXPLAIN (ANALYZE, BUFFERS) in a throwaway PostgreSQL:"]
    lines.extend(_para(head.strip(), "  "))
    if v.detail:
        lines.extend(_para(one_line(v.detail, None), "  "))
    for effect in v.effects:
        lines.extend(_effect(effect))
    lines.extend(_data(v.data or ctx.data, s.table))
    return lines


def _built(v: Verification | None) -> str:
    size = format_bytes(v.size_bytes) if v is not None and v.size_bytes is not None else None
    build = format_ms(v.build_ms) if v is not None and v.build_ms is not None else None
    if size is None and build is None:
        return "Index size and build time: unknown (the index was not built in a sandbox)."
    return f"Index size {size or 'unknown'}, built in {build or 'unknown time'} in the sandbox."


def _dml_calls(table: str, workload: Workload | None) -> dict[str, int]:
    calls = dict.fromkeys(_DML, 0)
    if workload is None:
        return calls
    for shape in workload.shapes.values():
        query = shape.query
        if query.kind in calls and any(ref.table == table for ref in query.tables):
            calls[query.kind] += shape.calls
    return calls


def _stats_line(stats: TableStats) -> str:
    return (
        f"  pg_stat_user_tables: {stats.n_tup_ins:,} rows inserted, {stats.n_tup_upd:,} "
        f"updated ({stats.n_tup_hot_upd:,} HOT), {stats.n_tup_del:,} deleted."
    )


def _write_overhead(s: IndexSuggestion, ctx: EvidenceContext) -> list[str]:
    calls = _dml_calls(s.table, ctx.workload)
    # Only a live database's counters mean anything: a sandbox built from DDL has zeros.
    live = ctx.schema is not None and ctx.schema.source == "dsn"
    table = ctx.schema.find(s.table) if live and ctx.schema is not None else None
    stats = table.stats if table is not None else None
    lines = [f"Write overhead on {s.table}:"]
    if any(calls.values()):
        counts = " and ".join(f"{n:,} {kind.upper()}" for kind, n in calls.items() if n)
        lines.append(f"  the workload ran {counts} statements on it.")
    else:
        lines.append("  the workload ran no INSERT, UPDATE or DELETE on it.")
    if stats is not None:
        lines.append(_stats_line(stats))
    else:
        lines.append(
            "  no pg_stat_user_tables figures (the schema was not read from a live --dsn)."
        )
    lines.extend(
        _para(
            "Every INSERT adds an entry to this index, and an UPDATE of an indexed column "
            "can no longer be HOT.",
            "  ",
        )
    )
    return lines


def _one(s: IndexSuggestion, ctx: EvidenceContext) -> list[str]:
    lines = [*_para(f"Index: {_definition(s)}"), *_kind(s, ctx)]
    if s.reason:
        lines.extend(_para(f"Why: {one_line(s.reason, 400)}"))
    lines.extend(["", *_queries(s, ctx.workload), ""])
    v = s.verification
    if v is None:
        lines.extend(
            _para(
                "Measured: NOT VERIFIED. No EXPLAIN ANALYZE was run for this index: nothing "
                "here measures its effect."
            )
        )
    else:
        lines.extend(_verified(v, s, ctx))
    lines.extend([_built(v), "", *_write_overhead(s, ctx)])
    return lines


def evidence_lines(
    suggestions: Iterable[IndexSuggestion], ctx: EvidenceContext | None = None
) -> list[str]:
    """The evidence for each of ``suggestions``, one blank line between indexes.

    Lines carry no comment marker; the writers add their own. Deterministic: the same
    inputs always give the same lines (golden files depend on it).
    """
    context = ctx or EvidenceContext()
    out: list[str] = []
    for s in suggestions:
        if out:
            out.append("")
        out.extend(_one(s, context))
    return out
