"""The capture file: writer limits, redaction, internal errors, and the reader's verdicts."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from sqlalchemy import Engine, create_engine, text

import advisor.capture as capture
from advisor.capture.encode import params_hash
from advisor.capture.jsonl import _from_dict, _from_line, _QueryLine, read_capture, read_header
from advisor.capture.merge import merge_parts
from advisor.capture.params import params_shape
from advisor.capture.writer import CaptureWriter
from advisor.errors import CaptureError, InputError
from advisor.model import CallSite, Execution, Skipped

from .conftest import url

Read = Callable[[Path], list[Execution]]


@pytest.fixture()
def engine(shop_dsn: str) -> Iterator[Engine]:
    eng = create_engine(url(shop_dsn, "psycopg"))
    try:
        yield eng
    finally:
        eng.dispose()


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_header_queries_trailer(engine: Engine, capture_file: Path) -> None:
    with capture.instrument(engine, output=str(capture_file)), engine.connect() as conn:
        conn.execute(text("SELECT :a, :b"), {"a": 1, "b": [1, 2, 3]})
    lines = _lines(capture_file)
    assert lines[0]["type"] == "header" and lines[0]["format"] == "advisor-capture"
    assert lines[0]["redacted"] is True
    assert lines[-1]["type"] == "trailer" and lines[-1]["events"] == 1
    assert lines[-1]["dropped"] == 0 and lines[-1]["internal_errors"] == 0
    query = next(line for line in lines if line["type"] == "query")
    assert query["params_shape"] == "(a=int, b=list[3])" and "params" not in query
    header = read_header(str(capture_file))
    assert header.server_version is not None and header.server_version >= 140000
    assert header.driver == "psycopg"
    assert header.schema is not None and header.schema.find("orders") is not None


def test_keep_params(engine: Engine, capture_file: Path) -> None:
    handle = capture.instrument(engine, output=str(capture_file), keep_params=True)
    with handle, engine.connect() as conn:
        conn.execute(text("SELECT :a"), {"a": "secret"})
    query = next(line for line in _lines(capture_file) if line["type"] == "query")
    assert query["params"] == {"a": "secret"}
    assert read_header(str(capture_file)).redacted is False


def test_params_hash_and_shape() -> None:
    assert params_hash((1, "a")) == params_hash((1, "a")) != params_hash((2, "a"))
    assert params_shape((1, None, b"x", [1, 2])) == "(int, null, bytes, list[2])"
    assert params_shape([(1,), (2,)], executemany=True) == "2*(int)"
    assert params_shape(None) is None


def test_full_buffer_drops_and_counts(engine: Engine, capture_file: Path) -> None:
    handle = capture.instrument(engine, output=str(capture_file), max_pending=0)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 41 + 1")).scalar_one() == 42
    handle.uninstrument()
    trailer = _lines(capture_file)[-1]
    assert trailer["dropped"] >= 1 and trailer["events"] == 0
    notes = [x for x in read_capture(str(capture_file)) if isinstance(x, Skipped)]
    assert len(notes) == 1 and "dropped" in notes[0].reason


def test_internal_errors_never_reach_the_app(engine: Engine, capture_file: Path) -> None:
    handle = capture.instrument(engine, output=str(capture_file))

    def broken(*args: object) -> None:
        raise RuntimeError("capture bug")

    handle.recorder.finder.find = broken  # type: ignore[method-assign]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 7")).scalar_one() == 7
    handle.uninstrument()
    assert _lines(capture_file)[-1]["internal_errors"] >= 1


def test_unwritable_output_raises_capture_error(tmp_path: Path) -> None:
    with pytest.raises(CaptureError) as raised:
        capture.instrument(output=str(tmp_path / "no" / "such" / "dir.jsonl"))
    assert "\n" not in str(raised.value) and "dir.jsonl" in str(raised.value)
    with pytest.raises(CaptureError):
        capture.instrument(output=str(tmp_path))  # a directory


def _write(path: Path, *lines: object) -> str:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return str(path)


HEADER = {"type": "header", "format": "advisor-capture", "version": 1}
QUERY = {
    "type": "query",
    "seq": 1,
    "sql": "SELECT 1",
    "scope": "s",
    "scope_kind": "test",
    "scope_id": 3,
    "orm": {
        "kind": "lazy",
        "parent": "A",
        "attribute": "b",
        "path": ["A", "b"],
        "direction": "ONETOMANY",
        "target": "B",
    },
    "call_site": {"path": "app.py", "line": 3, "function": "f"},
    "unknown_key": 1,
}
TRAILER = {"type": "trailer", "events": 1, "dropped": 0, "internal_errors": 0}


def test_reader_turns_lines_into_executions(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.jsonl", HEADER, QUERY, '{"type": "query", "sql": "SEL', TRAILER)
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
    found = list(read_capture(_write(tmp_path / "c.jsonl", HEADER, QUERY)))
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
    path = _write(tmp_path / "c.jsonl", first, QUERY)
    with pytest.raises(InputError, match=expected):
        list(read_capture(path))
    with pytest.raises(InputError, match=expected):
        read_header(path)


def test_reader_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        read_header(str(tmp_path / "absent.jsonl"))


def test_merge_renumbers_and_keeps_scopes_apart(tmp_path: Path) -> None:
    one = _write(tmp_path / "a.jsonl", HEADER, QUERY, {**QUERY, "seq": 2}, TRAILER)
    two = _write(tmp_path / "b.jsonl", HEADER, QUERY)  # a killed process: no trailer
    out = tmp_path / "merged.jsonl"
    assert merge_parts([one, two], str(out))["events"] == 3
    found = list(read_capture(str(out)))
    executions = [x for x in found if isinstance(x, Execution)]
    assert [e.seq for e in executions] == [1, 2, 3]
    assert len({e.scope_id for e in executions}) == 2  # same id in two processes: two scopes
    notes = [x for x in found if isinstance(x, Skipped)]
    assert len(notes) == 1 and "1 processes ended" in notes[0].reason


def test_instrument_rejects_what_is_not_an_engine(capture_file: Path) -> None:
    with pytest.raises(CaptureError, match="pass an Engine or AsyncEngine"):
        capture.instrument(object(), output=str(capture_file))
    assert read_header(str(capture_file)).version == 1  # the file was completed anyway


def test_reader_shares_equal_call_sites_and_keeps_odd_ones(tmp_path: Path) -> None:
    odd = {**QUERY, "call_site": {"path": "app.py", "line": 3.0, "function": "f"}}
    path = _write(tmp_path / "c.jsonl", HEADER, QUERY, {**QUERY, "seq": 2}, odd, TRAILER)
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
    path = _write(tmp_path / "c.jsonl", HEADER, odd, {**QUERY, "orm": {"kind": {}}}, TRAILER)
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
    monkeypatch.setattr("advisor.capture.jsonl._BLOCK", block)
    schema_line = {"type": "schema", "dialect": "postgresql", "server_version": 150004}
    last = json.dumps({"type": "schema", "driver": "psycopg"})
    path = _write(tmp_path / "c.jsonl", HEADER, QUERY, schema_line, QUERY, TRAILER)
    header = read_header(path)
    assert (header.dialect, header.server_version, header.driver) == ("postgresql", 150004, None)
    Path(path).write_text(Path(path).read_text() + last)  # a last line without newline
    assert read_header(path).driver == "psycopg"
    with Path(path).open("a") as out:
        out.write("\n" + json.dumps({"type": "schema", "driver": "x" * 300}))
    assert read_header(path).driver == "x" * 300


def test_read_header_schema_line_right_after_header(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.jsonl", HEADER, {"type": "schema", "dialect": "postgresql"})
    assert read_header(path).dialect == "postgresql"
    compact = '{"type":"schema","driver":"asyncpg"}'  # written without spaces, found too
    path = _write(tmp_path / "d.jsonl", HEADER, compact, QUERY, {"type": "schema", "dialect": "p"})
    assert (read_header(path).driver, read_header(path).dialect) == ("asyncpg", "p")
    only = tmp_path / "h.jsonl"
    only.write_text(json.dumps(HEADER))  # the header alone, without a newline
    assert read_header(str(only)).dialect is None


def test_close_gives_up_on_a_writer_thread_stuck_in_a_write(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    writer = CaptureWriter(str(path))
    writer.close_timeout = 0.2
    entered, release = threading.Event(), threading.Event()
    encode = writer.encoder.line

    def stuck(*args: Any) -> str:  # a write that hangs, as on a hung network disk
        entered.set()
        release.wait(10)
        return encode(*args)

    writer.encoder.line = stuck  # type: ignore[method-assign]
    writer.submit((None, "SELECT 1", None, False, 1.0, 1, None, None, None, None, False, None))
    writer._wake.set()
    assert entered.wait(10)
    started = time.monotonic()
    writer.close()  # neither hangs nor writes a trailer beside the stuck batch
    assert time.monotonic() - started < 5
    release.set()
    writer._thread.join(10)
    assert not writer._thread.is_alive()
    found = list(read_capture(str(path)))
    assert isinstance(found[0], Execution) and found[0].sql == "SELECT 1"
    assert isinstance(found[1], Skipped) and "truncated" in found[1].reason
