"""``advisor scan --verify``: suggestions measured in a sandbox, in the JSON and text reports."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from rich.console import Console

from advisor.report.json import to_json
from advisor.report.text import render
from advisor.scan import ScanOptions, scan
from tests.test_cli import REPORT_SCHEMA, advisor
from tests.verify.builders import SHOP

QUERIES = """
SELECT id, total FROM orders WHERE user_id = $1 ORDER BY created_at DESC LIMIT 20;
SELECT id, sku FROM items WHERE order_id = $1;
"""


def test_scan_verify_keeps_measured_indexes(tmp_path: Path) -> None:
    schema = tmp_path / "schema.sql"
    schema.write_text(SHOP)
    queries = tmp_path / "queries.sql"
    queries.write_text(QUERIES)
    seen: list[str] = []

    result = scan(
        ScanOptions(sources=(str(queries),), schema_file=str(schema), sandbox="local", verify=True),
        progress=lambda what, done, total: seen.append(what),
    )

    assert result.data is not None and result.data.kind == "as-is"
    assert "(about 60," in result.data.summary  # 500 users, 20,000 orders, 40,000 items
    assert result.suggestions and all(s.verification for s in result.suggestions)
    for s in result.suggestions:
        assert s.verification is not None and s.verification.verdict == "helps"
    verified = [f for f in result.findings if f.suggestion and f.suggestion.verification]
    assert verified and all(f.confidence == "high" for f in verified)
    assert "measuring the kept set together" in seen
    assert seen[-1] in ("measuring the kept set together", "measuring each index given the others")

    report = to_json(result)
    jsonschema.validate(report, json.loads(REPORT_SCHEMA.read_text()))
    texts = [f["verified"] for f in report["findings"] if f["verified"]]
    assert texts and all(t.startswith("verified: ") and "-> Index Scan" in t for t in texts)
    effects = report["suggestions"][0]["verification"]["effects"]
    assert effects[0]["before"]["params"] == "sampled"

    console = Console(width=200, record=True)
    console.print(render(result))
    text = console.export_text()
    assert "verified: " in text and "measured on the --schema file as written" in text


def test_verify_generates_data_for_a_capture_schema(tmp_path: Path) -> None:
    """A capture's schema snapshot has no rows: verification generates them (to the default
    size, the tables being unanalyzed), measures the N+1 loops on them, and says so. (The
    example capture's loops are in its test bodies, reported only with ``test_code``.)"""
    config = tmp_path / "advisor.toml"
    config.write_text("[tool.advisor.rules.n-plus-one]\ntest_code = true\n")
    proc = advisor(
        "scan",
        "fixtures/example/capture.jsonl",
        "--verify",
        "--format",
        "json",
        "--config",
        str(config),
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["data"]["kind"] == "generated"
    assert report["data"]["tables"]["public.orders"].startswith("generated ")
    costs = [f["loop_cost"] for f in report["findings"] if f["rule"] == "ADV001"]
    assert costs and all(c is not None and c["text"].endswith(" ms") for c in costs)
    assert all("= ANY(" in c["batched_sql"] for c in costs)


def test_rows_option_is_checked() -> None:
    proc = advisor("scan", "fixtures/example/capture.jsonl", "--verify", "--rows", "orders")
    assert proc.returncode == 2
    assert "--rows 'orders': write TABLE=N" in proc.stderr


def test_scan_verify_measures_a_trigram_index_end_to_end(tmp_path: Path) -> None:
    """``ILIKE '%...%'`` from the command line: the pg_trgm GIN index is suggested, built in
    the sandbox (HypoPG has no GIN: a real index), measured on generated rows, kept, and
    written as a migration that creates the extension first."""
    schema = tmp_path / "schema.sql"
    schema.write_text(
        "CREATE TABLE products (id bigserial PRIMARY KEY, name text NOT NULL, price int);\n"
    )
    queries = tmp_path / "queries.sql"
    queries.write_text("SELECT id, name FROM products WHERE name ILIKE '%a1b%';\n" * 2)
    out = tmp_path / "migrations"
    proc = advisor(
        "scan", str(queries), "--schema", str(schema), "--verify", "--rows",
        "products=100000", "--migrations-dir", str(out), "--format", "json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    [suggestion] = report["suggestions"]
    assert suggestion["method"] == "gin" and suggestion["verification"]["verdict"] == "helps"
    [finding] = [f for f in report["findings"] if f["rule"] == "ADV003"]
    assert (
        finding["verified"].startswith("verified: ") and "Bitmap Index Scan" in finding["verified"]
    )
    up = (out / "0001_ix_products_name_trgm.up.sql").read_text()
    sql = "\n".join(line for line in up.splitlines() if not line.startswith("--"))
    assert sql.index("CREATE EXTENSION IF NOT EXISTS pg_trgm;") < sql.index("USING gin")
