"""A statement's structure, read with sqlglot (dialect ``postgres``) against a schema.

:func:`extract` walks every query level (CTE bodies, derived tables, subqueries,
set-operation branches, the SELECT of an INSERT ... SELECT, UPDATE ... FROM and
DELETE ... USING) and collects the tables read, the columns selected, the WHERE and
JOIN ... ON conjuncts (:mod:`advisor.parse.predicates`), and the outermost ORDER BY,
GROUP BY and LIMIT. Names resolve through :mod:`advisor.parse.scope`.

An outermost level without a LIMIT that reads a sorted, limited derived table takes that
table's ORDER BY and LIMIT: SQLAlchemy's ``joinedload()`` of a collection with
``.limit()`` puts the real query one level down (see :meth:`_Walker.wrapped`).

``star_tables`` are the tables whose every column PostgreSQL computes. A ``*`` inside a
derived table or an inlined CTE counts only when an outer ``*`` carries its columns on to
the output: the planner computes only the columns the outer query reads. Where PostgreSQL
computes whole rows anyway (a materialized CTE, DISTINCT, UNION, INTERSECT, EXCEPT, the
SELECT of an INSERT), a ``*`` counts where it stands.

PostgreSQL's grammar (pglast) is the judge of validity: sqlglot reading a valid
statement differently or not at all must not lose the statement, so :func:`extract`
never raises; it returns the query without structure, with a note in ``unknown``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

import sqlglot
from sqlglot import exp

from advisor.model import ColumnRef, JoinKey, OrderItem, ParsedQuery, Predicate, Schema
from advisor.parse.predicates import POSTGRES, conjuncts, convert, normalized_sql
from advisor.parse.scope import QueryLevel, ident
from advisor.sqltext import one_line

__all__ = ["extract"]

# sqlglot warns (through logging) about statements it reads as opaque commands; without
# a handler of the application's own, Python would print those warnings to stderr.
logging.getLogger("sqlglot").addHandler(logging.NullHandler())

# "root": its SELECT list is the statement's output; "whole": every output column is
# computed (INSERT ... SELECT, a materialized CTE, DISTINCT, set operations other than
# UNION ALL); "derived": only the columns an outer level reads are computed (derived
# table, inlined CTE); "subquery": no column is fetched as such (EXISTS, IN, scalar).
_Role = str


def extract(query: ParsedQuery, schema: Schema) -> ParsedQuery:
    """``query`` with the structure of the first statement of its ``sql`` filled in.

    ``query.sql`` has ``$n`` placeholders. Never raises: when sqlglot cannot read the
    statement, ``query`` comes back with only a note in ``unknown``.
    """
    try:
        statements = sqlglot.parse(query.sql, read=POSTGRES)
    except Exception as exc:  # sqlglot's grammar is narrower than PostgreSQL's
        note = f"structure: sqlglot cannot read this statement ({_short(exc)})"
        return replace(query, unknown=(note,))
    root = next((s for s in statements if s is not None), None)
    if root is None:
        return query
    try:
        return _Walker(schema).run(root, query)
    except Exception as exc:
        return replace(query, unknown=(f"structure: not extracted ({_short(exc)})",))


def _short(exc: Exception) -> str:
    return one_line(str(exc)) or type(exc).__name__


@dataclass(slots=True)
class _Walker:
    schema: Schema
    stars: list[str] = field(default_factory=list)
    selected: list[ColumnRef] = field(default_factory=list)
    predicates: list[Predicate] = field(default_factory=list)
    joins: list[JoinKey] = field(default_factory=list)
    order_by: list[OrderItem] = field(default_factory=list)
    group_by: list[ColumnRef] = field(default_factory=list)
    limit: int | None = None
    has_limit: bool = False
    # the scope of each derived table's body, by id of the body's node: the ORDER BY of a
    # derived table the outermost level wraps resolves there (see ``wrapped``)
    bodies: dict[int, QueryLevel] = field(default_factory=dict)

    def run(self, root: exp.Expr, query: ParsedQuery) -> ParsedQuery:
        scope = QueryLevel(self.schema)
        if isinstance(root, exp.Query):
            inner = self.query(root, scope, "root")
            self.modifiers(root, inner)
        elif isinstance(root, exp.Update | exp.Delete):
            self.write(root, scope)
        elif isinstance(root, exp.Insert):
            self.insert(root, scope)
        return replace(
            query,
            tables=tuple(dict.fromkeys(scope.tables)),
            star_tables=tuple(dict.fromkeys(self.stars)),
            selected=tuple(dict.fromkeys(self.selected)),
            predicates=tuple(dict.fromkeys(self.predicates)),
            joins=tuple(dict.fromkeys(self.joins)),
            order_by=tuple(self.order_by),
            group_by=tuple(self.group_by),
            limit=self.limit,
            has_limit=self.has_limit,
            unknown=tuple(scope.unknown),
        )

    # ------------------------------------------------------------------ query levels

    def query(self, node: exp.Expr, parent: QueryLevel, role: _Role) -> QueryLevel:
        """Walk one query level (and everything nested in it); return its scope.

        The scope's ``stars`` are the tables whose every column reaches the level's output.
        """
        with_ = node.args.get("with_")
        ctes = with_.expressions if with_ is not None else []
        scope = parent.child(_cte_name(cte) for cte in ctes)
        for cte in ctes:
            body = self.query(cte.this, scope, _cte_role(cte, node))
            scope.ctes[_cte_name(cte)] = tuple(body.stars)
        if role == "derived" and _computes_whole_rows(node):
            role = "whole"
        if isinstance(node, exp.SetOperation):
            left = self.query(node.left, scope, role)
            right = self.query(node.right, scope, role)
            left.stars.extend(right.stars)  # a row of the output comes from either branch
            return left
        if isinstance(node, exp.Subquery):
            return self.query(node.this, scope, role)
        if not isinstance(node, exp.Select):
            return scope
        self.sources(node, scope)
        self.conditions(node.args.get("joins") or (), node.args.get("where"), scope)
        self.select_list(node, scope, role)
        return scope

    def sources(self, node: exp.Expr, scope: QueryLevel) -> None:
        """Register FROM and JOIN sources, then walk derived tables."""
        from_ = node.args.get("from_")
        items = [from_.this] if from_ is not None else []
        items += [join.this for join in node.args.get("joins") or ()]
        for item in items:
            self.source(item, scope)

    def source(self, item: exp.Expr, scope: QueryLevel) -> None:
        if isinstance(item, exp.Table) and isinstance(item.this, exp.Identifier):
            scope.add_table(item)
            return
        alias = item.args.get("alias")
        stars: list[str] = []
        for sub in _queries(item):
            body = self.query(sub, scope, "derived")
            self.bodies[id(sub)] = body
            stars.extend(body.stars)
        name = ident(alias.this) if alias is not None and alias.this else None
        scope.add_derived(name, tuple(stars))

    def conditions(
        self, joins: Iterable[exp.Join], where: exp.Expr | None, scope: QueryLevel
    ) -> None:
        """WHERE and JOIN ... ON / USING conjuncts, and the subqueries inside them."""
        for join in joins:
            self.condition(join.args.get("on"), scope)
            for column in join.args.get("using") or ():
                self.using(ident(column), join, scope)
        self.condition(where.this if where is not None else None, scope)

    def condition(self, cond: exp.Expr | None, scope: QueryLevel) -> None:
        for part in conjuncts(cond):
            found = convert(part, scope)
            if isinstance(found, JoinKey):
                self.joins.append(found)
            elif found is not None:
                self.predicates.append(found)
            for sub in _queries(part):
                self.query(sub, scope, "subquery")

    def using(self, column: str, join: exp.Join, scope: QueryLevel) -> None:
        right = join.this
        if not isinstance(right, exp.Table):
            return
        alias = right.args.get("alias")
        right_key = ident(alias.this) if alias is not None else ident(right.this)
        right_source = scope.sources.get(right_key)
        for key, source in scope.sources.items():
            if key == right_key or source.table is None or right_source is None:
                continue
            if source.table.column(column) is not None:
                self.joins.append(
                    JoinKey(ColumnRef(source.name, column), ColumnRef(right_source.name, column))
                )
                return

    def select_list(self, node: exp.Select, scope: QueryLevel, role: _Role) -> None:
        for item in node.expressions:
            target = item.this if isinstance(item, exp.Alias) else item
            if isinstance(target, exp.Star):
                scope.stars.extend(t for s in scope.sources.values() for t in s.whole())
            elif isinstance(target, exp.Column) and isinstance(target.this, exp.Star):
                source = scope.sources.get(ident(target.args.get("table")))
                scope.stars.extend(source.whole() if source is not None else ())
            elif isinstance(target, exp.Column) and role == "root":
                self.selected.append(scope.column(target))
            for sub in _queries(item):
                self.query(sub, scope, "subquery")
        for sub in _queries(node.args.get("having")):
            self.query(sub, scope, "subquery")
        if role in ("root", "whole"):
            self.stars.extend(scope.stars)

    # ------------------------------------------------------------------ writes

    def write(self, node: exp.Update | exp.Delete, scope: QueryLevel) -> None:
        target = node.this
        if isinstance(target, exp.Table):
            scope.add_table(target)
        from_ = node.args.get("from_")
        items = [*(node.args.get("using") or ()), *((from_.this,) if from_ is not None else ())]
        # sqlglot hangs the joins of UPDATE ... FROM and DELETE ... USING on their sources.
        joins = [join for item in items for join in item.args.get("joins") or ()]
        joins += node.args.get("joins") or ()
        for item in items + [join.this for join in joins]:
            self.source(item, scope)
        self.conditions(joins, node.args.get("where"), scope)
        for item in node.expressions if isinstance(node, exp.Update) else ():
            for sub in _queries(item):
                self.query(sub, scope, "subquery")

    def insert(self, node: exp.Insert, scope: QueryLevel) -> None:
        target = node.this.this if isinstance(node.this, exp.Schema) else node.this
        if isinstance(target, exp.Table):
            scope.add_table(target)
        source = node.args.get("expression")
        if isinstance(source, exp.Query):
            self.query(source, scope.detached(), "whole")
        else:
            for sub in _queries(source):
                self.query(sub, scope, "subquery")

    # ------------------------------------------------------------------ outermost modifiers

    def modifiers(self, node: exp.Expr, scope: QueryLevel) -> None:
        """GROUP BY of the outermost query; ORDER BY and LIMIT of the level that limits.

        That level is the outermost query, or the derived table it wraps (``wrapped``).
        """
        outputs = _outputs(node)
        group = node.args.get("group")
        for item in group.expressions if group is not None else ():
            target = _output_target(item, outputs)
            if isinstance(target, exp.Column):
                self.group_by.append(scope.column(target))
        level, level_scope = self.wrapped(node) or (node, scope)
        level_outputs = _outputs(level)
        order = level.args.get("order")
        for item in order.expressions if order is not None else ():
            self.order_by.append(self.order_item(item, level_outputs, level_scope))
        self.limit_of(level.args.get("limit"))

    def wrapped(self, node: exp.Expr) -> tuple[exp.Select, QueryLevel] | None:
        """The sorted, limited derived table an outermost level without a LIMIT reads.

        SQLAlchemy's ``joinedload()`` of a collection with ``.limit()`` limits the parent
        rows in a derived table and joins the collection to it: ``SELECT ... FROM (SELECT
        ... FROM events WHERE events.user_id = $1 ORDER BY events.created_at DESC LIMIT
        $2) AS anon_1 LEFT OUTER JOIN tags AS tags_1 ON ... ORDER BY anon_1.created_at
        DESC``. The sort an index can stop early on is the derived table's; the outer
        ORDER BY only repeats it over the derived table's columns (which name no table).
        None when the outermost level has its own LIMIT, or its FROM is not one derived
        SELECT with both ORDER BY and LIMIT.
        """
        if not isinstance(node, exp.Select) or node.args.get("limit") is not None:
            return None
        from_ = node.args.get("from_")
        derived = from_.this if from_ is not None else None
        body = derived.this if isinstance(derived, exp.Subquery) else None
        if not isinstance(body, exp.Select) or id(body) not in self.bodies:
            return None
        if body.args.get("order") is None or body.args.get("limit") is None:
            return None
        return body, self.bodies[id(body)]

    def order_item(self, item: exp.Expr, outputs: list[exp.Expr], scope: QueryLevel) -> OrderItem:
        ordered = item if isinstance(item, exp.Ordered) else exp.Ordered(this=item)
        desc = bool(ordered.args.get("desc"))
        nulls_first = bool(ordered.args.get("nulls_first"))
        # None means PostgreSQL's default for the direction (NULLS FIRST iff DESC).
        nulls = None if nulls_first == desc else nulls_first
        target = _output_target(ordered.this, outputs)
        if isinstance(target, exp.Column):
            return OrderItem(scope.column(target), desc, nulls)
        return OrderItem(None, desc, nulls, normalized_sql(target))

    def limit_of(self, node: exp.Expr | None) -> None:
        if node is None:
            return
        value = node.args.get("count") if isinstance(node, exp.Fetch) else node.expression
        self.has_limit = True
        if value is None and isinstance(node, exp.Fetch):
            self.limit = 1
        elif isinstance(value, exp.Literal) and not value.is_string and value.this.isdigit():
            self.limit = int(value.this)


def _cte_name(cte: exp.CTE) -> str:
    return ident(cte.args["alias"].this)


def _cte_role(cte: exp.CTE, level: exp.Expr) -> _Role:
    """The role of a CTE's body: whole rows when PostgreSQL materializes the CTE.

    It does when told to (``AS MATERIALIZED``) and by default when the CTE is referenced
    more than once (a recursive CTE references itself); ``AS NOT MATERIALIZED`` and a
    single reference inline it. An unreferenced CTE is not computed at all.
    """
    name = _cte_name(cte)
    refs = sum(
        1 for t in level.find_all(exp.Table) if not t.args.get("db") and ident(t.this) == name
    )
    materialized = cte.args.get("materialized")  # True, False (NOT MATERIALIZED) or None
    if refs and (materialized or (materialized is None and refs > 1)):
        return "whole"
    return "derived"


def _computes_whole_rows(node: exp.Expr) -> bool:
    """True for DISTINCT and set operations but UNION ALL: they compare whole rows."""
    if isinstance(node, exp.SetOperation):
        return not isinstance(node, exp.Union) or bool(node.args.get("distinct"))
    distinct = node.args.get("distinct") if isinstance(node, exp.Select) else None
    return distinct is not None and distinct.args.get("on") is None  # ON keeps only its keys


def _queries(node: exp.Expr | None) -> Iterator[exp.Query]:
    """The outermost queries nested in ``node`` (not ``node`` itself, not deeper ones)."""
    if node is None:
        return
    for item in node.walk(prune=lambda n: isinstance(n, exp.Query) and n is not node):
        if item is not node and isinstance(item, exp.Query):
            yield item


def _outputs(node: exp.Expr) -> list[exp.Expr]:
    while isinstance(node, exp.SetOperation):
        node = node.left
    return list(node.expressions) if isinstance(node, exp.Select) else []


def _output_target(item: exp.Expr, outputs: list[exp.Expr]) -> exp.Expr:
    """Follow ``ORDER BY 2`` and ``ORDER BY alias`` to the select expression they name."""
    if isinstance(item, exp.Literal) and not item.is_string and item.this.isdigit():
        index = int(item.this) - 1
        if 0 <= index < len(outputs):
            output = outputs[index]
            return output.this if isinstance(output, exp.Alias) else output
    if isinstance(item, exp.Column) and not item.args.get("table"):
        name = ident(item.this)
        for output in outputs:
            if isinstance(output, exp.Alias) and ident(output.args.get("alias")) == name:
                target: exp.Expr = output.this
                return target
    return item
