"""Rows generated inside the sandbox server: one ``INSERT ... SELECT FROM generate_series``
per table, every value a pure SQL function of the row number ``i``.

Because row ``r`` of a table always has the same values, a foreign key needs no look-up: a
child row draws a parent row number ``r`` and computes the parent's key columns at ``r``
with the parent's own expressions. Tables can so be filled in any order (cycles and
self-references included) and in one pass each, with no join.

* Unique and primary-key columns take a one-to-one function of ``i``; a composite key made
  only of foreign keys (a junction table) enumerates parent pairs (and caps its rows at
  their product); a composite key with a column of its own makes that column unique.
* Other columns draw a value number ``k`` in ``1..D`` where ``D`` is ``pg_stats``'s
  ``n_distinct`` when the schema has it (a fraction when negative), a type's own count
  (boolean, enum), else the row count. A ``D`` of a third of the rows or more is a
  permutation of ``i`` (exactly ``D`` values); a smaller one a seeded hash of ``i``
  (uniform, columns independent of each other). NULLs take ``null_frac`` of the rows,
  ``pg_stats``'s most common values their frequencies, and a column whose correlation is
  0.5 or more (in absolute value) is laid out in row order, so that the planner prices an
  index range scan on it as on the source.
* The draws are ``hashint8extended(i, seed)``: the same plan and seed give the same rows
  (times and dates excepted: they end at the moment of generation).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from advisor.model import Column, Table
from advisor.sqltext import quote_ident, quote_qualified
from advisor.verify.load import ForeignKeyDef, TargetColumn, TargetTable
from advisor.verify.values import value_sql

__all__ = ["ColumnStats", "GenerationPlan", "generation_plan", "insert_sql"]

_I = "{i}"
_PRIMES = (1_000_003, 999_983, 999_979, 999_961, 999_959, 999_953, 999_931, 999_917)
_NULL_SCALE = 1 << 20
_MAX_MOST_COMMON = 20
_ORDERED = 0.5  # |pg_stats correlation| from which a column is generated in row order


@dataclass(frozen=True, slots=True)
class ColumnStats:
    """What ``pg_stats`` says about a column, as generation uses it."""

    null_frac: float | None = None
    n_distinct: float | None = None
    avg_width: int | None = None
    most_common: tuple[str, ...] = ()
    most_common_freqs: tuple[float, ...] = ()
    correlation: float | None = None

    @classmethod
    def of(cls, column: Column | None) -> ColumnStats:
        """The statistics the schema's column carries (all None without one)."""
        if column is None:
            return cls()
        return cls(
            column.null_frac,
            column.n_distinct,
            column.avg_width,
            column.most_common,
            column.most_common_freqs,
            column.correlation,
        )


@dataclass(frozen=True, slots=True)
class GenerationPlan:
    """The rows and per-column expressions of every table to generate.

    ``expressions`` maps each table to ``(column, SQL template over {i})``; a column left
    out takes its default. ``skipped`` names tables that cannot be generated, and why.
    """

    rows: Mapping[str, int]
    expressions: Mapping[str, tuple[tuple[str, str], ...]]
    skipped: Mapping[str, str]
    shaped: frozenset[str]


def _hash(seed: int, mask: int | None = None) -> str:
    raw = f"hashint8extended({_I}, {seed})"
    return f"({raw} & {mask})" if mask is not None else raw


def _prime_for(modulus: int, seed: int) -> int:
    """A prime not dividing ``modulus``: ``x * prime % modulus`` is then a permutation."""
    prime = _PRIMES[seed % len(_PRIMES)]
    return prime if modulus % prime else _PRIMES[(seed + 1) % len(_PRIMES)]


def _draw(distinct: int, rows: int, seed: int, *, order: int = 0) -> str:
    """A value number in 1..distinct for row {i}; ``order`` 1 (-1) makes it rise (fall)
    with the row number, as a column whose ``pg_stats`` correlation is near 1 (-1)."""
    distinct = max(1, distinct)
    if order:
        rising = f"(1 + ({_I}::int8 - 1) * {distinct} / {max(1, rows)})"
        return rising if order > 0 else f"({distinct} + 1 - {rising})"
    if distinct * 3 >= rows:
        prime = _prime_for(distinct, seed)
        return f"(1 + ({_I}::int8 * {prime} + {seed % distinct}) % {distinct})"
    return f"(1 + ((({_hash(seed)} % {distinct}) + {distinct}) % {distinct}))"


def _seed(base: int, *names: str) -> int:
    # A stable (unsalted, unlike hash()) small number per column.
    value = base
    for name in names:
        for ch in name:
            value = (value * 131 + ord(ch)) % 2_147_483_629
    return value


def _distinct(col: TargetColumn, stats: ColumnStats, rows: int) -> int:
    if stats.n_distinct is not None and stats.n_distinct != 0:
        nd = stats.n_distinct
        return max(1, min(rows, round(nd if nd > 0 else -nd * rows)))
    if col.base == "bool":
        return 2
    if col.typtype == "e" and col.labels:
        return len(col.labels)
    return max(1, rows)


def _order(stats: ColumnStats) -> int:
    """1 or -1 for a column stored (nearly) in its own order, else 0 (scrambled)."""
    corr = stats.correlation
    if corr is None or abs(corr) < _ORDERED:
        return 0
    return 1 if corr > 0 else -1


def _nulls(expr: str, null_frac: float, seed: int) -> str:
    threshold = round(null_frac * _NULL_SCALE)
    if threshold <= 0:
        return expr
    return f"CASE WHEN {_hash(seed, _NULL_SCALE - 1)} < {threshold} THEN NULL ELSE {expr} END"


def _most_common(expr: str, col: TargetColumn, st: ColumnStats, seed: int) -> str:
    """``expr`` that yields each of the column's most common values at its frequency.

    ``pg_stats`` frequencies are shares of all rows, NULLs included; the draw runs on the
    non-NULL rows, so they are scaled by ``1 / (1 - null_frac)``.
    """
    pairs = list(zip(st.most_common, st.most_common_freqs, strict=False))[:_MAX_MOST_COMMON]
    if not pairs:
        return expr
    scale = 1 / max(1e-9, 1 - (st.null_frac or 0.0))
    cumulative = 0.0
    branches: list[str] = []
    for value, freq in pairs:
        cumulative = min(1.0, cumulative + freq * scale)
        literal = "'" + value.replace("'", "''") + "'"
        threshold = round(cumulative * _NULL_SCALE)
        branches.append(
            f"WHEN {_hash(seed, _NULL_SCALE - 1)} < {threshold} THEN {literal}::{col.type}"
        )
    return f"CASE {' '.join(branches)} ELSE {expr} END"


def _subst(template: str, index: str) -> str:
    return template.replace(_I, f"({index})")


class _Builder:
    """Resolves every table's templates, parents' before the children that read them."""

    def __init__(
        self,
        tables: Mapping[str, TargetTable],
        stats: Mapping[str, Mapping[str, ColumnStats]],
        rows: dict[str, int],
        seed: int,
    ) -> None:
        self.tables = tables
        self.stats = stats
        self.rows = rows
        self.seed = seed
        self.done: dict[str, dict[str, str]] = {}
        self.skipped: dict[str, str] = {}
        self.anchor = int(time.time())

    def column_at(self, table: str, column: str) -> str | None:
        """The template of ``table.column`` over its row number (None if it has none).

        A table being built answers with the columns it has so far: its own keys come
        before its foreign keys, so self-references and cycles resolve.
        """
        if table not in self.done:
            self.build(table)
        return self.done[table].get(column)

    def build(self, name: str) -> None:
        """Resolve the templates of table ``name`` (and of the parents it reads)."""
        table = self.tables[name]
        out: dict[str, str] = {}
        self.done[name] = out
        own_unique = self._own_unique(table)
        fk_of = {col: fk for fk in table.foreign_keys for col in fk.columns}
        stats = self.stats.get(name, {})
        for col in table.columns:
            if col.generated or (col.name in fk_of and fk_of[col.name].ref_table in self.tables):
                continue
            st = stats.get(col.name, ColumnStats())
            seed = _seed(self.seed, name, col.name)
            unique = col.name in own_unique
            rows = self.rows[name]
            distinct = rows if unique else _distinct(col, st, rows)
            order = _order(st)
            k = _I if unique else _draw(distinct, rows, seed, order=order)
            expr = value_sql(
                col,
                k,
                unique=unique,
                rows=rows,
                width=st.avg_width,
                salt=seed,
                distinct=distinct,
                anchor=self.anchor,
                ordered=bool(order),
            )
            if expr is None and col.is_array and not col.not_null:
                expr = f"NULL::{col.type}"
            elif expr is not None and not unique:
                expr = _most_common(expr, col, st, seed + 2)
            if not self._put(table, col, expr, st, unique, seed):
                return
        for parent in {fk.ref_table for fk in table.foreign_keys}:
            if parent in self.tables and parent not in self.done:
                self.build(parent)
        junction = self._junction(table)
        for col in table.columns:
            col_fk = fk_of.get(col.name)
            if col.generated or col_fk is None or col_fk.ref_table not in self.tables:
                continue
            st = stats.get(col.name, ColumnStats())
            expr = self._foreign(table, col_fk, col, st, junction, own_unique)
            seed = _seed(self.seed, name, col.name)
            if not self._put(table, col, expr, st, col.name in own_unique, seed):
                return

    def _put(
        self,
        table: TargetTable,
        col: TargetColumn,
        expr: str | None,
        st: ColumnStats,
        unique: bool,
        seed: int,
    ) -> bool:
        """Record ``col``'s template; False (and the table skipped) when it cannot be made."""
        if expr is None:
            if col.has_default or not col.not_null:
                return True  # its default (or NULL) fills it
            self.skipped[table.qualified] = (
                f"column {col.name} has type {col.type}, which advisor cannot generate"
            )
            return False
        if not col.not_null and not unique and st.null_frac:
            expr = _nulls(expr, st.null_frac, seed + 1)
        self.done[table.qualified][col.name] = expr
        return True

    def _own_unique(self, table: TargetTable) -> set[str]:
        """Columns made one-to-one with the row number (they keep every unique key unique)."""
        fk_cols = {col for fk in table.foreign_keys for col in fk.columns}
        chosen: set[str] = set()
        for key in table.unique_keys:
            if any(col in chosen for col in key):
                continue
            free = [col for col in key if col not in fk_cols]
            if len(key) == 1 or free:
                chosen.add(free[-1] if free else key[0])
        return chosen

    def _junction(self, table: TargetTable) -> dict[str, str]:
        """For a unique key made only of foreign keys: each FK's parent row, in mixed radix."""
        fk_cols = {col for fk in table.foreign_keys for col in fk.columns}
        for key in table.unique_keys:
            if len(key) < 2 or not set(key) <= fk_cols:
                continue
            fks = [fk for fk in table.foreign_keys if set(fk.columns) <= set(key)]
            radix = 1
            parent_rows: dict[str, str] = {}
            for fk in fks:
                size = max(1, self.rows.get(fk.ref_table, 1))
                parent_rows[fk.name] = f"(1 + (({_I} - 1) / {radix}) % {size})"
                radix *= size
            self.rows[table.qualified] = min(self.rows[table.qualified], radix)
            return parent_rows
        return {}

    def _foreign(
        self,
        table: TargetTable,
        fk: ForeignKeyDef,
        col: TargetColumn,
        st: ColumnStats,
        junction: Mapping[str, str],
        own_unique: set[str],
    ) -> str | None:
        parents = max(1, self.rows.get(fk.ref_table, 1))
        rows = self.rows[table.qualified]
        # One draw per foreign key (all its columns read the same parent row).
        seed = _seed(self.seed, table.qualified, fk.name)
        if fk.name in junction:
            parent_row = junction[fk.name]
        elif set(fk.columns) <= own_unique:
            self.rows[table.qualified] = min(rows, parents)  # one-to-one
            parent_row = _I
        else:
            distinct = min(parents, _distinct(col, st, rows) if st.n_distinct else parents)
            k = _draw(distinct, rows, seed)
            prime = _prime_for(parents, seed)
            parent_row = k if distinct == parents else f"(1 + ({k} * {prime}) % {parents})"
        ref_col = fk.ref_columns[fk.columns.index(col.name)]
        template = self.column_at(fk.ref_table, ref_col)
        if template is None:
            return None
        return f"({_subst(template, parent_row)})::{col.type}"


def generation_plan(
    tables: Mapping[str, TargetTable],
    schema_tables: Mapping[str, Table],
    rows: Mapping[str, int],
    *,
    seed: int,
) -> GenerationPlan:
    """The expressions that fill ``tables`` (the sandbox's) to ``rows`` rows each, shaped by
    the statistics of ``schema_tables`` (the source schema's) where it has them."""
    stats = {
        name: {col.name: ColumnStats.of(col) for col in table.columns}
        for name, table in schema_tables.items()
    }
    shaped = frozenset(
        name
        for name, table in schema_tables.items()
        if any(c.n_distinct is not None or c.null_frac is not None for c in table.columns)
    )
    builder = _Builder(tables, stats, dict(rows), seed)
    for name in tables:
        builder.column_at(name, "")
    expressions = {
        name: tuple(templates.items())
        for name, templates in builder.done.items()
        if name not in builder.skipped
    }
    return GenerationPlan(
        rows={name: builder.rows[name] for name in expressions},
        expressions=expressions,
        skipped=dict(builder.skipped),
        shaped=shaped,
    )


def insert_sql(table: str, rows: int, expressions: tuple[tuple[str, str], ...]) -> str:
    """The one statement that generates ``rows`` rows of ``table`` in the server."""
    columns = ", ".join(quote_ident(name) for name, _ in expressions)
    values = ",\n       ".join(_subst(expr, "g.i") for _, expr in expressions)
    return (
        f"INSERT INTO {quote_qualified(table)} ({columns}) OVERRIDING SYSTEM VALUE\n"
        f"SELECT {values}\nFROM generate_series(1::int8, {rows}::int8) AS g(i)"
    )
