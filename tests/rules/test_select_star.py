"""ADV002 select-star-wide-table on hand-built queries and schemas."""

from __future__ import annotations

import dataclasses

from advisor.model import (
    CallSite,
    Column,
    ColumnRef,
    Finding,
    Note,
    ParsedQuery,
    Predicate,
    QueryShape,
    Schema,
    Table,
    TableRef,
    Workload,
)
from advisor.rules import select_star_wide_table as adv002
from advisor.rules.base import RuleContext

WIDE = Table(
    schema="public",
    name="products",
    columns=(
        Column("id", "bigint"),
        Column("name", "text"),
        Column("description", "text"),
        Column("image", "bytea"),
        *(Column(f"attr_{i}", "integer") for i in range(14)),
    ),
    primary_key=("id",),
)
NARROW = Table(
    schema="public",
    name="users",
    columns=(Column("id", "bigint"), Column("email", "text"), Column("bio", "text")),
    primary_key=("id",),
)


def query(
    sql: str, table: Table, *, star: bool = True, listed: bool = False, **kw: object
) -> ParsedQuery:
    """A one-table SELECT of ``table`` (``*`` or every column listed)."""
    return ParsedQuery(
        sql=sql,
        fingerprint=f"fp-{sql}",
        batched=False,
        kind="select",
        tables=(TableRef(table.qualified, resolved=True),),
        star_tables=(table.qualified,) if star else (),
        selected=tuple(ColumnRef(table.qualified, c.name) for c in table.columns) if listed else (),
        **kw,  # type: ignore[arg-type]
    )


def outcomes(q: ParsedQuery, *tables: Table, **opts: int) -> list[Finding | Note]:
    """ADV002's outcomes for one shape of ``q``."""
    shape = QueryShape(q, calls=1, total_ms=1.0, rows=100, sources=(CallSite("q.sql", 1),))
    schema = Schema(tables={t.qualified: t for t in tables}, source="ddl")
    ctx = RuleContext(Workload(shapes={q.key: shape}), schema, {**adv002.RULE.options, **opts})
    return list(adv002.check(ctx))


def with_widths(table: Table, widths: dict[str, int]) -> Table:
    """``table`` with ``avg_width`` statistics (others default to 8 bytes)."""
    cols = tuple(dataclasses.replace(c, avg_width=widths.get(c.name, 8)) for c in table.columns)
    return dataclasses.replace(table, columns=cols)


def test_star_on_wide_table_fires_and_says_widths_unknown() -> None:
    [f] = outcomes(query("SELECT * FROM products", WIDE), WIDE)
    assert isinstance(f, Finding) and f.rule == "ADV002"
    assert "18 columns" in f.message and "widths unknown" in f.message
    assert "leaves out image" in (f.fix or "")
    assert f.location == CallSite("q.sql", 1)


def test_orm_full_column_list_gets_defer_fix() -> None:
    wide = with_widths(WIDE, {"description": 4000})
    [f] = outcomes(query("SELECT products.id, ...", wide, star=False, listed=True), wide)
    assert isinstance(f, Finding) and f.confidence == "high"
    assert "defer(Product.description)" in (f.fix or "")


def test_large_toast_column_alone_qualifies_a_narrow_table_for_list_queries() -> None:
    narrow = with_widths(NARROW, {"bio": 3000})
    [f] = outcomes(query("SELECT * FROM users", narrow), narrow)
    assert isinstance(f, Finding) and "bio" in f.message
    assert outcomes(query("SELECT * FROM users", NARROW), NARROW) == []


def test_single_row_lookup_is_a_note_not_a_finding() -> None:
    pk = (Predicate(WIDE.qualified, "id", "eq", parameterized=True),)
    [note] = outcomes(query("SELECT * FROM products WHERE id = $1", WIDE, predicates=pk), WIDE)
    assert isinstance(note, Note) and "single-row" in note.reason
    [note] = outcomes(query("SELECT * FROM products LIMIT 1", WIDE, limit=1, has_limit=True), WIDE)
    assert isinstance(note, Note)


def test_thresholds_are_options() -> None:
    # 18 columns < 40, and 18 < 40 // 2: the bytea column alone does not qualify it.
    assert outcomes(query("SELECT * FROM products", WIDE), WIDE, min_columns=40) == []
    [f] = outcomes(query("SELECT * FROM products", WIDE), WIDE, min_columns=30)
    assert isinstance(f, Finding) and "TOAST-able columns image" in f.message
    wide_rows = with_widths(NARROW, {"email": 300, "bio": 300})
    [f] = outcomes(query("SELECT * FROM users", wide_rows), wide_rows)
    assert isinstance(f, Finding) and "bytes per row" in f.message


def test_partial_column_list_and_non_select_do_not_fire() -> None:
    few = dataclasses.replace(
        query("SELECT id, name FROM products", WIDE, star=False),
        selected=(ColumnRef(WIDE.qualified, "id"), ColumnRef(WIDE.qualified, "name")),
    )
    assert outcomes(few, WIDE) == []
    ins = dataclasses.replace(query("INSERT INTO x SELECT * FROM products", WIDE), kind="insert")
    assert outcomes(ins, WIDE) == []


def test_is_toastable() -> None:
    assert adv002.is_toastable("jsonb") and adv002.is_toastable("text[]")
    assert adv002.is_toastable("character varying(200)")
    assert not adv002.is_toastable("integer") and not adv002.is_toastable(
        "timestamp with time zone"
    )
