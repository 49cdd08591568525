"""SARIF 2.1.0 for code scanning (GitHub's ``upload-sarif``, and other SARIF viewers).

One run; the driver's rules come from the rule docs (help text is the whole doc);
locations are repo-relative (``%SRCROOT%``); ``partialFingerprints`` carry the query
fingerprint, so an alert follows its query when lines move.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from advisor.report.view import (
    Report,
    fallback_path,
    ordered_findings,
    rule_info,
    verification_text,
)

__all__ = ["SARIF_SCHEMA", "render"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

_LEVEL = {"high": "error", "medium": "warning", "low": "note", "info": "note"}
_URI = "https://github.com/db-advisor/advisor/blob/main/docs/rules.md"


def render(report: Report) -> dict[str, Any]:
    """The report as a SARIF 2.1.0 log (JSON-ready)."""
    rules = rule_info()
    index = {code: i for i, (code, *_rest) in enumerate(rules)}
    suggestions = {s["name"]: s for s in report["suggestions"]}
    fallback = fallback_path(report)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "advisor",
                        "version": report["advisor_version"],
                        "informationUri": "https://github.com/db-advisor/advisor",
                        "rules": [_rule(*r) for r in rules],
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "the repo root"}}},
                "results": [
                    _result(f, index, suggestions.get(f.get("suggestion") or ""), fallback)
                    for f in ordered_findings(report)
                ],
            }
        ],
    }


def _rule(code: str, name: str, severity: str, summary: str, doc: str) -> dict[str, Any]:
    return {
        "id": code,
        "name": name,
        "shortDescription": {"text": summary},
        "fullDescription": {"text": doc.split("\n\n", 1)[0]},
        "help": {"text": doc, "markdown": doc},
        "helpUri": f"{_URI}#{code.lower()}",
        "defaultConfiguration": {"level": _LEVEL[severity]},
        "properties": {"tags": ["performance", "database"]},
    }


def _result(
    finding: Mapping[str, Any],
    index: Mapping[str, int],
    suggestion: Mapping[str, Any] | None,
    fallback: str,
) -> dict[str, Any]:
    text = finding["message"]
    if finding.get("fix"):
        text += f" Fix: {finding['fix']}"
    if suggestion is not None:
        text += f" Index: {suggestion['sql']} ({verification_text(suggestion)})"
    result: dict[str, Any] = {
        "ruleId": finding["rule"],
        "level": _LEVEL[finding["severity"]],
        "message": {"text": text},
        "partialFingerprints": {"queryFingerprint/v1": _fingerprint(finding)},
        "properties": {"severity": finding["severity"], "confidence": finding.get("confidence")},
    }
    if finding["rule"] in index:
        result["ruleIndex"] = index[finding["rule"]]
    # Code scanning wants a file for every result: a schema-level finding points at the input.
    loc = finding.get("location") or {"path": fallback}
    physical: dict[str, Any] = {"artifactLocation": {"uri": loc["path"], "uriBaseId": "%SRCROOT%"}}
    if loc.get("line"):
        physical["region"] = {"startLine": loc["line"]}
    result["locations"] = [{"physicalLocation": physical}]
    return result


def _fingerprint(finding: Mapping[str, Any]) -> str:
    key = finding.get("key") or {}
    # The query fingerprint when there is one; schema-level findings (an FK, a duplicate
    # index) have none, and their file and function stand in for it.
    return ":".join(
        str(part)
        for part in (
            finding["rule"],
            finding.get("fingerprint") or key.get("path"),
            key.get("function"),
        )
        if part
    )
