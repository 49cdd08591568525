"""The index set for the whole workload: Extend (Schlosser et al. 2019), with reasons.

The per-query candidates (ADV003's suggestions) are good one at a time, but together they
overlap: ``(user_id)``, ``(user_id, status)`` and ``(user_id, created_at DESC)`` are three
indexes where one serves all three queries. :func:`choose` grows a set greedily:

1. Start from nothing. The moves of a round are: add a candidate, add the leading column
   of a candidate alone, or extend a chosen index by one key column taken from the
   candidates on its table (same partial WHERE), as long as the longer index still leads
   like one that serves a candidate: equality keys first, then range or sort keys. The
   planner's estimate of ``(o_orderdate, o_orderstatus)`` for ``o_orderstatus = $1 AND
   o_orderdate BETWEEN ...`` was close to ``(o_orderstatus, o_orderdate)``'s; measured,
   it read the date range and filtered the status, 2.90 ms against 0.03 ms.
2. Each move is costed by the oracle (planner estimates with the indexes present). The
   workload's cost is ``sum(weight x cost(config) / cost(no index))`` over its queries, a
   query's weight being ``calls x mean time`` (``total_ms``), or its calls when it has no
   timing (1 ms a call).
3. The gain of a move is measured against the workload's REDUCIBLE cost: what all the
   candidates built together take off it (each query costed once with every candidate
   present, its floor; reducible = ``sum(weight x (1 - floor / cost(no index)))``). Against
   the whole cost, queries no index can help (TPC-H's Q1 scans all of lineitem whatever is
   built) diluted every gain: a useful lookup index read as 0.1 % of the workload, under
   the threshold, while it saved most of what any index could save there.
4. The move with the best gain per byte of index is taken (an extension costs only its new
   column's bytes, which is how a chosen index is preferred to a new one; on a tie the
   extension wins), provided its gain reaches the threshold (``min_gain`` of the reducible
   cost at the start, fixed for the run; for an extension, of what is still reducible) and
   it fits the budget (``max_indexes``, ``max_bytes``). An index a chosen one already
   serves saves about nothing more, so it stays out.
5. Writes raise the bar: an index on a table that takes INSERT/UPDATE/DELETE traffic costs
   every write. A table's write share ``w`` (from ``pg_stat_user_tables`` when the schema
   has it, else the captured DML on the table) makes the needed gain
   ``min_gain x (1 + write_penalty x w)``, and the evidence says which numbers set it.
6. It stops when no move qualifies.

Every candidate not chosen gets a reason (served by an index already chosen, savings below
the threshold, a write-heavy table, a budget), and every query that gets no index a
:class:`~advisor.model.Note` that says why (dexter's model). Pure: all I/O is the oracle's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

from advisor.errors import ConfigError
from advisor.indexes.candidates import Candidate, plan_query
from advisor.indexes.coverage import serving_order
from advisor.indexes.ddl import make_suggestion
from advisor.model import IndexColumn, IndexSuggestion, Note, Schema, Workload
from advisor.suggest.select import index_identity, merge_identical

__all__ = [
    "Choice",
    "ChoiceBudget",
    "NotChosen",
    "Oracle",
    "Step",
    "WriteLoad",
    "choose",
    "parse_size",
    "write_load",
]

NOTE_RULE = "ADV003"
_DML = frozenset({"insert", "update", "delete"})
# A query counts as served by an index when that index cut its estimated cost by this much.
_SERVED = 0.01
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


class Oracle(Protocol):
    """Estimated costs under a configuration (``advisor.verify.whatif.WhatIf`` is one)."""

    def costs(self, config: Sequence[IndexSuggestion]) -> Mapping[str, float]:
        """Estimated total cost per query key with ``config``'s indexes present."""
        ...

    def size_bytes(self, suggestion: IndexSuggestion) -> int:
        """The index's (estimated) size in bytes."""
        ...


@dataclass(frozen=True, slots=True)
class ChoiceBudget:
    """Where the choice stops.

    ``min_gain`` is the least share of the workload's reducible cost (what all the candidates
    together would save) a move must save (0.3 %, the threshold Kossmann et al. used for
    Extend, there of the whole cost); ``write_penalty`` scales it up on tables
    that take writes (a table that only takes writes needs ``1 + write_penalty`` times the
    gain); ``write_heavy`` is the write share from which the evidence calls a table
    write-heavy.
    """

    max_indexes: int | None = None
    max_bytes: int | None = None
    min_gain: float = 0.003
    write_penalty: float = 9.0
    write_heavy: float = 0.5


@dataclass(frozen=True, slots=True)
class NotChosen:
    """A candidate left out of the set, and why."""

    suggestion: IndexSuggestion
    reason: str


@dataclass(frozen=True, slots=True)
class Step:
    """One round of the choice: the index added (or the chosen one it extends)."""

    action: Literal["add", "extend"]
    index: IndexSuggestion
    gain: float
    size_bytes: int
    replaces: IndexSuggestion | None = None


@dataclass(frozen=True, slots=True)
class Choice:
    """The chosen set (each with the queries it serves), what was left out and why.

    ``cost_before``/``cost_after`` are the workload's weighted cost (the sum of the
    weights without any new index), so ``1 - cost_after / cost_before`` is the estimated
    share saved; ``cost_floor`` is that cost with every candidate built, so
    ``cost_before - cost_floor`` is the reducible cost the gains are measured against.
    ``method`` says how the costs were had ("hypopg", "real indexes").
    """

    chosen: tuple[IndexSuggestion, ...]
    not_chosen: tuple[NotChosen, ...] = ()
    notes: tuple[Note, ...] = ()
    steps: tuple[Step, ...] = ()
    cost_before: float = 0.0
    cost_after: float = 0.0
    cost_floor: float = 0.0
    method: str | None = None


@dataclass(frozen=True, slots=True)
class WriteLoad:
    """A table's write share (0..1) and the numbers it comes from."""

    share: float
    evidence: str


def parse_size(text: str) -> int:
    """Bytes for ``"50MB"``, ``"1.5G"``, ``"200k"``, ``"1024"`` (binary units).

    >>> parse_size("50MB")
    52428800
    """
    found = _SIZE.match(text)
    if found is None:
        raise ConfigError(f"index size {text!r}: not a size; write it like 50MB, 1.5GB or 200kB")
    unit = (found[2] or "").lower().replace("i", "").rstrip("b") or ""
    return int(float(found[1]) * _UNITS[unit])


def write_load(table: str, workload: Workload, schema: Schema) -> WriteLoad:
    """How much of ``table``'s traffic is writes: ``pg_stat_user_tables`` (rows written
    against scans) when the schema is a live database's and has activity for it, else the
    captured statements. A schema built from DDL or metadata, or a capture's snapshot of a
    test database, counts its own loading as writes: those statistics say nothing."""
    found = schema.tables.get(table)
    stats = found.stats if found is not None and schema.source == "dsn" else None
    if stats is not None:
        # Rows against rows: every row written maintains each index once; every row read
        # is what an index can spare. (Scans against rows made a bulk-loaded table look
        # write-heavy: 400,000 rows inserted against a few dozen scans.)
        writes = stats.n_tup_ins + stats.n_tup_upd + stats.n_tup_del
        reads = stats.seq_tup_read + stats.idx_tup_fetch
        if writes + reads:
            return WriteLoad(
                writes / (writes + reads),
                f"pg_stat_user_tables: {writes:,} rows inserted/updated/deleted against "
                f"{reads:,} rows read",
            )
    writes = reads = 0
    for shape in workload.shapes.values():
        query = shape.query
        names = [ref.table for ref in query.tables]
        if query.kind in _DML and names[:1] == [table]:
            writes += shape.calls
        elif query.kind == "select" and table in names:
            reads += shape.calls
    if not writes:
        return WriteLoad(0.0, "")
    return WriteLoad(
        writes / (writes + reads),
        f"captured workload: {writes:,} INSERT/UPDATE/DELETE calls against {reads:,} reads",
    )


def _key_id(col: IndexColumn) -> tuple[str | None, str | None]:
    return col.column, col.expression


def _pct(share: float) -> str:
    # Gains near the threshold (0.3 %) need the second decimal: "0.3 % (0.3 % needed)"
    # read as a tie where 0.26 % fell short of 0.30 %.
    return f"{share * 100:.2f} %" if abs(share) < 0.01 else f"{share * 100:.1f} %"


def _mb(size: int) -> str:
    return f"{size / 1024**2:.1f} MB"


@dataclass(slots=True)
class _Eval:
    gain: float
    blocked: str | None = None
    needed: float = 0.0


@dataclass(slots=True)
class _State:
    """The greedy's working state (mutable while :func:`choose` runs, never returned)."""

    oracle: Oracle
    weights: Mapping[str, float]
    base: Mapping[str, float]
    budget: ChoiceBudget
    required: Mapping[str, float]
    floor: float
    reducible: float
    orders: Mapping[str, Sequence[Candidate]] = field(default_factory=dict)
    bytes: int = 0
    chosen: list[IndexSuggestion] = field(default_factory=list)
    served: dict[str, IndexSuggestion] = field(default_factory=dict)
    last: dict[tuple[object, ...], _Eval] = field(default_factory=dict)

    def cost(self, config: Sequence[IndexSuggestion]) -> tuple[float, Mapping[str, float]]:
        costs = self.oracle.costs(config)
        total = 0.0
        for key, weight in self.weights.items():
            base = self.base[key]
            now = min(costs.get(key, base), base)
            total += weight * (now / base if base > 0 else 1.0)
        return total, costs


def _weights(workload: Workload, keys: Iterable[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key in keys:
        shape = workload.shapes.get(key)
        if shape is None:
            out[key] = 1.0
        elif shape.total_ms:
            out[key] = shape.total_ms
        else:
            out[key] = float(max(shape.calls, 1))
    return out


def _starts(candidates: Sequence[IndexSuggestion]) -> list[IndexSuggestion]:
    moves: dict[tuple[object, ...], IndexSuggestion] = {}
    for c in candidates:
        moves.setdefault(index_identity(c), c)
        if len(c.columns) > 1:
            single = make_suggestion(
                c.table, c.columns[:1], where=c.where, method=c.method, reason=c.reason
            )
            moves.setdefault(index_identity(single), single)
    return list(moves.values())


def _orders(
    candidates: Sequence[IndexSuggestion], workload: Workload, schema: Schema
) -> dict[str, list[Candidate]]:
    """Per table, the key orders that serve its candidates: each candidate's equality keys
    and tail, planned again from the queries it serves; a candidate no query plans back to
    keeps its own order, key for key."""
    out: dict[str, list[Candidate]] = {}
    for c in candidates:
        want = [_key_id(col) for col in c.columns]
        found: list[Candidate] = []
        for key in c.query_keys:
            shape = workload.shapes.get(key)
            planned = plan_query(shape.query, schema) if shape is not None else ()
            found += [
                p
                for p in planned
                if isinstance(p, Candidate)
                and p.table == c.table
                and [_key_id(col) for col in p.columns] == want
            ]
        out.setdefault(c.table, []).extend(
            found[:1] or [Candidate(c.table, (), c.columns, tail_kind="order")]
        )
    return out


def _extensions(
    index: IndexSuggestion,
    candidates: Sequence[IndexSuggestion],
    orders: Mapping[str, Sequence[Candidate]],
) -> list[IndexSuggestion]:
    """The chosen ``index`` with one more key from a candidate on its table, where the
    longer keys still lead an index that serves one of them (equality keys before range
    and sort keys: see :func:`~advisor.indexes.coverage.serving_order`)."""
    have = {_key_id(c) for c in index.columns}
    pool: dict[tuple[str | None, str | None], IndexColumn] = {}
    for c in candidates:
        if (c.table, c.where, c.method) != (index.table, index.where, index.method):
            continue
        for col in c.columns:
            if _key_id(col) not in have:
                pool.setdefault(_key_id(col), col)
    longer = [(*index.columns, col) for col in pool.values()]
    return [
        make_suggestion(
            index.table,
            keys,
            include=index.include,
            where=index.where,
            method=index.method,
            reason=index.reason,
        )
        for keys in longer
        if any(serving_order(keys, order) for order in orders.get(index.table, ()))
    ]


def _best_move(
    state: _State,
    starts: Sequence[IndexSuggestion],
    candidates: Sequence[IndexSuggestion],
    current: float,
) -> Step | None:
    """The qualifying move with the best gain per byte (an extension on a tie), or None.

    Every move's evaluation is kept in ``state.last`` for the reasons of those not taken.
    """
    have = {index_identity(c) for c in state.chosen}
    moves: list[tuple[IndexSuggestion, IndexSuggestion | None]] = [
        (m, None) for m in starts if index_identity(m) not in have
    ]
    moves += [
        (ext, old) for old in state.chosen for ext in _extensions(old, candidates, state.orders)
    ]
    best: tuple[tuple[float, int, float], Step] | None = None
    for move, old in moves:
        size = state.oracle.size_bytes(move)
        extra = max(size - (state.oracle.size_bytes(old) if old is not None else 0), 1)
        cost, _ = state.cost([c for c in state.chosen if c is not old] + [move])
        gain = (current - cost) / state.reducible
        blocked = _budget_block(state, old is None, state.bytes + extra)
        needed = _needed(state, move, old, current)
        state.last[index_identity(move)] = _Eval(gain, blocked, needed)
        if blocked is not None or gain <= 0 or gain < needed:
            continue
        rank = (gain / extra, 1 if old is not None else 0, gain)
        if best is None or rank > best[0]:
            step = Step("extend" if old is not None else "add", move, gain, extra, old)
            best = (rank, step)
    return best[1] if best is not None else None


def _needed(
    state: _State, move: IndexSuggestion, old: IndexSuggestion | None, current: float
) -> float:
    """The gain a move must reach (a share of the reducible cost at the start). A new index
    must save ``required`` of it; an extension adds no index, only a column, so it must
    save that share of what is still reducible: once an index has taken a query's cost
    from a sequential scan to a few pages, the column that drops its sort (ORDER BY ...
    LIMIT) is no longer measured against the scan it already removed."""
    needed = state.required[move.table]
    if old is None:
        return needed
    return needed * min(max(current - state.floor, 0.0) / state.reducible, 1.0)


def _budget_block(state: _State, adds: bool, total_bytes: int) -> str | None:
    budget = state.budget
    if adds and budget.max_indexes is not None and len(state.chosen) >= budget.max_indexes:
        return f"budget reached: --max-indexes {budget.max_indexes}"
    if budget.max_bytes is not None and total_bytes > budget.max_bytes:
        return f"budget reached: the set would take {_mb(total_bytes)} > {_mb(budget.max_bytes)}"
    return None


def choose(
    candidates: Sequence[IndexSuggestion],
    workload: Workload,
    oracle: Oracle,
    *,
    budget: ChoiceBudget,
    schema: Schema,
    failed: Mapping[str, str] | None = None,
) -> Choice:
    """The workload-wide index set from per-query ``candidates`` (see the module doc).

    ``failed`` names the query keys the oracle could not cost, with why (they get notes).
    """
    merged = merge_identical(tuple(candidates))
    base = oracle.costs(())
    weights = _weights(workload, base)
    loads = {t: write_load(t, workload, schema) for t in {c.table for c in merged}}
    required = {
        t: budget.min_gain * (1 + budget.write_penalty * load.share) for t, load in loads.items()
    }
    state = _State(
        oracle, weights, base, budget, required, 0.0, 1.0, _orders(merged, workload, schema)
    )
    current, costs = state.cost(())
    state.floor = state.cost(merged)[0] if merged else current
    # No candidate cuts any estimate: nothing is reducible, and no move will gain; the
    # unit keeps the shares finite.
    state.reducible = current - state.floor if current > state.floor else current or 1.0
    steps: list[Step] = []
    starts = _starts(merged)
    while (step := _best_move(state, starts, merged, current)) is not None:
        state.chosen = [c for c in state.chosen if c is not step.replaces] + [step.index]
        state.bytes += step.size_bytes
        before = costs
        current, costs = state.cost(state.chosen)
        _attribute(state, before, costs, step.index, step.replaces)
        steps.append(step)
    return _result(state, merged, workload, loads, steps, current, failed or {})


def _attribute(
    state: _State,
    before: Mapping[str, float],
    after: Mapping[str, float],
    move: IndexSuggestion,
    old: IndexSuggestion | None,
) -> None:
    """Queries the move made cheaper are served by it; an extension takes over the
    queries of the index it replaced."""
    for key, index in list(state.served.items()):
        if old is not None and index is old:
            state.served[key] = move
    for key, base in state.base.items():
        was, now = before.get(key, base), after.get(key, base)
        if was > 0 and (was - now) / was >= _SERVED:
            state.served[key] = move


def _why_not(
    c: IndexSuggestion, state: _State, loads: Mapping[str, WriteLoad], failed: Mapping[str, str]
) -> str:
    required, budget = state.required, state.budget
    keys = [k for k in c.query_keys if k in state.base]
    by = [state.served[k].name for k in keys if k in state.served]
    if keys and len(by) == len(keys):
        served = "served by " + ", ".join(dict.fromkeys(by)) + " already chosen"
        seen = state.last.get(index_identity(c))
        shorter = all(len(state.served[k].columns) < len(c.columns) for k in keys)
        if seen is None or seen.blocked is not None or not shorter:
            return served
        return (
            f"{served}; the whole candidate would save a further {_pct(max(seen.gain, 0.0))} "
            f"of the reducible cost ({_pct(seen.needed)} needed)"
        )
    if not keys:
        reasons = {failed[k] for k in c.query_keys if k in failed}
        return "its queries could not be costed" + (f" ({'; '.join(reasons)})" if reasons else "")
    seen = state.last.get(index_identity(c))
    if seen is None:
        return "not costed"
    if seen.blocked is not None:
        return seen.blocked
    load = loads[c.table]
    if load.share > 0 and seen.gain >= budget.min_gain:
        heavy = "write-heavy table" if load.share >= budget.write_heavy else "table with writes"
        return (
            f"{heavy} {c.table} ({load.evidence}): saves {_pct(seen.gain)} of the reducible "
            f"cost, {_pct(required[c.table])} required"
        )
    return (
        f"saves {_pct(max(seen.gain, 0.0))} of the reducible cost "
        f"({_pct(required[c.table])} needed)"
    )


def _result(
    state: _State,
    merged: Sequence[IndexSuggestion],
    workload: Workload,
    loads: Mapping[str, WriteLoad],
    steps: Sequence[Step],
    current: float,
    failed: Mapping[str, str],
) -> Choice:
    total = sum(state.weights.values()) or 1.0
    final = state.oracle.costs(state.chosen)
    by_identity = {index_identity(c): c for c in merged}
    chosen: list[IndexSuggestion] = []
    for index in state.chosen:
        keys = tuple(k for k, s in state.served.items() if s is index)
        saved = sum(state.weights[k] * (1 - _ratio(state, final, k)) for k in keys)
        load = loads.get(index.table, WriteLoad(0.0, ""))
        reason = (
            f"chosen for the workload: serves {len(keys)} quer{'y' if len(keys) == 1 else 'ies'}, "
            f"estimated {_pct(saved / total)} of the workload's time saved "
            f"({_pct(saved / state.reducible)} of the reducible cost)"
        )
        if load.share > 0:
            reason += (
                f"; write overhead on {index.table} ({load.evidence}) raised the bar to "
                f"{_pct(state.required[index.table])}"
            )
        source = by_identity.get(index_identity(index), index)
        chosen.append(replace(source, query_keys=keys, reason=f"{source.reason}; {reason}"))
    chosen_ids = {index_identity(c) for c in state.chosen}
    not_chosen = tuple(
        NotChosen(c, _why_not(c, state, loads, failed))
        for c in merged
        if index_identity(c) not in chosen_ids
    )
    return Choice(
        chosen=tuple(chosen),
        not_chosen=not_chosen,
        notes=_notes(state, not_chosen, workload),
        steps=tuple(steps),
        cost_before=total,
        cost_after=current,
        cost_floor=state.floor,
    )


def _ratio(state: _State, costs: Mapping[str, float], key: str) -> float:
    base = state.base[key]
    now = costs.get(key, base)
    return min(now, base) / base if base > 0 else 1.0


def _notes(state: _State, not_chosen: Sequence[NotChosen], workload: Workload) -> tuple[Note, ...]:
    notes: dict[str, Note] = {}
    for item in not_chosen:
        for key in item.suggestion.query_keys:
            if key in state.served or key in notes:
                continue
            shape = workload.shapes.get(key)
            notes[key] = Note(
                rule=NOTE_RULE,
                fingerprint=shape.query.fingerprint if shape is not None else key,
                reason=f"no index chosen for it ({item.suggestion.name}): {item.reason}",
                sql=shape.query.sql if shape is not None else None,
            )
    return tuple(notes.values())
