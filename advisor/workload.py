"""Executions -> :class:`~advisor.model.Workload`: one shape per query key, N+1 groups.

:func:`build_workload` streams its input once. Memory grows with the number of
distinct shapes, not of executions:

- Each distinct statement is parsed once. Exact texts are cached first (the cache is
  cleared past 100,000 entries); a new text whose string and number literals are the
  only difference from a known one (``WHERE id = 7`` / ``WHERE id = 8``) reuses that
  one's result; otherwise PostgreSQL's grammar gives its key, and sqlglot reads the
  structure only for the first text of a key.
- A statement that does not parse yields one :class:`Skipped` per distinct failing
  statement (literals aside), with PostgreSQL's reason and the first place seen.
- Scope groups (one per scope, key and call site) live while their scope is open; when
  more than 2,048 scopes are open the least recently seen one is closed, and only
  groups of at least ``min_group_count`` executions are kept (a single execution is
  never a repeat). A scope seen again after being closed starts new groups.

Choices, documented because rules depend on them:

- ``Workload.executions`` sums ``calls`` of every execution read (parsed or not).
- Executions with ``error`` set count in their shape, but not in scope groups (a
  failing statement retried is not an N+1 loop); neither do transaction-control
  statements (SAVEPOINT/RELEASE pairs repeat inside any ORM unit of work).
- ``distinct_params`` counts distinct ``params_hash`` values (capped at 64). An
  execution without one is identified by its SQL text instead: texts with inlined
  literal values differ when their values differ; the same text without a hash counts once.
"""

from __future__ import annotations

import gc
import re
from array import array
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from advisor.errors import ParseError
from advisor.model import (
    CallSite,
    Execution,
    OrmLoad,
    ParsedQuery,
    QueryShape,
    Schema,
    ScopeGroup,
    ScopeKind,
    Skipped,
    Workload,
)
from advisor.parse import complete, prepare
from advisor.parse.lexer import is_dml
from advisor.parse.placeholders import positional_params
from advisor.timeline import SEQS_CAP, ShapeWrites, Timeline

__all__ = ["PARAMS_CAP", "build_workload"]

PARAMS_CAP = 64
# Captured parameter sets kept per shape: verification binds the first; a few more
# show whether the values vary. A shape whose values keep repeating stops being sampled
# after _SAMPLE_TRIES executions: each try maps the values onto $n (a few us).
_SAMPLES_CAP = 3
_SAMPLE_TRIES = 64
_TEXT_CACHE_LIMIT = 100_000
_OPEN_SCOPES = 2_048
_SITES_CAP = 5
# Caller chains kept per group while each execution has its own: a test body calling
# the same thing from this many lines at most.
_CHAINS_CAP = 8
_GC_YOUNG = 50_000

# Literal-insensitive cache key, used only where literals cannot hide anything else: in
# DML (a utility statement's literals can be part of its fingerprint: WITH (fillfactor
# = 70), COMMENT ... IS 'x'), and without comments, quoted identifiers, backslashes or
# dollar quotes.
_UNSAFE = re.compile(r"""--|/\*|"|\\|\$(?!\d)""")
_LITERAL = re.compile(r"(?=['0-9])(?:'[^']*(?:''[^']*)*'|(?<![\w$.])\d+(?:\.\d+)?(?![\w.]))")


@dataclass(slots=True)
class _Shape:
    query: ParsedQuery
    key: str
    grouped: bool  # counted in scope groups (not transaction control)
    writes: bool  # its capture positions are kept for the write timeline
    first: int  # the builder's execution count when the shape was first seen
    calls: int = 0
    total_ms: float | None = None
    rows: int | None = None
    sources: list[CallSite] = field(default_factory=list)
    call_sites: list[CallSite] = field(default_factory=list)
    sites_at: list[int] = field(default_factory=list)  # when each call site was first seen
    pgss: bool = False
    samples: list[tuple[object, ...]] = field(default_factory=list)
    sample_tries: int = _SAMPLE_TRIES
    # A write shape's capture positions: an array holds them as machine integers (8
    # bytes each, where a list keeps a 28-byte int object alive per write).
    seqs: array[int] = field(default_factory=lambda: array("q"))


@dataclass(slots=True)
class _Group:
    scope_kind: ScopeKind | None
    first_seq: int | None
    call_site: CallSite | None
    count: int = 0
    params: set[object] = field(default_factory=set)
    total_ms: float | None = None
    orm: OrmLoad | None = None
    origin: CallSite | None = None
    executemany: int = 0
    rows: int | None = None
    callers: tuple[CallSite, ...] = ()
    # Each execution's callers while no two executions shared them (None once two did):
    # a test calling the app from several of its lines, not a loop (see ScopeGroup.chains).
    chains: list[tuple[CallSite, ...]] | None = None


@dataclass(slots=True)
class _Failed:
    """A cached parse failure: its executions are skipped without parsing again."""


_Entry = _Shape | _Failed
_GroupKey = tuple[str, str | None, int | None, str | None]  # key and call site
_ScopeKey = tuple[str, int | None]
_Groups = dict[_GroupKey, _Group | Execution]  # a lone execution is kept until it repeats


@dataclass(slots=True)
class _Builder:
    schema: Schema
    min_group_count: int
    shapes: dict[str, _Shape] = field(default_factory=dict)
    texts: dict[str, _Entry] = field(default_factory=dict)
    literal_keys: dict[str, _Entry] = field(default_factory=dict)
    # Keyed by (name, id): concurrent requests share a scope name, never a scope id.
    scopes: OrderedDict[_ScopeKey, _Groups] = field(default_factory=OrderedDict)
    groups: list[ScopeGroup] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    executions: int = 0
    last_scope: _ScopeKey | None = None
    last_groups: _Groups = field(default_factory=dict)
    timeline: Timeline = field(default_factory=Timeline)

    def add(self, item: Execution) -> None:
        # Runs once per execution (millions in a large capture): the counting is
        # inlined and each attribute read once.
        calls = item.calls
        self.executions += calls
        entry = self.texts.get(item.sql)
        if entry is None:
            entry = self._resolve(item)
            if len(self.texts) >= _TEXT_CACHE_LIMIT:
                self.texts.clear()
            self.texts[item.sql] = entry
        if isinstance(entry, _Failed):
            return
        shape = entry
        shape.calls += calls
        total_ms = item.total_ms
        if total_ms is not None:
            shape.total_ms = (shape.total_ms or 0.0) + total_ms
        rows = item.rows
        if rows is not None:
            shape.rows = (shape.rows or 0) + rows
        source = item.source
        sources = shape.sources
        if len(sources) < _SITES_CAP and source not in sources:
            sources.append(source)
        if not shape.pgss and item.source_kind == "pg_stat_statements":
            shape.pgss = True
        site = item.call_site
        if site is not None:
            call_sites = shape.call_sites
            # `in` tries identity first: the capture reader shares equal call sites.
            if len(call_sites) < _SITES_CAP and site not in call_sites:
                call_sites.append(site)
                shape.sites_at.append(self.executions)
        if item.params is not None and shape.sample_tries:
            _sample(shape, item)
        if item.scope is not None and item.error is None and shape.grouped:
            self._group(shape.key, item)
        if shape.writes:
            # A list append, not a timeline call per write: writes can be a third of a
            # capture, and the timeline spreads them over the tables once, in finish().
            seq = item.seq
            if seq is not None and len(shape.seqs) < SEQS_CAP:
                shape.seqs.append(seq)
        if item.blocks_loop or item.result_hash is not None:
            self.timeline.add(shape.query, shape.key, item)

    def _resolve(self, item: Execution) -> _Entry:
        sql = item.sql
        literal_key = _literal_key(sql)
        entry = self.literal_keys.get(literal_key)
        if entry is not None:
            return entry
        try:
            prepared = prepare(sql)
        except ParseError as exc:
            entry = _Failed()
            self.skipped.append(Skipped(item.source, str(exc), sql))
        else:
            shape = self.shapes.get(prepared.key)
            if shape is None:
                query = complete(prepared, self.schema)
                writes = query.kind in ("insert", "update", "delete")
                shape = _Shape(query, prepared.key, not query.is_savepoint, writes, self.executions)
                self.shapes[prepared.key] = shape
            entry = shape
        if len(self.literal_keys) >= _TEXT_CACHE_LIMIT:
            self.literal_keys.clear()
        self.literal_keys[literal_key] = entry
        return entry

    def _group(self, key: str, item: Execution) -> None:
        assert item.scope is not None
        scope = (item.scope, item.scope_id)
        # Executions of a scope mostly come in a run: the last scope's groups are at hand.
        groups = self.last_groups if scope == self.last_scope else self._open(scope)
        site = item.call_site
        # The call site's fields rather than the CallSite: a tuple of str and int hashes
        # in C, a dataclass in Python (this runs once per execution).
        if site is None:
            group_key: _GroupKey = (key, None, None, None)
        else:
            group_key = (key, site.path, site.line, site.function)
        found = groups.setdefault(group_key, item)
        if found is item:
            return  # one execution is kept as is until it repeats
        if type(found) is not _Group:
            assert isinstance(found, Execution)
            found = groups[group_key] = _new_group(found)
        _add(found, item)

    def _open(self, scope: _ScopeKey) -> _Groups:
        opened = self.scopes.get(scope)
        if opened is None:
            if len(self.scopes) >= _OPEN_SCOPES:
                self._close(*self.scopes.popitem(last=False))
            opened = self.scopes[scope] = {}
        else:
            self.scopes.move_to_end(scope)
        self.last_scope, self.last_groups = scope, opened
        return opened

    def _close(self, scope_key: _ScopeKey, groups: _Groups) -> None:
        scope = scope_key[0]
        for group_key, found in groups.items():
            if isinstance(found, Execution):
                if found.calls < self.min_group_count:
                    continue
                found = _new_group(found)
            g = found
            if g.count < self.min_group_count:
                continue
            self.groups.append(
                ScopeGroup(
                    scope=scope,
                    scope_kind=g.scope_kind,
                    key=group_key[0],
                    call_site=g.call_site,
                    origin=g.origin,
                    count=g.count,
                    distinct_params=len(g.params),
                    total_ms=g.total_ms,
                    first_seq=g.first_seq,
                    orm=g.orm,
                    executemany=g.executemany,
                    rows=g.rows,
                    batched=self.shapes[group_key[0]].query.batched,
                    callers=g.callers,
                    chains=tuple(g.chains) if g.chains and len(g.chains) == g.count else (),
                )
            )

    def finish(self) -> Workload:
        self.last_scope = None
        while self.scopes:
            self._close(*self.scopes.popitem(last=False))
        shapes = {key: _freeze(shape) for key, shape in self.shapes.items()}
        groups = sorted(self.groups, key=lambda g: (g.first_seq is None, g.first_seq or 0))
        blocking, reads, writes = self.timeline.finish(
            ShapeWrites(
                s.query, s.calls, s.first, s.seqs, tuple(zip(s.sites_at, s.call_sites, strict=True))
            )
            for s in self.shapes.values()
            if s.writes
        )
        return Workload(
            shapes, tuple(groups), tuple(self.skipped), self.executions, blocking, reads, writes
        )


def build_workload(
    items: Iterable[Execution | Skipped], schema: Schema, *, min_group_count: int = 2
) -> Workload:
    """Aggregate executions into shapes and scope groups; see the module docstring.

    ``Skipped`` items from the reader are passed through to ``Workload.skipped``.
    Never raises for a statement: a bad one becomes a :class:`Skipped`.
    """
    builder = _Builder(schema, min_group_count)
    with _fewer_collections():
        for item in items:
            if isinstance(item, Skipped):
                builder.skipped.append(item)
            else:
                builder.add(item)
        return builder.finish()


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Raise the cyclic GC's young-generation threshold while the stream is read.

    Each execution allocates a few short-lived objects, and with the default threshold
    (700) the collector runs thousands of times over the long-lived parsed queries: a
    third of the time of a million-execution scan. The trees sqlglot builds are cyclic,
    so the collector stays on (less often); the old thresholds are restored on exit.
    """
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], _GC_YOUNG), *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


def _new_group(first: Execution) -> _Group:
    group = _Group(first.scope_kind, first.seq, first.call_site)
    group.callers = first.callers
    if first.callers:
        group.chains = []
    _add(group, first)
    return group


def _add(group: _Group, item: Execution) -> None:
    group.count += item.calls
    params = group.params
    if len(params) < PARAMS_CAP:
        params_hash = item.params_hash
        params.add(params_hash if params_hash is not None else (item.sql,))
    total_ms = item.total_ms
    if total_ms is not None:
        group.total_ms = (group.total_ms or 0.0) + total_ms
    rows = item.rows
    if rows is not None:
        group.rows = (group.rows or 0) + rows
    if item.executemany:
        group.executemany += 1
    if group.orm is None:
        group.orm = item.orm
    if group.origin is None:
        group.origin = item.origin
    if group.first_seq is None:
        group.first_seq = item.seq
    chains = group.chains
    if chains is not None:
        # A loop repeats its callers at the second execution: one comparison, then none.
        if item.callers in chains or len(chains) >= _CHAINS_CAP:
            group.chains = None
        else:
            chains.append(item.callers)


def _sample(shape: _Shape, item: Execution) -> None:
    """Keep one captured parameter set of ``item`` (a bulk executemany has none)."""
    if item.executemany or item.error is not None:
        return
    shape.sample_tries -= 1
    values = positional_params(item.sql, item.params)
    if values is None:
        return
    frozen = tuple(_frozen(v) for v in values)  # QueryShape stays hashable
    if frozen not in shape.samples:
        shape.samples.append(frozen)
        if len(shape.samples) == _SAMPLES_CAP:
            shape.sample_tries = 0


def _frozen(value: object) -> object:
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


def _freeze(shape: _Shape) -> QueryShape:
    return QueryShape(
        query=shape.query,
        calls=shape.calls,
        total_ms=shape.total_ms,
        rows=shape.rows,
        sources=tuple(shape.sources),
        call_sites=tuple(shape.call_sites),
        from_pg_stat_statements=shape.pgss,
        samples=tuple(shape.samples),
    )


def _literal_key(sql: str) -> str:
    """``sql`` with string and number literals blanked, when that is safe; else ``sql``."""
    if not is_dml(sql) or _UNSAFE.search(sql) is not None:
        return sql
    return "\x00" + _LITERAL.sub("?", sql)
