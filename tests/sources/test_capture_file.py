"""The capture-file reader's verdicts: lines, headers, odd fields, schema lines."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from advisor.errors import InputError
from advisor.model import CallSite, Execution, Skipped
from advisor.sources.capture_file import (
    _from_dict,
    _from_line,
    _QueryLine,
    read_capture,
    read_header,
)

from .lines import HEADER, QUERY, TRAILER, write_lines


def test_reader_turns_lines_into_executions(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "c.jsonl", HEADER, QUERY, '{"type": "query", "sql": "SEL', TRAILER
    )
    found = list(read_capture(path))
    assert len(found) == 2
    first, second = found
    assert isinstance(first, Execution) and first.orm is not None
    assert (first.scope, first.scope_kind, first.scope_id, first.orm.path) == (
        "s",
        "test",
        3,
        ("A", "b"),
    )
    assert first.call_site is not None and str(first.call_site) == "app.py:3 in f()"
    assert first.source.path == path and first.source.line == 2
    assert isinstance(second, Skipped) and second.source.line == 3


def test_reader_reports_missing_trailer(tmp_path: Path) -> None:
    found = list(read_capture(write_lines(tmp_path / "c.jsonl", HEADER, QUERY)))
    assert isinstance(found[0], Execution)
    assert isinstance(found[1], Skipped) and "truncated" in found[1].reason


@pytest.mark.parametrize(
    ("first", "expected"),
    [
        ('{"type": "query", "sql": "SELECT 1"}', "not an advisor capture file"),
        ("garbage", "not an advisor capture file"),
        ({**HEADER, "version": 99}, "newer than this advisor reads"),
        ({**HEADER, "format": "other"}, "not an advisor capture file"),
    ],
)
def test_reader_refuses_bad_headers(tmp_path: Path, first: object, expected: str) -> None:
    path = write_lines(tmp_path / "c.jsonl", first, QUERY)
    with pytest.raises(InputError, match=expected):
        list(read_capture(path))
    with pytest.raises(InputError, match=expected):
        read_header(path)


def test_reader_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        read_header(str(tmp_path / "absent.jsonl"))


def test_reader_shares_equal_call_sites_and_keeps_odd_ones(tmp_path: Path) -> None:
    odd = {**QUERY, "call_site": {"path": "app.py", "line": 3.0, "function": "f"}}
    path = write_lines(tmp_path / "c.jsonl", HEADER, QUERY, {**QUERY, "seq": 2}, odd, TRAILER)
    first, second, third = list(read_capture(path))
    assert isinstance(first, Execution) and isinstance(second, Execution)
    assert first.call_site is second.call_site  # one object per distinct call site
    assert isinstance(third, Execution) and third.call_site is not None
    assert (third.call_site.path, third.call_site.line) == ("app.py", None)


def test_reader_skips_blank_lines_and_flags_non_objects(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text(
        "\n".join([json.dumps(HEADER), json.dumps(QUERY), "   ", "[1, 2]", json.dumps(TRAILER)])
        + "\n"
    )
    found = list(read_capture(str(path)))
    assert [type(item).__name__ for item in found] == ["Execution", "Skipped"]
    assert isinstance(found[1], Skipped) and found[1].source.line == 4
    assert found[1].reason == "not a JSON object"


def test_reader_ignores_wrongly_typed_fields(tmp_path: Path) -> None:
    odd_orm = {"kind": "lazy", "path": 5, "direction": ["ONETOMANY"], "parent": [1]}
    odd = {
        **QUERY,
        "scope_kind": ["test"],
        "rows": True,
        "duration_ms": "1",
        "orm": odd_orm,
        "params_hash": ["not", "hashable"],
        "executemany": None,
    }
    path = write_lines(tmp_path / "c.jsonl", HEADER, odd, {**QUERY, "orm": {"kind": {}}}, TRAILER)
    first, second = list(read_capture(path))
    assert isinstance(first, Execution) and first.orm is not None
    assert (first.scope_kind, first.rows, first.total_ms) == (None, None, None)
    assert (first.orm.path, first.orm.direction, first.orm.parent) == ((), None, None)
    assert (first.params_hash, first.executemany, first.scope) == (None, False, "s")
    assert isinstance(second, Execution) and second.orm is None


FULL_QUERY = {
    **QUERY,
    "params_hash": "9f2c1e0a",
    "params_shape": "(int)",
    "duration_ms": 0.5,
    "rows": 3,
    "executemany": True,
    "origin": {"path": "app.py", "line": 1, "function": "g"},
    "error": "ValueError: x",
}


@pytest.mark.parametrize("line", [QUERY, FULL_QUERY, {"type": "query", "sql": "SELECT 2"}])
def test_typed_and_tolerant_readers_agree(line: dict[str, object]) -> None:
    """A well-typed line reads the same through the typed fast path and the tolerant one."""
    source = CallSite("c.jsonl", 2)
    typed = _from_line(msgspec.json.decode(json.dumps(line), type=_QueryLine), source, {})
    assert typed == _from_dict(line, source, {})


def test_reader_replaces_invalid_utf8_and_ignores_untyped_lines(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    body = json.dumps({**QUERY, "sql": "SELECT 'XX'"}).encode().replace(b"XX", b"\xff\xfe")
    untyped = json.dumps({"sql": "SELECT 3"}).encode()  # no "type": not a query line
    path.write_bytes(b"\n".join([json.dumps(HEADER).encode(), body, untyped, b""]))
    found = list(read_capture(str(path)))
    assert isinstance(found[0], Execution) and found[0].sql == "SELECT '\ufffd\ufffd'"
    assert [type(x).__name__ for x in found] == ["Execution", "Skipped"]  # + no trailer


@pytest.mark.parametrize("block", [5, 64, 1 << 22])  # schema lines across read blocks
def test_read_header_takes_later_schema_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    monkeypatch.setattr("advisor.sources.capture_file._BLOCK", block)
    schema_line = {"type": "schema", "dialect": "postgresql", "server_version": 150004}
    last = json.dumps({"type": "schema", "driver": "psycopg"})
    path = write_lines(tmp_path / "c.jsonl", HEADER, QUERY, schema_line, QUERY, TRAILER)
    header = read_header(path)
    assert (header.dialect, header.server_version, header.driver) == ("postgresql", 150004, None)
    Path(path).write_text(Path(path).read_text() + last)  # a last line without newline
    assert read_header(path).driver == "psycopg"
    with Path(path).open("a") as out:
        out.write("\n" + json.dumps({"type": "schema", "driver": "x" * 300}))
    assert read_header(path).driver == "x" * 300


def test_read_header_schema_line_right_after_header(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "c.jsonl", HEADER, {"type": "schema", "dialect": "postgresql"})
    assert read_header(path).dialect == "postgresql"
    compact = '{"type":"schema","driver":"asyncpg"}'  # written without spaces, found too
    path = write_lines(
        tmp_path / "d.jsonl", HEADER, compact, QUERY, {"type": "schema", "dialect": "p"}
    )
    assert (read_header(path).driver, read_header(path).dialect) == ("asyncpg", "p")
    only = tmp_path / "h.jsonl"
    only.write_text(json.dumps(HEADER))  # the header alone, without a newline
    assert read_header(str(only)).dialect is None
