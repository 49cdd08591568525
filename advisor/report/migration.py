"""The report of ``advisor verify MIGRATION.sql``: JSON, and text (rich) drawn from the JSON.

The JSON document (``"format": "advisor-migration-review"``, version 1, fields only ever
added) holds every figure; the text view reads it, so a saved review renders like a
fresh one. Each query carries its measurements before and after, with their plans, in
the shape of the scan report's verification effects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text
from rich.tree import Tree

from advisor import __version__
from advisor.report.json import data_json, effect_json, site_json
from advisor.report.view import changed_nodes, ms_text, one_line
from advisor.units import format_bytes
from advisor.verify.effects import effect_text
from advisor.verify.migration_review import IndexChange, MigrationReview

__all__ = ["REVIEW_VERSION", "render", "to_json"]

REVIEW_VERSION = 1
_STYLE = {"slower": "bold red", "faster": "green", "unchanged": "dim"}
_MAX_UNCHANGED = 10


def to_json(review: MigrationReview, root: str | None = None) -> dict[str, Any]:
    """The review as JSON-ready data; paths inside ``root`` are made relative to it."""
    before, after = review.total_ms
    counts = {c: len(review.of(c)) for c in ("faster", "slower", "unchanged")}
    return {
        "format": "advisor-migration-review",
        "version": REVIEW_VERSION,
        "advisor_version": __version__,
        "migration": review.migration,
        "sandbox": review.sandbox,
        "data": data_json(review.data),
        "summary": {
            "queries": len(review.queries),
            **counts,
            "broken": len(review.broken),
            "unmeasured": len(review.unmeasured),
            "left_out": review.left_out,
            "before_ms": before,
            "after_ms": after,
        },
        "statements": [{"line": s.line, "sql": s.sql, "ms": s.ms} for s in review.statements],
        "indexes": {
            "added": [_index(i) for i in review.added],
            "dropped": [_index(i) for i in review.dropped],
        },
        "queries": [
            {
                "sql": q.sql,
                "change": q.change,
                "location": site_json(q.location, root),
                "text": effect_text(q.effect),
                **effect_json(q.effect),
            }
            for q in review.queries
        ],
        "broken": [{"key": k, "sql": sql, "error": why} for k, sql, why in review.broken],
        "unmeasured": [{"key": k, "reason": why} for k, why in review.unmeasured],
        "skipped": [
            {"source": site_json(s.source, root), "reason": s.reason, "sql": s.sql}
            for s in review.skipped
        ],
    }


def _index(i: IndexChange) -> dict[str, Any]:
    return {
        "name": i.name,
        "table": i.table,
        "definition": i.definition,
        "size_bytes": i.size_bytes,
        "valid": i.valid,
    }


def render(review: MigrationReview | Mapping[str, Any]) -> RenderableType:
    """The review for a terminal: index changes, then slower, faster and broken queries
    with their plans before and after, unchanged ones in a line each, and the total."""
    doc = to_json(review) if isinstance(review, MigrationReview) else review
    parts: list[RenderableType] = [_header(doc)]
    indexes = doc["indexes"]
    for title, sign, items in (
        ("added", "+", indexes["added"]),
        ("dropped", "-", indexes["dropped"]),
    ):
        if items:
            parts.append(Text(f"\nIndexes {title}", style="bold"))
            parts.extend(_index_line(sign, i) for i in items)
    for change, title in (("slower", "Slower"), ("faster", "Faster")):
        queries = [q for q in doc["queries"] if q["change"] == change]
        if queries:
            parts.append(Text(f"\n{title} ({len(queries)})", style=f"bold {_STYLE[change]}"))
            parts.extend(_query(q) for q in queries)
    if doc["broken"]:
        parts.append(
            Text(f"\nFailing after the migration ({len(doc['broken'])})", style="bold red")
        )
        for b in doc["broken"]:
            parts.append(Text(f"  ✗ {one_line(b['sql'], 100)}", style="red"))
            parts.append(Text(f"    {one_line(b['error'], 160)}", style="dim"))
    same = [q for q in doc["queries"] if q["change"] == "unchanged"]
    if same:
        parts.append(Text(f"\nUnchanged ({len(same)})", style="bold"))
        for q in same[:_MAX_UNCHANGED]:
            parts.append(Text(f"  = {q['text']}  {one_line(q['sql'], 90)}", style="dim"))
        if len(same) > _MAX_UNCHANGED:
            parts.append(Text(f"  ... and {len(same) - _MAX_UNCHANGED} more", style="dim"))
    if doc["unmeasured"]:
        parts.append(Text(f"\nNot measured ({len(doc['unmeasured'])})", style="bold"))
        for u in doc["unmeasured"][:_MAX_UNCHANGED]:
            parts.append(Text(f"  {one_line(u['reason'], 160)}", style="dim"))
    parts.append(_summary(doc))
    return Group(*parts)


def _header(doc: Mapping[str, Any]) -> Text:
    statements = doc["statements"]
    seconds = sum(s["ms"] or 0.0 for s in statements) / 1000.0
    line = f"advisor verify {doc['migration']}: {len(statements)} statement(s) applied in "
    line += f"{seconds:.2f} s"
    if doc["sandbox"]:
        line += f"; sandbox: {doc['sandbox']}"
    if doc["data"] is not None:
        line += f"; measured on {doc['data']['summary']}"
    return Text(line, style="dim")


def _index_line(sign: str, index: Mapping[str, Any]) -> Text:
    size = format_bytes(index["size_bytes"])
    text = Text(f"  {sign} {index['name']} on {index['table']}, {size}")
    if not index["valid"]:
        text.append("  INVALID (a failed concurrent build; drop it and build again)", "bold red")
    text.append(f"\n    {index['definition']}", "dim")
    return text


def _query(q: Mapping[str, Any]) -> RenderableType:
    where = ""
    if q["location"] is not None:
        loc = q["location"]
        where = f"  at {loc['path']}:{loc['line']}" if loc.get("line") else f"  at {loc['path']}"
    head = Text(f"  {'✗' if q['change'] == 'slower' else '✓'} {q['text']}", _STYLE[q["change"]])
    if q["plan_change"]:
        head.append(f" ({q['plan_change']})")
    head.append(f", {q['calls']} call(s){where}", "dim")
    before, after = q["before"]["plan"], q["after"]["plan"]
    body: list[RenderableType] = [head, Text(f"    {one_line(q['sql'], 160)}")]
    if q["plan_change"] or q["change"] != "unchanged":
        body.append(_plan("before", before, changed_nodes(before, after)))
        body.append(_plan("after", after, changed_nodes(after, before)))
    return Group(*body)


def _plan(title: str, node: Mapping[str, Any] | None, changed: set[int]) -> Tree:
    tree = Tree(Text(f"{title}:", style="dim"), guide_style="dim")
    if node is not None:
        _grow(tree, node, changed)
    return tree


def _grow(tree: Tree, node: Mapping[str, Any], changed: set[int]) -> None:
    label = Text(node["node_type"], style="bold" if id(node) in changed else "")
    if node.get("index"):
        label.append(f" using {node['index']}")
    if node.get("relation"):
        label.append(f" on {node['relation']}")
    facts = []
    if node.get("actual_rows") is not None:
        facts.append(f"rows {node['actual_rows']:.0f}")
    if node.get("actual_ms") is not None:
        facts.append(ms_text(node["actual_ms"]))
    if node.get("detail"):
        facts.append(one_line(node["detail"], 80))
    if facts:
        label.append("  " + " · ".join(facts), "dim")
    branch = tree.add(label)
    for child in node["children"]:
        _grow(branch, child, changed)


def _summary(doc: Mapping[str, Any]) -> Text:
    s = doc["summary"]
    text = f"\nworkload (calls x time, {s['queries']} queries): "
    text += f"{ms_text(s['before_ms'])} -> {ms_text(s['after_ms'])}; "
    text += f"{s['faster']} faster, {s['slower']} slower, {s['unchanged']} unchanged"
    if s["broken"]:
        text += f", {s['broken']} failing"
    if s["left_out"]:
        text += f"; {s['left_out']} less busy queries not measured"
    bad = s["slower"] or s["broken"]
    return Text(text, style="bold red" if bad else "bold green")
