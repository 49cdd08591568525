"""``advisor comment`` against a local server that speaks GitHub's comment endpoints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from advisor.report import render_document
from advisor.report.markdown import MARKER
from tests.ci.fake_github import FakeGitHub, fake_github
from tests.report.sample import ROOT, sample_result

PR = 7


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with fake_github() as state:
        yield state


@pytest.fixture
def report(tmp_path: Path) -> Path:
    path = tmp_path / "report.json"
    path.write_text(render_document(sample_result(), "json", root=ROOT))
    return path


def comment(
    github: FakeGitHub, report: Path, tmp_path: Path, *extra: str
) -> tuple[subprocess.CompletedProcess[str], Path]:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": PR}}))
    summary = tmp_path / "summary.md"
    env = {
        **os.environ,
        "GITHUB_API_URL": github.url,
        "GITHUB_REPOSITORY": "o/r",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_TOKEN": "t0ken",
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "advisor", "comment", "--report", str(report), *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    return proc, summary


def ours(github: FakeGitHub) -> list[dict[str, object]]:
    return [c for c in github.comments.get(PR, []) if MARKER in str(c["body"])]


def test_create_then_update_leaves_one_comment(
    github: FakeGitHub, report: Path, tmp_path: Path
) -> None:
    github.add(PR, "LGTM")
    first, _ = comment(github, report, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "comment created" in first.stderr
    assert len(ours(github)) == 1
    assert github.tokens == {"Bearer t0ken"}

    # The next push: the report changes, the same comment is edited in place.
    data = json.loads(report.read_text())
    data["findings"] = data["findings"][:1]
    data["summary"]["findings"] = 1
    report.write_text(json.dumps(data))
    second, _ = comment(github, report, tmp_path)
    assert second.returncode == 0, second.stderr
    assert "comment updated" in second.stderr
    mine = ours(github)
    assert len(mine) == 1 and "### advisor: 1 finding" in str(mine[0]["body"])
    assert len(github.comments[PR]) == 2  # the reviewer's comment is untouched
    assert [m for m, _ in github.requests].count("POST") == 1
    assert [m for m, _ in github.requests].count("PATCH") == 1


def test_finds_its_comment_on_a_later_page(
    github: FakeGitHub, report: Path, tmp_path: Path
) -> None:
    for i in range(130):
        github.add(PR, f"chatter {i}")
    old = github.add(PR, f"{MARKER}\nold report", "github-actions")
    proc, _ = comment(github, report, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "comment updated" in proc.stderr
    assert ("PATCH", f"/repos/o/r/issues/comments/{old['id']}") in github.requests
    pages = [p for m, p in github.requests if m == "GET"]
    assert len(pages) == 2 and pages[1].endswith("&page=2")
    assert len(ours(github)) == 1


def test_502_and_secondary_rate_limit_are_retried(
    github: FakeGitHub, report: Path, tmp_path: Path
) -> None:
    github.failures = [
        (502, {"Retry-After": "0"}, "Bad Gateway"),
        (403, {"Retry-After": "0"}, "You have exceeded a secondary rate limit"),
    ]
    proc, _ = comment(github, report, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert [m for m, _ in github.requests] == ["GET", "GET", "GET", "POST"]
    assert len(ours(github)) == 1


def test_fork_pull_request_falls_back_to_annotations_and_summary(
    github: FakeGitHub, report: Path, tmp_path: Path
) -> None:
    github.read_only = True
    proc, summary = comment(github, report, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert ours(github) == []
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("::error title=ADV001 n-plus-one,file=app/users.py,line=24::")
    assert lines[-1].startswith("::warning title=advisor comment::advisor could not comment")
    assert "read-only GITHUB_TOKEN" in lines[-1]
    text = summary.read_text()
    assert text.startswith("> **Note:** advisor could not comment on pull request #7")
    assert MARKER in text and "| high | ADV001 n-plus-one |" in text


def test_without_a_pull_request_it_says_what_to_pass(
    github: FakeGitHub, report: Path, tmp_path: Path
) -> None:
    event = tmp_path / "push.json"
    event.write_text(json.dumps({"ref": "refs/heads/main"}))
    env = {**os.environ, "GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "o/r"}
    env["GITHUB_EVENT_PATH"] = str(event)
    proc = subprocess.run(
        [sys.executable, "-m", "advisor", "comment", "--report", str(report)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "not a pull request" in proc.stderr and "--pr N" in proc.stderr
    assert github.requests == []
