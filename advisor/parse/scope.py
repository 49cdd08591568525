"""Name resolution for structure extraction: which table an alias or a column means.

One :class:`QueryLevel` per SELECT (or UPDATE/DELETE) level: the aliases its FROM, JOIN and
USING clauses introduce, and its parent (a correlated subquery sees the outer aliases).
CTEs and derived tables are sources but not tables: columns read through them resolve
to no table (the CTE's own body is scanned as its own scope). Such a source remembers the
tables whose every column its body outputs (``SELECT *``), so a ``*`` over it fetches them.

Identifiers follow PostgreSQL: unquoted names fold to lower case, quoted ones do not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlglot import exp

from advisor.model import ColumnRef, Schema, Table, TableRef

__all__ = ["QueryLevel", "Source", "ident", "table_name"]


@dataclass(slots=True)
class Source:
    """What an alias stands for: a table (resolved or not), or a CTE / derived table."""

    name: str | None  # qualified when resolved; as written when not; None for CTE/derived
    table: Table | None = None
    stars: tuple[str, ...] = ()  # CTE/derived: the tables whose every column it outputs

    def whole(self) -> tuple[str, ...]:
        """The tables whose every column ``*`` over this source fetches."""
        return (self.name,) if self.name else self.stars


@dataclass(slots=True)
class QueryLevel:
    """The aliases visible at one query level, and what extraction found there."""

    schema: Schema
    parent: QueryLevel | None = None
    # CTE name -> the tables whose every column its body outputs (filled as walked: a
    # CTE sees only the ones before it, as in PostgreSQL)
    ctes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sources: dict[str, Source] = field(default_factory=dict)
    tables: list[TableRef] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    # the tables whose every column reaches this level's output (``*``, ``t.*``)
    stars: list[str] = field(default_factory=list)

    def child(self, ctes: Iterable[str] = ()) -> QueryLevel:
        """A nested scope (subquery) sharing the output lists of this one."""
        visible = {**self.ctes, **dict.fromkeys(ctes, ())}
        return QueryLevel(self.schema, self, visible, tables=self.tables, unknown=self.unknown)

    def detached(self) -> QueryLevel:
        """A scope that sees none of this one's aliases but shares its output lists."""
        return QueryLevel(
            self.schema, None, dict(self.ctes), tables=self.tables, unknown=self.unknown
        )

    def add_table(self, node: exp.Table) -> None:
        """Register a FROM/JOIN table (or a CTE reference) under its alias."""
        name = table_name(node)
        alias = ident(node.args["alias"].args.get("this")) if node.args.get("alias") else None
        key = alias or name.rsplit(".", 1)[-1]
        if "." not in name and name in self.ctes:
            self.sources[key] = Source(None, stars=self.ctes[name])
            return
        table = self.schema.find(name)
        if table is None:
            self._note(f"table {name}")
            self.sources[key] = Source(name)
            self.tables.append(TableRef(name, alias, resolved=False))
        else:
            self.sources[key] = Source(table.qualified, table)
            self.tables.append(TableRef(table.qualified, alias, resolved=True))

    def add_derived(self, alias: str | None, stars: tuple[str, ...] = ()) -> None:
        """Register a derived table or function source (not a table).

        ``stars``: the tables whose every column the derived table outputs.
        """
        if alias:
            self.sources[alias] = Source(None, stars=stars)

    def column(self, node: exp.Column) -> ColumnRef:
        """Qualify a column reference; ``table`` is None when ambiguous or not a table."""
        name = ident(node.args.get("this"))
        qualifier = ident(node.args.get("table")) if node.args.get("table") else None
        if qualifier:
            return self._qualified(qualifier, name)
        scope: QueryLevel | None = self
        while scope is not None:
            found = scope._unqualified(name)
            if found is not None:
                return found
            scope = scope.parent
        self._note(f"column {name}")
        return ColumnRef(None, name)

    def _qualified(self, qualifier: str, name: str) -> ColumnRef:
        scope: QueryLevel | None = self
        while scope is not None:
            source = scope.sources.get(qualifier)
            if source is not None:
                if source.table is not None and source.table.column(name) is None:
                    self._note(f"column {source.name}.{name}")
                return ColumnRef(source.name, name)
            scope = scope.parent
        self._note(f"column {qualifier}.{name}")
        return ColumnRef(None, name)

    def _unqualified(self, name: str) -> ColumnRef | None:
        """The one table of this scope having ``name``; None to look in the parent."""
        sources = list(self.sources.values())
        having = [s for s in sources if s.table is not None and s.table.column(name) is not None]
        if len(having) == 1:
            return ColumnRef(having[0].name, name)
        if len(having) > 1:
            return ColumnRef(None, name)  # ambiguous
        opaque = [s for s in sources if s.table is None]
        if len(opaque) == 1 and len(sources) == 1:
            return ColumnRef(opaque[0].name, name)  # an unknown table or a CTE: its column
        if opaque:
            return ColumnRef(None, name)
        return None

    def _note(self, what: str) -> None:
        if what not in self.unknown:
            self.unknown.append(what)


def ident(node: exp.Expr | str | None) -> str:
    """An identifier as PostgreSQL reads it: unquoted names fold to lower case."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node.lower()
    if isinstance(node, exp.Identifier):
        return str(node.this) if node.quoted else str(node.this).lower()
    return node.name.lower()


def table_name(node: exp.Table) -> str:
    """``schema.name`` as written (folded), or ``name`` without a schema."""
    name = ident(node.args.get("this"))
    db = node.args.get("db")
    return f"{ident(db)}.{name}" if db else name
