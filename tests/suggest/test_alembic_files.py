"""Alembic revisions in a project: the head read from versions/, golden files, and real
Alembic running them up and down against PostgreSQL."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config

from advisor.errors import ConfigError
from advisor.schema.ddl import load_ddl
from advisor.suggest.files import alembic_head, write_migrations
from tests.suggest.applied import indexes, squawk_clean
from tests.suggest.migration_set import CHOSEN, DATA, FOREIGN_KEYS, SCHEMA, WORKLOAD

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "fixtures" / "migrations" / "alembic"
SHOP = REPO / "fixtures" / "schemas" / "shop.sql"
BASE = "1a2b3c4d5e6f"


def revision_file(rev: str, down: object, *, annotated: bool = False) -> str:
    """An Alembic revision that does nothing, in the old or the annotated template style."""
    kind = ": str" if annotated else ""
    down_kind = ": str | None" if annotated else ""
    return (
        f'"""revision {rev}"""\n\n'
        f"revision{kind} = {rev!r}\n"
        f"down_revision{down_kind} = {down!r}\n"
        "branch_labels = None\ndepends_on = None\n\n\n"
        "def upgrade() -> None:\n    pass\n\n\n"
        "def downgrade() -> None:\n    pass\n"
    )


def _project(root: Path, *revisions: tuple[str, object]) -> Path:
    versions = root / "versions"
    versions.mkdir(parents=True)
    for number, (rev, down) in enumerate(revisions):
        text = revision_file(rev, down, annotated=number % 2 == 1)
        (versions / f"{rev}_step.py").write_text(text)
    return root


def test_head_follows_the_chain_and_merges(tmp_path: Path) -> None:
    project = _project(
        tmp_path / "a",
        ("aaa", None),
        ("bbb", "aaa"),
        ("ccc", "aaa"),
        ("ddd", ("bbb", "ccc")),  # a merge revision
    )
    (project / "versions" / "__init__.py").write_text("")
    assert alembic_head(project) == "ddd"
    assert alembic_head(project / "versions") == "ddd"


def test_several_heads_or_none_are_clear_errors(tmp_path: Path) -> None:
    forked = _project(tmp_path / "forked", ("aaa", None), ("bbb", "aaa"), ("ccc", "aaa"))
    with pytest.raises(ConfigError, match=r"2 heads \(bbb \(bbb_step.py\), ccc .*alembic merge"):
        alembic_head(forked)
    empty = _project(tmp_path / "empty")
    with pytest.raises(ConfigError, match="no Alembic revision found"):
        alembic_head(empty)
    with pytest.raises(ConfigError, match="no such directory"):
        alembic_head(tmp_path / "missing")


def test_unreadable_revision_files_name_the_file(tmp_path: Path) -> None:
    project = _project(tmp_path / "p", ("aaa", None))
    broken = project / "versions" / "broken.py"
    broken.write_text("revision = 'x'\ndef (:\n")
    with pytest.raises(ConfigError, match=r"broken.py: not valid Python"):
        alembic_head(project)
    broken.write_text("revision = make_id()\n")
    with pytest.raises(ConfigError, match=r"broken.py: revision is not a plain literal"):
        alembic_head(project)


def _write(versions: Path, alembic_dir: Path | None) -> tuple[Path, ...]:
    return write_migrations(
        versions,
        CHOSEN,
        fmt="alembic",
        alembic_dir=alembic_dir,
        workload=WORKLOAD,
        schema=SCHEMA,
        data=DATA,
        foreign_keys=FOREIGN_KEYS,
    )


def test_revisions_match_the_golden_files_and_chain_from_the_head(tmp_path: Path) -> None:
    project = _project(tmp_path / "alembic", (BASE, None))
    written = _write(tmp_path / "out", project)
    assert [p.name for p in written] == [
        "0001_ix_events_user_id_created_at.py",
        "0002_ix_users_lower_email_where_deleted_at_is_null.py",
        "0003_fk_ix_order_items_product_id.py",
    ]
    if os.environ.get("ADVISOR_REGEN_GOLDEN"):
        shutil.rmtree(GOLDEN, ignore_errors=True)
        GOLDEN.mkdir(parents=True)
        for path in written:
            shutil.copy(path, GOLDEN / path.name)
    assert sorted(p.name for p in GOLDEN.iterdir()) == sorted(p.name for p in written)
    for path in written:
        assert path.read_text() == (GOLDEN / path.name).read_text(), path.name
    chain = {}
    for path in written:
        compile(path.read_text(), str(path), "exec")  # the backslash and \"\"\" of a query
        shutil.copy(path, project / "versions" / path.name)
        chain[alembic_head(project)] = path.name
    assert list(chain.values()) == [p.name for p in written]
    first = written[0].read_text()
    assert f"down_revision = {BASE!r}".replace("'", '"') in first
    assert "Measured with EXPLAIN (ANALYZE, BUFFERS)" in first and "NOT VERIFIED" not in first


def test_a_dated_revision_file_is_not_a_number_to_continue_from(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "2024_01_05_1530-1a2b3c4d5e6f_init.py").write_text(revision_file(BASE, None))
    written = _write(versions, None)
    assert written[0].name == "0001_ix_events_user_id_created_at.py"
    assert f'down_revision = "{BASE}"' in written[0].read_text()


def _alembic_project(root: Path, dsn: str) -> Config:
    config = Config(str(root / "alembic.ini"))
    command.init(config, str(root / "alembic"))
    config.set_main_option("script_location", str(root / "alembic"))
    url = dsn.replace("postgresql://", "postgresql+psycopg://", 1)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    (root / "alembic" / "versions" / f"{BASE}_tables.py").write_text(revision_file(BASE, None))
    return config


def test_alembic_upgrades_and_downgrades_the_revisions(fresh_db: str, tmp_path: Path) -> None:
    load_ddl(fresh_db, SHOP)
    # Alembic's own version table comes with the first upgrade and stays.
    before = {**indexes(fresh_db), "alembic_version_pkc": True}
    config = _alembic_project(tmp_path, fresh_db)
    versions = tmp_path / "alembic" / "versions"
    written = _write(versions, None)  # the head is read from the versions directory itself
    assert _write(versions, None) == written  # a second run rewrites the same revisions
    command.upgrade(config, "head")
    command.upgrade(config, "head")  # nothing left to do
    made = indexes(fresh_db)
    names = [s.name for s in (*CHOSEN, *FOREIGN_KEYS)]
    assert {name: made.get(name) for name in names} == dict.fromkeys(names, True)
    command.downgrade(config, BASE)
    assert indexes(fresh_db) == before
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    assert indexes(fresh_db) == before


def _offline_sql(config: Config, run: Callable[[], None]) -> str:
    buffer = io.StringIO()
    config.stdout = buffer
    with contextlib.redirect_stdout(buffer):
        run()
    return buffer.getvalue()


def test_alembic_offline_sql_passes_squawk(tmp_path: Path) -> None:
    # The SQL Alembic itself sends (its --sql mode), not advisor's idea of it.
    config = _alembic_project(tmp_path, "postgresql://offline@localhost/none")
    _write(tmp_path / "alembic" / "versions", None)
    up = _offline_sql(config, lambda: command.upgrade(config, f"{BASE}:head", sql=True))
    down = _offline_sql(config, lambda: command.downgrade(config, f"head:{BASE}", sql=True))
    assert up.count("CREATE INDEX CONCURRENTLY IF NOT EXISTS") == 3
    assert down.count("DROP INDEX CONCURRENTLY IF EXISTS") == 3
    squawk_clean(tmp_path, up, down)
