"""Capture fixtures: the example shop app (fixtures/apps/shop_app) seeded in its own database."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from advisor.capture.jsonl import read_capture
from advisor.model import Execution

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "fixtures" / "apps"
if str(APPS) not in sys.path:
    sys.path.insert(0, str(APPS))


@pytest.fixture(scope="session")
def shop_dsn(pg_dsn: str) -> Iterator[str]:
    """A database holding the seeded shop (shared by the capture tests)."""
    from shop_app.seed import seed
    from sqlalchemy import create_engine

    from advisor.verify.sandbox import create_database, drop_database

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
