"""Baselines: the findings a team already knows about, so a scan reports only new ones.

A finding is keyed by rule, query fingerprint, and code location by file and function
(:class:`~advisor.model.FindingKey`), never by line. A finding about the schema rather
than a query (ADV004-ADV006) has no fingerprint: the foreign key or index it names
stands in for one. The baseline file is JSON::

    {"format": "advisor-baseline", "version": 1,
     "findings": [{"rule": "ADV001", "fingerprint": "...", "path": "app/users.py",
                   "function": "list_users", "message": "..."}]}

``--diff-against OLD_REPORT.json`` uses an older JSON report the same way: its findings
are the baseline, and the ones this scan no longer has are what the change resolved.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from advisor.errors import InputError
from advisor.model import Finding, FindingKey, ScanResult, Triage

__all__ = [
    "BASELINE_FORMAT",
    "apply_baseline",
    "baseline_document",
    "finding_key",
    "read_keys",
    "repo_path",
]

BASELINE_FORMAT = "advisor-baseline"


def repo_path(path: str, root: str | None) -> str:
    """``path`` relative to ``root`` with ``/`` separators when it lies inside ``root``."""
    if root is None or not os.path.isabs(path):
        return path.replace(os.sep, "/")
    try:
        rel = os.path.relpath(path, root)
    except ValueError:  # another drive on Windows
        return path
    return path if rel.startswith("..") else rel.replace(os.sep, "/")


def finding_key(finding: Finding, root: str | None = None) -> FindingKey:
    """The stable key of ``finding``; paths made relative to ``root``."""
    site = finding.location
    return FindingKey(
        rule=finding.rule,
        fingerprint=finding.fingerprint or _subject(finding),
        path=repo_path(site.path, root) if site is not None else None,
        function=site.function if site is not None else None,
        message=finding.message,
    )


def baseline_document(keys: Iterable[FindingKey]) -> dict[str, Any]:
    """The baseline file's content for ``keys`` (sorted, so the file diffs well)."""
    entries = sorted(set(keys), key=lambda k: (k.rule, k.path or "", k.function or "", str(k)))
    return {
        "format": BASELINE_FORMAT,
        "version": 1,
        "findings": [_entry(k) for k in entries],
    }


def read_keys(path: Path) -> tuple[FindingKey, ...]:
    """The keys in a baseline file or in a JSON report (``advisor scan --format json``)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such baseline or report; check the path") from exc
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: not a JSON baseline or report ({exc}); recreate it") from exc
    if not isinstance(data, Mapping) or data.get("format") not in (
        BASELINE_FORMAT,
        "advisor-report",
    ):
        raise InputError(
            f"{path}: not an advisor baseline or JSON report; create one with "
            "`advisor baseline create FILE` or `advisor scan --format json`"
        )
    entries = data.get("findings", [])
    if not isinstance(entries, list):
        raise InputError(f"{path}: 'findings' must be a list; recreate the file")
    return tuple(_key(e, path) for e in entries)


def apply_baseline(
    result: ScanResult, known: Iterable[FindingKey], against: str, root: str | None = None
) -> ScanResult:
    """``result`` with only the findings not in ``known``; the triage counts the rest."""
    known_set = set(known)
    fresh: list[Finding] = []
    seen: set[FindingKey] = set()
    for finding in result.findings:
        key = finding_key(finding, root)
        seen.add(key)
        if key not in known_set:
            fresh.append(finding)
    gone = tuple(k for k in dict.fromkeys(known) if k not in seen)
    prior = result.triage or Triage()
    triage = replace(
        prior,
        baselined=len(result.findings) - len(fresh),
        gone=gone,
        against=against,
    )
    return replace(result, findings=tuple(fresh), triage=triage)


def _subject(finding: Finding) -> str | None:
    """What a finding with no query is about (a foreign key, an index), from its evidence."""
    for name in ("foreign_key", "index", "table"):
        value = finding.evidence.get(name)
        if isinstance(value, str):
            return f"{name}={value}"
    return None


def _entry(key: FindingKey) -> dict[str, Any]:
    return {
        "rule": key.rule,
        "fingerprint": key.fingerprint,
        "path": key.path,
        "function": key.function,
        "message": key.message,
    }


def _key(entry: object, path: Path) -> FindingKey:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("rule"), str):
        raise InputError(f"{path}: a finding without a rule code; recreate the file")
    # A report's finding carries its key (v1 reports before keys: its location stands in);
    # a baseline's entry is a key.
    key = entry.get("key")
    location = entry.get("location")
    where: Mapping[str, Any] = (
        key if isinstance(key, Mapping) else location if isinstance(location, Mapping) else entry
    )
    return FindingKey(
        rule=entry["rule"],
        fingerprint=_opt(where.get("fingerprint", entry.get("fingerprint"))),
        path=_opt(where.get("path")),
        function=_opt(where.get("function")),
        message=str(entry.get("message") or ""),
    )


def _opt(value: object) -> str | None:
    return value if isinstance(value, str) else None
