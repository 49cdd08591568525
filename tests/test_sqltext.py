"""One-line SQL excerpts (advisor/sqltext.py)."""

from __future__ import annotations

from advisor.sqltext import one_line, quote_ident, quote_qualified


def test_one_line_flattens_and_cuts_to_the_limit() -> None:
    sql = "SELECT id,\n       email\n  FROM users\n WHERE id = $1"
    assert one_line(sql, None) == "SELECT id, email FROM users WHERE id = $1"
    assert one_line(sql, 20) == "SELECT id, email ..."
    assert len(one_line("x " * 200)) == 120
    assert one_line(sql, 10, ellipsis="…") == "SELECT id…"
    assert one_line("short") == "short"


def test_quoting() -> None:
    assert quote_ident('we"ird') == '"we""ird"'
    assert quote_qualified("public.Order") == '"public"."Order"'


def test_minimal_quoting_only_when_needed() -> None:
    assert quote_ident("deleted_at", minimal=True) == "deleted_at"
    assert quote_ident("user", minimal=True) == '"user"'
    assert quote_ident("Order", minimal=True) == '"Order"'
    assert quote_ident("two words", minimal=True) == '"two words"'
