"""The Alembic migration writer: a file Alembic runs, up and down, against PostgreSQL."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from advisor.indexes.ddl import make_suggestion
from advisor.model import IndexColumn
from advisor.schema.ddl import load_ddl
from advisor.suggest.alembic import alembic_migration

REPO = Path(__file__).resolve().parents[2]

EVENTS = make_suggestion(
    "public.events",
    (IndexColumn("user_id"), IndexColumn("created_at", descending=True)),
    query_keys=("abc:r",),
    reason="public.events: user_id (equality); ORDER BY created_at DESC",
)
USERS = make_suggestion(
    "public.users",
    (IndexColumn(None, expression="lower(email)"),),
    include=("name",),
    where="deleted_at IS NULL",
)


def test_file_is_valid_python_with_revision_and_evidence() -> None:
    rev, source = alembic_migration([EVENTS, USERS], down_revision="1a2b3c4d5e6f")
    tree = ast.parse(source)
    assigned = {
        node.targets[0].id: ast.literal_eval(node.value)  # type: ignore[attr-defined]
        for node in tree.body
        if isinstance(node, ast.Assign)
    }
    assert assigned["revision"] == rev and len(rev) == 12
    assert assigned["down_revision"] == "1a2b3c4d5e6f"
    assert "Why: public.events: user_id (equality); ORDER BY created_at DESC" in source
    assert source.count("postgresql_concurrently=True") == 4
    assert source.count("autocommit_block()") == 2
    again, same = alembic_migration([EVENTS, USERS], down_revision="1a2b3c4d5e6f")
    assert (again, same) == (rev, source)  # deterministic
    other, _ = alembic_migration([EVENTS], down_revision="1a2b3c4d5e6f")
    assert other != rev


def _run(source: str, func: str, dsn: str) -> None:
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    engine = create_engine(dsn.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn)
            namespace: dict[str, Any] = {}
            with Operations.context(ctx), ctx.begin_transaction():
                exec(compile(source, "migration.py", "exec"), namespace)
                namespace[func]()
    finally:
        engine.dispose()


def _indexes(dsn: str) -> dict[str, tuple[bool, str]]:
    engine = create_engine(dsn.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT c.relname, i.indisvalid, pg_get_indexdef(i.indexrelid) "
                    "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                )
            )
            return {name: (valid, ddl) for name, valid, ddl in rows}
    finally:
        engine.dispose()


def test_alembic_runs_it_up_and_down(fresh_db: str) -> None:
    load_ddl(fresh_db, REPO / "fixtures" / "schemas" / "shop.sql")
    _, source = alembic_migration([EVENTS, USERS], down_revision=None)
    _run(source, "upgrade", fresh_db)
    _run(source, "upgrade", fresh_db)  # if_not_exists: a re-run is a no-op
    made = _indexes(fresh_db)
    assert made[EVENTS.name][0] and made[USERS.name][0]
    assert made[EVENTS.name][1].endswith("(user_id, created_at DESC)")
    assert made[USERS.name][1].endswith("(lower(email)) INCLUDE (name) WHERE (deleted_at IS NULL)")
    _run(source, "downgrade", fresh_db)
    after = _indexes(fresh_db)
    assert EVENTS.name not in after and USERS.name not in after and "ix_events_kind" in after
