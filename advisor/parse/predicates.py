"""One WHERE / JOIN ... ON conjunct -> a :class:`Predicate` or a :class:`JoinKey`.

A conjunct that compares a column (or an expression over one table's columns, such
as ``lower(email)``) with a value becomes a predicate with its operator; a value is a
literal (``constant`` keeps its text), a parameter (``parameterized``) or an
expression without columns (``now()``). ``a.x = b.y`` across two tables is a join key.
Anything else touching one table is an ``other`` predicate; the rest is dropped.

Pattern matches: ``LIKE 'abc%'`` is ``like_prefix`` (a ``text_pattern_ops`` btree can
serve it). A pattern a btree can never serve is ``pattern``: one that starts with a
wildcard (``'%x%'``, ``'_x'``, ``'%' || $1 || '%'`` as SQLAlchemy's ``contains()`` writes
it), and every ``ILIKE`` of a constant: even ``ILIKE 'abc%'`` is case-folded, which no
btree on the column answers (only a ``lower(col)`` expression index with the query
rewritten to ``lower(col) LIKE``); a trigram index answers both. ``LIKE $1`` is
``pattern_param``: the text says nothing about its anchoring, so no prefix is guessed
here; the captured values decide. An ``OR`` of pattern matches on one table is
``pattern_any`` (one trigram index serves every branch).
"""

from __future__ import annotations

from dataclasses import replace

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

from advisor.model import ColumnRef, JoinKey, Predicate, PredicateOp
from advisor.parse.scope import QueryLevel

__all__ = ["POSTGRES", "conjuncts", "convert", "normalized_sql", "parameter_numbers"]

# One shared instance: naming the dialect by string builds a new one on every call.
POSTGRES = Dialect.get_or_raise("postgres")

_RANGE = (exp.GT, exp.GTE, exp.LT, exp.LTE)
_LITERALS = (exp.Literal, exp.Boolean, exp.Null, exp.Neg, exp.Cast, exp.Tuple, exp.Paren)


def conjuncts(node: exp.Expr | None) -> list[exp.Expr]:
    """The AND-ed parts of a condition, parentheses removed."""
    out: list[exp.Expr] = []
    stack = [node] if node is not None else []
    while stack:
        item = stack.pop()
        while isinstance(item, exp.Paren):
            item = item.this
        if isinstance(item, exp.And):
            stack.append(item.expression)
            stack.append(item.this)
        elif item is not None:
            out.append(item)
    return out


def convert(cond: exp.Expr, scope: QueryLevel) -> Predicate | JoinKey | None:
    """The predicate or join key a conjunct stands for, or None if it touches no table."""
    if isinstance(cond, exp.Column):  # WHERE is_active: a boolean column
        ref = scope.column(cond)
        return Predicate(ref.table, ref.column, "eq", constant="TRUE")
    if isinstance(cond, exp.Not):
        inner = _unparen(cond.this)
        if isinstance(inner, exp.Is) and isinstance(inner.expression, exp.Null):
            return _with_value(inner.this, None, "is_not_null", scope, cond)
        if isinstance(inner, exp.Column):
            ref = scope.column(inner)
            return Predicate(ref.table, ref.column, "eq", constant="FALSE")
        return _other(cond, scope)
    if isinstance(cond, exp.EQ):
        return _equality(cond, scope)
    if isinstance(cond, exp.NEQ):
        return _compare(cond, "neq", scope)
    if isinstance(cond, _RANGE):
        return _compare(cond, "range", scope)
    if isinstance(cond, exp.Between):
        return _with_value(cond.this, [cond.args["low"], cond.args["high"]], "range", scope, cond)
    if isinstance(cond, exp.Is) and isinstance(cond.expression, exp.Null):
        op: PredicateOp = "is_not_null" if cond.args.get("negate") else "is_null"
        return _with_value(cond.this, None, op, scope, cond)
    if isinstance(cond, exp.In):
        return _in(cond, scope)
    if isinstance(cond, (exp.Like, exp.ILike, exp.Escape)):
        return _pattern(cond, scope)
    if isinstance(cond, exp.Or):
        return _any_pattern(cond, scope)
    return _other(cond, scope)


def normalized_sql(node: exp.Expr) -> str:
    """``node`` as PostgreSQL-style SQL without table qualifiers: ``lower(email)``."""
    copy = _unparen(node).copy()
    for column in copy.find_all(exp.Column):
        column.set("table", None)
        column.set("db", None)
    for identifier in copy.find_all(exp.Identifier):
        if not identifier.quoted:
            identifier.set("this", str(identifier.this).lower())
    return copy.sql(dialect=POSTGRES, normalize_functions="lower")


def _equality(cond: exp.EQ, scope: QueryLevel) -> Predicate | JoinKey | None:
    left, right = _unparen(cond.this), _unparen(cond.expression)
    if isinstance(left, exp.Column) and isinstance(right, exp.Column):
        a, b = scope.column(left), scope.column(right)
        same_alias = left.table == right.table
        if a.table and b.table and not (same_alias and a.table == b.table):
            return JoinKey(a, b)
        return _other(cond, scope)
    if _is_value(left) and not _is_value(right):
        left, right = right, left
    if isinstance(right, exp.Any):
        array = _unparen(right.this)
        size = len(array.expressions) if isinstance(array, exp.Array) else None
        pred = _with_value(left, [right], "any", scope, cond)
        if isinstance(pred, Predicate) and pred.op == "any":
            return replace(pred, in_size=size)
        return pred
    return _with_value(left, [right], "eq", scope, cond)


def _compare(cond: exp.Binary, op: PredicateOp, scope: QueryLevel) -> Predicate | JoinKey | None:
    left, right = _unparen(cond.this), _unparen(cond.expression)
    swapped = _is_value(left) and not _is_value(right)
    if swapped:
        left, right = right, left
    pred = _with_value(left, [right], op, scope, cond)
    if isinstance(pred, Predicate) and pred.op == "range" and pred.params:
        # col > $1 and $1 < col both give the lower end of the range.
        lower = isinstance(cond, (exp.GT, exp.GTE)) != swapped
        return replace(pred, bound="lower" if lower else "upper")
    return pred


def _in(cond: exp.In, scope: QueryLevel) -> Predicate | JoinKey | None:
    target = _unparen(cond.this)
    if cond.args.get("query") is not None and isinstance(target, exp.Column):
        ref = scope.column(target)  # a semi-join: the column is looked up per subquery row
        return Predicate(ref.table, ref.column, "in")
    if cond.args.get("query") is not None or not cond.expressions:
        return _other(cond, scope)
    pred = _with_value(cond.this, list(cond.expressions), "in", scope, cond)
    if isinstance(pred, Predicate) and pred.op == "in":
        # _with_value keeps a constant only for a one-value list.
        return replace(pred, in_size=len(cond.expressions))
    return pred


def _with_value(
    target: exp.Expr,
    values: list[exp.Expr] | None,
    op: PredicateOp,
    scope: QueryLevel,
    cond: exp.Expr,
) -> Predicate | JoinKey | None:
    """``target op values``: a predicate on one column/expression, or ``other``."""
    target = _unparen(target)
    if values is not None and not all(_is_value(v) for v in values):
        return _other(cond, scope)
    parameterized = any(_has_parameter(v) for v in values or ())
    constant = None
    if values and len(values) == 1 and not parameterized and _is_literal(values[0]):
        constant = _literal_text(values[0])
    params = tuple(n for v in values or () for n in parameter_numbers(v))
    if isinstance(target, exp.Column):
        ref = scope.column(target)
        return Predicate(ref.table, ref.column, op, None, constant, parameterized, params=params)
    table = _one_table(target, scope)
    if table is None:
        return None
    expression = normalized_sql(target)
    return Predicate(table[0], None, op, expression, constant, parameterized, params=params)


def _other(cond: exp.Expr, scope: QueryLevel) -> Predicate | None:
    found = _one_table(cond, scope)
    if found is None:
        return None
    table, columns = found
    names = {c.column for c in columns}
    column = names.pop() if len(names) == 1 else None
    return Predicate(table, column, "other", normalized_sql(cond))


def _one_table(node: exp.Expr, scope: QueryLevel) -> tuple[str, list[ColumnRef]] | None:
    """The single table all columns of ``node`` belong to, with those columns."""
    if node.find(exp.Query) is not None:
        return None
    refs = [scope.column(c) for c in node.find_all(exp.Column) if not isinstance(c.this, exp.Star)]
    tables = {r.table for r in refs}
    if len(tables) != 1 or None in tables:
        return None
    table = tables.pop()
    assert table is not None
    return table, refs


def _is_value(node: exp.Expr) -> bool:
    """No column and no subquery: a literal, a parameter or a column-free expression."""
    return node.find(exp.Column) is None and node.find(exp.Query) is None


def _has_parameter(node: exp.Expr) -> bool:
    return node.find(exp.Parameter, exp.Placeholder) is not None


def parameter_numbers(node: exp.Expr) -> tuple[int, ...]:
    """The ``n`` of every ``$n`` inside ``node``, in the order written."""
    out: list[int] = []
    for param in node.find_all(exp.Parameter):
        text = param.name
        if text.isdigit():
            out.append(int(text))
    return tuple(out)


def _is_literal(node: exp.Expr) -> bool:
    return all(isinstance(n, (*_LITERALS, exp.DataType, exp.Identifier)) for n in node.walk())


def _literal_text(node: exp.Expr) -> str:
    return _unparen(node).sql(dialect=POSTGRES)


def _prefix(node: exp.Expr) -> bool:
    """A constant ``'abc%'`` pattern: a literal prefix, one trailing ``%``, no ``_``."""
    node = _unparen(node)
    if not (isinstance(node, exp.Literal) and node.is_string):
        return False
    text = str(node.this)
    head = text[:-1]
    return len(text) > 1 and text.endswith("%") and not any(ch in head for ch in "%_\\")


def _pattern(cond: exp.Expr, scope: QueryLevel) -> Predicate | JoinKey | None:
    """``target [I]LIKE pattern [ESCAPE e]`` as ``like_prefix``, ``pattern`` or
    ``pattern_param``; a negated match, or one whose pattern is another column, is
    ``other``."""
    match, escape = cond, "\\"
    if isinstance(cond, exp.Escape):
        match, escape_node = _unparen(cond.this), _unparen(cond.expression)
        if not isinstance(escape_node, exp.Literal) or not isinstance(match, (exp.Like, exp.ILike)):
            return _other(cond, scope)
        escape = str(escape_node.this)
    if not isinstance(match, (exp.Like, exp.ILike)) or match.args.get("negate"):
        return _other(cond, scope)
    insensitive = isinstance(match, exp.ILike)
    pattern = _unparen(match.expression)
    kind = _pattern_kind(pattern, escape, insensitive)
    if kind is None:
        return _other(cond, scope)
    pred = _with_value(match.this, [pattern], kind, scope, cond)
    if isinstance(pred, Predicate) and pred.op == kind:
        return replace(pred, case_insensitive=insensitive)
    return pred


def _pattern_kind(node: exp.Expr, escape: str, insensitive: bool) -> PredicateOp | None:
    """Which pattern predicate ``node`` (the right side of ``[I]LIKE``) makes, if any."""
    inner = _unparen(node.this) if isinstance(node, (exp.Lower, exp.Upper)) else node
    if isinstance(inner, (exp.Parameter, exp.Placeholder)):  # $1, lower($1)
        return "pattern_param"
    head = node
    while isinstance(head, exp.DPipe):  # '%' || $1 || '%': the leftmost piece anchors it
        head = _unparen(head.this)
    if not (isinstance(head, exp.Literal) and head.is_string):
        return None
    text = str(head.this)
    if text[:1] in ("%", "_"):
        return "pattern"
    if head is node and _prefix(node) and escape == "\\" and not insensitive:
        return "like_prefix"
    # ILIKE 'abc%' (case-folded) or an anchored concatenation ('abc' || $1).
    return "pattern" if insensitive and head is node else None


def _any_pattern(cond: exp.Or, scope: QueryLevel) -> Predicate | JoinKey | None:
    """``a ILIKE $1 OR b ILIKE $1``: ``pattern_any`` when every branch is a pattern match
    on the same table, else ``other``."""
    branches: list[Predicate] = []
    stack: list[exp.Expr] = [cond]
    while stack:
        item = _unparen(stack.pop())
        if isinstance(item, exp.Or):
            stack.extend((item.expression, item.this))
            continue
        pred = (
            _pattern(item, scope) if isinstance(item, (exp.Like, exp.ILike, exp.Escape)) else None
        )
        if not isinstance(pred, Predicate) or pred.op not in _PATTERNS:
            return _other(cond, scope)
        branches.append(pred)
    tables = {p.table for p in branches}
    if len(tables) != 1:
        return _other(cond, scope)
    return Predicate(
        branches[0].table,
        None,
        "pattern_any",
        normalized_sql(cond),
        parameterized=any(p.parameterized for p in branches),
        params=tuple(n for p in branches for n in p.params),
        alternatives=tuple(branches),
    )


_PATTERNS = frozenset({"like_prefix", "pattern", "pattern_param"})


def _unparen(node: exp.Expr) -> exp.Expr:
    while isinstance(node, exp.Paren):
        node = node.this
    return node
