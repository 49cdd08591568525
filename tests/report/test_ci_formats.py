"""GitHub annotations and the Markdown comment: escaping, order, limits."""

from __future__ import annotations

import dataclasses

from advisor.model import CallSite, Finding, Severity
from advisor.report import github, markdown
from advisor.report.json import to_json
from tests.report.sample import ROOT, sample_result


def _report(findings: tuple[Finding, ...]) -> dict[str, object]:
    return to_json(dataclasses.replace(sample_result(), findings=findings), root=ROOT)


def _finding(i: int, severity: Severity, message: str = "m", path: str = "app/x.py") -> Finding:
    return Finding(
        rule="ADV003",
        name="missing-index",
        severity=severity,
        message=message,
        location=CallSite(path, i + 1, f"f{i}"),
        fingerprint=f"{i:016x}",
    )


def test_annotation_escapes_data_and_properties() -> None:
    assert github.escape_data("100% done\r\nnext") == "100%25 done%0D%0Anext"
    assert github.escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    odd = _finding(0, Severity.HIGH, "50% of rows: a, b\nsecond line", path="app/we,ird:name.py")
    line = github.render(_report((odd,))).splitlines()[0]
    assert line == (
        "::error title=ADV003 missing-index,file=app/we%2Cird%3Aname.py,line=1"
        "::50%25 of rows: a, b%0Asecond line"
    )


def test_annotations_most_severe_first_and_ten_per_type() -> None:
    findings = (
        tuple(_finding(i, Severity.LOW) for i in range(14))
        + tuple(_finding(100 + i, Severity.HIGH) for i in range(12))
        + (_finding(200, Severity.MEDIUM),)
    )
    lines = github.render(_report(findings)).splitlines()
    commands = [line.split(" ", 1)[0] for line in lines if line.startswith("::")]
    assert commands == ["::error"] * 10 + ["::warning"] + ["::notice"] * 10
    assert lines[-1].startswith("advisor: 6 more finding(s) not annotated (2 error, 4 notice)")
    assert "only 10 annotations of each type per step" in lines[-1]


def test_no_findings_no_annotations() -> None:
    assert github.render(_report(())) == ""


def test_markdown_has_marker_table_migrations_and_fixes() -> None:
    text = markdown.render(to_json(sample_result(), root=ROOT))
    assert text.startswith(markdown.MARKER + "\n### advisor: 11 findings (3 high, 4 medium")
    assert "| high | ADV001 n-plus-one | `app/users.py:24 in list_users()` |" in text
    # A pipe in a message must not split the table's cell.
    assert "name them \\| <all>" in text
    assert text.count("<details>") == 8
    assert "```python\nselect(User).options(selectinload(User.orders))\n```" in text
    assert "```sql\nDROP INDEX CONCURRENTLY IF EXISTS orders_user_idx;\n```" in text
    assert "Compared with baseline.json: 2 known finding(s) not shown, 1 resolved." in text
    assert "Too long" not in text


def test_two_thousand_findings_stay_under_the_comment_limit() -> None:
    long = "x" * 180
    findings = tuple(
        _finding(i, (Severity.HIGH, Severity.LOW)[i % 2], f"{long} {i}") for i in range(2000)
    )
    text = markdown.render(_report(findings))
    assert len(text) < markdown.COMMENT_LIMIT
    assert text.startswith(markdown.MARKER)
    assert "_Too long for one comment:" in text
    shown = text.count("\n| high |") + text.count("\n| low |")
    left = int(text.split("_Too long for one comment: ")[1].split(" ")[0])
    assert shown + left == 2000 and shown > 100
    # The most severe are the ones kept.
    assert text.count("\n| high |") == min(shown, 1000)
