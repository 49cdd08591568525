"""What every renderer shows the same way, computed once from the JSON report.

The JSON report (:func:`advisor.report.json.to_json`) is the one view of a scan the
renderers read; this module holds the few things they all derive from it: the order of
findings (most severe first), how a location and a verification read as text, the
summary line, and the rules' metadata.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from advisor.units import format_ms

__all__ = [
    "SEVERITY_RANK",
    "Report",
    "changed_nodes",
    "evidence_text",
    "fallback_path",
    "fix_language",
    "ms_text",
    "one_line",
    "ordered_findings",
    "rule_info",
    "suggestion_by_name",
    "summary_line",
    "triage_lines",
    "verification_text",
    "where",
]

Report = Mapping[str, Any]
"""The JSON report, as :func:`advisor.report.json.to_json` builds it (or a file holds it)."""

_SQL_FIX = re.compile(
    r"\s*(CREATE|DROP|ALTER|SELECT|WITH|UPDATE|DELETE|INSERT)\s"
)  # as advisor writes SQL

SEVERITY_RANK: Mapping[str, int] = {"info": 0, "low": 1, "medium": 2, "high": 3}


def ordered_findings(report: Report) -> list[Mapping[str, Any]]:
    """The findings, most severe first; then by rule, file and line (a stable order)."""

    def order(f: Mapping[str, Any]) -> tuple[int, str, str, int]:
        loc = f.get("location") or {}
        return (
            -SEVERITY_RANK[f["severity"]],
            f["rule"],
            loc.get("path") or "",
            loc.get("line") or 0,
        )

    return sorted(report["findings"], key=order)


def where(site: Mapping[str, Any] | None) -> str:
    """``app/users.py:12 in list_users()``, or ``-`` when there is no location."""
    if not site:
        return "-"
    text = str(site["path"])
    if site.get("line") is not None:
        text += f":{site['line']}"
    if site.get("function"):
        text += f" in {site['function']}()"
    return text


def fallback_path(report: Report) -> str:
    """Where to point a finding that has no file (a schema-level one from ``--dsn``): the
    first input scanned, else ``pyproject.toml``; code scanning and GitLab need a file."""
    return next((s for s in report["sources"] if s not in ("-", "pg_stat_statements")), None) or (
        "pyproject.toml"
    )


def one_line(text: str, limit: int = 160) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def evidence_text(finding: Mapping[str, Any], limit: int = 4) -> str:
    """The first ``limit`` evidence values as ``key=value`` pairs."""
    items = list(finding.get("evidence", {}).items())[:limit]
    return ", ".join(f"{k}={_short(v)}" for k, v in items)


def fix_language(fix: str) -> str:
    """``sql`` for a fix written as a statement (``DROP INDEX ...``), else ``python``."""
    return "sql" if _SQL_FIX.match(fix) else "python"


def verification_text(suggestion: Mapping[str, Any] | None) -> str:
    """``verified: 12.0 ms -> 0.3 ms (40x), Seq Scan -> Index Scan`` or why not."""
    if suggestion is None:
        return "no index"
    v = suggestion.get("verification")
    if v is None:
        return "not verified"
    text = f"{v['verdict']}: {ms_text(v['before_ms'])} -> {ms_text(v['after_ms'])}"
    if v.get("speedup"):
        text += f" ({v['speedup']:.1f}x)"
    if v.get("plan_change"):
        text += f", {v['plan_change']}"
    return text


def summary_line(report: Report) -> str:
    """``3 findings (1 high, 2 medium); 2 index suggestions (1 verified); 412 executions``."""
    summary = report["summary"]
    counts = summary["by_severity"]
    parts = [f"{counts[s]} {s}" for s in sorted(counts, key=lambda s: -SEVERITY_RANK[s])]
    found = f"{summary['findings']} finding{'s' if summary['findings'] != 1 else ''}"
    nonzero = [p for p in parts if not p.startswith("0 ")]
    if nonzero:
        found += f" ({', '.join(nonzero)})"
    verified = sum(1 for s in report["suggestions"] if s.get("verification"))
    text = f"{found}; {summary['suggestions']} index suggestion(s) ({verified} verified)"
    return text + f"; {summary['executions']} executions, {summary['shapes']} query shapes"


def triage_lines(report: Report) -> list[str]:
    """What suppressions and a baseline took out, one sentence each (none when nothing)."""
    t = report.get("triage")
    if not t:
        return []
    lines: list[str] = []
    if t["against"]:
        lines.append(
            f"Compared with {t['against']}: {t['baselined']} known finding(s) not shown, "
            f"{len(t['gone'])} resolved."
        )
    if t["suppressed"]:
        lines.append(f"{len(t['suppressed'])} finding(s) suppressed.")
    lines.extend(f"Unused suppression: {u}." for u in t["unused_suppressions"])
    return lines


def suggestion_by_name(report: Report) -> dict[str, Mapping[str, Any]]:
    """Suggestions keyed by index name (findings refer to them by name)."""
    return {s["name"]: s for s in report["suggestions"]}


def rule_info() -> Sequence[tuple[str, str, str, str, str]]:
    """``(code, name, default severity, summary, doc)`` of every rule, in code order."""
    import inspect

    from advisor.rules import RULES

    return [(r.code, r.name, r.severity.value, r.summary, inspect.cleandoc(r.doc)) for r in RULES]


def changed_nodes(plan: Mapping[str, Any] | None, other: Mapping[str, Any] | None) -> set[int]:
    """``id()`` of the nodes of ``plan`` whose kind (node type, relation, index) the
    ``other`` plan has nowhere: what the index changed, marked in both trees."""

    def walk(node: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
        if node is None:
            return []
        return [node, *(n for child in node["children"] for n in walk(child))]

    def kind(node: Mapping[str, Any]) -> tuple[str, str | None, str | None]:
        return (node["node_type"], node.get("relation"), node.get("index"))

    theirs = {kind(n) for n in walk(other)}
    return {id(n) for n in walk(plan) if kind(n) not in theirs}


def ms_text(value: float | None) -> str:
    """A duration in milliseconds as text (``timed out`` for None)."""
    return "timed out" if value is None else format_ms(value)


def _short(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_short(v) for v in value[:3]) + (", …]" if len(value) > 3 else "]")
    return one_line(str(value), 40)
