"""What capture brings into the app's process, and the CLI run from its own environment.

Layout (a): advisor installed in the app's environment (this test environment).
Layout (b): the app in a venv of its own, with pytest 7.2 / pluggy 1.0 / pydantic 1 and
SQLAlchemy 2.0.1, and nothing of advisor installed: ``advisor capture -- VENV/bin/python
-m pytest`` from this environment. The venv is built once and kept in pytest's cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from advisor.sources.capture_file import read_header

from .conftest import APPS

HEAVY = ("typer", "rich", "pglast", "sqlglot", "asyncpg", "msgspec", "testcontainers", "pydantic")

_CHECK = """
import sys
import advisor.capture
advisor.capture.uninstrument()  # the whole capture, schema snapshot included, is done
print("HEAVY", sorted(m for m in {heavy!r} if m in sys.modules))
"""


def test_the_app_process_imports_nothing_heavy(
    shop_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOP_DSN", shop_dsn)
    monkeypatch.setenv("PYTHONPATH", str(APPS))
    script = tmp_path / "app.py"
    script.write_text(
        "import os\nfrom sqlalchemy import create_engine, select\n"
        "from sqlalchemy.orm import Session\nfrom shop_app.models import User\n"
        "engine = create_engine(os.environ['SHOP_DSN'].replace('postgresql://', "
        "'postgresql+psycopg://'))\n"
        "with Session(engine) as session:\n"
        "    for user in session.scalars(select(User)).all():\n"
        "        user.orders\n" + _CHECK.format(heavy=HEAVY)
    )
    out = tmp_path / "cap.jsonl"
    log = tmp_path / "stdout.txt"
    with log.open("w") as handle:
        argv = [sys.executable, "-c", f"import runpy; runpy.run_path({str(script)!r})"]
        wrapper = [sys.executable, "-c", _RUN.format(out=str(out), argv=argv)]
        subprocess.run(wrapper, stdout=handle, check=True)
    assert "HEAVY []" in log.read_text()
    assert read_header(str(out)).schema is not None  # taken by the CLI side


_RUN = """
import sys
from advisor.capture.run import run_command
sys.exit(run_command({out!r}, {argv!r}).exit_code)
"""

APP_REQUIREMENTS = (
    "pytest==7.2.2",
    "pluggy==1.0.0",
    "pydantic==1.10.13",
    "sqlalchemy==2.0.1",
    "psycopg[binary]>=3.1",
)

CONFTEST = """
from __future__ import annotations
import os
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

class Base(DeclarativeBase):
    pass

class Author(Base):
    __tablename__ = "authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(default="")
    books: Mapped[list[Book]] = relationship()

class Book(Base):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("authors.id"))

@pytest.fixture(scope="session")
def engine():
    eng = sa.create_engine(os.environ["APP_DSN"].replace("postgresql://", "postgresql+psycopg://"))
    Base.metadata.create_all(eng)  # after the first connect: the "migrations"
    with Session(eng) as session:
        session.add_all(
            [Author(id=i, books=[Book(id=10 * i + j) for j in range(2)]) for i in range(1, 4)]
        )
        session.commit()
    yield eng
    eng.dispose()
"""

TESTS = """
import importlib.util
import sys
import pydantic
import sqlalchemy as sa
from sqlalchemy.orm import Session
from conftest import Author

def test_lazy_loop(engine):
    with Session(engine) as session:
        for author in session.scalars(sa.select(Author).order_by(Author.id)).all():
            assert len(author.books) == 2

def test_orm_update_and_delete(engine):
    with Session(engine) as session:
        session.execute(sa.update(Author).where(Author.id == 1).values(name="x"))
        session.execute(sa.delete(Author).where(Author.id == -1))
        session.rollback()

def test_the_environment_is_the_apps():
    assert pydantic.VERSION.startswith("1.")
    assert importlib.util.find_spec("typer") is None  # nothing of the CLI's environment
    assert not set({HEAVY!r}) & set(sys.modules) - {{"pydantic"}}
"""


def _purelib(python: Path) -> Path:
    """The site-packages directory of the venv whose interpreter is ``python``."""
    done = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(done.stdout.strip())


@pytest.fixture(scope="session")
def app_venv(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with the app's old stack and not advisor; built once, kept in the cache."""
    key = "advisor-app-venv-" + hashlib.sha256(repr(APP_REQUIREMENTS).encode()).hexdigest()[:12]
    cache = getattr(request.config, "cache", None)
    base = Path(cache.mkdir(key)) if cache is not None else tmp_path_factory.mktemp(key)
    python = base / "venv" / "bin" / "python"
    if not (base / "ready").exists():
        venv.create(base / "venv", with_pip=True, clear=True)
        env = {**os.environ, "PIP_CACHE_DIR": "/work/main/.ci/.cache/pip"}
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                *APP_REQUIREMENTS,
            ],
            env=env,
            check=True,
        )
        (base / "ready").write_text("ok")
    # SQLAlchemy imported by a .pth file, before advisor's bootstrap runs.
    (_purelib(python) / "zz_early_sqlalchemy.pth").write_text("import sqlalchemy\n")
    return python


def test_cli_in_its_own_environment_captures_an_old_stack_app(
    app_venv: Path, fresh_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "conftest.py").write_text(CONFTEST)
    (suite / "test_app.py").write_text(TESTS.format(HEAVY=HEAVY))
    out = tmp_path / "cap.jsonl"
    monkeypatch.setenv("APP_DSN", fresh_db)
    monkeypatch.delenv("PYTHONPATH", raising=False)
    argv = [str(app_venv), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"]
    done = subprocess.run(
        [sys.executable, "-m", "advisor", "capture", "-o", str(out), "--", *argv, "."],
        capture_output=True,
        text=True,
        cwd=suite,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr
    assert done.stderr.strip().startswith("advisor: capture written to")
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[-1]["internal_errors"] == 0
    queries = [line for line in lines if line["type"] == "query"]
    by_scope: dict[str, list[dict[str, object]]] = {}
    for q in queries:
        by_scope.setdefault(str(q["scope"]), []).append(q)
    assert {q["scope_kind"] for q in by_scope["fixture engine"]} == {"fixture"}
    lazy = [q for q in by_scope["test_app.py::test_lazy_loop"] if q.get("orm")]
    assert len(lazy) == 3 and all(q["call_site"]["path"] == "test_app.py" for q in lazy)
    # The origin (the query that loaded the authors) on this older SQLAlchemy too.
    assert all((q["origin"] or {}).get("path") == "test_app.py" for q in lazy)
    writes = [str(q["sql"]).split()[0] for q in by_scope["test_app.py::test_orm_update_and_delete"]]
    assert "UPDATE" in writes and "DELETE" in writes
    schema = read_header(str(out)).schema
    assert schema is not None and "public.authors" in schema.tables


LIBRARY = """
from __future__ import annotations
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

class Base(DeclarativeBase):
    pass

class Run(Base):
    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    metrics: Mapped[list[Metric]] = relationship()

class Metric(Base):
    __tablename__ = "metrics"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("runs.id"))

def search(dsn: str) -> int:
    engine = sa.create_engine(dsn.replace("postgresql://", "postgresql+psycopg://"))
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all([Run(id=i, metrics=[Metric(id=10 * i)]) for i in range(1, 6)])
        session.commit()
        runs = session.scalars(sa.select(Run).order_by(Run.id)).all()
        return sum(len(run.metrics) for run in runs)  # the N+1, inside the package
"""


def _install_library(python: Path) -> None:
    """Install ``tracker_lib`` 1.2.3 (distribution ``tracker-lib``) as a wheel would."""
    site = _purelib(python)
    (site / "tracker_lib").mkdir(exist_ok=True)
    (site / "tracker_lib" / "__init__.py").write_text("from tracker_lib.search import search\n")
    (site / "tracker_lib" / "search.py").write_text(LIBRARY)
    info = site / "tracker_lib-1.2.3.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tracker-lib\nVersion: 1.2.3\n")
    (info / "top_level.txt").write_text("tracker_lib\n")
    (info / "RECORD").write_text("tracker_lib/__init__.py,,\ntracker_lib/search.py,,\n")


def _scan(cap: Path, *extra: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "advisor", "scan", str(cap), *extra],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "300"},
    )
    return done.stdout


def test_findings_in_an_installed_package_name_it(
    app_venv: Path, fresh_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install_library(app_venv)
    monkeypatch.delenv("PYTHONPATH", raising=False)
    line = LIBRARY.splitlines().index(
        "        return sum(len(run.metrics) for run in runs)  # the N+1, inside the package"
    )
    where = f"tracker_lib/search.py:{line + 1}"
    cap = tmp_path / "cap.jsonl"
    script = f"import tracker_lib; tracker_lib.search({fresh_db!r})"
    argv = [sys.executable, "-m", "advisor", "capture", "-o", str(cap), "--"]
    subprocess.run([*argv, str(app_venv), "-c", script], cwd=tmp_path, check=True)
    report = _scan(cap)
    assert f"{where} in <genexpr>() (in installed package tracker-lib 1.2.3)" in report
    assert "ADV001" in report
    assert "ADV001" not in _scan(cap, "--ignore-library")
    # The same package taken for application code: a plain location.
    own = tmp_path / "own.jsonl"
    argv = [sys.executable, "-m", "advisor", "capture", "-o", str(own), "--app-package"]
    subprocess.run(
        [*argv, "tracker_lib", "--", str(app_venv), "-c", script], cwd=tmp_path, check=True
    )
    report = _scan(own)
    assert f"{where} in <genexpr>()" in report and "installed package" not in report
