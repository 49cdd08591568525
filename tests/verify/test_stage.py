"""The verify stage's bookkeeping: which index answers for a finding after the choice."""

from __future__ import annotations

from dataclasses import replace

from advisor.indexes.ddl import make_suggestion
from advisor.model import Finding, IndexColumn, Severity, Verification
from advisor.verify.stage import _judged


def test_a_finding_takes_the_chosen_index_that_serves_its_query() -> None:
    candidate = replace(
        make_suggestion("public.events", (IndexColumn("user_id"),)), query_keys=("k",)
    )
    chosen = replace(
        make_suggestion(
            "public.events", (IndexColumn("user_id"), IndexColumn("created_at", descending=True))
        ),
        query_keys=("k", "other"),
        verification=Verification(28.0, 0.03, verdict="helps"),
    )
    finding = Finding(
        "ADV003",
        "missing-index",
        Severity.MEDIUM,
        f"no index serves public.events; suggested {candidate.name}",
        fix=candidate.sql,
        suggestion=candidate,
        confidence="medium",
    )
    judged = _judged(finding, (chosen,))
    assert judged.suggestion == chosen and judged.confidence == "high"
    assert judged.fix == chosen.sql
    assert judged.message.endswith(f"for the whole workload, {chosen.name} serves it")
    # The same index verified: only the verdict changes.
    same = _judged(replace(finding, suggestion=chosen, fix=chosen.sql), (chosen,))
    assert same.message == finding.message and same.fix == chosen.sql
    # No chosen index serves it: the finding stays as the rule wrote it.
    assert _judged(finding, ()) == finding


def test_a_candidate_measured_after_the_choice_says_what_it_measured() -> None:
    from advisor.suggest.choose import NotChosen
    from advisor.verify.stage import _not_chosen_notes

    added = make_suggestion("public.items", (IndexColumn("order_id"),), query_keys=("items",))
    looked = make_suggestion("public.items", (IndexColumn("sku"),), query_keys=("items",))
    plain = make_suggestion("public.orders", (IndexColumn("status"),), query_keys=("open",))
    said = "measured beside the verified set (items 0.50 ms -> 0.49 ms x 300 calls): no gain"
    checked = replace(looked, verification=Verification(0.5, 0.49, detail=said))
    kept = replace(added, verification=Verification(0.5, 0.01, detail="added after measurement"))
    not_chosen = [NotChosen(s, "saves 0.10 % (0.30 % needed)") for s in (added, looked, plain)]

    notes = list(_not_chosen_notes(not_chosen, [kept, checked], [kept]))

    assert [(n.fingerprint, n.reason) for n in notes] == [
        ("items", f"{looked.name} not chosen: saves 0.10 % (0.30 % needed); {said}"),
        ("open", f"{plain.name} not chosen: saves 0.10 % (0.30 % needed)"),
    ]
