"""The HTML report: one self-contained file a DBA can open offline.

No network and no CDN: CSS, a small script and the SVG chart are inline. It shows the
summary, the findings with their code locations, and for each verified index each query's
plan before and after side by side as trees (node type, rows estimated vs actual, time,
buffers) with the nodes the index changed marked, and a chart of workload time per query
before and after.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from advisor.report.view import (
    Report,
    changed_nodes,
    ms_text,
    ordered_findings,
    summary_line,
    triage_lines,
    verification_text,
    where,
)

__all__ = ["render"]

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:2em}table{border-collapse:collapse;width:100%}
td,th{border:1px solid #ccc;padding:4px 6px;text-align:left;vertical-align:top}
.sev-high{color:#b00;font-weight:bold}.sev-medium{color:#a60}.sev-low{color:#06a}.sev-info{color:#666}
pre{background:#f6f6f6;padding:6px;overflow-x:auto}.plans{display:flex;gap:1em}
.plans>div{flex:1;min-width:0}ul.plan,ul.plan ul{list-style:none;padding-left:1.2em;margin:0}
ul.plan{padding-left:0}.node{border-left:3px solid #ccc;padding:2px 6px;margin:2px 0}
.node.changed{border-left-color:#d60;background:#fff4e5}.node b{font-weight:600}
.m{color:#555;font-size:.9em}nav ul{columns:2}
"""

# Runs in the browser only: builds the contents list from the headings, so a reader of a
# long report can jump to a migration; the report is complete without it.
_JS = """
document.addEventListener('DOMContentLoaded',function(){
var nav=document.getElementById('toc'),ul=document.createElement('ul');
document.querySelectorAll('h2[id]').forEach(function(h){
var li=document.createElement('li'),a=document.createElement('a');
a.href='#'+h.id;a.textContent=h.textContent;li.appendChild(a);ul.appendChild(li);});
nav.appendChild(ul);nav.setAttribute('data-ready','yes');});
"""


def render(report: Report) -> str:
    """The whole report as one HTML document."""
    body = [
        f"<h1>advisor report</h1><p id='summary'>{escape(summary_line(report))}</p>",
        *(f"<p class='triage'>{escape(line)}</p>" for line in triage_lines(report)),
        "<nav id='toc'><b>Contents</b></nav>",
        _findings(report),
        _chart(report),
        *(_suggestion(s, i) for i, s in enumerate(report["suggestions"])),
    ]
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<title>advisor report</title>"
        f"<style>{_CSS}</style><script>{_JS}</script></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )


def _findings(report: Report) -> str:
    rows = []
    for f in ordered_findings(report):
        fix = f"<pre>{escape(f['fix'])}</pre>" if f.get("fix") else ""
        rows.append(
            f"<tr><td class='sev-{f['severity']}'>{f['severity']}</td>"
            f"<td>{f['rule']} {escape(f['name'])}</td>"
            f"<td><code>{escape(where(f.get('location')))}</code></td>"
            f"<td>{escape(f['message'])}{fix}</td></tr>"
        )
    if not rows:
        return "<h2 id='findings'>Findings</h2><p>No findings.</p>"
    return (
        "<h2 id='findings'>Findings</h2><table><tr><th>Severity</th><th>Rule</th>"
        "<th>Where</th><th>What</th></tr>" + "".join(rows) + "</table>"
    )


def _effects(report: Report) -> list[tuple[str, Mapping[str, Any]]]:
    return [
        (s["name"], e)
        for s in report["suggestions"]
        if s.get("verification")
        for e in s["verification"]["effects"]
    ]


def _chart(report: Report) -> str:
    effects = [(name, e) for name, e in _effects(report) if e["before"]["ms"] is not None]
    if not effects:
        return ""
    # Workload time: one call's median times the calls the workload made.
    rows = [
        (name, e["key"], e["before"]["ms"] * e["calls"], (e["after"]["ms"] or 0) * e["calls"])
        for name, e in effects
    ]
    top = max(max(b, a) for _, _, b, a in rows) or 1.0
    bar, width, row = 16, 720, 56  # one row: the query's label, then its two bars
    parts = []
    for i, (name, key, before, after) in enumerate(rows):
        y = i * row
        parts.append(f"<text x='0' y='{y + 12}' font-size='12'>{escape(f'{name}: {key}')}</text>")
        for j, (value, colour, what) in enumerate(
            ((before, "#c44", "before"), (after, "#4a4", "after"))
        ):
            w = max(1.0, width * value / top)
            yy = y + 16 + j * bar
            parts.append(
                f"<rect x='0' y='{yy}' width='{w:.1f}' height='{bar - 3}' fill='{colour}'>"
                f"<title>{what}: {ms_text(value)}</title></rect>"
                f"<text x='{w + 4:.1f}' y='{yy + bar - 5}' font-size='11'>"
                f"{what} {ms_text(value)}</text>"
            )
    height = len(rows) * row
    return (
        "<h2 id='chart'>Workload time per query, before and after</h2>"
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width + 160}' "
        f"height='{height}' role='img' aria-label='workload time per query'>"
        + "".join(parts)
        + "</svg>"
    )


def _suggestion(s: Mapping[str, Any], i: int) -> str:
    head = (
        f"<h2 id='index-{i}'>Index {escape(s['name'])} on {escape(s['table'])}</h2>"
        f"<p>{escape(verification_text(s))}</p><pre>{escape(s['sql'])}</pre>"
    )
    v = s.get("verification")
    if not v:
        return head
    info = []
    if v.get("data"):
        info.append(f"Data: {escape(v['data']['summary'])}")
    if v.get("build_ms") is not None:
        info.append(f"build {ms_text(v['build_ms'])}")
    if v.get("size_bytes") is not None:
        info.append(f"size {v['size_bytes']:,} bytes")
    head += f"<p class='m'>{escape('; '.join(info))}</p>" if info else ""
    for e in v["effects"]:
        before, after = e["before"].get("plan"), e["after"].get("plan")
        head += (
            f"<h3>{escape(e['key'])} ({e['calls']} call(s)"
            f"{', ' + escape(e['plan_change']) if e.get('plan_change') else ''})</h3>"
            "<div class='plans'>"
            f"<div><b>Before</b> {ms_text(e['before']['ms'])}"
            f"{_tree(before, changed_nodes(before, after))}</div>"
            f"<div><b>After</b> {ms_text(e['after']['ms'])}"
            f"{_tree(after, changed_nodes(after, before))}</div></div>"
        )
    return head


def _tree(node: Mapping[str, Any] | None, changed: set[int]) -> str:
    if node is None:
        return "<p class='m'>no plan</p>"
    return f"<ul class='plan'>{_node(node, changed)}</ul>"


def _node(node: Mapping[str, Any], changed: set[int]) -> str:
    title = escape(node["node_type"])
    if node.get("index"):
        title += f" using {escape(node['index'])}"
    if node.get("relation"):
        title += f" on {escape(node['relation'])}"
    facts = [
        f"rows est {_num(node.get('estimated_rows'))} / actual {_num(node.get('actual_rows'))}",
    ]
    if node.get("loops") and node["loops"] > 1:
        facts.append(f"loops {node['loops']}")
    if node.get("actual_ms") is not None:
        facts.append(f"time {ms_text(node['actual_ms'])}")
    if node.get("shared_hit") is not None or node.get("shared_read") is not None:
        facts.append(
            f"buffers hit {node.get('shared_hit') or 0} read {node.get('shared_read') or 0}"
        )
    if node.get("detail"):
        facts.append(escape(node["detail"]))
    mark = " changed" if id(node) in changed else ""
    tag = " <b>[changed]</b>" if mark else ""
    kids = "".join(_node(c, changed) for c in node["children"])
    return (
        f"<li><div class='node{mark}'><b>{title}</b>{tag} "
        f"<span class='m'>{' · '.join(facts)}</span></div>"
        + (f"<ul>{kids}</ul>" if kids else "")
        + "</li>"
    )


def _num(value: float | None) -> str:
    if value is None:
        return "?"
    return f"{value:,.0f}"
