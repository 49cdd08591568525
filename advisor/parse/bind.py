"""Where a statement's ``$n`` stand outside its predicates, and the batched form of a
per-row lookup.

Verification binds every ``$n`` before it runs a statement: predicates say which column
each compares with (:attr:`advisor.model.Predicate.params`); :func:`paging_parameters`
finds the ones of ``LIMIT`` and ``OFFSET``. An N+1 loop is measured against the query its
fix produces, ``col = ANY($1)`` in place of ``col = $1``: :func:`batched_form` rewrites
the syntax tree (sqlglot), never the text.
"""

from __future__ import annotations

from typing import Literal

import sqlglot
from sqlglot import exp

from advisor.parse.predicates import POSTGRES, parameter_numbers

__all__ = ["batched_form", "paging_parameters"]

Paging = Literal["limit", "offset"]


def _read(sql: str) -> exp.Expr | None:
    try:
        return sqlglot.parse_one(sql, read=POSTGRES)
    except Exception:  # sqlglot's grammar is narrower than PostgreSQL's
        return None


def paging_parameters(sql: str) -> dict[int, Paging]:
    """``{n: "limit" | "offset"}`` for each ``$n`` that is a LIMIT or OFFSET count.

    >>> paging_parameters("SELECT * FROM t WHERE a = $1 LIMIT $2 OFFSET $3")
    {2: 'limit', 3: 'offset'}
    """
    root = _read(sql)
    if root is None:
        return {}
    out: dict[int, Paging] = {}
    for node in root.find_all(exp.Limit, exp.Offset):
        kind: Paging = "limit" if isinstance(node, exp.Limit) else "offset"
        value = node.args.get("expression")
        for n in parameter_numbers(value) if value is not None else ():
            out[n] = kind
    return out


def batched_form(sql: str) -> str | None:
    """``sql`` with its one per-row equality ``x = $n`` turned into ``x = ANY($n)``.

    A cast on the parameter becomes an array cast (``$1::INT`` -> ``$1::INT[]``). None
    when the statement has not exactly one ``$n``, or that ``$n`` is not compared for
    equality with a column (the loop's key cannot be told).

    >>> batched_form("SELECT * FROM items WHERE items.order_id = $1::INTEGER")
    'SELECT * FROM items WHERE items.order_id = ANY(CAST($1 AS INT[]))'
    """
    root = _read(sql)
    if root is None:
        return None
    params = list(root.find_all(exp.Parameter))
    if len(params) != 1:
        return None
    equality = _equality_of(params[0])
    if equality is None:
        return None
    value = params[0].parent if isinstance(params[0].parent, exp.Cast) else params[0]
    column = equality.expression if value is equality.this else equality.this
    if isinstance(value, exp.Cast):
        array_type = exp.DataType.build(f"{value.to.sql(dialect=POSTGRES)}[]", dialect=POSTGRES)
        batched_value: exp.Expr = exp.Cast(this=value.this.copy(), to=array_type)
    else:
        batched_value = value.copy()
    equality.replace(
        exp.EQ(this=column.copy(), expression=exp.Any(this=exp.Paren(this=batched_value)))
    )
    return root.sql(dialect=POSTGRES)


def _equality_of(param: exp.Parameter) -> exp.EQ | None:
    """The ``column = $n`` (or ``$n = column``) the parameter is one side of."""
    value: exp.Expr = param
    if isinstance(value.parent, exp.Cast):
        value = value.parent
    parent = value.parent
    while isinstance(parent, exp.Paren):
        value, parent = parent, parent.parent
    if not isinstance(parent, exp.EQ):
        return None
    other = parent.expression if parent.this is value else parent.this
    return parent if isinstance(other, exp.Column) else None
