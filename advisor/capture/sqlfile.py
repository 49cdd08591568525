"""Statements from a ``.sql`` file (or stdin): one :class:`Execution` per statement.

The file is split on ``;`` outside comments (``--``, nested ``/* */``), string literals
(``'...'`` with ``''``, ``E'...'`` with backslash escapes), quoted identifiers and
dollar-quoted bodies (``$$...$$``, ``$tag$...$tag$``). psql meta-commands (``\\set``,
``\\connect``, ...) are dropped; ``\\g`` ends a statement as psql does. Each statement's
source is the file and the line where its first token starts.

A file that is not text (NUL bytes, not UTF-8) yields one :class:`Skipped` saying so;
an empty file yields nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from advisor.errors import InputError
from advisor.model import CallSite, Execution, Skipped
from advisor.parse.lexer import regions

__all__ = ["read_sql", "split_sql"]

_NON_SPACE = re.compile(r"\S")


def read_sql(path: str, text: str | None = None) -> Iterator[Execution | Skipped]:
    """Yield one :class:`Execution` per statement of the file ``path``.

    ``text``, when given, is the content (stdin's, with ``path`` ``"-"``) and the file is
    not read. Raises :class:`InputError` when the file cannot be read.
    """
    content = _load(path) if text is None else _check_text(path, text)
    if isinstance(content, Skipped):
        yield content
        return
    for line, statement in split_sql(content):
        yield Execution(sql=statement, source=CallSite(path, line))


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


def _load(path: str) -> str | Skipped:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}; check the path") from exc
    if b"\x00" in data:
        return _binary(path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return Skipped(
            CallSite(path),
            f"{path} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "save it as UTF-8",
            input_rejected=True,
        )


def _check_text(path: str, text: str) -> str | Skipped:
    return _binary(path) if "\x00" in text else text.removeprefix("\ufeff")


def _binary(path: str) -> Skipped:
    return Skipped(
        CallSite(path),
        f"{path} is not a SQL text file (it contains NUL bytes); give a .sql file",
        input_rejected=True,
    )
