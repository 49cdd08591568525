"""The terminal report: a summary first, findings grouped by site, at most --limit of them."""

from __future__ import annotations

import dataclasses

from rich.console import Console

from advisor.model import CallSite, Finding, ScanResult, Severity
from advisor.report.text import DEFAULT_LIMIT, render

from .sample import sample_result


def _text(result: ScanResult, **kw: object) -> str:
    console = Console(width=120, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(render(result, **kw))  # type: ignore[arg-type]
    return console.export_text()


def _many(n: int) -> ScanResult:
    findings = tuple(
        Finding(
            rule="ADV001",
            name="n-plus-one",
            severity=Severity.HIGH if i % 3 else Severity.LOW,
            message=f"N+1: loop {i}",
            location=CallSite("app/services.py", 10 + i % 4, "f"),
            evidence={"total_ms": float(i)},
        )
        for i in range(n)
    )
    return dataclasses.replace(sample_result(), findings=findings, suggestions=(), triage=None)


def test_summary_comes_first_with_counts_and_the_costliest() -> None:
    text = _text(_many(40))
    summary = text.index("Summary")
    assert summary < text.index("N+1: loop")
    assert "ADV001 n-plus-one: 26 high, 14 low" in text
    # The top findings by time: loop 38 (38 ms) is the costliest high one.
    assert text.index("38.0 ms  ADV001 at app/services.py:12") < text.index("N+1: loop")


def test_limit_prints_at_most_n_and_says_how_to_see_the_rest() -> None:
    text = _text(_many(40))
    assert text.count("N+1: loop ") == DEFAULT_LIMIT
    assert f"{40 - DEFAULT_LIMIT} more finding(s) not shown: --limit 0" in text
    everything = _text(_many(40), limit=0)
    assert everything.count("N+1: loop ") == 40 and "not shown" not in everything


def test_findings_are_grouped_under_their_site() -> None:
    text = _text(_many(8), limit=0)
    headings = [line for line in text.splitlines() if line.startswith("app/services.py:")]
    assert sorted(headings) == [f"app/services.py:{n}" for n in (10, 11, 12, 13)]


def test_a_trigram_suggestion_lists_its_extension_first() -> None:
    from advisor.indexes.ddl import make_suggestion
    from advisor.indexes.trigram import TRIGRAM_OPCLASS
    from advisor.model import IndexColumn

    trgm = make_suggestion(
        "public.products", (IndexColumn("name", opclass=TRIGRAM_OPCLASS),), method="gin"
    )
    result = dataclasses.replace(sample_result(), suggestions=(trgm,))
    text = _text(result)
    block = text[text.index("Suggested indexes") :]
    assert block.index("CREATE EXTENSION IF NOT EXISTS pg_trgm;") < block.index(
        'CREATE INDEX CONCURRENTLY IF NOT EXISTS "ix_products_name_trgm"'
    )
