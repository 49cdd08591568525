"""The versioned JSON report (schema: ``advisor/report/report-v1.schema.json``).

Version 1 is stable: fields are only ever added. CI outputs (Markdown, SARIF, annotations)
are built from this shape.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from advisor import __version__
from advisor.model import (
    CallSite,
    DataOrigin,
    Finding,
    IndexColumn,
    IndexSuggestion,
    LoopCost,
    Measurement,
    Note,
    QueryEffect,
    ScanResult,
    Severity,
    Skipped,
    Verification,
)

__all__ = ["REPORT_VERSION", "column_text", "loop_text", "to_json", "verification_text"]

REPORT_VERSION = 1


def to_json(result: ScanResult) -> dict[str, Any]:
    """The report as JSON-ready data."""
    by_severity = Counter(f.severity.value for f in result.findings)
    return {
        "format": "advisor-report",
        "version": REPORT_VERSION,
        "advisor_version": __version__,
        "sources": list(result.sources),
        "schema": {
            "source": result.schema.source,
            "tables": len(result.schema.tables),
            "server_version": result.schema.server_version,
        },
        "sandbox": result.sandbox,
        "summary": {
            "executions": result.workload.executions,
            "shapes": len(result.workload.shapes),
            "findings": len(result.findings),
            "by_severity": {s.value: by_severity.get(s.value, 0) for s in Severity},
            "suggestions": len(result.suggestions),
            "rejected": len(result.rejected),
            "skipped": len(result.skipped),
        },
        "findings": [_finding(f) for f in result.findings],
        "suggestions": [_suggestion(s) for s in result.suggestions],
        "rejected": [_suggestion(s) for s in result.rejected],
        "data": _data(result.data),
        "notes": [_note(n) for n in result.notes],
        "skipped": [_skipped(s) for s in result.skipped],
    }


def column_text(col: IndexColumn) -> str:
    """One index key as SQL-ish text: ``user_id``, ``created_at DESC``, ``lower(email)``."""
    text = col.expression or col.column or "?"
    if col.descending:
        text += " DESC"
    if col.nulls_first is not None and col.nulls_first != col.descending:
        text += " NULLS FIRST" if col.nulls_first else " NULLS LAST"
    return text


def _ms_text(ms: float) -> str:
    return f"{ms:.1f} ms" if ms >= 0.95 else f"{ms:.2f} ms"


def verification_text(v: Verification) -> str:
    """``verified: 41.9 ms -> 0.1 ms (Seq Scan -> Index Scan)``, or why it was rejected."""
    change = f" ({v.plan_change})" if v.plan_change else ""
    if v.verdict == "helps":
        return f"verified: {_ms_text(v.before_ms)} -> {_ms_text(v.after_ms)}{change}"
    return f"rejected ({v.verdict}): {v.detail or ''}".rstrip(": ")


def loop_text(cost: LoopCost) -> str:
    """``30 queries, 5.0 ms -> 1 query, 0.4 ms``."""
    return (
        f"{cost.queries} queries, {_ms_text(cost.loop_ms)} -> 1 query, {_ms_text(cost.batched_ms)}"
    )


def _site(site: CallSite | None) -> dict[str, Any] | None:
    if site is None:
        return None
    return {"path": site.path, "line": site.line, "function": site.function}


def _finding(f: Finding) -> dict[str, Any]:
    return {
        "rule": f.rule,
        "name": f.name,
        "severity": f.severity.value,
        "confidence": f.confidence,
        "message": f.message,
        "location": _site(f.location),
        "origin": _site(f.origin),
        "fingerprint": f.fingerprint,
        "sql": f.sql,
        "fix": f.fix,
        "evidence": dict(f.evidence),
        "suggestion": f.suggestion.name if f.suggestion else None,
        "verified": (
            verification_text(f.suggestion.verification)
            if f.suggestion is not None and f.suggestion.verification is not None
            else None
        ),
        "loop_cost": _loop_cost(f.loop_cost),
    }


def _loop_cost(cost: LoopCost | None) -> dict[str, Any] | None:
    if cost is None:
        return None
    return {
        "queries": cost.queries,
        "loop_ms": cost.loop_ms,
        "batched_ms": cost.batched_ms,
        "batched_sql": cost.batched_sql,
        "text": loop_text(cost),
        "data": _data(cost.data),
    }


def _data(data: DataOrigin | None) -> dict[str, Any] | None:
    if data is None:
        return None
    return {
        "kind": data.kind,
        "summary": data.summary,
        "tables": dict(data.tables),
        "server": data.server,
        "source_server": data.source_server,
    }


def _suggestion(s: IndexSuggestion) -> dict[str, Any]:
    return {
        "kind": s.kind,
        "name": s.name,
        "table": s.table,
        "columns": [column_text(c) for c in s.columns],
        "include": list(s.include),
        "where": s.where,
        "method": s.method,
        "sql": s.sql,
        "fingerprints": list(s.fingerprints),
        "reason": s.reason,
        "verification": _verification(s.verification),
    }


def _verification(v: Verification | None) -> dict[str, Any] | None:
    if v is None:
        return None
    return {
        "verdict": v.verdict,
        "used": v.used,
        "before_ms": v.before_ms,
        "after_ms": v.after_ms,
        "before_cost": v.before_cost,
        "after_cost": v.after_cost,
        "before_buffers": v.before_buffers,
        "after_buffers": v.after_buffers,
        "detail": v.detail,
        "text": verification_text(v),
        "plan_change": v.plan_change,
        "build_ms": v.build_ms,
        "size_bytes": v.size_bytes,
        "effects": [_effect(e) for e in v.effects],
        "data": _data(v.data),
    }


def _effect(e: QueryEffect) -> dict[str, Any]:
    return {
        "key": e.key,
        "calls": e.calls,
        "before": _measurement(e.before),
        "after": _measurement(e.after),
        "plan_change": e.plan_change,
    }


def _measurement(m: Measurement) -> dict[str, Any]:
    return {
        "ms": m.ms,
        "timed_out_ms": m.timed_out_ms,
        "runs": m.runs,
        "spread_ms": list(m.spread_ms) if m.spread_ms is not None else None,
        "shared_buffers": m.shared_buffers,
        "cost": m.cost,
        "params": m.params,
    }


def _note(n: Note) -> dict[str, Any]:
    return {"rule": n.rule, "fingerprint": n.fingerprint, "reason": n.reason, "sql": n.sql}


def _skipped(s: Skipped) -> dict[str, Any]:
    return {
        "source": _site(s.source),
        "reason": s.reason,
        "sql": s.sql,
        "input_rejected": s.input_rejected,
    }
