"""The versioned JSON report (schema: ``advisor/report/report-v1.schema.json``).

Version 1 is stable: fields are only ever added. CI outputs (Markdown, SARIF, annotations)
are built from this shape.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from advisor import __version__
from advisor.indexes.ddl import describe_column
from advisor.model import (
    CallSite,
    DataOrigin,
    Finding,
    FindingKey,
    IndexSuggestion,
    LoopCost,
    Measurement,
    Note,
    PlanNode,
    QueryEffect,
    ScanResult,
    Severity,
    Skipped,
    Triage,
    Verification,
)
from advisor.triage.baseline import finding_key, repo_path
from advisor.units import format_ms

__all__ = [
    "REPORT_VERSION",
    "data_json",
    "effect_json",
    "loop_text",
    "site_json",
    "to_json",
    "verification_text",
]

REPORT_VERSION = 1


def to_json(result: ScanResult, root: str | None = None) -> dict[str, Any]:
    """The report as JSON-ready data; paths inside ``root`` are made relative to it.

    This is also the one view every CI renderer (Markdown, SARIF, annotations, GitLab,
    HTML) reads, so ``advisor comment --report report.json`` renders what a scan would.
    """
    site = _Sites(root)
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
        "findings": [_finding(f, site) for f in result.findings],
        "suggestions": [_suggestion(s) for s in result.suggestions],
        "notes": [_note(n) for n in result.notes],
        "skipped": [_skipped(s, site) for s in result.skipped],
        "rejected": [_suggestion(s) for s in result.rejected],
        "data": data_json(result.data),
        "triage": _triage(result.triage, site),
        "migrations": [repo_path(path, root) for path in result.migrations],
    }


class _Sites:
    def __init__(self, root: str | None) -> None:
        self.root = root

    def __call__(self, site: CallSite | None) -> dict[str, Any] | None:
        return site_json(site, self.root)


def site_json(site: CallSite | None, root: str | None) -> dict[str, Any] | None:
    """A call site as ``{"path", "line", "function"}``, its path relative to ``root``."""
    if site is None:
        return None
    return {"path": repo_path(site.path, root), "line": site.line, "function": site.function}


def verification_text(v: Verification) -> str:
    """``verified: 41.9 ms -> 0.1 ms (Seq Scan -> Index Scan)``, or why it was rejected."""
    change = f" ({v.plan_change})" if v.plan_change else ""
    if v.verdict == "helps":
        return f"verified: {format_ms(v.before_ms)} -> {format_ms(v.after_ms)}{change}"
    return f"rejected ({v.verdict}): {v.detail or ''}".rstrip(": ")


def loop_text(cost: LoopCost) -> str:
    """``30 queries, 5.0 ms -> 1 query, 0.4 ms``."""
    loop, batched = format_ms(cost.loop_ms), format_ms(cost.batched_ms)
    return f"{cost.queries} queries, {loop} -> 1 query, {batched}"


def _finding(f: Finding, site: _Sites) -> dict[str, Any]:
    return {
        "rule": f.rule,
        "name": f.name,
        "severity": f.severity.value,
        "confidence": f.confidence,
        "message": f.message,
        "location": site(f.location),
        "origin": site(f.origin),
        "fingerprint": f.fingerprint,
        "sql": f.sql,
        "fix": f.fix,
        "evidence": dict(f.evidence),
        "suggestion": f.suggestion.name if f.suggestion else None,
        "key": _key(finding_key(f, site.root)),
        "verified": (
            verification_text(f.suggestion.verification)
            if f.suggestion is not None and f.suggestion.verification is not None
            else None
        ),
        "loop_cost": _loop_cost(f.loop_cost),
    }


def _key(k: FindingKey) -> dict[str, Any]:
    return {"rule": k.rule, "fingerprint": k.fingerprint, "path": k.path, "function": k.function}


def _loop_cost(c: LoopCost | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {
        "queries": c.queries,
        "loop_ms": c.loop_ms,
        "batched_ms": c.batched_ms,
        "batched_sql": c.batched_sql,
        "text": loop_text(c),
        "data": data_json(c.data),
    }


def _suggestion(s: IndexSuggestion) -> dict[str, Any]:
    return {
        "kind": s.kind,
        "name": s.name,
        "table": s.table,
        "columns": [describe_column(c) for c in s.columns],
        "include": list(s.include),
        "where": s.where,
        "method": s.method,
        "sql": s.sql,
        "fingerprints": list(s.query_keys),  # the v1 name, kept: v1 only adds fields
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
        "speedup": v.speedup,
        "plan_change": v.plan_change,
        "build_ms": v.build_ms,
        "size_bytes": v.size_bytes,
        "data": data_json(v.data),
        "effects": [effect_json(e) for e in v.effects],
    }


def effect_json(e: QueryEffect) -> dict[str, Any]:
    """One query before and after, with both measurements and their plans."""
    return {
        "key": e.key,
        "calls": e.calls,
        "plan_change": e.plan_change,
        "saved_ms": e.saved_ms,
        "before": _measurement(e.before),
        "after": _measurement(e.after),
    }


def _measurement(m: Measurement) -> dict[str, Any]:
    return {
        "ms": m.ms,
        "runs": m.runs,
        "shared_buffers": m.shared_buffers,
        "cost": m.cost,
        "timed_out_ms": m.timed_out_ms,
        "params": m.params,
        "spread_ms": list(m.spread_ms) if m.spread_ms else None,
        "plan": _plan(m.plan),
    }


def _plan(n: PlanNode | None) -> dict[str, Any] | None:
    if n is None:
        return None
    return {
        "node_type": n.node_type,
        "relation": n.relation,
        "index": n.index,
        "estimated_rows": n.estimated_rows,
        "actual_rows": n.actual_rows,
        "loops": n.loops,
        "actual_ms": n.actual_ms,
        "total_cost": n.total_cost,
        "shared_hit": n.shared_hit,
        "shared_read": n.shared_read,
        "detail": n.detail,
        "children": [_plan(c) for c in n.children],
    }


def data_json(d: DataOrigin | None) -> dict[str, Any] | None:
    """Where the measured rows came from."""
    if d is None:
        return None
    return {
        "kind": d.kind,
        "summary": d.summary,
        "tables": dict(d.tables),
        "server": d.server,
        "source_server": d.source_server,
    }


def _triage(t: Triage | None, site: _Sites) -> dict[str, Any] | None:
    if t is None:
        return None
    return {
        "suppressed": [
            {"rule": f.rule, "message": f.message, "location": site(f.location), "by": by}
            for f, by in t.suppressed
        ],
        "unused_suppressions": list(t.unused),
        "baselined": t.baselined,
        "against": t.against,
        "gone": [{**_key(k), "message": k.message} for k in t.gone],
    }


def _note(n: Note) -> dict[str, Any]:
    return {"rule": n.rule, "fingerprint": n.fingerprint, "reason": n.reason, "sql": n.sql}


def _skipped(s: Skipped, site: _Sites) -> dict[str, Any]:
    return {
        "source": site(s.source),
        "reason": s.reason,
        "sql": s.sql,
        "input_rejected": s.input_rejected,
    }
