"""A small regex-driven SQL lexer: where the code is, and where it is not.

Splitting a ``.sql`` file and rewriting driver placeholders both need the same thing:
to know which parts of a text are SQL code and which are comments, string literals,
quoted identifiers or dollar-quoted bodies, where a ``;`` or a ``?`` means nothing.
:func:`regions` yields the non-code regions (and the ``;`` and psql ``\\`` commands that
matter to a splitter); everything between them is code.

It jumps from one interesting character to the next with one compiled pattern, so a
1 MB statement with few quotes costs a few regex searches, not a Python loop per char.
Unterminated strings and comments run to the end of the text: the grammar check that
follows reports them, the lexer never fails.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Literal

__all__ = ["Region", "RegionKind", "regions", "split_sql"]

RegionKind = Literal["comment", "string", "ident", "dollar", "semi", "meta"]
Region = tuple[RegionKind, int, int]

# A dollar-quote tag cannot start with a digit (``$1`` is a parameter), and a ``$`` or an
# ``E'`` glued to an identifier (``a$b``, ``typename'...'``) is not the start of one.
_START = re.compile(
    r"""
    (?P<line>--)
    |(?P<block>/\*)
    |(?P<estr>(?<![\w$])[eE]')
    |(?P<str>')
    |(?P<ident>")
    |(?P<dollar>(?<![\w$])\$(?:[^\W\d]\w*)?\$)
    |(?P<semi>;)
    |(?P<meta>\\)
    """,
    re.VERBOSE,
)
_STR_END = re.compile(r"[^']*(?:''[^']*)*'")
_ESTR_END = re.compile(r"[^'\\]*(?:(?:\\.|'')[^'\\]*)*'", re.DOTALL)
_IDENT_END = re.compile(r'[^"]*(?:""[^"]*)*"')
_BLOCK_TOKEN = re.compile(r"/\*|\*/")


def _block_end(text: str, pos: int) -> int:
    """End of a ``/* */`` comment starting before ``pos``; PostgreSQL nests them."""
    depth = 1
    while depth:
        match = _BLOCK_TOKEN.search(text, pos)
        if match is None:
            return len(text)
        depth += 1 if match.group() == "/*" else -1
        pos = match.end()
    return pos


def _line_end(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end < 0 else end


def _match_end(pattern: re.Pattern[str], text: str, pos: int) -> int:
    match = pattern.match(text, pos)
    return len(text) if match is None else match.end()


def regions(text: str, *, meta: bool = False) -> Iterator[Region]:
    """Yield ``(kind, start, end)`` for every non-code region of ``text``, in order.

    ``semi`` regions are the statement-separating semicolons. With ``meta=True`` a
    backslash outside a literal starts a psql meta-command running to the end of its
    line (``meta``); otherwise backslashes are code.

    >>> [k for k, _, _ in regions("select 'a;b' -- c\\n; select $$x$$")]
    ['string', 'comment', 'semi', 'dollar']
    """
    pos = 0
    search = _START.search
    while True:
        match = search(text, pos)
        if match is None:
            return
        kind = match.lastgroup
        start, after = match.span()
        if kind == "line":
            end = _line_end(text, after)
            yield "comment", start, end
        elif kind == "block":
            end = _block_end(text, after)
            yield "comment", start, end
        elif kind == "str":
            end = _match_end(_STR_END, text, after)
            yield "string", start, end
        elif kind == "estr":
            end = _match_end(_ESTR_END, text, after)
            yield "string", start, end
        elif kind == "ident":
            end = _match_end(_IDENT_END, text, after)
            yield "ident", start, end
        elif kind == "dollar":
            close = text.find(match.group(), after)
            end = len(text) if close < 0 else close + len(match.group())
            yield "dollar", start, end
        elif kind == "semi":
            end = after
            yield "semi", start, end
        elif meta:
            end = _line_end(text, after)
            yield "meta", start, end
        else:
            end = after
        pos = end


_NON_SPACE = re.compile(r"\S")


def split_sql(text: str) -> Iterator[tuple[int, str]]:
    """Yield ``(line, statement)`` for each non-empty statement of ``text``.

    ``line`` (1-based) is where the statement's first token starts; leading comments
    are not part of a statement, comments inside it are kept.
    """
    lines_done, line = 0, 1
    start: int | None = None  # first significant character of the current statement
    pieces: list[str] = []
    piece_from = pos = 0
    for kind, r_start, r_end in regions(text, meta=True):
        if start is None:
            first = _NON_SPACE.search(text, pos, r_start)
            if first is not None:
                start = piece_from = first.start()
            elif kind == "string" or kind == "ident" or kind == "dollar":
                start = piece_from = r_start
        ends = kind == "semi" or (kind == "meta" and text.startswith("\\g", r_start))
        if start is not None and (kind == "meta" or ends):
            pieces.append(text[piece_from:r_start])
            piece_from = r_end
        if ends and start is not None:
            statement = "".join(pieces).strip()
            if statement:
                line += text.count("\n", lines_done, start)
                lines_done = start
                yield line, statement
            start, pieces = None, []
        pos = r_end
    if start is None:
        first = _NON_SPACE.search(text, pos)
        if first is None:
            return
        start = piece_from = first.start()
    pieces.append(text[piece_from:])
    statement = "".join(pieces).strip()
    if statement:
        yield line + text.count("\n", lines_done, start), statement
