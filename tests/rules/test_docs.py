"""Every rule's documentation: the five sections, and examples that really behave as they say.

``sql`` blocks run through advisor's pipeline: DDL statements (CREATE/ALTER/DROP/COMMENT)
extend the schema, the other statements are executed queries (one request scope, one call
site, so repeats group). The base schema is ``fixtures/schemas/shop.sql`` unless the
example creates its own tables; every table gets a large row estimate. ``python`` blocks
(ADV001's ORM code) run against the test PostgreSQL under ``advisor.capture``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, ForeignKey, create_engine, select
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    joinedload,
    mapped_column,
    relationship,
    selectinload,
)

from advisor.model import CallSite, Execution, Finding, Schema
from advisor.rules import RULES, Rule, find_rule
from advisor.rules.base import Outcome, RuleContext
from advisor.rules.docs import REQUIRED_SECTIONS, CodeBlock, parse_doc
from advisor.schema import load_ddl
from advisor.workload import build_workload
from tests.rules.golden import REPO

SHOP = REPO / "fixtures" / "schemas" / "shop.sql"
ROWS = 1_000_000
_CREATE_INDEX = re.compile(
    r"CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?\"?(\w+)",
    re.IGNORECASE,
)
_DDL = re.compile(r"^\s*(CREATE|ALTER|DROP|COMMENT)\b", re.IGNORECASE)
# What a rule's doc example needs beyond queries and DDL (the statistics of a live database).
DOC_CONTEXT: dict[str, dict[str, Any]] = {
    # Indexes an Example creates were never scanned; every other index was.
    "ADV006": {"live": True, "index_scans": 1000, "stats_since": "2026-01-01T00:00:00Z"},
    # A captured statement that ran once never makes an index suggestion on its own.
    "ADV003": {"calls": 20},
}


def _ids(rule: Rule) -> str:
    return rule.code


@pytest.mark.parametrize("rule", RULES, ids=_ids)
def test_doc_has_the_five_sections(rule: Rule) -> None:
    doc = parse_doc(rule.doc)
    assert not doc.missing, f"{rule.code} doc lacks sections {doc.missing}"
    assert [name for name, _ in doc.sections][: len(REQUIRED_SECTIONS)] == list(
        REQUIRED_SECTIONS
    ), "sections out of order"
    for title in ("Example", "Use instead"):
        blocks = doc.code_blocks(title)
        assert blocks and all(b.lang in ("sql", "python") for b in blocks), (rule.code, title)
    for name in rule.options:
        assert f"``{name}``" in (doc.section("Options") or ""), f"option {name} undocumented"


def test_parse_doc_sections_and_blocks() -> None:
    doc = parse_doc(
        "Summary line.\n\n    ## Example\n    ```sql\n    SELECT 1\n    ```\n"
        "    ## Use instead\n    ```python\n    # ## not a heading\n    x = 1\n    ```\n"
    )
    assert doc.summary == "Summary line."
    assert doc.code_blocks("Example") == (CodeBlock("sql", "SELECT 1\n"),)
    assert doc.code_blocks("Use instead", "python")[0].code == "# ## not a heading\nx = 1\n"
    assert doc.missing == ("What it does", "Why is this bad?", "Options")


# --------------------------------------------------------------------------- sql examples


def _statements(blocks: tuple[CodeBlock, ...]) -> Iterator[str]:
    for block in blocks:
        text = "\n".join(
            line for line in block.code.splitlines() if not line.strip().startswith("--")
        )
        # One statement per ``;``, or per line when the block has no semicolons.
        parts = text.split(";") if ";" in text else text.splitlines()
        yield from (p.strip() for p in parts if p.strip())


def _run_sql_example(
    rule: Rule,
    blocks: tuple[CodeBlock, ...],
    schema_factory: Callable[[str], Schema],
    *,
    example: bool = False,
) -> list[Outcome]:
    statements = list(_statements(blocks))
    ddl = [s for s in statements if _DDL.match(s)]
    queries = [s for s in statements if not _DDL.match(s)]
    base = SHOP.read_text(encoding="utf-8")
    schema = schema_factory(base + "\n" + "".join(f"{s};\n" for s in ddl))
    extra = DOC_CONTEXT.get(rule.code, {})
    unused = {m.group(1) for s in ddl for m in _CREATE_INDEX.finditer(s)} if example else set()
    schema = _with_statistics(schema, extra, unused)
    site = CallSite("example.py", 1, "handler")
    executions = [
        Execution(
            sql=q,
            source=CallSite(f"{rule.code}-example.sql", i + 1),
            scope="example",
            scope_kind="request",
            seq=i,
            call_site=site,
            total_ms=1.0,
            rows=1,
            calls=int(extra.get("calls", 1)),
        )
        for i, q in enumerate(queries)
    ]
    workload = build_workload(executions, schema)
    assert not workload.skipped, [s.reason for s in workload.skipped]
    ctx = RuleContext(workload, schema, options=dict(rule.options), live=bool(extra.get("live")))
    return list(rule.check(ctx))


def _with_statistics(schema: Schema, extra: dict[str, Any], unused: set[str]) -> Schema:
    tables = {}
    for name, table in schema.tables.items():
        indexes = table.indexes
        if "index_scans" in extra:
            indexes = tuple(
                dataclasses.replace(ix, scans=0 if ix.name in unused else extra["index_scans"])
                for ix in indexes
            )
        tables[name] = dataclasses.replace(table, row_estimate=ROWS, indexes=indexes)
    return dataclasses.replace(schema, tables=tables, stats_since=extra.get("stats_since"))


SQL_RULES = [r for r in RULES if parse_doc(r.doc).code_blocks("Example", "sql")]


@pytest.mark.parametrize("rule", SQL_RULES, ids=_ids)
def test_sql_example_fires_and_use_instead_does_not(
    rule: Rule, schema_factory: Callable[[str], Schema]
) -> None:
    # Schema rules also fire on the shop schema itself: only what an example adds counts.
    doc = parse_doc(rule.doc)
    baseline = {f.message for f in _findings(rule, _run_sql_example(rule, (), schema_factory))}
    example = doc.code_blocks("Example", "sql")
    fired = _findings(rule, _run_sql_example(rule, example, schema_factory, example=True))
    assert [f for f in fired if f.message not in baseline], f"{rule.code}: Example gives no finding"
    fixed = doc.code_blocks("Use instead", "sql")
    assert fixed, f"{rule.code}: an sql Example needs an sql Use instead"
    still = _findings(rule, _run_sql_example(rule, fixed, schema_factory))
    added = [f.message for f in still if f.message not in baseline]
    assert not added, f"{rule.code}: its Use instead still fires: {added}"


def _findings(rule: Rule, outcomes: list[Outcome]) -> list[Finding]:
    return [o for o in outcomes if isinstance(o, Finding) and o.rule == rule.code]


# --------------------------------------------------------------------------- python (ORM) examples


class Base(DeclarativeBase):
    """Mapped classes over the shop schema, as ADV001's example names them."""


class User(Base):
    """``users``."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str]
    name: Mapped[str]
    orders: Mapped[list[Order]] = relationship(back_populates="user")


class Order(Base):
    """``orders``."""

    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(default="new")
    user: Mapped[User] = relationship(back_populates="orders")
    items: Mapped[list[OrderItem]] = relationship(back_populates="order")


class Product(Base):
    """``products`` (the columns the example needs)."""

    __tablename__ = "products"
    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str]
    name: Mapped[str]
    price_cents: Mapped[int]


class OrderItem(Base):
    """``order_items``."""

    __tablename__ = "order_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int]
    price_cents: Mapped[int]
    order: Mapped[Order] = relationship(back_populates="items")


ORDERS = 6  # more than ADV001's min_repeats (5) for a request scope


def seed(session: Session) -> int:
    """One user with ORDERS orders of two items each; returns the user's id."""
    user = User(email="ada@example.com", name="Ada")
    product = Product(sku="SKU-1", name="Lamp", price_cents=1999)
    session.add_all([user, product])
    session.flush()
    for n in range(ORDERS):
        order = Order(user=user)
        order.items = [
            OrderItem(product_id=product.id, quantity=n + k, price_cents=1999) for k in (1, 2)
        ]
        session.add(order)
    session.commit()
    return user.id


def run_orm_code(code: str, engine: Engine, schema: Schema, folder: Path) -> list[Finding]:
    """Run ``code`` (as ``folder/example.py``) under capture in one request scope, with
    ``session``, ``select``, the loaders and the shop models in scope; ADV001's findings."""
    import advisor.capture
    from advisor.sources.capture_file import read_capture

    folder.mkdir()
    example = folder / "example.py"
    example.write_text(code, encoding="utf-8")
    output = folder / "capture.jsonl"
    with Session(engine) as session:
        user_id = session.scalars(select(User.id).order_by(User.id)).first()
    namespace: dict[str, Any] = {
        "select": select,
        "selectinload": selectinload,
        "joinedload": joinedload,
        "user_id": user_id,
        **{cls.__name__: cls for cls in (User, Order, OrderItem, Product)},
    }
    handle = advisor.capture.instrument(
        engine, output=str(output), root=str(folder), introspect_schema=False
    )
    try:
        with Session(engine) as session, advisor.capture.scope("GET /orders", "request"):
            namespace["session"] = session
            exec(compile(code, str(example), "exec"), namespace)
    finally:
        handle.uninstrument()
    workload = build_workload(read_capture(str(output)), schema)
    rule = find_rule("ADV001")
    ctx = RuleContext(workload, schema, options=dict(rule.options))
    return [o for o in rule.check(ctx) if isinstance(o, Finding)]


def test_adv001_orm_example_fires_and_use_instead_does_not(fresh_db: str, tmp_path: Path) -> None:
    doc = parse_doc(find_rule("ADV001").doc)
    [example] = doc.code_blocks("Example", "python")
    [fixed] = doc.code_blocks("Use instead", "python")
    schema = load_ddl(fresh_db, SHOP)
    engine = create_engine(fresh_db.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with Session(engine) as session:
            seed(session)
        findings = run_orm_code(example.code, engine, schema, tmp_path / "example")
        still = run_orm_code(fixed.code, engine, schema, tmp_path / "fixed")
    finally:
        engine.dispose()
    assert len(findings) == 1, [f.message for f in findings]
    [finding] = findings
    assert finding.evidence["count"] == ORDERS
    assert "selectinload(Order.items)" in (finding.fix or "")
    assert finding.location is not None and finding.location.path == "example.py"
    assert finding.origin is not None and finding.origin.path == "example.py"
    assert still == [], [f.message for f in still]
