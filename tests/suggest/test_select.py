"""Merging per-finding suggestions into the indexes to create."""

from __future__ import annotations

from advisor.indexes.ddl import make_suggestion
from advisor.model import Finding, IndexColumn, IndexSuggestion, Severity
from advisor.suggest import collect_suggestions
from advisor.suggest.select import drop_prefixes, merge_identical


def sug(
    table: str, *cols: str, where: str | None = None, include: tuple[str, ...] = (), fp: str = "a:r"
) -> IndexSuggestion:
    columns = tuple(IndexColumn(c.split()[0], descending=c.endswith(" DESC")) for c in cols)
    return make_suggestion(
        f"public.{table}",
        columns,
        where=where,
        include=include,
        query_keys=(fp,),
        reason=f"query {fp}",
    )


def finding(s: IndexSuggestion) -> Finding:
    return Finding("ADV003", "missing-index", Severity.MEDIUM, "m", suggestion=s)


def test_identical_suggestions_merge_with_union_of_fingerprints() -> None:
    merged = merge_identical(
        (
            sug("events", "user_id", fp="a:r"),
            sug("events", "user_id", fp="b:r"),
            sug("events", "user_id", fp="a:r"),
        )
    )
    assert len(merged) == 1 and merged[0].query_keys == ("a:r", "b:r")
    assert merged[0].reason == "query a:r; query b:r"


def test_prefix_dropped_in_favour_of_longer() -> None:
    out = drop_prefixes(
        (sug("events", "user_id", fp="a:r"), sug("events", "user_id", "created_at DESC", fp="b:r"))
    )
    assert [s.name for s in out] == ["ix_events_user_id_created_at"]
    assert set(out[0].query_keys) == {"a:r", "b:r"}


def test_flipped_directions_still_a_prefix() -> None:
    out = drop_prefixes(
        (sug("events", "created_at DESC", fp="a:r"), sug("events", "created_at", "id", fp="b:r"))
    )
    assert len(out) == 1 and out[0].columns[0].column == "created_at"


def test_not_merged_across_tables_predicates_or_order() -> None:
    kept = drop_prefixes(
        (
            sug("events", "user_id"),
            sug("orders", "user_id", "created_at"),
            sug("events", "user_id", "kind", where="deleted_at IS NULL"),
            sug("events", "kind", "user_id"),
        )
    )
    assert len(kept) == 4


def test_include_columns_must_be_served() -> None:
    kept = drop_prefixes(
        (sug("events", "user_id", include=("payload",)), sug("events", "user_id", "created_at"))
    )
    assert len(kept) == 2
    kept = drop_prefixes(
        (sug("events", "user_id", include=("created_at",)), sug("events", "user_id", "created_at"))
    )
    assert len(kept) == 1


def test_collect_suggestions_from_findings() -> None:
    findings = [
        finding(sug("events", "user_id", fp="a:r")),
        Finding("ADV001", "n-plus-one", Severity.HIGH, "no suggestion here"),
        finding(sug("events", "user_id", "created_at DESC", fp="b:r")),
        finding(sug("orders", "status", fp="c:r")),
        finding(sug("events", "user_id", "created_at DESC", fp="d:r")),
    ]
    out = collect_suggestions(findings)
    assert [s.name for s in out] == ["ix_events_user_id_created_at", "ix_orders_status"]
    assert set(out[0].query_keys) == {"a:r", "b:r", "d:r"}
    assert collect_suggestions([]) == ()
