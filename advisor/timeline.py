"""What a workload shows across scopes and over time (read by ADV008 and ADV010).

:class:`Timeline` is fed by :func:`advisor.workload.build_workload` with the executions
that matter here only: statements that blocked an event loop and reads whose result was
hashed at capture. Writes are not fed one by one: a capture can hold hundreds of
thousands, so the workload keeps each write shape's positions (:class:`ShapeWrites`) and
:meth:`Timeline.finish` spreads them over the shapes' tables in bulk. Memory is bounded:
at most ``_SERIES_CAP`` read series (shape and parameters) of at most ``_READS_CAP`` reads
each, ``SEQS_CAP`` write positions per table (and per shape) and ``_SCOPES_CAP`` scopes
per blocking site; what is past a cap is counted, not kept.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from advisor.model import (
    BlockingSite,
    CallSite,
    Execution,
    ParsedQuery,
    ReadEvent,
    RepeatedRead,
    ScopeKind,
    TableWrites,
)

__all__ = ["SEQS_CAP", "ShapeWrites", "Timeline"]

SEQS_CAP = 100_000
_SERIES_CAP = 10_000
_READS_CAP = 1_000
_SCOPES_CAP = 100_000
_SITES_CAP = 5
_WRITES = frozenset({"insert", "update", "delete"})


@dataclass(slots=True)
class _Blocking:
    scope_kind: ScopeKind | None
    key: str
    executions: int = 0
    per_scope: dict[int | None, float] = field(default_factory=dict)


@dataclass(slots=True)
class _Series:
    call_sites: list[CallSite] = field(default_factory=list)
    reads: list[ReadEvent] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ShapeWrites:
    """Every execution of one write shape, for :meth:`Timeline.finish`.

    ``first`` and the first element of each ``sites`` pair are positions in the workload's
    stream (any increasing count): they order tables and call sites as first seen.
    ``seqs`` are the executions' capture positions, in input order (the first
    :data:`SEQS_CAP`).
    """

    query: ParsedQuery
    count: int
    first: int
    seqs: Sequence[int]
    sites: Sequence[tuple[int, CallSite]]


_SiteKey = tuple[str | None, int | None, str | None]


@dataclass(slots=True)
class Timeline:
    """Collects blocking statements, hashed reads and writes; :meth:`finish` freezes them."""

    blocking: dict[tuple[str, _SiteKey], _Blocking] = field(default_factory=dict)
    sites: dict[_SiteKey, CallSite | None] = field(default_factory=dict)
    series: dict[tuple[str, str | None], _Series] = field(default_factory=dict)

    def add(self, query: ParsedQuery, key: str, item: Execution) -> None:
        """Record one execution that blocked a loop or has a result hash."""
        if item.blocks_loop and item.scope is not None:
            self._blocked(key, item)
        if item.result_hash is not None and query.kind == "select" and item.error is None:
            self._read(key, item, item.result_hash)

    def _blocked(self, key: str, item: Execution) -> None:
        site = item.call_site
        site_key = (None, None, None) if site is None else (site.path, site.line, site.function)
        self.sites.setdefault(site_key, site)
        assert item.scope is not None
        found = self.blocking.get((item.scope, site_key))
        if found is None:
            found = self.blocking[(item.scope, site_key)] = _Blocking(item.scope_kind, key)
        found.executions += item.calls
        per_scope = found.per_scope
        if item.scope_id in per_scope or len(per_scope) < _SCOPES_CAP:
            per_scope[item.scope_id] = per_scope.get(item.scope_id, 0.0) + (item.total_ms or 0.0)

    def _read(self, key: str, item: Execution, result: str) -> None:
        series_key = (key, item.params_hash)
        found = self.series.get(series_key)
        if found is None:
            if len(self.series) >= _SERIES_CAP:
                return
            found = self.series[series_key] = _Series()
        if len(found.reads) < _READS_CAP:
            found.reads.append(ReadEvent(item.seq, item.at, item.scope_id, result, item.total_ms))
        _note_site(found.call_sites, item.call_site)

    def finish(
        self, writes: Iterable[ShapeWrites] = ()
    ) -> tuple[tuple[BlockingSite, ...], tuple[RepeatedRead, ...], dict[str, TableWrites]]:
        """The frozen ``(blocking, reads, writes)`` of :class:`~advisor.model.Workload`;
        ``writes`` are the write shapes (see :func:`table_writes`)."""
        blocking = tuple(
            BlockingSite(
                scope=scope,
                scope_kind=b.scope_kind,
                call_site=self.sites[site_key],
                key=b.key,
                executions=b.executions,
                per_scope_ms=tuple(b.per_scope.values()),
            )
            for (scope, site_key), b in self.blocking.items()
        )
        reads = tuple(
            RepeatedRead(key, params, tuple(s.call_sites), tuple(s.reads))
            for (key, params), s in self.series.items()
            if len(s.reads) > 1
        )
        return blocking, reads, table_writes(writes)


def table_writes(shapes: Iterable[ShapeWrites]) -> dict[str, TableWrites]:
    """Per table, the writes of every shape that writes it, tables in first-write order.

    A table named twice by one statement counts each of its executions twice. Past
    :data:`SEQS_CAP` positions a table keeps the lowest: in one capture file, where ``seq``
    grows line by line, those of its first writes.
    """
    by_table: dict[str, list[tuple[int, int, ShapeWrites]]] = {}
    for shape in shapes:
        if shape.query.kind in _WRITES:
            for place, ref in enumerate(shape.query.tables):
                by_table.setdefault(ref.table, []).append((shape.first, place, shape))
    ordered = sorted(by_table.items(), key=lambda item: min(entry[:2] for entry in item[1]))
    return {table: _table(table, [entry[2] for entry in entries]) for table, entries in ordered}


def _table(table: str, shapes: list[ShapeWrites]) -> TableWrites:
    seqs = sorted(seq for shape in shapes for seq in shape.seqs)
    sites: list[CallSite] = []
    for _, site in sorted((pair for shape in shapes for pair in shape.sites), key=_position):
        _note_site(sites, site)
    count = sum(shape.count for shape in shapes)
    return TableWrites(table, count, array("q", seqs[:SEQS_CAP]), tuple(sites))


def _position(pair: tuple[int, CallSite]) -> int:
    return pair[0]


def _note_site(sites: list[CallSite], site: CallSite | None) -> None:
    if site is not None and len(sites) < _SITES_CAP and site not in sites:
        sites.append(site)
