"""GitLab Code Quality (``artifacts:reports:codequality``): a JSON list of issues.

Lines are 1-based; a finding without a line points at line 1 of its file, and one without
a file (a schema-level finding from ``--dsn``) at the first input scanned.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from advisor.report.view import Report, fallback_path, ordered_findings

__all__ = ["render"]

_SEVERITY = {"high": "critical", "medium": "major", "low": "minor", "info": "info"}


def render(report: Report) -> list[dict[str, Any]]:
    """The findings as Code Quality issues (JSON-ready)."""
    return [_issue(f, fallback_path(report)) for f in ordered_findings(report)]


def _issue(finding: Mapping[str, Any], fallback: str) -> dict[str, Any]:
    loc = finding.get("location") or {}
    key = finding.get("key") or {}
    identity = "\0".join(str(key.get(k)) for k in ("rule", "fingerprint", "path", "function"))
    return {
        "description": f"{finding['rule']} {finding['name']}: {finding['message']}",
        "check_name": finding["rule"],
        "fingerprint": hashlib.md5(identity.encode(), usedforsecurity=False).hexdigest(),
        "severity": _SEVERITY[finding["severity"]],
        "location": {"path": loc.get("path") or fallback, "lines": {"begin": loc.get("line") or 1}},
    }
