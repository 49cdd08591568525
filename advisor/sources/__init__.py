"""advisor.sources: how queries get in on the scan side.

Every source has one shape (:class:`Source`): a ``name`` for the report and ``read()``,
which yields :class:`~advisor.model.Execution` entries and
:class:`~advisor.model.Skipped` entries for what it could not read. Three exist:

* :class:`SqlFile`: the statements of a ``.sql`` file, or of stdin (``-``);
* :class:`CaptureFile`: a capture file (``.jsonl``, ``.ndjson``) that ``advisor capture``
  wrote;
* :class:`PgStatStatements`: the aggregate rows of a database's ``pg_stat_statements``.

:func:`open_source` picks the source of a command-line input and :func:`read_sources`
chains them all; :mod:`advisor.scan` only says which inputs to read. The readers are
imported when first used, so that a scan of SQL files never loads the capture decoder.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from advisor.errors import InputError
from advisor.model import CallSite, Execution, PoolUsage, Schema, Skipped, SourceKind

__all__ = [
    "CaptureExtras",
    "CaptureFile",
    "Item",
    "PgStatStatements",
    "Source",
    "SqlFile",
    "capture_extras",
    "capture_schema",
    "check_readable",
    "is_capture",
    "iter_source",
    "open_source",
    "read_sources",
]

Item = Execution | Skipped
"""What a source yields: an execution, or an input it could not read (with the reason)."""


class Source(Protocol):
    """One input of a scan: a name for the report and its executions, in input order."""

    @property
    def name(self) -> str:
        """How the report names the input (a path, ``-``, ``pg_stat_statements``)."""
        ...

    @property
    def kind(self) -> SourceKind:
        """Which kind of input it is; every execution it yields carries it."""
        ...

    def read(self) -> Iterator[Item]:
        """Every execution of the input, and a :class:`Skipped` for each unreadable part."""
        ...


@dataclass(frozen=True, slots=True)
class SqlFile:
    """The statements of a ``.sql`` file; ``text`` is stdin's content when ``path`` is ``-``."""

    path: str
    text: str | None = None
    kind: SourceKind = "sql_file"

    @property
    def name(self) -> str:
        """The file's path (``-`` for stdin)."""
        return self.path

    def read(self) -> Iterator[Item]:
        """One execution per statement (see :mod:`advisor.sources.sql_file`)."""
        from advisor.sources.sql_file import read_sql

        return read_sql(self.path, self.text)


@dataclass(frozen=True, slots=True)
class CaptureFile:
    """A capture file written by ``advisor capture`` (JSON Lines)."""

    path: str
    kind: SourceKind = "capture_file"

    @property
    def name(self) -> str:
        """The file's path."""
        return self.path

    def read(self) -> Iterator[Item]:
        """One execution per query line (see :mod:`advisor.sources.capture_file`)."""
        from advisor.sources.capture_file import read_capture

        return read_capture(self.path)


@dataclass(frozen=True, slots=True)
class PgStatStatements:
    """The ``pg_stat_statements`` rows of the database at ``dsn`` (read-only)."""

    dsn: str
    min_calls: int = 1
    min_total_ms: float = 0.0
    limit: int | None = None
    kind: SourceKind = "pg_stat_statements"

    @property
    def name(self) -> str:
        """``pg_stat_statements`` (the DSN may hold a password: it is never named)."""
        return "pg_stat_statements"

    def read(self) -> Iterator[Item]:
        """One aggregate execution per workload statement, slowest first."""
        from advisor.sources.pg_stat_statements import read_statements

        return read_statements(
            self.dsn, min_calls=self.min_calls, min_total_ms=self.min_total_ms, limit=self.limit
        )


def is_capture(path: str) -> bool:
    """True when ``path`` names a capture file (by its suffix), False for SQL."""
    return path.endswith((".jsonl", ".ndjson"))


def open_source(path: str, stdin_text: str | None = None) -> SqlFile | CaptureFile:
    """The source of a command-line input: ``-`` (stdin's SQL), a capture file or SQL."""
    if path == "-":
        return SqlFile("-", stdin_text or "")
    return CaptureFile(path) if is_capture(path) else SqlFile(path)


def iter_source(source: str, stdin_text: str | None = None) -> Iterator[Item]:
    """The executions of one input: a ``.sql`` file, a capture ``.jsonl`` file, or ``-``.

    An input that turns out unreadable part-way (a wrong capture header, an I/O error)
    ends as one rejected :class:`Skipped` entry naming it, and an empty one as a plain
    entry; the other inputs are still scanned.
    """
    read = 0
    try:
        for item in open_source(source, stdin_text).read():
            read += 1
            yield item
    except InputError as exc:
        reason = str(exc).removeprefix(f"{source}: ")
        yield Skipped(CallSite(source), reason, input_rejected=True)
        return
    if not read:
        yield Skipped(CallSite(source), "no statements found: the input is empty")


def read_sources(
    paths: Sequence[str],
    *,
    stdin_text: str | None = None,
    databases: Sequence[Source] = (),
) -> Iterable[Item]:
    """Every item of the input files (see :func:`iter_source`), then of ``databases``.

    A database source's errors (:class:`~advisor.errors.DatabaseError`) are not one
    input's problem but the scan's: they propagate.
    """
    streams: list[Iterable[Item]] = [iter_source(path, stdin_text) for path in paths]
    streams.extend(source.read() for source in databases)
    return itertools.chain.from_iterable(streams)


@dataclass(frozen=True, slots=True)
class CaptureExtras:
    """What a scan takes from its capture files besides their queries.

    ``schema``: the snapshot of the first capture that carries one; ``pools``: the
    connection pools of every capture, numbered on across files.
    """

    schema: Schema | None = None
    pools: tuple[PoolUsage, ...] = ()


def capture_extras(paths: Iterable[str]) -> CaptureExtras:
    """The schema snapshot and pools of the capture files among ``paths``, found with one
    pass over each file (the query lines are read by :func:`read_sources`).

    An unreadable file contributes nothing here: reading its queries reports it.
    """
    schema: Schema | None = None
    pools: list[PoolUsage] = []
    for path in paths:
        if path == "-" or not is_capture(path):
            continue
        from advisor.sources.capture_pools import read_header_and_pools

        try:
            header, found = read_header_and_pools(path)
        except (InputError, OSError):
            continue
        schema = header.schema if schema is None else schema
        pools.extend(replace(p, pool=len(pools) + i + 1) for i, p in enumerate(found))
    return CaptureExtras(schema, tuple(pools))


def capture_schema(paths: Iterable[str]) -> Schema | None:
    """The schema snapshot of the first capture file among ``paths`` that carries one."""
    return capture_extras(paths).schema


def check_readable(path: str) -> None:
    """Raise :class:`InputError` (what is wrong, what to do) unless ``path`` is a readable file."""
    if path == "-":
        return
    file = Path(path)
    if not file.exists():
        raise InputError(f"{path}: no such file; check the path")
    if file.is_dir():
        raise InputError(f"{path}: is a directory; give the .sql or .jsonl files inside it")
    try:
        with file.open("rb"):
            pass
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror}); check its permissions") from exc
