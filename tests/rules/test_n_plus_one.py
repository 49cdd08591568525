"""ADV001 n-plus-one (and ADV007 repeated-identical-query) on hand-built workloads."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from advisor.model import (
    CallSite,
    ColumnRef,
    ForeignKey,
    OrmLoad,
    ParsedQuery,
    Predicate,
    QueryShape,
    Schema,
    ScopeGroup,
    Severity,
    Table,
    TableRef,
    Workload,
)
from advisor.model import Column as Col
from advisor.rules import n_plus_one, orm_fixes, repeated_identical_query
from advisor.rules.base import RuleContext
from advisor.schema import load_ddl
from tests.rules.test_docs import SHOP, Order, OrderItem, Product, User, run_orm_code, seed

ITEMS = Table(
    schema="public",
    name="order_items",
    columns=(Col("id", "bigint"), Col("order_id", "bigint"), Col("quantity", "integer")),
    primary_key=("id",),
    foreign_keys=(ForeignKey("fk", ("order_id",), "public.orders", ("id",)),),
)
PRODUCTS = Table(
    schema="public",
    name="products",
    columns=(Col("id", "bigint"), Col("name", "text")),
    primary_key=("id",),
)
SCHEMA = Schema(tables={t.qualified: t for t in (ITEMS, PRODUCTS)}, source="ddl")
LOOP = CallSite("app/api.py", 42, "list_orders")
ORIGIN = CallSite("app/api.py", 38, "list_orders")


def lookup(
    table: Table, column: str, *, kind: str = "select", batched: bool = False
) -> ParsedQuery:
    """A one-table equality lookup ``SELECT ... FROM table WHERE column = $1``."""
    return ParsedQuery(
        sql=f"SELECT * FROM {table.name} WHERE {column} = $1",
        fingerprint=f"fp-{table.name}-{column}-{kind}",
        batched=batched,
        kind=kind,  # type: ignore[arg-type]
        tables=(TableRef(table.qualified, resolved=True),),
        selected=tuple(ColumnRef(table.qualified, c.name) for c in table.columns),
        predicates=(Predicate(table.qualified, column, "eq", parameterized=True),),
    )


def group(query: ParsedQuery, scope: str, count: int, **kw: object) -> ScopeGroup:
    """A scope group of ``count`` executions of ``query`` from LOOP."""
    values: dict[str, object] = {
        "scope": scope,
        "scope_kind": "request",
        "key": query.key,
        "call_site": LOOP,
        "origin": ORIGIN,
        "count": count,
        "distinct_params": count,
        "total_ms": count * 0.5,
        "first_seq": 1,
        "batched": query.batched,
    }
    values.update(kw)
    return ScopeGroup(**values)  # type: ignore[arg-type]


def run(
    rule_check: object, queries: list[ParsedQuery], groups: list[ScopeGroup], **opts: int
) -> list:  # type: ignore[type-arg]
    """Run a rule's check over a workload of these shapes and groups."""
    shapes = {
        q.key: QueryShape(q, calls=10, total_ms=5.0, rows=10, sources=(CallSite("x"),))
        for q in queries
    }
    rule = n_plus_one.RULE if rule_check is n_plus_one.check else repeated_identical_query.RULE
    ctx = RuleContext(
        Workload(shapes=shapes, groups=tuple(groups)), SCHEMA, {**rule.options, **opts}
    )
    return list(rule.check(ctx))


LAZY = OrmLoad(
    kind="lazy",
    parent="Order",
    attribute="items",
    path=("Order", "items"),
    direction="ONETOMANY",
    target="OrderItem",
)


def test_lazy_collection_gives_selectinload_at_origin() -> None:
    q = lookup(ITEMS, "order_id")
    [finding] = run(n_plus_one.check, [q], [group(q, "GET /orders", 10, orm=LAZY)])
    assert finding.rule == "ADV001" and finding.severity is Severity.HIGH
    assert "selectinload(Order.items)" in (finding.fix or "")
    assert finding.location == LOOP and finding.origin == ORIGIN
    assert finding.evidence["count"] == 10


def test_many_to_one_gives_joinedload_and_nested_path_chains() -> None:
    q = lookup(ITEMS, "order_id")
    m2o = OrmLoad("lazy", "OrderItem", "order", ("OrderItem", "order"), "MANYTOONE", "Order")
    [finding] = run(n_plus_one.check, [q], [group(q, "s", 6, orm=m2o)])
    assert "joinedload(OrderItem.order)" in (finding.fix or "")
    nested = OrmLoad("lazy", "Order", "items", ("User", "orders", "Order", "items"), "ONETOMANY")
    assert orm_fixes.loader_fix(nested) == (
        ".options(selectinload(User.orders).selectinload(Order.items))"
    )


def test_get_loop_and_raw_sql_fixes() -> None:
    get = lookup(PRODUCTS, "id")
    [finding] = run(n_plus_one.check, [get], [group(get, "s", 8)])
    assert "select(Product).where(Product.id.in_(ids))" in (finding.fix or "")
    raw = lookup(ITEMS, "order_id")
    [finding] = run(n_plus_one.check, [raw], [group(raw, "s", 8)])
    assert "WHERE order_id = ANY($1)" in (finding.fix or "")


def test_aggregates_across_scopes() -> None:
    q = lookup(ITEMS, "order_id")
    groups = [group(q, f"tests/t.py::test_{i}", 2 + i, scope_kind="test") for i in range(50)]
    [finding] = run(n_plus_one.check, [q], groups)
    assert finding.evidence["scopes"] == 50
    assert finding.evidence["count"] == 51
    assert "50 scopes" in finding.message


def test_thresholds_depend_on_scope_kind() -> None:
    q = lookup(ITEMS, "order_id")
    assert run(n_plus_one.check, [q], [group(q, "GET /", 4)]) == []
    assert len(run(n_plus_one.check, [q], [group(q, "t", 2, scope_kind="test")])) == 1
    assert len(run(n_plus_one.check, [q], [group(q, "GET /", 4)], min_repeats=3)) == 1


def test_not_n_plus_one() -> None:
    q = lookup(ITEMS, "order_id")
    batched = OrmLoad("batched", "Order", "items", ("Order", "items"), "ONETOMANY")
    assert run(n_plus_one.check, [q], [group(q, "s", 10, orm=batched)]) == []
    assert run(n_plus_one.check, [q], [group(q, "s", 10, executemany=10)]) == []
    assert run(n_plus_one.check, [q], [group(q, "s", 10, distinct_params=1)]) == []
    b = lookup(ITEMS, "order_id", batched=True)
    assert run(n_plus_one.check, [b], [group(b, "s", 10)]) == []
    ins = lookup(ITEMS, "order_id", kind="insert")
    assert run(n_plus_one.check, [ins], [group(ins, "s", 10)]) == []


def test_identical_parameters_are_adv007_not_adv001() -> None:
    q = lookup(PRODUCTS, "id")
    groups = [group(q, "GET /", 6, distinct_params=1)]
    assert run(n_plus_one.check, [q], groups) == []
    [finding] = run(repeated_identical_query.check, [q], groups)
    assert finding.rule == "ADV007" and finding.severity is Severity.LOW
    assert run(repeated_identical_query.check, [q], [group(q, "GET /", 6)]) == []


def test_pg_stat_statements_suspicion_is_low_confidence() -> None:
    q = lookup(ITEMS, "order_id")

    def shape(calls: int, rows: int) -> dict[str, QueryShape]:
        s = QueryShape(q, calls, 100.0, rows, (CallSite("pg_stat_statements"),), (), True)
        return {q.key: s}

    def findings(calls: int, rows: int) -> list:  # type: ignore[type-arg]
        ctx = RuleContext(Workload(shapes=shape(calls, rows)), SCHEMA, n_plus_one.RULE.options)
        return list(n_plus_one.check(ctx))

    [finding] = findings(5000, 5000)
    assert finding.confidence == "low" and finding.evidence["calls"] == 5000
    assert findings(5000, 50000) == []  # ten rows a call: a list query
    assert findings(10, 10) == []  # too few calls


NESTED = """\
for user in session.scalars(select(User)).all():
    for order in user.orders:
        count = len(order.items)
"""


def test_captured_nested_loop_gives_one_chained_fix_at_the_root_query(
    fresh_db: str, tmp_path: Path
) -> None:
    schema = load_ddl(fresh_db, SHOP)
    engine = create_engine(fresh_db.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with Session(engine) as session:
            seed(session)
            other = User(email="bob@example.com", name="Bob")
            product_id = session.scalars(select(Product.id)).one()
            for _ in range(3):
                item = OrderItem(product_id=product_id, quantity=1, price_cents=5)
                session.add(Order(user=other, items=[item]))
            session.commit()
        findings = run_orm_code(NESTED, engine, schema, tmp_path / "nested")
    finally:
        engine.dispose()
    # Two users: User.orders ran twice (under min_repeats); Order.items ran 6 + 3 times.
    [finding] = findings
    assert finding.evidence["count"] == 9
    assert ".options(selectinload(User.orders).selectinload(Order.items))" in (finding.fix or "")
    assert finding.location is not None and finding.location.line == 3
    assert finding.origin is not None and finding.origin.line == 1
