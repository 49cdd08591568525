"""Random and mutated inputs never crash a scan, and good statements beside bad ones
are still scanned."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advisor.scan import ScanOptions, scan

GOOD = "SELECT id FROM orders WHERE user_id = $1"
FRAGMENTS = [
    "SELECT",
    "*",
    "FROM",
    "orders",
    "WHERE",
    "id",
    "=",
    "$1",
    "%s",
    "%(name)s",
    ":name",
    "?",
    "'",
    "''",
    '"',
    "$$",
    "$tag$",
    "--",
    "/*",
    "*/",
    ";",
    "(",
    ")",
    "IN",
    ",",
    "ANY",
    "\x00",
    "\n",
    "E'\\'",
    "::int",
    "LIMIT",
    "ORDER BY",
    "\\copy",
    "DESC",
    "\ufeff",
    "é",
]


def _scan_text(tmp: Path, name: str, data: bytes) -> None:
    path = tmp / name
    path.write_bytes(data)
    good = tmp / "good.sql"
    good.write_text(GOOD + ";\n")
    result = scan(ScanOptions(sources=(str(path), str(good))))
    assert any(shape.query.kind == "select" for shape in result.workload.shapes.values())


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=2000))
def test_random_bytes_as_sql(tmp_path: Path, data: bytes) -> None:
    _scan_text(tmp_path, "random.sql", data)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(parts=st.lists(st.sampled_from(FRAGMENTS), max_size=40))
def test_mutated_sql(tmp_path: Path, parts: list[str]) -> None:
    _scan_text(tmp_path, "mutated.sql", " ".join(parts).encode("utf-8", "surrogatepass"))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=st.lists(st.text(max_size=200), max_size=10), header=st.booleans())
def test_mutated_capture_lines(tmp_path: Path, lines: list[str], header: bool) -> None:
    head = '{"type": "header", "format": "advisor-capture", "version": 1}\n' if header else ""
    body = "\n".join(lines)
    _scan_text(tmp_path, "capture.jsonl", (head + body).encode("utf-8", "surrogatepass"))


def test_a_one_megabyte_statement_is_scanned(tmp_path: Path) -> None:
    values = ", ".join(str(i) for i in range(180_000))
    path = tmp_path / "big.sql"
    path.write_text(f"SELECT id FROM orders WHERE id IN ({values});\n{GOOD};\n")
    assert path.stat().st_size > 1_000_000
    result = scan(ScanOptions(sources=(str(path),)))
    assert len(result.workload.shapes) == 2
    assert not result.skipped


def test_hostile_inputs_one_at_a_time(tmp_path: Path) -> None:
    """NUL statement, BOMs, UTF-16, a 100k-deep capture line: each costs only itself."""
    sql = tmp_path / "nul.sql"
    sql.write_bytes(b"\xef\xbb\xbfSELECT 1;\nSELECT '\x00';\n\xef\xbb\xbf" + GOOD.encode() + b";")
    wide = tmp_path / "wide.sql"
    wide.write_bytes(f"{GOOD};\nSELECT 2;".encode("utf-16"))
    deep = "[" * 100_000 + "]" * 100_000
    capture = tmp_path / "deep.jsonl"
    header = '{"type": "header", "format": "advisor-capture", "version": 1}'
    capture.write_text(f'{header}\n{deep}\n{{"type": "trailer"}}\n')
    result = scan(ScanOptions(sources=(str(sql), str(wide), str(capture))))
    assert not any(s.input_rejected for s in result.skipped)
    reasons = {(s.source.path, s.source.line): s.reason for s in result.skipped}
    assert "NUL byte" in reasons[(str(sql), 2)]
    assert "nested too deeply" in reasons[(str(capture), 2)]
    assert result.workload.executions == 4  # GOOD and one SELECT n from each SQL file
