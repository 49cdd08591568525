"""``advisor demo`` end to end, at the small size: the example service is seeded in a sandbox,
served by uvicorn under ``advisor capture``, loaded over real HTTP, scanned, fixed and loaded
again. The planted problems must be found at the right route and line with the right fix; the
endpoints that are already right must produce no finding; the fixes must show in the numbers.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from advisor.demo import DemoOptions, DemoResult, run_demo
from advisor.model import Finding
from advisor.rules import RULES, run_rules
from advisor.sources.capture_file import read_capture
from advisor.sources.capture_pools import read_pools
from advisor.workload import build_workload

APP = "fixtures/example_service/app.py"
CORRECT_FUNCTIONS = {"get_user", "get_record", "health"}


def _line_of(text: str) -> int:
    for number, line in enumerate(Path(APP).read_text().splitlines(), start=1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {APP}")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    options = DemoOptions(
        size="small",
        requests=280,
        concurrency=8,
        sandbox="local",
        workdir=tmp_path_factory.mktemp("demo"),
        warmup=20,
    )
    return run_demo(options)


def _by_rule(result: DemoResult, rule: str) -> list[Finding]:
    return [f for f in result.scan.findings if f.rule == rule]


def test_n_plus_one_found_at_the_loop_with_the_eager_load_fix(demo: DemoResult) -> None:
    (finding,) = _by_rule(demo, "ADV001")
    assert finding.evidence["worst_scope"] == "GET /records"
    assert finding.location is not None and finding.location.path == APP
    assert finding.location.line == _line_of("await record.awaitable_attrs.details")
    assert finding.origin is not None
    assert finding.origin.line == _line_of("records = (await session.scalars(query)).all()")
    assert finding.fix is not None and "selectinload(Record.details)" in finding.fix


def test_composite_index_suggested_for_latest_events(demo: DemoResult) -> None:
    (finding,) = _by_rule(demo, "ADV003")
    assert finding.location is not None
    assert finding.location.line == _line_of("rows = (await session.execute(query)).all()")
    assert finding.suggestion is not None
    columns = [(c.column, c.descending) for c in finding.suggestion.columns]
    assert columns[:2] == [("user_id", False), ("created_at", True)]
    assert finding.suggestion.name in demo.applied


def test_wide_table_found_at_the_list_endpoint(demo: DemoResult) -> None:
    (finding,) = _by_rule(demo, "ADV002")
    assert finding.evidence["table"] == "public.products"
    assert finding.location is not None
    assert finding.location.line == _line_of("products = (await session.scalars(query)).all()")
    assert finding.fix is not None and "load_only" in finding.fix


def test_endpoints_that_are_right_have_no_findings(demo: DemoResult) -> None:
    for finding in demo.scan.findings:
        where = finding.location.function if finding.location else None
        assert where not in CORRECT_FUNCTIONS, finding


def test_fixes_show_in_the_numbers(demo: DemoResult) -> None:
    rows = {row.route: row for row in demo.rows}
    records = rows["GET /records"]
    assert records.queries_before == pytest.approx(41)
    assert records.queries_after == pytest.approx(2)
    for route in ("GET /records", "GET /users/{user_id}/events/latest"):
        row = rows[route]
        assert row.after.p95_ms < row.before.p95_ms, row
    assert all(row.before.errors == row.after.errors == 0 for row in demo.rows)


def _after_findings(result: DemoResult) -> list[Finding]:
    """The rules over the fixed run's capture (the same schema)."""
    schema = result.scan.schema
    path = str(result.after.capture)
    workload = build_workload(read_capture(path), schema)
    workload = dataclasses.replace(workload, pools=read_pools(path))
    return [o for o in run_rules(RULES, workload, schema) if isinstance(o, Finding)]


def test_sync_engine_in_async_def_found_and_gone_after_the_fix(demo: DemoResult) -> None:
    (finding,) = _by_rule(demo, "ADV008")
    assert finding.evidence["scope"] == "GET /accounts/{account_id}"
    assert finding.location is not None and finding.location.path == APP
    assert finding.location.line == _line_of("row = conn.execute(query).one_or_none()")
    assert finding.evidence["blocked_p95_ms"] > 0  # type: ignore[operator]
    assert "create_async_engine" in (finding.fix or "")
    assert not [f for f in _after_findings(demo) if f.rule == "ADV008"]


def test_hot_currency_lookup_is_a_cache_candidate_until_cached(demo: DemoResult) -> None:
    found = [f for f in _by_rule(demo, "ADV010") if "currencies" in (f.sql or "")]
    assert found, [f.message for f in _by_rule(demo, "ADV010")]
    for finding in found:
        assert finding.location is not None and finding.location.path == APP
        assert finding.location.function == "product_price"
        assert finding.evidence["hit_share"] >= 0.5  # type: ignore[operator]
    after = [
        f for f in _after_findings(demo) if f.rule == "ADV010" and "currencies" in (f.sql or "")
    ]
    assert not after, [f.message for f in after]


def test_pool_of_two_for_the_demo_concurrency_found_and_gone_after_the_fix(
    demo: DemoResult,
) -> None:
    found = _by_rule(demo, "ADV009")
    assert found, "the pool of 2 under the demo's concurrency was not reported"
    sizes = {f.evidence["pool_size"] for f in found}
    assert sizes == {2}, sizes
    assert any(f.evidence["wait_p95_ms"] > 5.0 for f in found)  # type: ignore[operator]
    assert all(f.evidence["max_connections"] is not None for f in found)
    assert not [f for f in _after_findings(demo) if f.rule == "ADV009"]
