"""The terminal report: rich renderables, built here and printed by the CLI."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.syntax import Syntax
from rich.text import Text

from advisor.indexes.ddl import describe_column
from advisor.indexes.trigram import extension_statements
from advisor.model import Finding, ScanResult, Severity
from advisor.report.json import loop_text, verification_text
from advisor.sqltext import one_line

__all__ = ["DEFAULT_LIMIT", "render"]

DEFAULT_LIMIT = 15
"""Findings printed by default: about two screenfuls of panels."""
_TOP = 5
_SEVERITIES = sorted(Severity, key=lambda s: -s.rank)

_STYLE = {
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}
_MAX_SKIPPED = 10


def render(
    result: ScanResult, *, verbose: bool = False, limit: int | None = DEFAULT_LIMIT
) -> RenderableType:
    """The whole report: a summary, then findings grouped by site, at most ``limit`` of them
    (None or 0: all); ``verbose`` adds why each query got no suggestion."""
    parts: list[RenderableType] = [_header(result)]
    ordered = sorted(result.findings, key=lambda f: (-f.severity.rank, -_ms(f), f.rule))
    if result.findings:
        parts.extend(_overview(result, ordered))
    shown = ordered[:limit] if limit else ordered
    parts.extend(_by_site(shown))
    if len(shown) < len(ordered):
        parts.append(
            Text(
                f"\n... {len(ordered) - len(shown)} more finding(s) not shown: "
                "--limit 0 prints them all; --format json keeps every one",
                style="bold",
            )
        )
    if result.suggestions:
        parts.append(Text("\nSuggested indexes", style="bold"))
        for s in result.suggestions:
            cols = ", ".join(describe_column(c) for c in s.columns)
            where = f" WHERE {s.where}" if s.where else ""
            serves = f"serves {len(s.query_keys)} query shape(s)" if s.query_keys else s.reason
            parts.append(Text(f"  {s.table} ({cols}){where}: {serves}"))
            if s.verification is not None:
                parts.append(Text(f"    {verification_text(s.verification)}", style="green"))
            sql = "\n".join([*extension_statements(s.columns), s.sql])
            parts.append(Syntax(sql, "sql", word_wrap=True, background_color="default"))
    if result.rejected:
        parts.append(Text("\nRejected by verification", style="bold"))
        for s in result.rejected:
            cols = ", ".join(describe_column(c) for c in s.columns)
            why = verification_text(s.verification) if s.verification else "rejected"
            parts.append(Text(f"  {s.table} ({cols}): {why}", style="dim"))
    if result.skipped:
        parts.append(Text(f"\nSkipped {len(result.skipped)} input(s)", style="bold"))
        for sk in result.skipped[: None if verbose else _MAX_SKIPPED]:
            parts.append(Text(f"  {sk.source}: {sk.reason}", style="dim"))
        if not verbose and len(result.skipped) > _MAX_SKIPPED:
            parts.append(Text("  ... use --verbose to list them all", style="dim"))
    if verbose and result.notes:
        parts.append(Text("\nNo suggestion, and why", style="bold"))
        for n in result.notes:
            sql = one_line(n.sql or n.fingerprint, 160, ellipsis="…")
            parts.append(Text(f"  [{n.rule}] {n.reason}: {sql}", style="dim"))
    if result.triage is not None:
        from advisor.report.json import to_json
        from advisor.report.view import triage_lines

        parts.extend(Text(line, style="dim") for line in triage_lines(to_json(result)))
    parts.append(_summary(result))
    return Group(*parts)


def _ms(finding: Finding) -> float:
    """The time a finding's queries took (what fixing it can save), 0 when unknown."""
    if finding.loop_cost is not None:
        return finding.loop_cost.loop_ms - finding.loop_cost.batched_ms
    value = finding.evidence.get("total_ms")
    return float(value) if isinstance(value, (int, float)) else 0.0


def _overview(result: ScanResult, ordered: list[Finding]) -> list[RenderableType]:
    """Counts by rule and severity, and the findings that cost the most time."""
    by_rule: dict[tuple[str, str], dict[Severity, int]] = {}
    for f in result.findings:
        counts = by_rule.setdefault((f.rule, f.name), {})
        counts[f.severity] = counts.get(f.severity, 0) + 1
    lines: list[RenderableType] = [Text("\nSummary", style="bold")]
    for (rule, name), counts in sorted(by_rule.items()):
        text = ", ".join(f"{counts[s]} {s.value}" for s in _SEVERITIES if s in counts)
        lines.append(Text(f"  {rule} {name}: {text}"))
    top = sorted((f for f in ordered if _ms(f) > 0), key=_ms, reverse=True)[:_TOP]
    if top:
        lines.append(Text("Most time", style="bold"))
        for f in top:
            where = f" at {f.location}" if f.location is not None else ""
            lines.append(Text(f"  {_ms(f):.1f} ms  {f.rule}{where}"))
    return lines


def _by_site(findings: list[Finding]) -> list[RenderableType]:
    """Panels under one heading per file line, sites in the order of their first finding."""
    sites: dict[str, list[Finding]] = {}
    for f in findings:
        key = f"{f.location.path}:{f.location.line}" if f.location is not None else ""
        sites.setdefault(key, []).append(f)
    parts: list[RenderableType] = []
    for key, group in sites.items():
        parts.append(Text(f"\n{key or 'no application line'}", style="bold underline"))
        parts.extend(_finding(f) for f in group)
    return parts


def _header(result: ScanResult) -> Text:
    schema = result.schema
    where = f"schema from {schema.source} ({len(schema.tables)} tables)"
    if schema.source == "none":
        where = "no schema (give --schema, --metadata or --dsn for schema-aware rules)"
    line = f"advisor scan: {result.workload.executions} executions, "
    line += f"{len(result.workload.shapes)} query shapes; {where}"
    if result.sandbox:
        line += f"; sandbox: {result.sandbox}"
    if result.data is not None:
        line += f"; measured on {result.data.summary}"
    return Text(line, style="dim")


def _finding(f: Finding) -> Panel:
    body: list[RenderableType] = [Text.from_markup(escape(f.message))]
    if f.location is not None:
        body.append(Text(f"at {f.location}", style="bold"))
    if f.origin is not None:
        body.append(Text(f"parent rows loaded at {f.origin}"))
    if f.sql:
        body.append(
            Syntax(
                one_line(f.sql, 300, ellipsis="…"),
                "sql",
                word_wrap=True,
                background_color="default",
            )
        )
    if f.fix:
        body.append(Text(f"fix: {f.fix}", style="green"))
    if f.suggestion is not None and f.suggestion.verification is not None:
        body.append(Text(verification_text(f.suggestion.verification), style="bold green"))
    if f.loop_cost is not None:
        body.append(Text(f"measured: {loop_text(f.loop_cost)}", style="bold green"))
    title = f"{f.rule} {f.name} [{f.severity.value}]"
    if f.confidence != "high":
        title += f" ({f.confidence} confidence)"
    return Panel(Group(*body), title=title, title_align="left", border_style=_STYLE[f.severity])


def _summary(result: ScanResult) -> Text:
    if not result.findings:
        return Text("\nNo findings.", style="green")
    counts = {s: sum(1 for f in result.findings if f.severity is s) for s in Severity}
    text = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
    return Text(f"\n{len(result.findings)} finding(s): {text}", style="bold")
