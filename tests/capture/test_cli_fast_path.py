"""``advisor capture``'s fast path (no typer) parses and runs exactly as the typer command.

The suite captured is ORM-heavy (lazy loads, session.get, selectinload, a bulk UPDATE of
loaded objects): its trailer must count no internal error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

from advisor.cli import app
from advisor.cli.capture_argv import OPTIONS, CaptureArgs, parse_plain

from .conftest import APPS, ROOT

SUITE_CONFTEST = """
import os
import pytest
from sqlalchemy import create_engine

@pytest.fixture(scope="session")
def engine():
    eng = create_engine(os.environ["SHOP_DSN"].replace("postgresql://", "postgresql+psycopg://"))
    yield eng
    eng.dispose()
"""

SUITE_TESTS = """
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload
from shop_app.models import Order, User

@pytest.mark.parametrize("i", range(4))
def test_orm(engine, i):
    with Session(engine) as session:
        users = session.scalars(select(User).order_by(User.id).limit(3)).all()
        assert sum(len(user.orders) for user in users) > 0
        session.get(Order, 1 + i)
        assert session.scalars(select(User).options(selectinload(User.orders))).all()
        session.execute(update(User).where(User.id == users[0].id).values(bio="x"))
        session.rollback()
"""

# The typer path in a process of its own, whatever the command line.
TYPER_PATH = (
    "import sys; from advisor.cli.edge import guarded; from advisor.cli.root import run_app;"
    " guarded(run_app)"
)


def _click_command() -> Any:
    # typer's own (vendored) click command of `advisor capture`.
    return typer.main.get_command(app).commands["capture"]  # type: ignore[attr-defined]


def test_the_typer_command_declares_the_option_table() -> None:
    params = [p for p in _click_command().params if p.param_type_name == "option"]
    declared = [(p.name, tuple(p.opts), tuple(p.secondary_opts), p.multiple) for p in params]
    table = [(s.name, s.flags, s.off, s.kind == "repeated") for s in OPTIONS]
    assert declared == table
    assert [p.help for p in params] == [s.help for s in OPTIONS]


def _typer_parse(args: list[str]) -> CaptureArgs:
    ctx = _click_command().make_context("capture", list(args))
    return CaptureArgs(
        output=ctx.params["output"],
        command=tuple(ctx.args),
        keep_params=ctx.params["keep_params"],
        call_sites=ctx.params["call_sites"],
        app_package=tuple(ctx.params["app_package"]) if ctx.params["app_package"] else None,
    )


@pytest.mark.parametrize(
    "args",
    [
        ["-o", "f.jsonl", "--", "pytest", "-q"],
        ["--output", "f.jsonl", "--", "pytest", "-o", "x", "--", "y"],
        ["--output=f.jsonl", "--keep-params", "--no-call-sites", "--", "pytest"],
        ["-of.jsonl", "--no-keep-params", "--call-sites", "--", "python", "-m", "app"],
        ["-o", "a", "-o", "b", "--app-package", "x,y", "--app-package=z", "--", "run"],
    ],
)
def test_fast_path_parses_as_typer_does(args: list[str]) -> None:
    assert parse_plain(args) == _typer_parse(args)


@pytest.mark.parametrize(
    "args",
    [
        ["--help", "-o", "f", "--", "cmd"],
        ["-h", "--", "cmd"],
        ["-o", "f", "pytest"],  # no `--`: typer's reading
        ["--", "cmd"],  # no output: typer's usage error
        ["-o", "f", "--"],  # no command
        ["-o", "f", "--bogus", "--", "cmd"],
        ["--keep-params=1", "-o", "f", "--", "cmd"],
        ["-o", "f", "--app-package", "--", "cmd"],
        ["--keep-params", "-o", "--", "--", "cmd"],  # the output is `--` for typer
    ],
)
def test_anything_else_goes_to_typer(args: list[str]) -> None:
    assert parse_plain(args) is None


def _capture(
    mode: str, suite: Path, out: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    entry = ["-m", "advisor"] if mode == "fast" else ["-c", TYPER_PATH]
    pytest_argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(suite)]
    return subprocess.run(
        [sys.executable, *entry, "capture", "-o", str(out), "--", *pytest_argv],
        capture_output=True,
        text=True,
        cwd=suite.parent,
        env=env,
        check=False,
    )


def test_both_paths_capture_an_orm_suite_alike_without_internal_errors(
    shop_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "conftest.py").write_text(SUITE_CONFTEST)
    (suite / "test_orm.py").write_text(SUITE_TESTS)
    env = {
        **os.environ,
        "SHOP_DSN": shop_dsn,
        "PYTHONPATH": f"{APPS}:{ROOT}",
    }
    found = {}
    for mode in ("fast", "typer"):
        out = tmp_path / f"{mode}.jsonl"
        done = _capture(mode, suite, out, env)
        trailer = json.loads(out.read_text().splitlines()[-1])
        assert trailer["type"] == "trailer"
        found[mode] = (done.returncode, done.stderr.replace(str(out), "OUT"), trailer["events"])
        assert trailer["internal_errors"] == 0, (mode, done.stderr)
        assert trailer["events"] > 4 * 5
    assert found["fast"] == found["typer"]
    assert found["fast"][:2] == (
        0,
        f"advisor: capture written to OUT ({found['fast'][2]} statements)\n",
    )


def test_both_paths_fail_alike(tmp_path: Path) -> None:
    outputs = []
    for entry in (["-m", "advisor"], ["-c", TYPER_PATH]):
        done = subprocess.run(
            [
                sys.executable,
                *entry,
                "capture",
                "-o",
                str(tmp_path / "no" / "dir.jsonl"),
                "--",
                sys.executable,
                "-c",
                "pass",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        outputs.append((done.returncode, done.stderr))
    assert outputs[0] == outputs[1]
    assert outputs[0][0] == 2 and outputs[0][1].startswith("advisor: error: ")


def test_the_fast_path_imports_no_typer_rich_or_scan_model(tmp_path: Path) -> None:
    code = (
        "import sys; sys.argv = ['advisor', 'capture', '-o', sys.argv[1], '--', 'true'];"
        "import advisor.cli as cli\n"
        "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('typer', 'rich', 'click', 'pydantic')"
        " or m in ('advisor.model', 'advisor.triage')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "c.jsonl")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "[]", done.stdout
