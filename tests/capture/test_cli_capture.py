"""`advisor capture -- pytest`: clean app output, fixture scopes, one-line problems."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from advisor.model import Execution

Read = Callable[[Path], list[Execution]]

CONFTEST = """
import os
import pytest
import sqlalchemy as sa

@pytest.fixture(scope="session")
def engine():
    eng = sa.create_engine(os.environ["SHOP_DSN"].replace("postgresql://", "postgresql+psycopg://"))
    with eng.connect() as conn:
        conn.execute(sa.text("SELECT 'session setup'"))
    yield eng
    with eng.connect() as conn:
        conn.execute(sa.text("SELECT 'session teardown'"))
    eng.dispose()

@pytest.fixture(scope="module")
def table(engine):
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 'module setup'"))
    return "users"
"""

TESTS = """
import sqlalchemy as sa

def test_one(engine, table):
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 'one'"))

def test_two(engine, table):
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 'two'"))
"""


def _advisor(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "advisor", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )


def test_fixtures_get_their_own_scope_and_the_output_is_the_apps(
    shop_dsn: str, tmp_path: Path, executions: Read, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "conftest.py").write_text(CONFTEST)
    (suite / "test_things.py").write_text(TESTS)
    out = tmp_path / "cap.jsonl"
    monkeypatch.setenv("SHOP_DSN", shop_dsn)
    done = _advisor(
        "capture",
        "-o",
        str(out),
        "--",
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-W",
        "error",
        str(suite),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [f"advisor: capture written to {out} (5 statements)"]
    scopes = {e.sql: (e.scope, e.scope_kind) for e in executions(out)}
    assert scopes == {
        "SELECT 'session setup'": ("fixture engine", "fixture"),
        "SELECT 'session teardown'": ("fixture engine", "fixture"),
        "SELECT 'module setup'": ("fixture table", "fixture"),
        "SELECT 'one'": ("suite/test_things.py::test_one", "test"),
        "SELECT 'two'": ("suite/test_things.py::test_two", "test"),
    }


def test_a_failing_command_without_statements_is_one_line(tmp_path: Path) -> None:
    out = tmp_path / "cap.jsonl"
    done = _advisor(
        "capture", "-o", str(out), "--", sys.executable, "-c", "raise SystemExit(3)", cwd=tmp_path
    )
    assert done.returncode == 3
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "exited with code 3" in lines[0] and "0 statements captured" in lines[0]
