"""Driver placeholders -> $n, never inside literals or comments."""

from __future__ import annotations

import pytest

from advisor.parse import normalize_placeholders


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("select * from t where a = %s and b = %s", "select * from t where a = $1 and b = $2"),
        (
            "select * from t where a = %(x)s and b = %(y)s and c = %(x)s",
            "select * from t where a = $1 and b = $2 and c = $1",
        ),
        (
            "select * from t where a = :a and b = :b::int and c = :a",
            "select * from t where a = $1 and b = $2::int and c = $1",
        ),
        (
            "select * from t where a = ? and b in (?, ?)",
            "select * from t where a = $1 and b in ($2, $3)",
        ),
        ("select * from t limit ? offset ?", "select * from t limit $1 offset $2"),
        ("select a::text from t", "select a::text from t"),
        ("select * from t where a = ':x %s ?'", "select * from t where a = ':x %s ?'"),
        ("select 1 -- :x %s ?\n", "select 1 -- :x %s ?\n"),
        ("select $$ :x %s ? $$", "select $$ :x %s ? $$"),
        ('select ":x" from t', 'select ":x" from t'),
        (
            "select * from t where j ? 'k' and j ?| array['a']",
            "select * from t where j ? 'k' and j ?| array['a']",
        ),
        (
            "select * from t where a like 'x%%' and b = %s",
            "select * from t where a like 'x%' and b = $1",
        ),
        ("select a %% 2 from t", "select a % 2 from t"),
        ("select * from t where a = $1 and b = %s", "select * from t where a = $1 and b = $2"),
        ("select a[1:2] from t", "select a[1:2] from t"),
        ("select a[lo:hi] from t", "select a[lo:hi] from t"),
        (
            "select id from t where a in (__[POSTCOMPILE_a_1]) and b = :b",
            "select id from t where a in ($1) and b = $2",
        ),
    ],
)
def test_rewrite(sql: str, expected: str) -> None:
    assert normalize_placeholders(sql) == expected


def test_text_without_placeholders_is_returned_unchanged() -> None:
    sql = "select * from t where id = $1"
    assert normalize_placeholders(sql) is sql
