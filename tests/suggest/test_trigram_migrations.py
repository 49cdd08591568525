"""Trigram index migrations: the extension step, the GIN build, squawk, up and down."""

from __future__ import annotations

import subprocess
from pathlib import Path

from advisor.indexes.ddl import make_suggestion
from advisor.indexes.trigram import TRIGRAM_OPCLASS
from advisor.model import IndexColumn
from advisor.schema.ddl import load_ddl
from advisor.suggest.alembic import alembic_migration
from advisor.suggest.migration import sql_migration
from tests.suggest.applied import indexes, psql_file, squawk_clean
from tests.suggest.test_alembic import _indexes, _run

REPO = Path(__file__).resolve().parents[2]
SHOP = REPO / "fixtures" / "schemas" / "shop.sql"

SEARCH = make_suggestion(
    "public.products",
    (
        IndexColumn("name", opclass=TRIGRAM_OPCLASS),
        IndexColumn("description", opclass=TRIGRAM_OPCLASS),
    ),
    method="gin",
    query_keys=("abc:r",),
)
LOWER = make_suggestion(
    "public.users",
    (IndexColumn(None, expression="lower(name)", opclass=TRIGRAM_OPCLASS),),
    method="gin",
)


def _extension(dsn: str) -> bool:
    done = subprocess.run(
        [
            "psql",
            "-X",
            "-At",
            "-d",
            dsn,
            "-c",
            "SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip() == "1"


def test_sql_migration_creates_the_extension_first_and_keeps_it_on_roll_back() -> None:
    up, down = sql_migration([SEARCH])
    body = [line for line in up.splitlines() if line and not line.startswith("--")]
    assert body[2] == "CREATE EXTENSION IF NOT EXISTS pg_trgm;"
    assert body[3] == 'CREATE INDEX CONCURRENTLY IF NOT EXISTS "ix_products_name_description_trgm"'
    assert body[4] == (
        '    ON "public"."products" USING gin ("name" gin_trgm_ops, "description" gin_trgm_ops);'
    )
    assert "a superuser" in up and "CREATE EXTENSION" not in down.split("\n\n", 1)[1]
    assert "leaves the extension pg_trgm installed" in down
    assert 'DROP INDEX CONCURRENTLY IF EXISTS "public"."ix_products_name_description_trgm";' in down


def test_sql_migration_applies_rolls_back_and_passes_squawk(fresh_db: str, tmp_path: Path) -> None:
    load_ddl(fresh_db, SHOP)
    up, down = sql_migration([SEARCH, LOWER])
    files = squawk_clean(tmp_path, up, down)
    psql_file(fresh_db, files[0])
    psql_file(fresh_db, files[0])  # IF NOT EXISTS, extension and index: a re-run is a no-op
    made = indexes(fresh_db)
    assert made[SEARCH.name] is True and made[LOWER.name] is True
    psql_file(fresh_db, files[1])
    after = indexes(fresh_db)
    assert SEARCH.name not in after and LOWER.name not in after
    assert _extension(fresh_db)


def test_alembic_migration_uses_postgresql_ops_and_runs_up_and_down(fresh_db: str) -> None:
    load_ddl(fresh_db, SHOP)
    _, source = alembic_migration([SEARCH, LOWER], down_revision=None)
    assert 'postgresql_using="gin"' in source
    assert 'postgresql_ops={"name": "gin_trgm_ops", "description": "gin_trgm_ops"}' in source
    assert 'op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm;")' in source
    _run(source, "upgrade", fresh_db)
    _run(source, "upgrade", fresh_db)
    made = _indexes(fresh_db)
    assert made[SEARCH.name][0] and made[SEARCH.name][1].endswith(
        "USING gin (name gin_trgm_ops, description gin_trgm_ops)"
    )
    assert made[LOWER.name][1].endswith("USING gin (lower(name) gin_trgm_ops)")
    _run(source, "downgrade", fresh_db)
    after = _indexes(fresh_db)
    assert SEARCH.name not in after and LOWER.name not in after
    assert _extension(fresh_db)
