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
    "advisor.indexes": [],
    "advisor.indexes.candidates": ["Candidate", "Rejection", "plan_query"],
    "advisor.indexes.coverage": [
        "covering_index",
        "index_leads_with",
        "key_id",
        "normalize_sql",
        "order_compatible",
        "predicate_conjuncts",
        "serving_order",
    ],
    "advisor.indexes.ddl": [
        "create_index_sql",
        "describe_column",
        "drop_index_sql",
        "key_sql",
        "make_suggestion",
        "suggestion_sql",
    ],
    "advisor.indexes.naming": ["MAX_IDENTIFIER_BYTES", "index_name"],
    "advisor.model": [
        "BlockingSite",
        "ReadEvent",
        "RepeatedRead",
        "TableWrites",
        "CallSite",
        "Column",
        "ColumnRef",
        "DataOrigin",
        "Execution",
        "Finding",
        "FindingKey",
        "ForeignKey",
        "Hop",
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
        "PoolUsage",
        "Predicate",
        "QueryEffect",
        "QueryShape",
        "ScanResult",
        "Schema",
        "ScopeGroup",
        "Severity",
        "Skipped",
        "SourceKind",
        "Table",
        "TableRef",
        "TableStats",
        "Triage",
        "Verification",
        "Workload",
        "query_key",
    ],
    "advisor.rules.loops": [
        "Loop",
        "called_from",
        "find_loops",
        "in_test_code",
        "loops_at",
        "shape_for",
    ],
    "advisor.rules.orm_fixes": [
        "LazySites",
        "class_name",
        "combined_loaders",
        "eager_fix",
        "expired_fix",
        "full_path",
        "lazy_sites",
        "loader_fix",
        "outer_loads",
        "relationship_hops",
        "serialized_at",
    ],
    "advisor.sqltext": ["one_line", "quote_ident", "quote_qualified"],
    "advisor.suggest": [
        "alembic_migration",
        "collect_suggestions",
        "sql_migration",
        "write_migrations",
    ],
    "advisor.suggest.choose": [
        "Choice",
        "ChoiceBudget",
        "NotChosen",
        "Oracle",
        "Step",
        "WriteLoad",
        "choose",
        "parse_size",
        "write_load",
    ],
    "advisor.verify.whatif": ["Costable", "WhatIf", "choose_indexes"],
    "advisor.verify.explain": [
        "explain",
        "explain_generic",
        "iter_nodes",
        "plan_change",
        "plan_tree",
        "uses_index",
    ],
    "advisor.verify.loops": ["measure_loop", "measure_loops"],
    "advisor.verify.measure": ["VerifyOptions", "VerifyOutcome", "verdict_of", "verify_indexes"],
    "advisor.verify.params": [
        "EXPLAINABLE",
        "Statement",
        "bind_statement",
        "statement_for",
        "statements_for",
    ],
    "advisor.verify.effects": ["EffectMeter", "effect_text", "figure", "improved", "regressed"],
    "advisor.verify.migration_review": [
        "Change",
        "IndexChange",
        "MigrationReview",
        "MigrationStatement",
        "ReviewedQuery",
        "read_migration",
        "review_migration",
    ],
    "advisor.report.migration": ["REVIEW_VERSION", "render", "to_json"],
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
