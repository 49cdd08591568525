"""advisor.report stage: renderers, each a pure function of the scan's JSON report.

``text`` (rich, for a terminal) reads the :class:`~advisor.model.ScanResult` directly;
every other format reads the JSON report (:func:`advisor.report.json.to_json`), the one
view of a scan they share, so that a saved report renders exactly like a fresh scan.
"""

from __future__ import annotations

import json as _json  # not "json": importing advisor.report.json rebinds that name here

from advisor.model import ScanResult

__all__ = ["DOCUMENT_FORMATS", "render_document"]

DOCUMENT_FORMATS = ("json", "markdown", "sarif", "github", "gitlab", "html")
"""Formats rendered from the JSON report, as ``advisor scan --format`` names them."""


def render_document(result: ScanResult, fmt: str, *, root: str | None = None) -> str:
    """``result`` as ``fmt`` (one of :data:`DOCUMENT_FORMATS`); paths relative to ``root``."""
    from advisor.report import github, gitlab, html, markdown, sarif
    from advisor.report.json import to_json

    report = to_json(result, root=root)
    if fmt == "json":
        return _json.dumps(report, indent=2) + "\n"
    if fmt == "sarif":
        return _json.dumps(sarif.render(report), indent=2) + "\n"
    if fmt == "gitlab":
        return _json.dumps(gitlab.render(report), indent=2) + "\n"
    if fmt == "markdown":
        return markdown.render(report)
    if fmt == "github":
        return github.render(report)
    if fmt == "html":
        return html.render(report)
    raise ValueError(f"unknown report format {fmt!r}; use one of {', '.join(DOCUMENT_FORMATS)}")
