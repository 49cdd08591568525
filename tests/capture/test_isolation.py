"""advisor.capture runs inside the user's application: it imports nothing of the scan side."""

from __future__ import annotations

import re
from pathlib import Path

CAPTURE = Path(__file__).resolve().parents[2] / "advisor" / "capture"
SCAN_SIDE = ("parse", "rules", "suggest", "indexes", "sources", "verify", "report", "sandbox")
IMPORT = re.compile(
    rf"^\s*(?:import|from)\s+advisor\.(?:{'|'.join(SCAN_SIDE)}|scan|workload)\b", re.MULTILINE
)
# importlib.import_module("advisor.x") is an import too.
DYNAMIC = re.compile(rf"""import_module\(\s*["']advisor\.(?:{"|".join(SCAN_SIDE)})\b""")


def test_capture_imports_nothing_from_the_scan_side() -> None:
    offenders = sorted(
        f"{path.relative_to(CAPTURE.parent)}: {match.group(0).strip()}"
        for path in CAPTURE.rglob("*.py")
        for pattern in (IMPORT, DYNAMIC)
        for match in pattern.finditer(path.read_text(encoding="utf-8"))
    )
    assert offenders == []


def test_the_check_finds_a_scan_side_import() -> None:
    sample = "from advisor.sources.capture_file import read_capture\n"
    assert IMPORT.search(sample) is not None
    assert IMPORT.search("from advisor.capture.format import FORMAT\n") is None
