"""Every golden case of every rule (``rules/ADV*.yml``), run through advisor's pipeline."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from advisor.model import Schema
from advisor.rules import RULES, find_rule
from tests.rules.golden import GoldenCase, GoldenFile, compare, load_golden_files, run_case

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
