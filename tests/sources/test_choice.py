"""One interface for every source, and the one place that picks a file's reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor.errors import InputError
from advisor.model import Execution, Skipped
from advisor.sources import (
    CaptureFile,
    PgStatStatements,
    SqlFile,
    capture_schema,
    check_readable,
    open_source,
    read_sources,
)

from .lines import HEADER, QUERY, TRAILER, write_lines


def test_a_file_is_read_by_its_suffix() -> None:
    assert open_source("q.sql") == SqlFile("q.sql")
    assert open_source("c.jsonl") == CaptureFile("c.jsonl")
    assert open_source("c.ndjson") == CaptureFile("c.ndjson")
    assert open_source("-", "select 1") == SqlFile("-", "select 1")
    assert PgStatStatements("postgresql://u:secret@h/db").name == "pg_stat_statements"


def test_every_source_marks_its_executions_with_its_kind(tmp_path: Path) -> None:
    sql = tmp_path / "q.sql"
    sql.write_text("select 1; select 2", encoding="utf-8")
    capture = write_lines(tmp_path / "c.jsonl", HEADER, QUERY, TRAILER)
    items = list(read_sources([str(sql), capture, "-"], stdin_text="select 3"))
    kinds = [(i.source.path, i.source_kind) for i in items if isinstance(i, Execution)]
    assert kinds == [
        (str(sql), "sql_file"),
        (str(sql), "sql_file"),
        (capture, "capture_file"),
        ("-", "sql_file"),
    ]
    assert [s.kind for s in (SqlFile("q"), CaptureFile("c"), PgStatStatements("d"))] == [
        "sql_file",
        "capture_file",
        "pg_stat_statements",
    ]


def test_a_bad_input_is_one_rejected_entry_and_the_others_are_read(tmp_path: Path) -> None:
    bad = write_lines(tmp_path / "bad.jsonl", QUERY)  # no header
    empty = tmp_path / "empty.sql"
    empty.write_text("", encoding="utf-8")
    good = tmp_path / "good.sql"
    good.write_text("select 1", encoding="utf-8")
    items = list(read_sources([bad, str(empty), str(good)]))
    first, second, third = items
    assert isinstance(first, Skipped) and first.input_rejected
    assert "not an advisor capture file" in first.reason
    assert isinstance(second, Skipped) and not second.input_rejected
    assert isinstance(third, Execution) and third.sql == "select 1"


def test_capture_schema_takes_the_first_capture_with_a_snapshot(tmp_path: Path) -> None:
    schema = {"tables": [], "server_version": 150004}
    no_header = write_lines(tmp_path / "a.jsonl", QUERY)
    without = write_lines(tmp_path / "b.jsonl", HEADER, QUERY)
    with_one = write_lines(tmp_path / "c.jsonl", {**HEADER, "schema": schema}, QUERY)
    assert capture_schema(["q.sql", no_header, without]) is None
    found = capture_schema(["q.sql", no_header, without, with_one])
    assert found is not None and found.server_version == 150004


def test_check_readable_names_the_problem(tmp_path: Path) -> None:
    check_readable("-")
    with pytest.raises(InputError, match="no such file"):
        check_readable(str(tmp_path / "absent.sql"))
    with pytest.raises(InputError, match="is a directory"):
        check_readable(str(tmp_path))
