"""Pattern matches: which LIKE / ILIKE forms a btree can serve, which only a trigram index."""

from __future__ import annotations

import pytest

from advisor.model import Predicate
from tests.parse.test_structure import preds

_ORDERS = "public.orders"


@pytest.mark.parametrize(
    ("where", "op", "constant", "params", "insensitive"),
    [
        ("status LIKE '%ab12%'", "pattern", "'%ab12%'", (), False),
        ("status LIKE '%ab12'", "pattern", "'%ab12'", (), False),
        ("status LIKE '_b12%'", "pattern", "'_b12%'", (), False),
        ("status ILIKE '%ab12%'", "pattern", "'%ab12%'", (), True),
        ("status ~~* '%ab12%'", "pattern", "'%ab12%'", (), True),
        ("status ~~ '%ab12%'", "pattern", "'%ab12%'", (), False),
        # Case-folded: no btree on the column answers it, a trigram index does.
        ("status ILIKE 'ab12%'", "pattern", "'ab12%'", (), True),
        # SQLAlchemy's contains(): the leading '%' is in the text, the term is $1.
        ("status LIKE '%' || $1 || '%'", "pattern", None, (1,), False),
        # The text says nothing about the anchoring: captured values decide.
        ("status LIKE $1", "pattern_param", None, (1,), False),
        ("status ~~* $2", "pattern_param", None, (2,), True),
        ("status ILIKE %(term)s", "pattern_param", None, (1,), True),
        # Anchored: a text_pattern_ops btree serves it.
        ("status LIKE 'ab12%'", "like_prefix", "'ab12%'", (), False),
    ],
)
def test_pattern_forms(
    where: str, op: str, constant: str | None, params: tuple[int, ...], insensitive: bool
) -> None:
    (pred,) = preds(f"SELECT id FROM orders WHERE {where}")
    assert (pred.table, pred.column, pred.op) == (_ORDERS, "status", op)
    assert (pred.constant, pred.params, pred.case_insensitive) == (constant, params, insensitive)


def test_expression_pattern_keeps_the_expression() -> None:
    (pred,) = preds("SELECT id FROM orders WHERE lower(status) LIKE '%' || lower($1) || '%'")
    assert (pred.column, pred.expression, pred.op) == (None, "lower(status)", "pattern")
    (param,) = preds("SELECT id FROM orders WHERE lower(status) LIKE lower($1)")
    assert (param.expression, param.op, param.params) == ("lower(status)", "pattern_param", (1,))


@pytest.mark.parametrize(
    "where",
    [
        "status NOT LIKE '%ab%'",
        "status NOT ILIKE $1",
        "status LIKE 'ab' || $1",  # anchored by 'ab', but not a constant prefix
        "status LIKE user_id::text",  # a pattern from another column
    ],
)
def test_patterns_no_index_answers_are_other(where: str) -> None:
    (pred,) = preds(f"SELECT id FROM orders WHERE {where}")
    assert pred.op == "other"


def test_escape_clause_is_still_a_pattern() -> None:
    (pred,) = preds("SELECT id FROM orders WHERE status LIKE '%a!%b%' ESCAPE '!'")
    assert pred.op == "pattern"
    (anchored,) = preds("SELECT id FROM orders WHERE status LIKE 'a!%%' ESCAPE '!'")
    assert anchored.op == "other"  # a prefix with a custom escape: not worth a guess


def test_or_of_patterns_on_one_table_is_pattern_any() -> None:
    (pred,) = preds("SELECT id FROM users WHERE (name ILIKE $1 OR email ILIKE $1)")
    assert (pred.table, pred.column, pred.op, pred.params) == (
        "public.users",
        None,
        "pattern_any",
        (1, 1),
    )
    assert [(p.column, p.op, p.case_insensitive) for p in pred.alternatives] == [
        ("name", "pattern_param", True),
        ("email", "pattern_param", True),
    ]


def test_or_mixing_a_pattern_with_an_equality_is_other() -> None:
    (pred,) = preds("SELECT id FROM users WHERE name ILIKE $1 OR id = $2")
    assert pred.op == "other"
    assert not isinstance(pred, Predicate) or pred.alternatives == ()
