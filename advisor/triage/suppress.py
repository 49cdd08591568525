"""Suppressions: findings a team has decided to live with, and where each was decided.

Three kinds, applied in this order to the findings the rules produced:

* **config**: ``[[tool.advisor.suppress]]`` tables in ``pyproject.toml``, each matching by
  any of ``rule`` (code or name), ``table``, ``fingerprint`` (a prefix is enough) and
  ``path`` (a glob over the repo-relative location); every key given must match.
  ``reason`` is free text. (``ignore = [...]`` stays what it was: rules not to run.)
* **SQL**: ``-- advisor: ignore[ADV002]`` on the statement's first line or in the comment
  lines right above it, in a ``.sql`` input.
* **Python**: ``# advisor: ignore[ADV001]`` on the line that issues the query (or in the
  comment lines right above it), read from the finding's location when it is a file.

Brackets hold codes or names, comma-separated. A suppression that hides nothing is listed
in :attr:`~advisor.model.Triage.unused`: for config entries always; for inline markers in
the ``.sql`` inputs and in the source files read for a finding's location.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from advisor.errors import ConfigError
from advisor.model import Finding, ScanResult, Triage
from advisor.triage.baseline import repo_path

__all__ = ["Suppression", "apply_suppressions", "parse_suppressions"]

_KEYS = ("rule", "table", "fingerprint", "path", "reason")
_MARKER = re.compile(r"(?:--|#)\s*advisor:\s*ignore\[(?P<codes>[^\]]*)\]", re.IGNORECASE)
_COMMENT_LINE = re.compile(r"^\s*(?:--|#)")


@dataclass(frozen=True, slots=True)
class Suppression:
    """One ``[[tool.advisor.suppress]]`` entry; None keys match anything."""

    rule: str | None = None
    table: str | None = None
    fingerprint: str | None = None
    path: str | None = None
    reason: str | None = None

    def __str__(self) -> str:
        keys = [f"{k}={getattr(self, k)!r}" for k in _KEYS[:4] if getattr(self, k) is not None]
        return f"[[tool.advisor.suppress]] {', '.join(keys)}"

    def matches(self, finding: Finding, path: str | None) -> bool:
        """Whether every key this entry gives matches ``finding`` (located at ``path``)."""
        rule = self.rule
        if rule is not None and rule.upper() != finding.rule and rule.lower() != finding.name:
            return False
        if self.table is not None and not _same_table(self.table, _table(finding)):
            return False
        if self.fingerprint is not None and not (finding.fingerprint or "").startswith(
            self.fingerprint
        ):
            return False
        return self.path is None or (path is not None and fnmatch.fnmatch(path, self.path))


def parse_suppressions(entries: object, source: str) -> tuple[Suppression, ...]:
    """Validate ``[[tool.advisor.suppress]]`` tables read from ``source``."""
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
        raise ConfigError(f"{source}: suppress must be [[tool.advisor.suppress]] tables")
    out: list[Suppression] = []
    for entry in entries:
        unknown = sorted(set(entry) - set(_KEYS))
        if unknown:
            raise ConfigError(
                f"{source}: unknown [[tool.advisor.suppress]] key {unknown[0]!r}; "
                f"valid keys: {', '.join(_KEYS)}"
            )
        if not all(isinstance(v, str) for v in entry.values()):
            raise ConfigError(f"{source}: [[tool.advisor.suppress]] values must be strings")
        if not set(entry) - {"reason"}:
            raise ConfigError(
                f"{source}: a [[tool.advisor.suppress]] entry must give rule, table, "
                "fingerprint or path"
            )
        out.append(Suppression(**{str(k): str(v) for k, v in entry.items()}))
    return tuple(out)


@dataclass(slots=True)
class _Marker:
    path: str
    line: int
    codes: tuple[str, ...]
    used: bool = False

    def covers(self, finding: Finding) -> bool:
        return any(c.upper() == finding.rule or c.lower() == finding.name for c in self.codes)


def apply_suppressions(
    result: ScanResult, suppressions: Iterable[Suppression] = (), root: str | None = None
) -> ScanResult:
    """``result`` without the suppressed findings; its triage lists them and the unused."""
    entries = tuple(suppressions)
    used: set[Suppression] = set()
    files = _SourceFiles()
    for source in result.sources:
        if source.endswith(".sql"):
            files.markers(source)
    kept: list[Finding] = []
    hidden: list[tuple[Finding, str]] = []
    for finding in result.findings:
        path = repo_path(finding.location.path, root) if finding.location else None
        entry = next((s for s in entries if s.matches(finding, path)), None)
        if entry is not None:
            used.add(entry)
            hidden.append((finding, str(entry)))
            continue
        marker = files.marker_for(finding)
        if marker is not None:
            marker.used = True
            hidden.append((finding, f"{marker.path}:{marker.line}: advisor: ignore"))
            continue
        kept.append(finding)
    unused = [f"{s} suppresses nothing" for s in entries if s not in used]
    unused += [
        f"{m.path}:{m.line}: advisor: ignore[{', '.join(m.codes)}] suppresses nothing"
        for m in files.all_markers()
        if not m.used
    ]
    prior = result.triage or Triage()
    triage = replace(prior, suppressed=prior.suppressed + tuple(hidden), unused=tuple(unused))
    return replace(result, findings=tuple(kept), triage=triage)


class _SourceFiles:
    """Inline markers by file, each file read at most once (unreadable files have none)."""

    def __init__(self) -> None:
        self._files: dict[str, tuple[list[str], dict[int, _Marker]]] = {}

    def markers(self, path: str) -> tuple[list[str], dict[int, _Marker]]:
        if path not in self._files:
            try:
                lines = Path(path).read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError):
                lines = []
            found: dict[int, _Marker] = {}
            for number, text in enumerate(lines, start=1):
                match = _MARKER.search(text)
                if match:
                    codes = tuple(c.strip() for c in match["codes"].split(",") if c.strip())
                    found[number] = _Marker(path, number, codes)
            self._files[path] = (lines, found)
        return self._files[path]

    def marker_for(self, finding: Finding) -> _Marker | None:
        site = finding.location
        if site is None or site.line is None or site.path == "-":
            return None
        lines, found = self.markers(site.path)
        line = site.line
        candidates = [line]
        # Comment lines right above the statement (or call) belong to it.
        above = line - 1
        while above >= 1 and above <= len(lines) and _COMMENT_LINE.match(lines[above - 1]):
            candidates.append(above)
            above -= 1
        for number in candidates:
            marker = found.get(number)
            if marker is not None and marker.covers(finding):
                return marker
        return None

    def all_markers(self) -> list[_Marker]:
        return [m for _, found in self._files.values() for m in found.values()]


def _table(finding: Finding) -> str | None:
    table = finding.evidence.get("table")
    if isinstance(table, str):
        return table
    return finding.suggestion.table if finding.suggestion is not None else None


def _same_table(wanted: str, actual: str | None) -> bool:
    if actual is None:
        return False
    wanted = wanted.replace('"', "")
    return actual == wanted or actual.rsplit(".", 1)[-1] == wanted
