"""Every format rendered from one fixed scan result, compared with its golden file.

Regenerate the golden files after an intended change with
``ADVISOR_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/report/test_golden.py``
and read the diff before committing it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest

from advisor.report import DOCUMENT_FORMATS, render_document
from advisor.rules import RULES
from tests.report.sample import FINDINGS, ROOT, sample_result

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
REPO = HERE.parents[1]
SUFFIX = {
    "json": "json",
    "markdown": "md",
    "sarif": "sarif",
    "github": "txt",
    "gitlab": "json",
    "html": "html",
}


def _rendered(fmt: str) -> str:
    return render_document(sample_result(), fmt, root=ROOT)


@pytest.mark.parametrize("fmt", DOCUMENT_FORMATS)
def test_format_matches_its_golden_file(fmt: str) -> None:
    golden = GOLDEN / f"report.{fmt}.{SUFFIX[fmt]}"
    text = _rendered(fmt)
    if os.environ.get("ADVISOR_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"{golden} missing: run with ADVISOR_UPDATE_GOLDEN=1"
    assert text == golden.read_text(encoding="utf-8")


def test_rendering_is_deterministic() -> None:
    for fmt in DOCUMENT_FORMATS:
        assert _rendered(fmt) == _rendered(fmt)


def test_json_report_validates_against_its_schema() -> None:
    schema = json.loads((REPO / "advisor" / "report" / "report-v1.schema.json").read_text())
    report = json.loads(_rendered("json"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(report, schema)
    # Paths inside the root are repo-relative; the verified plans made it into the JSON.
    assert report["findings"][0]["location"]["path"] == "app/users.py"
    effects = report["suggestions"][0]["verification"]["effects"]
    assert effects[0]["before"]["plan"]["children"][0]["node_type"] == "Sort"


def test_sarif_validates_and_carries_rules_and_fingerprints() -> None:
    schema = json.loads((HERE / "sarif-2.1.0-subset.schema.json").read_text())
    log = json.loads(_rendered("sarif"))
    jsonschema.validate(log, schema, format_checker=jsonschema.FormatChecker())
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [rule.code for rule in RULES]
    assert all("## What it does" in r["help"]["markdown"] for r in rules)
    results = run["results"]
    assert len(results) == len(FINDINGS)
    assert all(r["locations"] for r in results)  # code scanning wants a file for each
    first = results[0]
    assert (first["ruleId"], first["level"]) == ("ADV001", "error")
    assert rules[first["ruleIndex"]]["id"] == "ADV001"
    location = first["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "app/users.py", "uriBaseId": "%SRCROOT%"}
    assert location["region"] == {"startLine": 24}
    assert first["partialFingerprints"]["queryFingerprint/v1"].startswith("ADV001:feedbeef")


def test_gitlab_code_quality_issues() -> None:
    issues = json.loads(_rendered("gitlab"))
    assert len(issues) == len(FINDINGS)
    assert {i["severity"] for i in issues} == {"critical", "major", "minor", "info"}
    assert all(i["location"]["lines"]["begin"] >= 1 for i in issues)
    assert len({i["fingerprint"] for i in issues}) == len(issues)
    # The finding with no location points at the first input scanned.
    assert any(i["location"] == {"path": "capture.jsonl", "lines": {"begin": 1}} for i in issues)
