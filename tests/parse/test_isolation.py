"""pglast (GPL) is imported by advisor.parse.pg only."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "advisor"
IMPORT = re.compile(r"^\s*(?:import|from)\s+pglast\b", re.MULTILINE)


def test_only_parse_pg_imports_pglast() -> None:
    importers = sorted(
        str(path.relative_to(PACKAGE.parent))
        for path in PACKAGE.rglob("*.py")
        if IMPORT.search(path.read_text(encoding="utf-8"))
    )
    assert importers == ["advisor/parse/pg.py"]
