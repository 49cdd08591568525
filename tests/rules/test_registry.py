"""The rule registry: order, lookup, selection, options."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

import advisor.rules
from advisor.errors import ConfigError
from advisor.model import Schema, Workload
from advisor.rules import RULES, find_rule, run_rules, select_rules


def test_exported_members() -> None:
    assert sorted(advisor.rules.__all__) == sorted(
        [
            "RULES",
            "Outcome",
            "Rule",
            "RuleContext",
            "find_rule",
            "rule_options",
            "run_rules",
            "select_rules",
        ]
    )


def test_rules_are_ordered_unique_and_documented() -> None:
    codes = [r.code for r in RULES]
    assert codes == sorted(codes) and len(set(codes)) == len(codes)
    assert len({r.name for r in RULES}) == len(RULES)
    for rule in RULES:
        assert rule.summary and "\n" not in rule.summary
        assert rule.doc.strip()
        module = importlib.import_module(rule.check.__module__)
        assert module.RULE is rule and module.__doc__ == rule.doc


def test_find_rule_by_code_or_name() -> None:
    assert find_rule("ADV001") is find_rule("n-plus-one") is find_rule("adv001")
    with pytest.raises(ConfigError, match="ADV001"):
        find_rule("ADV999")


def test_select_and_ignore() -> None:
    assert select_rules() == RULES
    assert [r.code for r in select_rules(["select-star-wide-table", "ADV001"])] == [
        "ADV001",
        "ADV002",
    ]
    assert find_rule("ADV001") not in select_rules(None, ["ADV001"])
    assert select_rules(["ADV00"]) == tuple(r for r in RULES if r.code.startswith("ADV00"))
    with pytest.raises(ConfigError):
        select_rules(["nope"])


def test_run_rules_checks_options() -> None:
    empty = Workload(shapes={})
    assert run_rules(RULES, empty, Schema(), options={"ADV001": {"min_repeats": 3}}) == []
    with pytest.raises(ConfigError, match=r"ADV001.*min_repeat\b|min_repeat'.*ADV001"):
        run_rules(RULES, empty, Schema(), options={"ADV001": {"min_repeat": 3}})
    with pytest.raises(ConfigError, match="must be int"):
        run_rules(RULES, empty, Schema(), options={"n-plus-one": {"min_repeats": "3"}})
    with pytest.raises(ConfigError, match="unknown rule"):
        run_rules(RULES, empty, Schema(), options={"ADV999": {}})


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            names.add(node.module)
            # ``from advisor.rules import n_plus_one`` imports a module too.
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_rule_module_imports_another() -> None:
    package = Path(advisor.rules.__file__).parent
    rule_modules = {
        f"advisor.rules.{path.stem}": path
        for path in package.glob("*.py")
        if re.search(r"^RULE = ", path.read_text(encoding="utf-8"), re.MULTILINE)
    }
    assert len(rule_modules) == len(RULES)
    for name, path in rule_modules.items():
        others = (_imported_modules(path) & set(rule_modules)) - {name}
        assert not others, f"{name} imports rule module(s) {sorted(others)}"
