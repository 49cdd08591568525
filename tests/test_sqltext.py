"""One-line SQL excerpts (advisor/sqltext.py)."""

from __future__ import annotations

from advisor.sqltext import one_line


def test_one_line_flattens_and_cuts_to_the_limit() -> None:
    sql = "SELECT id,\n       email\n  FROM users\n WHERE id = $1"
    assert one_line(sql, None) == "SELECT id, email FROM users WHERE id = $1"
    assert one_line(sql, 20) == "SELECT id, email ..."
    assert len(one_line("x " * 200)) == 120
    assert one_line(sql, 10, ellipsis="…") == "SELECT id…"
    assert one_line("short") == "short"
