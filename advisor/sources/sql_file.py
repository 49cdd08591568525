"""Statements from a ``.sql`` file (or stdin): one :class:`Execution` per statement.

The file is split on ``;`` outside comments (``--``, nested ``/* */``), string literals
(``'...'`` with ``''``, ``E'...'`` with backslash escapes), quoted identifiers and
dollar-quoted bodies (``$$...$$``, ``$tag$...$tag$``). psql meta-commands (``\\set``,
``\\connect``, ...) are dropped; ``\\g`` ends a statement as psql does. Each statement's
source is the file and the line where its first token starts.

A file that is not text (binary, not UTF-8) yields one :class:`Skipped` saying so; a
UTF-16 file is decoded, a UTF-8 BOM ignored; an empty file yields nothing.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path

from advisor.errors import InputError
from advisor.model import CallSite, Execution, Skipped
from advisor.parse.lexer import split_sql

__all__ = ["read_sql"]


def read_sql(path: str, text: str | None = None) -> Iterator[Execution | Skipped]:
    """Yield one :class:`Execution` per statement of the file ``path``.

    ``text``, when given, is the content (stdin's, with ``path`` ``"-"``) and the file is
    not read. A statement holding a NUL byte (which PostgreSQL cannot take) is one
    :class:`Skipped`; the statements around it are read. Raises :class:`InputError`
    when the file cannot be read.
    """
    content = _load(path) if text is None else text.removeprefix(_BOM)
    if isinstance(content, Skipped):
        yield content
        return
    for line, statement in split_sql(content):
        # A BOM inside the text: files concatenated with `cat`, each with its own.
        statement = statement.lstrip(_BOM).lstrip()
        if not statement:
            continue
        if "\x00" in statement:
            yield Skipped(
                CallSite(path, line),
                "the statement contains a NUL byte, which PostgreSQL does not accept; remove it",
            )
            continue
        yield Execution(sql=statement, source=CallSite(path, line), source_kind="sql_file")


def _load(path: str) -> str | Skipped:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}; check the path") from exc
    codec = _utf16(data) if b"\x00" in data else None
    if codec is not None:
        try:
            return data.decode(codec).removeprefix(_BOM)
        except UnicodeDecodeError:
            return _rejected(path, "looks like UTF-16 text but does not decode; save it as UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if b"\x00" in data:
            return _rejected(
                path, "is not a SQL text file (it contains NUL bytes); give a .sql file"
            )
        return _rejected(
            path,
            f"is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "save it as UTF-8",
        )


_BOM = "\ufeff"


def _utf16(data: bytes) -> str | None:
    """The UTF-16 codec of ``data`` (by its BOM, else by where its NUL bytes are), or None.

    SQL is mostly ASCII: in UTF-16 every other byte of it is NUL, which no UTF-8 text
    and few binary files look like.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if len(data) < 4 or len(data) % 2:
        return None
    odd, even = data[1::2].count(0) / (len(data) / 2), data[0::2].count(0) / (len(data) / 2)
    if odd >= 0.9 and even < 0.5:
        return "utf-16-le"
    if even >= 0.9 and odd < 0.5:
        return "utf-16-be"
    return None


def _rejected(path: str, problem: str) -> Skipped:
    return Skipped(CallSite(path), f"{path} {problem}", input_rejected=True)
