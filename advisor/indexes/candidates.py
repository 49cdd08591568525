"""The best btree index for one query on one table.

Per table a query touches: the equality columns (``=``, ``IN``, ``= ANY``, and the
join columns when the table is the inner side of a join) come first, the most
selective first when ``pg_stats`` knows ``n_distinct`` (else in query order); then
one range column, or the ORDER BY columns with their directions (preferred with a
LIMIT, which lets the index stop early). Constant conditions the code always sends
(``deleted_at IS NULL``, ``status = 'active'`` beside parameters) become the WHERE of
a partial index instead of keys; ``lower(email) = $1`` gives an expression key.

:func:`plan_query` returns, per table, a :class:`Candidate` or a :class:`Rejection`
that says why there is none (dexter's ``show_debug_info``: never leave a user
guessing why an obvious index was not suggested).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from advisor.indexes.trigram import pattern_keys
from advisor.model import IndexColumn, OrderItem, ParsedQuery, Predicate, Schema, Table
from advisor.sqltext import quote_ident

__all__ = ["Candidate", "Rejection", "plan_query"]

_EQUALITY = frozenset({"eq", "in", "any"})
_BOOLEAN_TYPES = frozenset({"boolean", "bool"})
_PLANNED_KINDS = frozenset({"select", "update", "delete"})


@dataclass(frozen=True, slots=True)
class Candidate:
    """A btree index one query wants: ``equality`` keys (any order serves), then
    ``tail`` (one range column, or ORDER BY columns whose directions matter).

    ``where`` holds the constant conjuncts that make it partial; ``implied`` every
    constant conjunct the query guarantees (an existing partial index whose predicate
    is among them still serves the query); ``fixed`` the columns those conjuncts pin
    to one value (``status = 'new'``, ``deleted_at IS NULL``): an existing index may
    carry them among its leading equality keys and still serve the query. A ``"gin"``
    ``method`` is a trigram index for pattern searches: its ``equality`` keys carry
    ``gin_trgm_ops`` and their order does not matter (:mod:`advisor.indexes.trigram`).
    """

    table: str
    equality: tuple[IndexColumn, ...]
    tail: tuple[IndexColumn, ...] = ()
    tail_kind: Literal["none", "range", "order"] = "none"
    include: tuple[str, ...] = ()
    where: tuple[str, ...] = ()
    implied: tuple[str, ...] = ()
    fixed: tuple[str, ...] = ()
    method: str = "btree"

    @property
    def columns(self) -> tuple[IndexColumn, ...]:
        """Every key, in index order."""
        return self.equality + self.tail

    @property
    def where_sql(self) -> str | None:
        """The partial-index predicate, or None."""
        return " AND ".join(self.where) or None


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a table of a query gets no candidate (``table`` is "" for the query)."""

    table: str
    reason: str


class _Resolver:
    """Maps the names a query uses (alias, bare, qualified) to schema tables."""

    def __init__(self, query: ParsedQuery, schema: Schema) -> None:
        self.tables: dict[str, Table] = {}
        self.unknown: list[str] = []
        self._names: dict[str, Table] = {}
        for ref in query.tables:
            table = schema.find(ref.table)
            if table is None:
                if ref.table not in self.unknown:
                    self.unknown.append(ref.table)
                continue
            self.tables.setdefault(table.qualified, table)
            for name in (ref.table, ref.alias, table.name, table.qualified):
                if name:
                    self._names[name.replace('"', "")] = table
        self._schema = schema

    def owner(self, name: str | None, column: str | None) -> Table | None:
        """The table ``name`` (or, without a name, the only table with ``column``)."""
        if name is not None:
            found = self._names.get(name.replace('"', ""))
            return found if found is not None else self._schema.find(name)
        if len(self.tables) == 1:
            return next(iter(self.tables.values()))
        having = [t for t in self.tables.values() if column and t.column(column)]
        return having[0] if len(having) == 1 else None


def _distinct(table: Table, column: str | None) -> float | None:
    col = table.column(column) if column else None
    if col is None:
        return None
    if col.type.lower() in _BOOLEAN_TYPES:
        return 2.0
    if col.n_distinct is None:
        return None
    if col.n_distinct >= 0:
        return col.n_distinct
    return -col.n_distinct * (table.row_estimate or 0) or None


def _low_selectivity(table: Table, column: str | None) -> bool:
    distinct = _distinct(table, column)
    return distinct is not None and distinct <= 2


def _constant_sql(pred: Predicate) -> str | None:
    """The predicate as partial-index SQL, when it is a constant condition."""
    if pred.column is None:
        return None
    col = quote_ident(pred.column, minimal=True)
    if pred.op == "is_null":
        return f"{col} IS NULL"
    if pred.op == "is_not_null":
        return f"{col} IS NOT NULL"
    if pred.op == "eq" and pred.constant is not None and not pred.parameterized:
        return f"{col} = {pred.constant}"
    return None


def _pinned(use: _TableUse) -> set[str]:
    """Columns a constant ``=`` or ``IS NULL`` pins to one value."""
    return {
        p.column
        for p in use.predicates
        if p.column is not None
        and (p.op == "is_null" or (p.op == "eq" and p.constant is not None and not p.parameterized))
    }


def _usable(pred: Predicate, table: Table) -> bool:
    return pred.expression is not None or (
        pred.column is not None and table.column(pred.column) is not None
    )


@dataclass(frozen=True, slots=True)
class _TableUse:
    table: Table
    predicates: tuple[Predicate, ...]
    joins: tuple[str, ...]
    order: tuple[OrderItem, ...] | None
    selected: tuple[str, ...] = ()


def _as_key(pred: Predicate) -> IndexColumn:
    if pred.column is not None and pred.expression is None:
        return IndexColumn(pred.column)
    return IndexColumn(None, expression=pred.expression)


def _order_key(item: OrderItem) -> IndexColumn:
    return IndexColumn(
        item.column.column if item.column is not None else None,
        expression=item.expression if item.column is None else None,
        descending=item.descending,
        nulls_first=item.nulls_first,
    )


def _split_constants(
    use: _TableUse, has_params: bool
) -> tuple[list[Predicate], list[str], list[str]]:
    """(key predicates, partial WHERE conjuncts, every implied constant conjunct)."""
    keys: list[Predicate] = []
    where: list[str] = []
    implied: list[str] = []
    for pred in use.predicates:
        if not _usable(pred, use.table):
            continue
        constant = _constant_sql(pred)
        if constant is not None:
            implied.append(constant)
            # A literal beside parameters is fixed by the code (a partial index fits);
            # in an all-literal statement it is just an example value (a key).
            fixed = pred.op != "eq" or has_params or _low_selectivity(use.table, pred.column)
            if fixed:
                if constant not in where:
                    where.append(constant)
                continue
        if pred.op in _EQUALITY or pred.op == "range":
            keys.append(pred)
    return keys, where, implied


def _equality_keys(use: _TableUse, keys: list[Predicate]) -> list[IndexColumn]:
    seen: dict[str, tuple[IndexColumn, float | None]] = {}
    for pred in keys:
        if pred.op in _EQUALITY:
            key = _as_key(pred)
            seen.setdefault(
                f"{key.column}|{key.expression}", (key, _distinct(use.table, pred.column))
            )
    for column in use.joins:
        key = IndexColumn(column)
        seen.setdefault(f"{column}|None", (key, _distinct(use.table, column)))
    ranked = sorted(seen.values(), key=lambda kv: -(kv[1] if kv[1] is not None else float("inf")))
    return [key for key, _ in ranked]


def _build(
    use: _TableUse,
    query: ParsedQuery,
    has_params: bool,
    include_max: int,
    samples: Sequence[Sequence[object]] = (),
) -> Candidate | Rejection:
    table = use.table
    keys, where, implied = _split_constants(use, has_params)
    equality = _equality_keys(use, keys)
    # A column fixed by the partial WHERE is constant: it is neither key nor sort.
    fixed = {p.column for p in use.predicates if _constant_sql(p) in where}
    equality = [k for k in equality if k.column is None or k.column not in fixed]
    eq_ids = {(k.column, k.expression) for k in equality}
    ranges = [
        _as_key(p)
        for p in keys
        if p.op == "range" and (p.column, p.expression) not in eq_ids and p.column not in fixed
    ]
    order = [
        _order_key(item)
        for item in use.order or ()
        if (item.column.column if item.column else None, item.expression) not in eq_ids
        and (item.column is None or item.column.column not in fixed)
    ]
    tail: list[IndexColumn] = []
    tail_kind: Literal["none", "range", "order"] = "none"
    if order and (query.has_limit or not ranges) and (equality or query.has_limit or ranges):
        tail, tail_kind = order, "order"
    elif ranges:
        tail, tail_kind = ranges[:1], "range"
    if not equality and not tail:
        # Only without a btree key: an equality or range narrows the rows first, and the
        # pattern is then checked on those few.
        found = pattern_keys(table, use.predicates, samples)
        if isinstance(found, tuple):
            return Candidate(
                table.qualified, found, where=tuple(where), implied=tuple(implied), method="gin"
            )
        if found is not None:
            return Rejection(table.qualified, found)
        if order:
            return Rejection(
                table.qualified,
                "ORDER BY without LIMIT or filter sorts every row; an index rarely helps",
            )
        if where:
            return Rejection(
                table.qualified,
                f"only constant conditions ({' AND '.join(where)}); no key column to index",
            )
        return Rejection(table.qualified, _no_key_reason(use))
    if not tail and all(_low_selectivity(table, k.column) for k in equality):
        names = ", ".join(str(k.column) for k in equality)
        return Rejection(
            table.qualified, f"only predicate is on a low-selectivity boolean ({names})"
        )
    used = {k.column for k in (*equality, *tail) if k.column}
    return Candidate(
        table=table.qualified,
        equality=tuple(equality),
        tail=tuple(tail),
        tail_kind=tail_kind,
        include=_include(query, use, used, include_max),
        where=tuple(where),
        implied=tuple(implied),
        fixed=tuple(sorted(_pinned(use))),
    )


def _no_key_reason(use: _TableUse) -> str:
    ops = {p.op for p in use.predicates}
    if "like_prefix" in ops:
        return (
            "only LIKE 'prefix%' conditions: they need a text_pattern_ops (or COLLATE \"C\") "
            "index, not suggested"
        )
    if ops & {"neq", "other"}:
        return "no indexable condition (only <>, OR, or expressions an index cannot match)"
    return "no filter, join or sort columns"


def _include(
    query: ParsedQuery, use: _TableUse, used: set[str], include_max: int
) -> tuple[str, ...]:
    if include_max <= 0 or query.kind != "select" or use.table.qualified in query.star_tables:
        return ()
    extra = tuple(col for col in use.selected if col not in used)
    return extra if 0 < len(extra) <= include_max else ()


def _order_owner(item: OrderItem, resolver: _Resolver) -> str | None:
    if item.column is None:
        # An expression (``lower(name)``) belongs to the table when there is only one.
        only = list(resolver.tables)
        return only[0] if len(only) == 1 and item.expression else None
    owner = resolver.owner(item.column.table, item.column.column)
    return owner.qualified if owner is not None else None


def _uses(query: ParsedQuery, resolver: _Resolver) -> list[_TableUse]:
    preds: dict[str, list[Predicate]] = {name: [] for name in resolver.tables}
    for pred in query.predicates:
        owner = resolver.owner(pred.table, pred.column)
        if owner is not None and owner.qualified in preds:
            preds[owner.qualified].append(pred)
    joins: dict[str, list[str]] = {name: [] for name in resolver.tables}
    for jk in query.joins:
        left = resolver.owner(jk.left.table, jk.left.column)
        right = resolver.owner(jk.right.table, jk.right.column)
        if left is None or right is None or left.qualified == right.qualified:
            continue
        for side, ref in ((left, jk.left), (right, jk.right)):
            if ref.column not in joins[side.qualified] and side.column(ref.column):
                joins[side.qualified].append(ref.column)
    owners = {_order_owner(item, resolver) for item in query.order_by}
    order_owner = next(iter(owners)) if len(owners) == 1 else None
    selected: dict[str, list[str]] = {name: [] for name in resolver.tables}
    for ref in query.selected:
        owner = resolver.owner(ref.table, ref.column)
        if owner is None or owner.qualified not in selected or not owner.column(ref.column):
            continue
        if ref.column not in selected[owner.qualified]:
            selected[owner.qualified].append(ref.column)
    return [
        _TableUse(
            table=table,
            predicates=tuple(preds[name]),
            joins=tuple(joins[name]),
            order=query.order_by if order_owner == name else None,
            selected=tuple(selected[name]),
        )
        for name, table in resolver.tables.items()
    ]


def _drives(use: _TableUse, has_params: bool) -> bool:
    keys, _where, _implied = _split_constants(use, has_params)
    return bool(use.order) or bool(keys)


def plan_query(
    query: ParsedQuery,
    schema: Schema,
    *,
    include_max_columns: int = 0,
    samples: Sequence[Sequence[object]] = (),
) -> tuple[Candidate | Rejection, ...]:
    """A candidate (or the reason for none) for every table ``query`` reads.

    A table with its own filter or the ORDER BY drives the query; a table joined to a
    driver is the inner side, looked up by its join columns. ``include_max_columns``
    > 0 adds the other selected columns of the table as ``INCLUDE`` when there are at
    most that many (an index-only scan). ``samples`` are captured parameter sets in
    ``$n`` order: they decide whether a ``LIKE $1`` is a trigram search.
    """
    if query.kind not in _PLANNED_KINDS:
        return (Rejection("", f"not a SELECT/UPDATE/DELETE ({query.kind})"),)
    resolver = _Resolver(query, schema)
    out: list[Candidate | Rejection] = [
        Rejection(name, f"unknown table {name}") for name in resolver.unknown
    ]
    if not resolver.tables:
        return tuple(out) or (Rejection("", "no table"),)
    has_params = any(p.parameterized for p in query.predicates)
    uses = _uses(query, resolver)
    drivers = {u.table.qualified for u in uses if _drives(u, has_params)}
    for use in uses:
        name = use.table.qualified
        if name in drivers or not use.joins:
            use = _TableUse(use.table, use.predicates, (), use.order, use.selected)
        elif not drivers:
            out.append(
                Rejection(name, "joined without a filter on either side: every row is read anyway")
            )
            continue
        out.append(_build(use, query, has_params, include_max_columns, samples))
    return tuple(out)
