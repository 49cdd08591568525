"""The capture file: writer limits, redaction, internal errors, and the reader's verdicts."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

import advisor.capture as capture
from advisor.capture.encode import params_hash
from advisor.capture.merge import merge_parts
from advisor.capture.params import params_shape
from advisor.capture.writer import CaptureWriter
from advisor.errors import CaptureError
from advisor.model import Execution, Skipped
from advisor.sources.capture_file import read_capture, read_header

from ..sources.lines import HEADER, QUERY, TRAILER, write_lines
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

    handle.recorder.finder.trace = broken  # type: ignore[method-assign,assignment]
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


def test_merge_renumbers_and_keeps_scopes_apart(tmp_path: Path) -> None:
    one = write_lines(tmp_path / "a.jsonl", HEADER, QUERY, {**QUERY, "seq": 2}, TRAILER)
    two = write_lines(tmp_path / "b.jsonl", HEADER, QUERY)  # a killed process: no trailer
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


def test_close_gives_up_on_a_writer_thread_stuck_in_awrite_lines(tmp_path: Path) -> None:
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
    writer.submit(
        (None, "SELECT 1", None, False, 1.0, 1, None, None, None, None, False, None, None)
    )
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
