"""Rewrite driver placeholders to PostgreSQL's ``$n`` so that the grammar accepts them.

Captured SQL carries the driver's paramstyle: psycopg's ``%s`` and ``%(name)s``,
SQLAlchemy's ``:name`` (``text()``), sqlite-style ``?``. PostgreSQL's parser (and so
pglast) accepts only ``$n``. Placeholders are rewritten in code only, never inside
strings, comments, quoted identifiers or dollar bodies; ``::type`` casts stay.

Choices:

- The same name gets the same number; positional placeholders number in order, after
  the highest ``$n`` already in the text.
- ``%%`` becomes ``%``. When the statement uses psycopg placeholders, also inside
  string literals: psycopg substitutes the whole text, so ``LIKE 'a%%'`` meant ``'a%'``.
- SQLAlchemy's not-yet-expanded ``IN (__[POSTCOMPILE_name])`` (``str()`` of a
  statement) becomes one ``$n``: its list length is unknown, so it reads as per-row.
- ``?`` is a placeholder only when no psycopg placeholder is present and it stands
  where a value can (after an operator, ``(``, ``,`` or a keyword such as ``LIMIT``):
  ``data ? 'key'``, ``?|`` and ``?&`` are jsonb operators and stay.
"""

from __future__ import annotations

import re

from advisor.parse.lexer import regions

__all__ = ["normalize_placeholders", "positional_params"]

_TOKEN = re.compile(
    r"""
    ::
    |%\((?P<pyname>[^)]*)\)s
    |%s
    |%%
    |__\[POSTCOMPILE_(?P<post>\w+)\]
    |(?<![:\w$])\$(?P<num>\d+)
    |(?<![:\w])\:(?P<name>[^\W\d]\w*)
    |\?
    """,
    re.VERBOSE,
)
_WORD_BEFORE = re.compile(r"(\w+)\s*$")
_VALUE_KEYWORDS = frozenset(
    (
        *("SELECT", "WHERE", "AND", "OR", "NOT", "IN", "IS", "LIKE", "ILIKE", "BETWEEN"),
        *("THEN", "ELSE", "WHEN", "CASE", "ON", "SET", "VALUES", "BY", "LIMIT", "OFFSET"),
        *("FETCH", "RETURNING", "DISTINCT", "HAVING", "ANY", "ALL", "SOME", "ARRAY", "AS"),
        *("INTERVAL", "TO", "FROM"),
    )
)
_VALUE_BEFORE = frozenset("(,=<>!+-*/|&%[^~")
_Match = tuple[int, int, str, str | None]


def normalize_placeholders(sql: str) -> str:
    """Return ``sql`` with ``%s``, ``%(name)s``, ``:name`` and ``?`` rewritten to ``$n``.

    >>> normalize_placeholders("SELECT * FROM t WHERE a = %(a)s AND b = %(a)s::int")
    'SELECT * FROM t WHERE a = $1 AND b = $1::int'
    """
    return _rewrite(sql)[0]


def positional_params(sql: str, params: object) -> tuple[object, ...] | None:
    """Captured parameter values in ``$n`` order: a list as it is, an object keyed by
    placeholder name (``%(name)s``, ``:name``) by the numbers the names got; None when
    the values do not fit the placeholders.

    >>> positional_params("SELECT 1 WHERE a = %(a)s AND b > %(b)s", {"b": 2, "a": 1})
    (1, 2)
    """
    if isinstance(params, (list, tuple)):
        return tuple(params)
    if not isinstance(params, dict):
        return None
    numbers = _rewrite(sql)[1]
    if not numbers or set(numbers) - set(params):
        return None
    ordered = sorted(numbers.items(), key=lambda item: item[1])
    return tuple(params[name] for name, _ in ordered)


def _rewrite(sql: str) -> tuple[str, dict[str, int]]:
    """The rewritten text, and the number each placeholder name got."""
    if "%" not in sql and ":" not in sql and "?" not in sql and "__[" not in sql:
        return sql, {}
    code, strings = _scan(sql)
    pyformat = any(kind == "pyname" or kind == "pos" for _, _, kind, _ in code)
    highest = max((int(v) for _, _, k, v in code if k == "num" and v), default=0)
    numbers: dict[str, int] = {}
    edits: list[tuple[int, int, str]] = []
    for start, end, kind, value in code:
        if kind == "num" or kind == "cast":
            continue
        if kind == "percent":
            edits.append((start, end, "%"))
            continue
        if kind == "qmark" and (pyformat or not _value_position(sql, start, end)):
            continue
        if kind == "qmark" or kind == "pos" or value is None:
            highest += 1
            number = highest
        elif value in numbers:
            number = numbers[value]
        else:
            highest += 1
            number = numbers[value] = highest
        edits.append((start, end, f"${number}"))
    if pyformat:
        edits.extend((start, end, sql[start:end].replace("%%", "%")) for start, end in strings)
        edits.sort()
    out: list[str] = []
    pos = 0
    for start, end, replacement in edits:
        out.append(sql[pos:start])
        out.append(replacement)
        pos = end
    out.append(sql[pos:])
    return "".join(out), numbers


def _scan(sql: str) -> tuple[list[_Match], list[tuple[int, int]]]:
    """Placeholder-like tokens in code, and the spans of string literals."""
    code: list[_Match] = []
    strings: list[tuple[int, int]] = []
    pos = 0
    for kind, start, end in regions(sql):
        _code_tokens(sql, pos, start, code)
        if kind == "semi":
            continue
        if kind == "string" and "%%" in sql[start:end]:
            strings.append((start, end))
        pos = end
    _code_tokens(sql, pos, len(sql), code)
    return code, strings


def _code_tokens(sql: str, start: int, end: int, into: list[_Match]) -> None:
    for match in _TOKEN.finditer(sql, start, end):
        text = match.group()
        group = match.lastgroup
        if text == "::":
            kind, value = "cast", None
        elif group == "pyname":
            kind, value = "pyname", match.group("pyname")
        elif group == "post":
            kind, value = "name", "__post_" + match.group("post")
        elif text == "%s":
            kind, value = "pos", None
        elif text == "%%":
            kind, value = "percent", None
        elif group == "num":
            kind, value = "num", match.group("num")
        elif group == "name":
            kind, value = "name", match.group("name")
        else:
            kind, value = "qmark", None
        into.append((match.start(), match.end(), kind, value))


def _value_position(sql: str, start: int, end: int) -> bool:
    """True when the ``?`` at ``start`` stands where a value can (not a jsonb operator)."""
    if end < len(sql) and sql[end] in "|&":
        return False
    i = start - 1
    while i >= 0 and sql[i].isspace():
        i -= 1
    if i < 0 or sql[i] in _VALUE_BEFORE:
        return True
    if not (sql[i].isalnum() or sql[i] == "_"):
        return False
    word = _WORD_BEFORE.search(sql, max(0, i - 40), i + 1)
    return word is not None and word.group(1).upper() in _VALUE_KEYWORDS
