"""``advisor scan --migrations-dir``: real processes writing files that psql and Alembic
run, and the one-line errors for options that do not fit together."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from advisor.schema.ddl import load_ddl
from tests.suggest.applied import indexes, psql_file, squawk
from tests.test_cli import EXAMPLE, SHOP, advisor, one_line_error
from tests.test_cli import sandbox_url as sandbox_url  # the fixture, shared

CAPTURE = EXAMPLE.parent / "capture.jsonl"


def test_scan_writes_sql_migrations_that_apply(
    sandbox_url: str, fresh_db: str, tmp_path: Path
) -> None:
    out = tmp_path / "migrations"
    proc = advisor(
        "scan",
        str(EXAMPLE),
        "--schema",
        str(SHOP),
        "--sandbox",
        sandbox_url,
        "--migrations-dir",
        str(out),
        "--format",
        "json",
        "--output",
        str(tmp_path / "report.json"),
    )
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in out.iterdir())
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert sorted(Path(p).name for p in report["migrations"]) == names
    ups = [n for n in names if n.endswith(".up.sql")]
    assert ups == [
        "0001_ix_events_user_id_created_at.up.sql",
        "0002_ix_products_category_created_at.up.sql",
        "0003_ix_users_lower_email_where_deleted_at_is_null.up.sql",
        "0004_ix_orders_created_at.up.sql",
        # FK indexes no chosen index serves (events.user_id leads 0001: no file of its own)
        "0005_fk_ix_order_items_product_id.up.sql",
        "0006_fk_ix_orders_user_id.up.sql",
    ]
    assert sorted(n.replace(".down.", ".up.") for n in names if n.endswith(".down.sql")) == ups
    assert f"12 migration files written to {out}" in proc.stderr
    lint = subprocess.run(
        [squawk(), *map(str, sorted(out.iterdir()))], capture_output=True, text=True, check=False
    )
    assert lint.returncode == 0, lint.stdout
    load_ddl(fresh_db, SHOP)
    for up in sorted(out.glob("*.up.sql")):
        psql_file(fresh_db, up)
    made = indexes(fresh_db)
    assert made["ix_events_user_id_created_at"] and made["ix_orders_user_id"]
    for down in sorted(out.glob("*.down.sql"), reverse=True):
        psql_file(fresh_db, down)
    assert "ix_events_user_id_created_at" not in indexes(fresh_db)


def test_alembic_options_that_do_not_fit_are_one_line_errors(tmp_path: Path) -> None:
    one_line_error(
        advisor("scan", str(CAPTURE), "--migration-format", "alembic"),
        "--migration-format alembic needs --migrations-dir",
    )
    one_line_error(
        advisor("scan", str(CAPTURE), "--alembic-dir", str(tmp_path)),
        "--alembic-dir is for --migration-format alembic",
    )
    # Checked before the scan runs: a missing head never costs a whole scan.
    one_line_error(
        advisor(
            "scan",
            str(CAPTURE),
            "--migrations-dir",
            str(tmp_path / "v"),
            "--migration-format",
            "alembic",
            "--alembic-dir",
            str(tmp_path),
        ),
        str(tmp_path),
        "no Alembic revision found",
    )
    assert not (tmp_path / "v").exists()
