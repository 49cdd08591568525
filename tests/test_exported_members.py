"""The public API is explicit: every name in ``__all__`` exists and the list is pinned."""

from __future__ import annotations

import importlib

import pytest

PINNED = {
    "advisor": ["__version__"],
    "advisor.capture": [
        "Capture",
        "Scope",
        "current_scope",
        "instrument",
        "scope",
        "uninstrument",
    ],
    "advisor.verify.data": [
        "DEFAULT_COPY_LIMIT_BYTES",
        "DEFAULT_ROWS",
        "DataMode",
        "DataPlan",
        "PreparedData",
        "Progress",
        "SandboxMatch",
        "matching_sandbox",
        "prepare_data",
        "row_targets",
        "version_text",
    ],
    "advisor.errors": [
        "AdvisorError",
        "CaptureError",
        "ConfigError",
        "DatabaseError",
        "ExtensionMissing",
        "InputError",
        "ParseError",
        "SandboxError",
    ],
    "advisor.model": [
        "CallSite",
        "Column",
        "ColumnRef",
        "DataOrigin",
        "Execution",
        "Finding",
        "ForeignKey",
        "Index",
        "IndexColumn",
        "IndexKey",
        "IndexSuggestion",
        "JoinKey",
        "LoopCost",
        "Measurement",
        "Note",
        "OrderItem",
        "OrmLoad",
        "ParsedQuery",
        "PlanNode",
        "Predicate",
        "QueryEffect",
        "QueryShape",
        "ScanResult",
        "Schema",
        "ScopeGroup",
        "Severity",
        "Skipped",
        "Table",
        "TableRef",
        "TableStats",
        "Verification",
        "Workload",
        "query_key",
    ],
}


@pytest.mark.parametrize("module_name", sorted(PINNED))
def test_exported_members(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert sorted(module.__all__) == sorted(PINNED[module_name])
    for name in module.__all__:
        assert hasattr(module, name), name


def test_every_error_is_an_advisor_error() -> None:
    from advisor import errors

    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.AdvisorError)
