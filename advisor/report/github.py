"""GitHub Actions workflow commands: one annotation per finding, on the PR's lines.

``::error file=app/users.py,line=12,title=ADV001 n-plus-one::message``. Data is escaped
(``%``, CR, LF) and so are properties (also ``:`` and ``,``). Findings go most severe
first; GitHub shows only 10 annotations of each type per step, so at most 10 of each are
written and a plain log line says how many were left out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from advisor.report.view import Report, ordered_findings

__all__ = ["PER_TYPE_LIMIT", "escape_data", "escape_property", "render"]

PER_TYPE_LIMIT = 10
"""Annotations GitHub shows per type (error, warning, notice) per step."""

_COMMAND = {"high": "error", "medium": "warning", "low": "notice", "info": "notice"}


def escape_data(text: str) -> str:
    """Escape a workflow command's message (``%``, CR, LF)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow command's property value (also ``:`` and ``,``)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render(report: Report, *, limit: int = PER_TYPE_LIMIT) -> str:
    """The annotations, then a line naming what was left out (empty when no findings)."""
    written: Counter[str] = Counter()
    left: Counter[str] = Counter()
    lines: list[str] = []
    for finding in ordered_findings(report):
        command = _COMMAND[finding["severity"]]
        if written[command] >= limit:
            left[command] += 1
            continue
        written[command] += 1
        lines.append(_annotation(command, finding))
    if left:
        detail = ", ".join(f"{n} {c}" for c, n in sorted(left.items()))
        lines.append(
            f"advisor: {sum(left.values())} more finding(s) not annotated ({detail}): GitHub "
            f"shows only {limit} annotations of each type per step; see the full report"
        )
    return "".join(line + "\n" for line in lines)


def _annotation(command: str, finding: Mapping[str, Any]) -> str:
    props = {"title": f"{finding['rule']} {finding['name']}"}
    loc = finding.get("location")
    if loc:
        props["file"] = loc["path"]
        if loc.get("line"):
            props["line"] = str(loc["line"])
    message = finding["message"]
    if finding.get("fix"):
        message += f"\nFix: {finding['fix']}"
    head = ",".join(f"{k}={escape_property(v)}" for k, v in props.items())
    return f"::{command} {head}::{escape_data(message)}"
