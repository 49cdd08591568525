"""Every golden case of every rule (``rules/ADV*.yml``), run through advisor's pipeline."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from advisor.model import CallSite, Finding, IndexColumn, Schema, Severity
from advisor.rules import RULES, find_rule
from tests.rules.golden import (
    GoldenCase,
    GoldenFile,
    compare,
    load_golden_files,
    render_column,
    run_case,
)

FILES = load_golden_files()
CASES = [(f, c) for f in FILES for c in f.cases]


@pytest.mark.parametrize(("golden", "case"), CASES, ids=[c.id for _, c in CASES])
def test_golden_case(
    golden: GoldenFile, case: GoldenCase, schema_factory: Callable[[str], Schema]
) -> None:
    schema = schema_factory(golden.ddl(case))
    outcomes = run_case(case, schema)
    problems = compare(case, outcomes)
    assert not problems, f"{case.id}: {case.data.get('description', '')}\n" + "\n".join(problems)


@pytest.mark.parametrize("golden", FILES, ids=[f.path.name for f in FILES])
def test_golden_file_is_balanced(golden: GoldenFile) -> None:
    assert golden.path.stem == find_rule(golden.rule).code
    names = [c.name for c in golden.cases]
    assert len(set(names)) == len(names), "case names must be unique"
    assert all(n.startswith(("fail_", "pass_")) for n in names), names
    fails = sum(n.startswith("fail_") for n in names)
    passes = sum(n.startswith("pass_") for n in names)
    assert fails >= 1 and passes >= fails, f"{fails} fail_* cases, {passes} pass_* cases"
    assert all(c.data.get("description") for c in golden.cases), "every case needs a description"


def test_every_rule_has_a_golden_file() -> None:
    have = {f.rule for f in FILES}
    missing = [r.code for r in RULES if r.code not in have]
    assert not missing, f"rules without rules/<code>.yml: {missing}"


def test_compare_catches_every_kind_of_mismatch() -> None:
    finding = Finding(
        rule="ADV001",
        name="n-plus-one",
        severity=Severity.HIGH,
        message="N+1: lazy load of Order.items ran 10 times",
        location=CallSite("app/api.py", 42, "list_orders"),
        fix="add `.options(selectinload(Order.items))`",
    )
    want = {"location": "app/api.py:42", "fix_contains": "selectinload(Order.items)"}
    case = GoldenCase("ADV001", "ADV001.yml", "fail_x", {"expect": [want]})
    assert compare(case, [finding]) == []
    wrong = GoldenCase("ADV001", "ADV001.yml", "fail_x", {"expect": [{"severity": "low"}]})
    assert "severity: expected 'low', got 'high'" in " ".join(compare(wrong, [finding]))
    two = GoldenCase("ADV001", "ADV001.yml", "fail_x", {"expect": [want, want]})
    assert any("expected 2 findings, got 1" in p for p in compare(two, [finding]))
    passing = GoldenCase("ADV001", "ADV001.yml", "pass_x", {"notes": [{"reason_contains": "z"}]})
    problems = compare(passing, [finding])
    assert any("expected 0 findings" in p for p in problems)
    assert any("no note contains 'z'" in p for p in problems)
    other_rule = dataclasses.replace(finding, rule="ADV007")
    assert compare(GoldenCase("ADV001", "ADV001.yml", "pass_x", {}), [other_rule]) == []


def test_render_column() -> None:
    assert render_column(IndexColumn("created_at", descending=True)) == "created_at DESC"
    assert render_column(IndexColumn("a", nulls_first=True)) == "a NULLS FIRST"
    assert render_column(IndexColumn("a", descending=True, nulls_first=True)) == "a DESC"
    assert render_column(IndexColumn(None, expression="lower(email)")) == "lower(email)"
