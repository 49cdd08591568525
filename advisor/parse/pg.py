"""PostgreSQL's own grammar, through pglast: validation, fingerprint, batched bit, kind.

This is the ONLY module of advisor that imports pglast (GPL-licensed libpg_query
bindings): keep it that way, so that the dependency stays in one replaceable place.

pglast's ``fingerprint`` ignores literals and parameters and merges ``IN (1)`` with
``IN (1, 2, 3)`` and ``= $1`` with ``= ANY($1)``. A per-row lookup and its batched
fix must not share a grouping key, so :func:`analyze` also reports whether the
statement is *batched*: an ``IN`` list of more than one value, or ``= ANY(...)``.
The parse tree comes back as JSON (a tenth of the cost of pglast's Python node
objects); it is decoded only when it can hold such an expression.

The fingerprint also leaves relations out, in part: it drops schema names and runs of
2+ digits in relation names (``a.t`` = ``b.t``, ``orders_2024`` = ``orders_2025``), and
an aliased relation's name altogether (``users u`` = ``orders u``). One shape per key,
whose structure is read from its first text, would then give every execution the first
text's tables. So :func:`analyze` also lists the relations as written and appends their
digest to the fingerprint (see :attr:`PgStatement.fingerprint`).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from pglast import parser as _pg

from advisor.errors import ParseError
from advisor.model import StatementKind

__all__ = ["PgStatement", "analyze"]

_KINDS: dict[str, StatementKind] = {
    "SelectStmt": "select",
    "InsertStmt": "insert",
    "UpdateStmt": "update",
    "DeleteStmt": "delete",
}
_FIRST_NODE = re.compile(r'"stmts":\[\{"stmt":\{"(\w+)":(\{"kind":"(\w+)")?')
_EXCERPT = 60
_CONDITION = re.compile(r'"(?:whereClause|quals)":')
_DECODER = json.JSONDecoder()
# A RangeVar's fields come first and in struct order (catalogname, schemaname, relname),
# whether the node is wrapped ({"RangeVar": {...}}) or a bare field ("relation": {...} of
# INSERT, UPDATE, DELETE). No other raw parse node has a "relname", and no JSON string
# holds an unescaped quote, so this cannot match inside a literal. Anchored on "{": a
# pattern that can start at every character is ten times slower.
_STRING = r'"((?:[^"\\]|\\.)*)"'
_RELATION = re.compile(
    rf'\{{(?:"catalogname":{_STRING},)?(?:"schemaname":{_STRING},)?"relname":{_STRING}'
)
_DIGEST_BYTES = 8  # as wide as the fingerprint: no collision even across 100k schemas


@dataclass(frozen=True, slots=True)
class PgStatement:
    """What PostgreSQL's grammar says about one (possibly multi-statement) text.

    ``fingerprint`` is pglast's, then ``~`` and a digest of ``relations`` when the
    statement names any relation: ``0a42922fab0bd73f~5d3c...``. ``relations`` are the
    relations as written (``[catalog.]schema.name`` or ``name``, quoted names unquoted),
    sorted and deduplicated. ``kind`` is the first statement's; ``transaction_control``
    is True for BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE and friends (an ORM's
    bookkeeping, never a query to optimize).
    """

    fingerprint: str
    batched: bool
    kind: StatementKind
    transaction_control: bool
    statements: int
    relations: tuple[str, ...] = ()


def analyze(sql: str) -> PgStatement:
    """Validate ``sql`` (``$n`` placeholders only) with PostgreSQL's grammar.

    Raises :class:`ParseError` with PostgreSQL's message and the error position.
    """
    try:
        tree = _pg.parse_sql_json(sql)
        fingerprint = _pg.fingerprint(sql)
    except _pg.ParseError as exc:
        raise ParseError(_message(sql, exc)) from exc
    except Exception as exc:  # the C extension also raises plain errors on odd input
        raise ParseError(f"cannot parse statement: {exc}".splitlines()[0]) from exc
    statements = tree.count('{"stmt":')
    if statements == 0:
        raise ParseError("no SQL statement (only comments or whitespace); nothing to scan")
    first = _FIRST_NODE.search(tree)
    node = first.group(1) if first else ""
    control = node == "TransactionStmt"
    relations = _relations(tree)
    return PgStatement(
        fingerprint=_with_relations(fingerprint, relations),
        batched=_batched(tree),
        kind=_KINDS.get(node, "other"),
        transaction_control=control,
        statements=statements,
        relations=relations,
    )


def _message(sql: str, exc: Exception) -> str:
    """PostgreSQL's message on one line, with its 1-based position and an excerpt."""
    args = exc.args
    text = str(args[0]) if args else str(exc)
    text = " ".join(text.split())
    offset = args[1] if len(args) > 1 and isinstance(args[1], int) else None
    if offset is None or offset < 0:
        return f"cannot parse statement: {text}"
    offset = min(offset, len(sql))  # pglast counts from 0, PostgreSQL's position from 1
    excerpt = " ".join(sql[max(0, offset - 20) : offset + _EXCERPT - 20].split())
    return f"cannot parse statement: {text} at position {offset + 1} (near: {excerpt!r})"


def _relations(tree: str) -> tuple[str, ...]:
    """Every RangeVar of the JSON tree as ``[catalog.]schema.name`` or ``name``, sorted.

    A regex over the JSON text: no decoding but of the rare names with escapes.
    """
    names: set[str] = set()
    for match in _RELATION.finditer(tree):
        parts = [_unescape(part) for part in match.groups() if part is not None]
        names.add(".".join(parts))
    return tuple(sorted(names))


def _unescape(text: str) -> str:
    return json.loads(f'"{text}"') if "\\" in text else text


def _with_relations(fingerprint: str, relations: tuple[str, ...]) -> str:
    """``fingerprint~digest`` of the relations, or ``fingerprint`` when there are none.

    The digest is added for every statement that names a relation, not only when a
    name holds a schema or digits: what the fingerprint leaves out depends on the
    libpg_query release (the one pglast 8 bundles drops an aliased relation's name,
    earlier ones kept it), and a key that always carries the relations stays right
    across pglast upgrades. Statements without relations (BEGIN, SET, SELECT 1) keep
    pglast's fingerprint alone. Literals, parameters, whitespace and IN-list lengths
    never change the relations, so they still share a key.
    """
    if not relations:
        return fingerprint
    text = "\x00".join(relations).encode()
    return f"{fingerprint}~{hashlib.blake2b(text, digest_size=_DIGEST_BYTES).hexdigest()}"


def _batched(tree: str) -> bool:
    """Look for batched lookups in the WHERE and JOIN ... ON conditions only.

    Only those conditions are decoded from the JSON tree (``raw_decode`` from each
    ``whereClause``/``quals`` key), not the whole statement with its select list.
    """
    if '"AEXPR_OP_ANY"' not in tree and '"AEXPR_IN"' not in tree:
        return False
    for match in _CONDITION.finditer(tree):
        condition, _ = _DECODER.raw_decode(tree, match.end())
        if _walk_batched(condition):
            return True
    return False


def _walk_batched(node: Any) -> bool:
    """True if an ``= ANY(...)`` or an ``IN`` list of 2+ values appears outside SELECT lists.

    A subquery's own WHERE is also matched by :data:`_CONDITION`, so it may be walked
    twice; conditions are small, so this is cheaper than decoding the whole tree.
    """
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
            continue
        if not isinstance(item, dict):
            continue
        expr = item.get("A_Expr")
        if isinstance(expr, dict) and _is_batched_expr(expr):
            return True
        for key, value in item.items():
            if key != "targetList" and isinstance(value, dict | list):
                stack.append(value)
    return False


def _is_batched_expr(expr: dict[str, Any]) -> bool:
    names = expr.get("name") or []
    operator = names[-1].get("String", {}).get("sval") if names else None
    if operator != "=":
        return False
    kind = expr.get("kind")
    if kind == "AEXPR_OP_ANY":
        return True
    if kind == "AEXPR_IN":
        items = expr.get("rexpr", {}).get("List", {}).get("items", [])
        return len(items) > 1
    return False
