"""When an existing index already serves a candidate."""

from __future__ import annotations

import pytest

from advisor.indexes.candidates import Candidate
from advisor.indexes.coverage import (
    covering_index,
    index_leads_with,
    normalize_sql,
    order_compatible,
    predicate_conjuncts,
    serving_order,
)
from advisor.model import Index, IndexColumn, IndexKey
from tests.indexes.builders import idx, table

COLS = {
    "id": "bigint",
    "user_id": "bigint",
    "kind": "text",
    "created_at": "timestamptz",
    "email": "text",
    "deleted_at": "timestamptz",
}

USER_BY_TIME = Candidate(
    "public.events",
    equality=(IndexColumn("user_id"),),
    tail=(IndexColumn("created_at", descending=True),),
    tail_kind="order",
)


def covered(candidate: Candidate, *indexes: Index) -> str | None:
    found = covering_index(candidate, table("events", COLS, indexes=indexes))
    return None if found is None else found.name


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (("user_id", "created_at DESC"), True),
        (("user_id", "created_at DESC", "kind"), True),  # a prefix is enough
        (("user_id", "created_at"), True),  # the whole tail flipped: a backward scan
        (("created_at DESC", "user_id"), False),
        (("user_id",), False),
        (("user_id", "kind", "created_at DESC"), False),
    ],
)
def test_prefix_and_direction(keys: tuple[str, ...], expected: bool) -> None:
    assert (covered(USER_BY_TIME, idx("ix", *keys)) == "ix") is expected


def test_mixed_directions_flip_only_as_a_whole() -> None:
    cand = Candidate(
        "public.events",
        equality=(IndexColumn("user_id"),),
        tail=(IndexColumn("kind"), IndexColumn("created_at", descending=True)),
        tail_kind="order",
    )
    assert covered(cand, idx("ix", "user_id", "kind", "created_at")) is None
    assert covered(cand, idx("ix", "user_id", "kind DESC", "created_at")) == "ix"
    assert covered(cand, idx("ix", "user_id", "kind", "created_at DESC")) == "ix"


def test_explicit_nulls_order_matters() -> None:
    nulls_last = IndexKey("created_at", descending=True, nulls_first=False)
    assert covered(USER_BY_TIME, idx("ix", "user_id", nulls_last)) is None


def test_range_tail_ignores_direction() -> None:
    cand = Candidate(
        "public.events", (IndexColumn("user_id"),), (IndexColumn("created_at"),), "range"
    )
    assert covered(cand, idx("ix", "user_id", "created_at DESC")) == "ix"


def test_equality_columns_in_any_order() -> None:
    cand = Candidate("public.events", (IndexColumn("user_id"), IndexColumn("kind")))
    assert covered(cand, idx("ix", "kind", "user_id")) == "ix"
    assert covered(cand, idx("ix", "kind", "id", "user_id")) is None


def test_unique_index_on_equality_columns_covers() -> None:
    cand = Candidate("public.events", (IndexColumn("email"), IndexColumn("kind")))
    assert covered(cand, idx("ux", "email", unique=True)) == "ux"
    assert covered(cand, idx("ix", "email")) is None
    assert covered(cand, idx("ux", "email", "id", unique=True)) is None


def test_invalid_and_non_btree_indexes_never_cover() -> None:
    cand = Candidate("public.events", (IndexColumn("user_id"),))
    assert covered(cand, idx("ix", "user_id", valid=False)) is None
    assert covered(cand, idx("ix", "user_id", method="hash")) is None
    assert covered(cand, idx("ix", "user_id", method="gin")) is None


def test_pattern_opclass_serves_equality_only_and_collation_nothing() -> None:
    pattern = IndexKey("kind", opclass="text_pattern_ops")
    assert covered(Candidate("public.events", (IndexColumn("kind"),)), idx("ix", pattern)) == "ix"
    sort = Candidate("public.events", (), (IndexColumn("kind"),), "order")
    assert covered(sort, idx("ix", pattern)) is None
    collated = IndexKey("kind", collation="C")
    assert covered(Candidate("public.events", (IndexColumn("kind"),)), idx("ix", collated)) is None


def test_partial_index_serves_only_queries_implying_its_predicate() -> None:
    live = idx("ix_live", "user_id", predicate="(deleted_at IS NULL)")
    plain = Candidate("public.events", (IndexColumn("user_id"),))
    assert covered(plain, live) is None
    implying = Candidate(
        "public.events", (IndexColumn("user_id"),), implied=("deleted_at IS NULL", "kind = 'login'")
    )
    assert covered(implying, live) == "ix_live"
    two = idx("ix_two", "user_id", predicate="((deleted_at IS NULL) AND (kind = 'login'::text))")
    assert covered(implying, two) == "ix_two"
    other = idx("ix_other", "user_id", predicate="(kind = 'Login'::text)")
    assert covered(implying, other) is None


def test_plain_index_covers_a_partial_candidate() -> None:
    cand = Candidate(
        "public.events",
        (IndexColumn("user_id"),),
        where=("deleted_at IS NULL",),
        implied=("deleted_at IS NULL",),
    )
    assert covered(cand, idx("ix", "user_id")) == "ix"


def test_expression_keys_match_by_normalized_text() -> None:
    cand = Candidate("public.events", (IndexColumn(None, expression="lower(email)"),))
    assert covered(cand, idx("ix", "(lower((email)::text))")) == "ix"
    assert covered(cand, idx("ix", "(upper(email))")) is None
    assert covered(cand, idx("ix", "email")) is None


def test_normalize_sql() -> None:
    assert normalize_sql('(lower(("Email")::character varying))') == "lower email"
    assert normalize_sql("(status = 'Active'::text)") == "status = 'Active'"
    assert normalize_sql("created_at::timestamp with time zone > now()") == "created_at > now"
    assert predicate_conjuncts("((a IS NULL) AND (b = 'x and y'::text))") == frozenset(
        {"a is null", "b = 'x and y'"}
    )


def test_pinned_columns_may_lead_an_index() -> None:
    cand = Candidate(
        "public.events",
        (IndexColumn("user_id"),),
        (IndexColumn("created_at", descending=True),),
        "order",
        where=("kind = 'login'",),
        implied=("kind = 'login'", "deleted_at IS NULL"),
        fixed=("deleted_at", "kind"),
    )
    assert covered(cand, idx("ix", "kind", "user_id", "created_at DESC")) == "ix"
    assert covered(cand, idx("ix", "user_id", "deleted_at", "created_at")) == "ix"
    assert covered(cand, idx("ix", "kind", "created_at DESC")) is None  # user_id missing
    assert covered(cand, idx("ix", "kind", "id", "user_id", "created_at DESC")) is None


def test_unique_index_is_not_pinned_by_is_null() -> None:
    cand = Candidate("public.events", (IndexColumn("kind"),), fixed=("deleted_at",))
    assert covered(cand, idx("ux", "deleted_at", unique=True)) is None


def test_boolean_predicates_compare_as_postgresql_prints_them() -> None:
    cand = Candidate("public.events", (IndexColumn("user_id"),), implied=("is_public = TRUE",))
    assert covered(cand, idx("ix", "user_id", predicate="is_public")) == "ix"
    assert covered(cand, idx("ix", "user_id", predicate="(NOT is_public)")) is None
    assert predicate_conjuncts("(is_public = false)") == frozenset({"not is_public"})


# foreign keys (ADV004, ADV006)


@pytest.mark.parametrize(
    ("index", "fk", "leads"),
    [
        (idx("i", "a"), ("a",), True),
        (idx("i", "a", "b"), ("a",), True),
        (idx("i", "b", "a"), ("a",), False),  # FK only the 2nd column: NOT indexed
        (idx("i", "b", "a"), ("a", "b"), True),  # same set, other order: fine
        (idx("i", "b", "a", "c"), ("a", "b"), True),
        (idx("i", "a", "c", "b"), ("a", "b"), False),
        (idx("i", "a"), ("a", "b"), False),
        (idx("i", "a", predicate="(c IS NULL)"), ("a",), False),  # partial: misses rows
        (idx("i", "a", valid=False), ("a",), False),
        (idx("i", "a", method="gin"), ("a",), False),
        (idx("i", "(lower(a))"), ("a",), False),
        (idx("i", IndexKey("a", collation="C")), ("a",), False),
        (idx("i", "a DESC"), ("a",), True),
    ],
)
def test_index_leads_with(index: Index, fk: tuple[str, ...], leads: bool) -> None:
    assert index_leads_with(index, fk) is leads


@pytest.mark.parametrize(
    ("have", "want", "ok"),
    [
        ((IndexKey("a"), IndexKey("b")), (IndexColumn("a"), IndexColumn("b")), True),
        # every key flipped: a backward scan
        (
            (
                IndexKey("a", descending=True, nulls_first=True),
                IndexKey("b", descending=True, nulls_first=True),
            ),
            (IndexColumn("a"), IndexColumn("b")),
            True,
        ),
        # one key flipped: no scan gives that order
        (
            (IndexKey("a"), IndexKey("b", descending=True, nulls_first=True)),
            (IndexColumn("a"), IndexColumn("b")),
            False,
        ),
        # DESC NULLS LAST is not ASC read backward
        ((IndexKey("a", descending=True, nulls_first=False),), (IndexColumn("a"),), False),
        # an unstated NULLS placement is the default for the direction
        (
            (IndexKey("a", descending=True, nulls_first=True),),
            (IndexColumn("a", descending=True),),
            True,
        ),
    ],
)
def test_order_compatible(
    have: tuple[IndexKey, ...], want: tuple[IndexColumn, ...], ok: bool
) -> None:
    assert order_compatible(have, want) is ok


STATUS_SINCE = Candidate(
    "public.events",
    equality=(IndexColumn("user_id"), IndexColumn("kind")),
    tail=(IndexColumn("created_at"),),
    tail_kind="range",
)


def _keys(*names: str) -> tuple[IndexColumn, ...]:
    return tuple(IndexColumn(n.split()[0], descending=n.endswith(" DESC")) for n in names)


@pytest.mark.parametrize(
    ("candidate", "keys", "expected"),
    [
        (STATUS_SINCE, ("user_id",), True),
        (STATUS_SINCE, ("kind", "user_id"), True),  # equality keys in any order
        (STATUS_SINCE, ("kind", "user_id", "created_at"), True),
        (STATUS_SINCE, ("created_at",), False),  # a range key before the equality keys
        (STATUS_SINCE, ("created_at", "kind"), False),
        (STATUS_SINCE, ("user_id", "created_at"), False),  # kind left behind the range
        (STATUS_SINCE, ("user_id", "kind", "created_at", "id"), False),
        (STATUS_SINCE, ("user_id", "user_id"), False),
        (USER_BY_TIME, ("user_id", "created_at DESC"), True),
        (USER_BY_TIME, ("user_id", "created_at"), True),  # scanned backward
        (USER_BY_TIME, ("created_at DESC", "user_id"), False),
    ],
)
def test_serving_order_puts_equality_before_range_and_sort(
    candidate: Candidate, keys: tuple[str, ...], expected: bool
) -> None:
    assert serving_order(_keys(*keys), candidate) is expected
