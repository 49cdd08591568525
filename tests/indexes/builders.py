"""Hand-built schema and query objects for the suggest-stage unit tests."""

from __future__ import annotations

from advisor.model import (
    Column,
    ColumnRef,
    Index,
    IndexKey,
    JoinKey,
    OrderItem,
    ParsedQuery,
    Predicate,
    Schema,
    Table,
    TableRef,
)

__all__ = ["col", "eq", "idx", "query", "schema", "table"]


def table(
    name: str,
    columns: dict[str, str],
    *,
    indexes: tuple[Index, ...] = (),
    rows: int | None = None,
    n_distinct: dict[str, float] | None = None,
) -> Table:
    """``public.<name>`` with ``columns`` (name -> type)."""
    stats = n_distinct or {}
    cols = tuple(Column(c, t, n_distinct=stats.get(c)) for c, t in columns.items())
    return Table("public", name, cols, indexes=indexes, row_estimate=rows)


def idx(
    name: str,
    *keys: str | IndexKey,
    table: str = "public.events",
    **kwargs: object,
) -> Index:
    """An index; a string key ``"col"`` / ``"col DESC"`` / ``"(expr)"``."""
    built: list[IndexKey] = []
    for key in keys:
        if isinstance(key, IndexKey):
            built.append(key)
        elif key.startswith("("):
            built.append(IndexKey(None, expression=key[1:-1]))
        else:
            column, _, direction = key.partition(" ")
            desc = direction == "DESC"
            built.append(IndexKey(column, descending=desc, nulls_first=desc))
    return Index(name, table, tuple(built), **kwargs)  # type: ignore[arg-type]


def schema(*tables: Table) -> Schema:
    """A schema holding ``tables``."""
    return Schema(tables={t.qualified: t for t in tables}, source="ddl")


def col(table: str, column: str) -> ColumnRef:
    """A column of ``public.<table>``."""
    return ColumnRef(f"public.{table}", column)


def eq(table: str, column: str, *, op: str = "eq", constant: str | None = None) -> Predicate:
    """``column = $n`` (or a constant comparison when ``constant`` is given)."""
    return Predicate(
        f"public.{table}",
        column,
        op,  # type: ignore[arg-type]
        constant=constant,
        parameterized=constant is None and op not in ("is_null", "is_not_null"),
    )


def query(
    *tables: str,
    predicates: tuple[Predicate, ...] = (),
    joins: tuple[JoinKey, ...] = (),
    order_by: tuple[OrderItem, ...] = (),
    selected: tuple[ColumnRef, ...] = (),
    limit: int | None = None,
    kind: str = "select",
    aliases: dict[str, str] | None = None,
) -> ParsedQuery:
    """A parsed SELECT over ``tables`` (unqualified names of ``public``)."""
    names = aliases or {}
    return ParsedQuery(
        sql="-- hand-built",
        fingerprint="f" + "".join(tables),
        batched=False,
        kind=kind,  # type: ignore[arg-type]
        tables=tuple(TableRef(f"public.{t}", names.get(t), resolved=True) for t in tables),
        selected=selected,
        predicates=predicates,
        joins=joins,
        order_by=order_by,
        limit=limit,
        has_limit=limit is not None,
    )
