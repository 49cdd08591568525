"""Capture fixtures: the example shop app (fixtures/apps/shop_app) seeded in its own database."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine

from advisor.model import Execution
from advisor.sources.capture_file import read_capture

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "fixtures" / "apps"
if str(APPS) not in sys.path:
    sys.path.insert(0, str(APPS))


@pytest.fixture(scope="session")
def shop_dsn(pg_dsn: str) -> Iterator[str]:
    """A database holding the seeded shop (shared by the capture tests)."""
    from shop_app.seed import seed

    from advisor.sandbox import create_database, drop_database

    name = f"advc_{uuid.uuid4().hex[:12]}"
    dsn = create_database(pg_dsn, name)
    engine = create_engine(dsn.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        seed(engine)
    finally:
        engine.dispose()
    try:
        yield dsn
    finally:
        drop_database(pg_dsn, name)


def url(dsn: str, driver: str) -> str:
    """``dsn`` as a SQLAlchemy URL for ``driver`` (``psycopg`` or ``asyncpg``)."""
    return dsn.replace("postgresql://", f"postgresql+{driver}://", 1)


@pytest.fixture()
def engine(shop_dsn: str) -> Iterator[Engine]:
    """A psycopg engine on the seeded shop."""
    eng = create_engine(url(shop_dsn, "psycopg"))
    try:
        yield eng
    finally:
        eng.dispose()


def line_of(test_file: str, marker: str) -> int:
    """The line number of the (unique) source line of ``test_file`` containing ``marker``."""
    lines = Path(test_file).read_text().splitlines()
    # The test's own `_line_of("# mark:...")` calls contain the marker too: skip them.
    found = [
        i for i, line in enumerate(lines, start=1) if marker in line and "_line_of" not in line
    ]
    assert len(found) == 1, marker
    return found[0]


@pytest.fixture()
def capture_file(tmp_path: Path) -> Path:
    """Where a test writes its capture."""
    return tmp_path / "capture.jsonl"


@pytest.fixture()
def executions() -> Callable[[Path], list[Execution]]:
    """``read(path) -> list[Execution]`` (fails the test on any Skipped line)."""

    def read(path: Path) -> list[Execution]:
        found = list(read_capture(str(path)))
        skipped = [item for item in found if not isinstance(item, Execution)]
        assert not skipped, skipped
        return [item for item in found if isinstance(item, Execution)]

    return read
