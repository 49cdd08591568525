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

from collections.abc import Iterator
from pathlib import Path

from advisor.errors import InputError
from advisor.model import CallSite, Execution, Skipped
from advisor.parse.lexer import split_sql

__all__ = ["read_sql"]


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
        yield Execution(sql=statement, source=CallSite(path, line), source_kind="sql_file")


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
