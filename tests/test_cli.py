"""The ``advisor`` command end to end: real processes, a real PostgreSQL sandbox."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "fixtures" / "example" / "queries.sql"
SHOP = ROOT / "fixtures" / "schemas" / "shop.sql"
REPORT_SCHEMA = ROOT / "advisor" / "report" / "report-v1.schema.json"


def advisor(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m advisor ARGS`` and capture its output as text."""
    proc = subprocess.run(
        [sys.executable, "-m", "advisor", *args],
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        timeout=180,
        check=False,
    )
    return subprocess.CompletedProcess(
        proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode()
    )


def one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    """The process failed with exit 2 and one line on stderr that names every needle."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("advisor: error: ")
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@pytest.fixture(scope="module")
def sandbox_url(pg_dsn: str) -> Iterator[str]:
    """An empty database on the test server, given to ``--sandbox`` as a URL."""
    from advisor.sandbox import create_database, drop_database

    name = f"advt_cli_{uuid.uuid4().hex[:8]}"
    dsn = create_database(pg_dsn, name)
    try:
        yield dsn
    finally:
        drop_database(pg_dsn, name)


@pytest.fixture(scope="module")
def example_json(sandbox_url: str) -> dict[str, object]:
    """The JSON report of the bundled example, scanned through a URL sandbox."""
    proc = advisor(
        "scan", str(EXAMPLE), "--schema", str(SHOP), "--sandbox", sandbox_url, "--format", "json"
    )
    assert proc.returncode == 0, proc.stderr
    report: dict[str, object] = json.loads(proc.stdout)
    return report


def test_version_and_help() -> None:
    from advisor import __version__

    assert advisor("--version").stdout.strip().endswith(__version__)
    helped = advisor("--help")
    assert helped.returncode == 0
    for command in ("scan", "rules", "rule", "capture"):
        assert command in helped.stdout


def test_example_report_matches_its_json_schema(example_json: dict[str, object]) -> None:
    schema = json.loads(REPORT_SCHEMA.read_text())
    jsonschema.validate(example_json, schema)
    assert example_json["version"] == 1
    schema_info = example_json["schema"]
    assert isinstance(schema_info, dict)
    assert (schema_info["source"], schema_info["tables"]) == ("ddl", 5)
    assert schema_info["server_version"] >= 140000


def test_example_finds_the_planted_problems(example_json: dict[str, object]) -> None:
    findings = example_json["findings"]
    assert isinstance(findings, list)
    rules = {f["rule"] for f in findings}
    assert {"ADV002", "ADV003"} <= rules, rules
    suggestions = example_json["suggestions"]
    assert isinstance(suggestions, list)
    events = [s for s in suggestions if s["table"] == "public.events"]
    assert events and events[0]["columns"] == ["user_id", "created_at DESC"], suggestions
    for s in suggestions:
        assert s["sql"].startswith("CREATE INDEX CONCURRENTLY IF NOT EXISTS")
        assert s["verification"] is None


def test_example_reports_the_unparsable_statement_and_goes_on(
    example_json: dict[str, object],
) -> None:
    skipped = example_json["skipped"]
    assert isinstance(skipped, list) and len(skipped) == 1, skipped
    assert skipped[0]["source"]["path"].endswith("queries.sql")
    assert skipped[0]["source"]["line"] == 29
    summary = example_json["summary"]
    assert isinstance(summary, dict) and summary["shapes"] >= 6


def test_text_report_names_rules_and_fixes(sandbox_url: str) -> None:
    proc = advisor("scan", str(EXAMPLE), "--schema", str(SHOP), "--sandbox", sandbox_url, "-v")
    assert proc.returncode == 0, proc.stderr
    assert "ADV003 missing-index" in proc.stdout
    assert "CREATE INDEX CONCURRENTLY" in proc.stdout
    assert "No suggestion, and why" in proc.stdout


def test_limit_keeps_the_text_report_short_and_json_whole(
    sandbox_url: str, example_json: dict[str, object]
) -> None:
    proc = advisor(
        "scan", str(EXAMPLE), "--schema", str(SHOP), "--sandbox", sandbox_url, "--limit", "1"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.index("Summary") < proc.stdout.index("fix:")
    total = len(example_json["findings"])  # type: ignore[arg-type]
    assert total > 1 and f"{total - 1} more finding(s) not shown: --limit 0" in proc.stdout


def test_fail_on_sets_the_exit_code(sandbox_url: str) -> None:
    base = (
        "scan",
        str(EXAMPLE),
        "--schema",
        str(SHOP),
        "--sandbox",
        sandbox_url,
        "--format",
        "json",
    )
    assert advisor(*base, "--fail-on", "medium").returncode == 1
    assert advisor(*base, "--fail-on", "never").returncode == 0
    only_fk = advisor(*base, "--select", "ADV004", "--fail-on", "high")
    assert only_fk.returncode == 0, only_fk.stderr
    assert {f["rule"] for f in json.loads(only_fk.stdout)["findings"]} <= {"ADV004"}


def test_stdin_is_a_source() -> None:
    proc = advisor("scan", "-", "--format", "json", stdin=b"SELECT * FROM t; SELEC oops;")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["sources"] == ["-"]
    assert report["summary"]["shapes"] == 1
    assert len(report["skipped"]) == 1


def test_missing_file_is_a_one_line_error() -> None:
    one_line_error(advisor("scan", "no/such.sql"), "no/such.sql", "no such file")


def test_directory_is_a_one_line_error() -> None:
    one_line_error(advisor("scan", "fixtures"), "fixtures", "directory")


def test_unknown_rule_is_a_one_line_error() -> None:
    one_line_error(advisor("scan", str(EXAMPLE), "--select", "ADV999"), "ADV999")


def test_bad_fail_on_is_a_one_line_error() -> None:
    one_line_error(advisor("scan", str(EXAMPLE), "--fail-on", "urgent"), "urgent")


def test_bad_max_index_size_is_a_one_line_error() -> None:
    one_line_error(advisor("scan", str(EXAMPLE), "--max-index-size", "lots"), "lots", "50MB")


def test_unreachable_dsn_is_a_one_line_error() -> None:
    dsn = "postgresql://nobody:secret@127.0.0.1:1/db"
    proc = advisor("scan", str(EXAMPLE), "--dsn", dsn)
    one_line_error(proc, "127.0.0.1:1")
    assert "secret" not in proc.stderr


def test_wrong_password_is_a_one_line_error() -> None:
    from advisor import db
    from advisor.sandbox import open_sandbox

    # A sandbox of its own: it asks every role but the superuser for a password over TCP.
    with open_sandbox("local") as sandbox:

        async def make_role() -> None:
            conn = await db.connect(sandbox.dsn, readonly=False)
            try:
                await conn.execute("CREATE ROLE advt_pw LOGIN PASSWORD 'right-one'")
            finally:
                await conn.close()

        db.run(make_role())
        port = sandbox.dsn.split(":")[-1].split("/")[0]
        dsn = f"postgresql://advt_pw:wrong-one@127.0.0.1:{port}/postgres"
        proc = advisor("scan", str(EXAMPLE), "--dsn", dsn)
    one_line_error(proc, "password authentication failed", "advt_pw:***@")
    assert "wrong-one" not in proc.stderr


def test_empty_and_binary_files_do_not_stop_the_scan(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sql"
    empty.write_text("")
    garbage = tmp_path / "garbage.sql"
    garbage.write_bytes(bytes(range(256)) * 4)
    not_capture = tmp_path / "notes.jsonl"
    not_capture.write_text("hello\n")
    good = tmp_path / "good.sql"
    good.write_text("SELECT id FROM orders WHERE user_id = $1;\n")
    proc = advisor(
        "scan", str(empty), str(garbage), str(not_capture), str(good), "--format", "json"
    )
    # Unreadable inputs: exit 2 and one line each on stderr; the good input is still scanned.
    assert proc.returncode == 2, proc.stderr
    errors = proc.stderr.strip().splitlines()
    assert len(errors) == 2, errors
    assert "garbage.sql" in errors[0] and "NUL bytes" in errors[0]
    assert "notes.jsonl" in errors[1] and "not an advisor capture file" in errors[1]
    report = json.loads(proc.stdout)
    assert report["summary"]["shapes"] == 1
    by_path = {Path(s["source"]["path"]).name: s for s in report["skipped"]}
    assert by_path["empty.sql"]["reason"].startswith("no statements found")
    assert not by_path["empty.sql"]["input_rejected"]
    assert by_path["garbage.sql"]["input_rejected"] and by_path["notes.jsonl"]["input_rejected"]


def test_rules_and_rule_docs() -> None:
    listed = advisor("rules")
    assert listed.returncode == 0
    for code in ("ADV001", "ADV002", "ADV003", "ADV004", "ADV005", "ADV006"):
        assert code in listed.stdout
    doc = advisor("rule", "n-plus-one")
    assert doc.returncode == 0
    for section in ("What it does", "Why is this bad?", "Example", "Use instead"):
        assert section in doc.stdout
    one_line_error(advisor("rule", "no-such-rule"), "no-such-rule")


def test_config_file_selects_rules(tmp_path: Path, sandbox_url: str) -> None:
    config = tmp_path / "advisor.toml"
    config.write_text('select = ["select-star-wide-table"]\nfail-on = "low"\n')
    proc = advisor(
        "scan",
        str(EXAMPLE),
        "--schema",
        str(SHOP),
        "--sandbox",
        sandbox_url,
        "--config",
        str(config),
        "--format",
        "json",
    )
    assert proc.returncode == 1, proc.stderr
    assert {f["rule"] for f in json.loads(proc.stdout)["findings"]} == {"ADV002"}
    bad = tmp_path / "bad.toml"
    bad.write_text("select = [\n")
    one_line_error(advisor("scan", str(EXAMPLE), "--config", str(bad)), "bad.toml")
