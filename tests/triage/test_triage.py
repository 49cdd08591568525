"""Suppressions and baselines, end to end: real ``advisor`` processes, a real sandbox."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from advisor.model import CallSite, Finding, ScanResult, Schema, Severity, Workload
from advisor.triage.suppress import apply_suppressions, parse_suppressions

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "fixtures" / "example" / "queries.sql"
SHOP = ROOT / "fixtures" / "schemas" / "shop.sql"


@pytest.fixture(scope="module")
def sandbox_url(pg_dsn: str) -> Iterator[str]:
    """An empty database on the test server, given to ``--sandbox`` as a URL."""
    from advisor.sandbox import create_database, drop_database

    name = f"advt_triage_{uuid.uuid4().hex[:8]}"
    dsn = create_database(pg_dsn, name)
    try:
        yield dsn
    finally:
        drop_database(pg_dsn, name)


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "advisor", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=180,
        check=False,
    )


def scan_json(cwd: Path, sandbox: str, *extra: str) -> dict[str, object]:
    proc = run(
        cwd,
        "scan",
        "queries.sql",
        "--schema",
        str(SHOP),
        "--sandbox",
        sandbox,
        "--format",
        "json",
        *extra,
    )
    assert proc.returncode == 0, proc.stderr
    report: dict[str, object] = json.loads(proc.stdout)
    return report


def rules_of(report: dict[str, object]) -> list[str]:
    findings = report["findings"]
    assert isinstance(findings, list)
    return sorted(f["rule"] for f in findings)


def test_baseline_round_trip_ignores_moved_lines(tmp_path: Path, sandbox_url: str) -> None:
    sql = EXAMPLE.read_text()
    (tmp_path / "queries.sql").write_text(sql)
    full = scan_json(tmp_path, sandbox_url)
    assert len(rules_of(full)) >= 5
    made = run(
        tmp_path,
        "baseline",
        "create",
        "baseline.json",
        "queries.sql",
        "--schema",
        str(SHOP),
        "--sandbox",
        sandbox_url,
    )
    assert made.returncode == 0, made.stderr
    baseline = json.loads((tmp_path / "baseline.json").read_text())
    assert baseline["format"] == "advisor-baseline"
    assert len(baseline["findings"]) == len(rules_of(full))
    assert all("line" not in entry for entry in baseline["findings"])
    assert {e["path"] for e in baseline["findings"] if e["path"]} == {"queries.sql"}

    # Every line moves down: nothing is new.
    (tmp_path / "queries.sql").write_text("\n\n\n" + sql)
    same = scan_json(tmp_path, sandbox_url, "--baseline", "baseline.json")
    assert rules_of(same) == []
    triage = same["triage"]
    assert isinstance(triage, dict)
    assert (triage["baselined"], triage["gone"]) == (len(rules_of(full)), [])

    # The catalogue query goes (its two findings are resolved), a new one comes.
    changed = sql.replace(
        "SELECT * FROM products WHERE category = $1 ORDER BY created_at DESC LIMIT 50;",
        "SELECT id FROM order_items WHERE product_id = $1 AND quantity > 3;",
    )
    (tmp_path / "queries.sql").write_text(changed)
    after = scan_json(tmp_path, sandbox_url, "--baseline", "baseline.json")
    triage = after["triage"]
    assert isinstance(triage, dict)
    assert sorted(g["rule"] for g in triage["gone"]) == ["ADV002", "ADV003"]
    assert rules_of(after) == ["ADV003"]

    # The same comparison against an older report, rendered for a PR comment.
    (tmp_path / "old.json").write_text(json.dumps(full))
    proc = run(
        tmp_path,
        "scan",
        "queries.sql",
        "--schema",
        str(SHOP),
        "--sandbox",
        sandbox_url,
        "--diff-against",
        "old.json",
        "--format",
        "markdown",
        "--fail-on",
        "medium",
    )
    assert proc.returncode == 1, proc.stderr  # the new finding is medium
    assert "Compared with old.json:" in proc.stdout and ", 2 resolved." in proc.stdout
    assert proc.stdout.count("| medium | ADV003") == 1


def test_each_kind_of_suppression_and_the_unused_ones(tmp_path: Path, sandbox_url: str) -> None:
    sql = EXAMPLE.read_text()
    sql = sql.replace(
        "SELECT * FROM products",
        "-- advisor: ignore[ADV002]\nSELECT * FROM products",
    ).replace(
        "SELECT id, user_id, total_cents FROM orders WHERE status = 'shipped';",
        "SELECT id, user_id, total_cents FROM orders WHERE status = 'shipped'; "
        "-- advisor: ignore[n-plus-one]",
    )
    (tmp_path / "queries.sql").write_text(sql)
    (tmp_path / "pyproject.toml").write_text(
        "[tool.advisor]\n"
        "[[tool.advisor.suppress]]\nrule = 'fk-without-index'\nreason = 'small tables'\n"
        "[[tool.advisor.suppress]]\nrule = 'ADV003'\ntable = 'events'\n"
        "[[tool.advisor.suppress]]\npath = 'vendor/*'\n"
    )
    report = scan_json(tmp_path, sandbox_url)
    assert "ADV004" not in rules_of(report) and "ADV002" not in rules_of(report)
    triage = report["triage"]
    assert isinstance(triage, dict)
    by = sorted(s["by"].split(":")[0] for s in triage["suppressed"])
    assert "queries.sql" in by  # the inline SQL marker
    assert any(s["rule"] == "ADV003" and "events" in s["by"] for s in triage["suppressed"])
    unused = triage["unused_suppressions"]
    assert any("path='vendor/*'" in u for u in unused), unused
    assert any(u.startswith("queries.sql:") and "ignore[n-plus-one]" in u for u in unused)
    assert len(unused) == 2


def test_python_call_site_marker(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text(
        "def list_users(session):\n"
        "    for user in users:\n"
        "        user.orders  # advisor: ignore[ADV001]\n"
        "        # advisor: ignore[ADV002, ADV003]\n"
        "        session.execute(q)\n"
    )

    def finding(rule: str, line: int) -> Finding:
        return Finding(rule, "x", Severity.HIGH, "m", location=CallSite(str(app), line, "f"))

    result = ScanResult(
        findings=(finding("ADV001", 3), finding("ADV003", 5), finding("ADV007", 5)),
        suggestions=(),
        notes=(),
        skipped=(),
        workload=Workload(shapes={}),
        schema=Schema(),
    )
    entries = parse_suppressions([{"rule": "ADV006"}], "pyproject.toml")
    out = apply_suppressions(result, entries, root=str(tmp_path))
    assert [f.rule for f in out.findings] == ["ADV007"]
    assert out.triage is not None
    assert [by for _, by in out.triage.suppressed] == [
        f"{app}:3: advisor: ignore",
        f"{app}:4: advisor: ignore",
    ]
    assert out.triage.unused == ("[[tool.advisor.suppress]] rule='ADV006' suppresses nothing",)


def test_bad_suppress_tables_are_one_line_errors(tmp_path: Path) -> None:
    from advisor.errors import ConfigError

    with pytest.raises(ConfigError, match=r"unknown .* key 'rules'"):
        parse_suppressions([{"rules": "ADV001"}], "pyproject.toml")
    with pytest.raises(ConfigError, match="must give rule, table, fingerprint or path"):
        parse_suppressions([{"reason": "why"}], "pyproject.toml")
