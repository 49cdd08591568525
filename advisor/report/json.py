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
    Finding,
    IndexSuggestion,
    Note,
    ScanResult,
    Severity,
    Skipped,
    Verification,
)

__all__ = ["REPORT_VERSION", "to_json"]

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
            "skipped": len(result.skipped),
        },
        "findings": [_finding(f) for f in result.findings],
        "suggestions": [_suggestion(s) for s in result.suggestions],
        "notes": [_note(n) for n in result.notes],
        "skipped": [_skipped(s) for s in result.skipped],
    }


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
