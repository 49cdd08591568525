"""advisor.triage stage: what a team has decided about findings, applied after the rules.

rules -> :mod:`advisor.triage.suppress` (config, ``-- advisor: ignore[...]`` in SQL,
``# advisor: ignore[...]`` at the Python call site) -> :mod:`advisor.triage.baseline`
(findings already known, or in an older report) -> report. Each step returns a new
:class:`~advisor.model.ScanResult` whose :attr:`~advisor.model.ScanResult.triage` says
what it took out.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from advisor.model import ScanResult
from advisor.triage.baseline import apply_baseline, read_keys
from advisor.triage.suppress import Suppression, apply_suppressions

__all__ = ["triage"]


def triage(
    result: ScanResult,
    suppressions: Iterable[Suppression] = (),
    *,
    baseline: Path | None = None,
    diff_against: Path | None = None,
    root: str | None = None,
) -> ScanResult:
    """Suppressions, then the baseline, then an older report (each optional).

    ``root`` is the repo root that paths in keys and globs are relative to.
    """
    result = apply_suppressions(result, suppressions, root)
    for against in (baseline, diff_against):
        if against is not None:
            result = apply_baseline(result, read_keys(against), str(against), root)
    return result
