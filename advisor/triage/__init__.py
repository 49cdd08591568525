"""advisor.triage stage: what a team has decided about findings, applied after the rules.

rules -> :mod:`advisor.triage.suppress` (config, ``-- advisor: ignore[...]`` in SQL,
``# advisor: ignore[...]`` at the Python call site) -> :mod:`advisor.triage.baseline`
(findings already known, or in an older report) -> report. Each step returns a new
:class:`~advisor.model.ScanResult` whose :attr:`~advisor.model.ScanResult.triage` says
what it took out.
"""
