"""The Markdown report: a pull-request comment (or a job summary).

A summary line, a table of findings (severity, rule, where, evidence, verified or not),
each N+1 fix as code and each migration in a collapsible block. It stays under GitHub's
65,536-character comment limit: when the whole report would not fit, rows and blocks are
left out from the least severe end and the comment says how many.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from advisor.report.view import (
    Report,
    evidence_text,
    fix_language,
    one_line,
    ordered_findings,
    suggestion_by_name,
    summary_line,
    triage_lines,
    verification_text,
    where,
)

__all__ = ["COMMENT_LIMIT", "MARKER", "render"]

MARKER = "<!-- advisor-report -->"
"""The hidden line ``advisor comment`` finds its own comment by."""

COMMENT_LIMIT = 65_536
"""GitHub's limit on an issue or pull-request comment body, in characters."""

# Room kept for the closing note and for whatever a caller appends (a fork-PR note).
_RESERVE = 1_500


def render(report: Report, *, limit: int = COMMENT_LIMIT) -> str:
    """The report as GitHub-flavoured Markdown, at most ``limit`` characters long."""
    budget = limit - _RESERVE
    paragraphs = [f"{MARKER}\n### advisor: {summary_line(report)}", *triage_lines(report)]
    findings = ordered_findings(report)
    suggestions = suggestion_by_name(report)
    out = "\n\n".join(paragraphs) + "\n\n"
    if not findings:
        out += "No new findings.\n"
    shown = 0
    if findings:
        out += "| Severity | Rule | Where | Evidence | Verified |\n|---|---|---|---|---|\n"
        for finding in findings:
            row = _row(finding, suggestions.get(finding.get("suggestion") or ""))
            if len(out) + len(row) > budget:
                break
            out += row
            shown += 1
    blocks = [_fix_block(f) for f in findings[:shown] if f.get("fix") or f.get("loop_cost")]
    blocks += [_migration_block(s) for s in report["suggestions"]]
    blocks_shown = 0
    for block in blocks:
        if len(out) + len(block) > budget:
            break
        out += block
        blocks_shown += 1
    left = len(findings) - shown
    if left or blocks_shown < len(blocks):
        out += (
            f"\n_Too long for one comment: {left} finding row(s) and "
            f"{len(blocks) - blocks_shown} fix/migration block(s) left out; "
            "the full report is in the job's artifacts (`--format json` or `html`)._\n"
        )
    return out


def _cell(text: str) -> str:
    return one_line(text, 200).replace("|", "\\|")


def _row(finding: Mapping[str, Any], suggestion: Mapping[str, Any] | None) -> str:
    rule = f"{finding['rule']} {finding['name']}"
    verified = verification_text(suggestion) if finding.get("suggestion") else "-"
    loop = finding.get("loop_cost")
    if loop:
        verified = (
            f"measured: {loop['queries']} queries {loop['loop_ms']:.1f} ms -> "
            f"1 query {loop['batched_ms']:.1f} ms"
        )
    cells = [
        finding["severity"],
        rule,
        f"`{_cell(where(finding.get('location')))}`",
        _cell(f"{finding['message']} ({evidence_text(finding)})"),
        _cell(verified),
    ]
    return "| " + " | ".join(cells) + " |\n"


def _fix_block(finding: Mapping[str, Any]) -> str:
    title = f"Fix {finding['rule']} at {where(finding.get('location'))}"
    body = ""
    if finding.get("fix"):
        body += f"\n```{fix_language(finding['fix'])}\n{finding['fix']}\n```\n"
    loop = finding.get("loop_cost")
    if loop:
        body += f"\nOne batched query instead:\n\n```sql\n{loop['batched_sql']}\n```\n"
    return f"\n<details><summary>{_html(title)}</summary>\n{body}\n</details>\n"


def _migration_block(suggestion: Mapping[str, Any]) -> str:
    verified = verification_text(suggestion)
    title = f"Migration: {suggestion['name']} on {suggestion['table']} ({verified})"
    reason = f"\n{suggestion['reason']}\n" if suggestion.get("reason") else ""
    return (
        f"\n<details><summary>{_html(title)}</summary>\n{reason}\n"
        f"```sql\n{suggestion['sql']}\n```\n\n</details>\n"
    )


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
