"""The capture's schema is the one the app had after its migrations, not at first connect."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import advisor.capture as capture
from advisor.capture.run import run_command
from advisor.sources.capture_file import read_header

APP = """
import os
import sqlalchemy as sa
engine = sa.create_engine(os.environ["APP_DSN"].replace("postgresql://", "postgresql+psycopg://"))
with engine.connect() as conn:
    conn.execute(sa.text("SELECT 1"))  # the first connect: no tables yet
meta = sa.MetaData()
sa.Table("invoices", meta, sa.Column("id", sa.Integer, primary_key=True),
         sa.Column("customer_id", sa.Integer))
meta.create_all(engine)  # the "migrations"
with engine.connect() as conn:
    conn.execute(sa.text("SELECT id FROM invoices WHERE customer_id = 1"))
if os.environ.get("DROP_AT_END"):
    import glob, time
    deadline = time.monotonic() + 60
    parts = os.path.join(os.environ["ADVISOR_CAPTURE_DIR"], "part-*.jsonl")
    while time.monotonic() < deadline:  # until the snapshot after create_all is written
        if any('"invoices"' in open(p).read() for p in glob.glob(parts)):
            break
        time.sleep(0.1)
    meta.drop_all(engine)  # a suite cleaning up: the snapshot after create_all is kept
"""


@pytest.mark.parametrize("drop", [False, True], ids=["kept", "dropped-at-end"])
def test_zero_code_schema_is_taken_after_the_migrations(
    drop: bool, fresh_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_DSN", fresh_db)
    if drop:
        monkeypatch.setenv("DROP_AT_END", "1")
    script = tmp_path / "app.py"
    script.write_text(APP)
    out = tmp_path / "cap.jsonl"
    assert run_command(str(out), [sys.executable, str(script)]).exit_code == 0
    schema = read_header(str(out)).schema
    assert schema is not None and "public.invoices" in schema.tables


def test_instrument_schema_is_taken_again_after_ddl(fresh_db: str, tmp_path: Path) -> None:
    import sqlalchemy as sa

    out = tmp_path / "cap.jsonl"
    engine = sa.create_engine(fresh_db.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with capture.instrument(output=str(out)):
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            meta = sa.MetaData()
            sa.Table("ledgers", meta, sa.Column("id", sa.Integer, primary_key=True))
            meta.create_all(engine)
    finally:
        engine.dispose()
    schema = read_header(str(out)).schema
    assert schema is not None and "public.ledgers" in schema.tables


def test_scan_says_when_the_schema_has_none_of_the_queried_tables(
    fresh_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A capture whose only snapshot predates the migrations: one warning line, with --dsn."""
    import json
    import subprocess

    from advisor.schema import read_schema, schema_to_dict

    empty = schema_to_dict(read_schema(fresh_db, source="capture"))
    lines = [
        {"type": "header", "format": "advisor-capture", "version": 1, "schema": empty},
        {"type": "query", "seq": 1, "sql": "SELECT id FROM invoices WHERE customer_id = 1"},
        {"type": "trailer", "events": 1, "dropped": 0, "internal_errors": 0},
    ]
    cap = tmp_path / "cap.jsonl"
    cap.write_text("".join(json.dumps(line) + "\n" for line in lines))
    done = subprocess.run(
        [sys.executable, "-m", "advisor", "scan", str(cap)],
        capture_output=True,
        text=True,
        check=False,
    )
    warnings = [line for line in done.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "--dsn" in warnings[0] and "0 tables" in warnings[0]
