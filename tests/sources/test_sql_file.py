"""Splitting .sql files into statements: comments, literals, dollar bodies, psql lines."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from advisor.errors import InputError
from advisor.model import CallSite, Execution, Skipped
from advisor.parse.lexer import split_sql
from advisor.sources.sql_file import read_sql


def statements(text: str) -> list[str]:
    return [sql for _, sql in split_sql(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("select 1; select 2;", ["select 1", "select 2"]),
        ("select 1", ["select 1"]),
        ("select 'a;b'; select 2", ["select 'a;b'", "select 2"]),
        ("select 'it''s;'; select 2", ["select 'it''s;'", "select 2"]),
        ("select E'x\\';y'; select 2", ["select E'x\\';y'", "select 2"]),
        ('select "we;ird" from t; select 2', ['select "we;ird" from t', "select 2"]),
        ("select $$a;b$$; select 2", ["select $$a;b$$", "select 2"]),
        (
            "create function f() returns int as $fn$ select 1; $fn$ language sql; select 2",
            ["create function f() returns int as $fn$ select 1; $fn$ language sql", "select 2"],
        ),
        ("select 1 -- a;b\n; select 2", ["select 1 -- a;b", "select 2"]),
        ("select /* a /* b; */ c; */ 1; select 2", ["select /* a /* b; */ c; */ 1", "select 2"]),
        ("-- only a comment;\n/* and ; another */", []),
        (";;  ;", []),
        ("\\set x 1\nselect 1;\n\\connect db\nselect 2;", ["select 1", "select 2"]),
        ("select 1 \\g\nselect 2", ["select 1", "select 2"]),
        ("select a$b, $1 from t; select 2", ["select a$b, $1 from t", "select 2"]),
    ],
)
def test_split(text: str, expected: list[str]) -> None:
    assert statements(text) == expected


def test_lines_point_at_the_first_token() -> None:
    text = "-- header\n\nselect 1;\n/* c */ select\n 2;\n\n\nselect 'a\nb';  select 4"
    assert [line for line, _ in split_sql(text)] == [3, 4, 8, 9]


def test_read_sql_gives_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "q.sql"
    path.write_text("select 1;\nselect 2;\n", encoding="utf-8")
    items = list(read_sql(str(path)))
    assert items == [
        Execution(sql="select 1", source=CallSite(str(path), 1), source_kind="sql_file"),
        Execution(sql="select 2", source=CallSite(str(path), 2), source_kind="sql_file"),
    ]


def test_stdin_text_is_used_as_is() -> None:
    items = list(read_sql("-", "select 1"))
    assert items == [Execution(sql="select 1", source=CallSite("-", 1), source_kind="sql_file")]


def test_empty_file_gives_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.sql"
    path.write_bytes(b"")
    assert list(read_sql(str(path))) == []


@pytest.mark.parametrize("data", [b"select 1;\x00\x01\x02", b"\xff\xfe\xfa select"])
def test_binary_file_is_one_skipped(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "bin.sql"
    path.write_bytes(data)
    items = list(read_sql(str(path)))
    assert len(items) == 1
    assert isinstance(items[0], Skipped)
    assert str(path) in items[0].reason


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        list(read_sql(str(tmp_path / "nope.sql")))


def test_one_megabyte_statement_splits_fast() -> None:
    values = ", ".join(f"({i}, 'name {i}; with ''quotes''')" for i in range(30_000))
    big = f"insert into t (a, b) values {values}"
    assert len(big) > 1_000_000
    started = time.perf_counter()
    found = statements(f"select 1;\n{big};\nselect 2")
    elapsed = time.perf_counter() - started
    assert found == ["select 1", big, "select 2"]
    assert elapsed < 2.0
