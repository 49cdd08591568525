"""Migration files in a directory: golden files, psql up/down on a real PostgreSQL, squawk.

Regenerate the golden files after an intended change with
``ADVISOR_REGEN_GOLDEN=1 .venv/bin/python -m pytest tests/suggest/test_files.py`` and
read the diff before committing it.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from advisor.indexes.ddl import make_suggestion
from advisor.model import (
    Finding,
    IndexColumn,
    IndexSuggestion,
    ScanResult,
    Schema,
    Severity,
    Workload,
)
from advisor.schema.ddl import load_ddl
from advisor.suggest.files import migration_sets, write_migrations
from tests.suggest.applied import indexes, psql_file, squawk
from tests.suggest.migration_set import CHOSEN, DATA, FOREIGN_KEYS, SCHEMA, WORKLOAD

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "fixtures" / "migrations"
SHOP = REPO / "fixtures" / "schemas" / "shop.sql"


def _write_sql(directory: Path) -> tuple[Path, ...]:
    return write_migrations(
        directory,
        CHOSEN,
        workload=WORKLOAD,
        schema=SCHEMA,
        data=DATA,
        foreign_keys=FOREIGN_KEYS,
    )


def _compare(written: tuple[Path, ...], golden: Path) -> None:
    if os.environ.get("ADVISOR_REGEN_GOLDEN"):
        shutil.rmtree(golden, ignore_errors=True)
        golden.mkdir(parents=True)
        for path in written:
            shutil.copy(path, golden / path.name)
    expected = sorted(p.name for p in golden.iterdir())
    assert sorted(p.name for p in written) == expected
    for path in written:
        assert path.read_text() == (golden / path.name).read_text(), path.name


def test_sql_files_match_the_golden_files(tmp_path: Path) -> None:
    written = _write_sql(tmp_path)
    assert [p.name for p in written] == [
        "0001_ix_events_user_id_created_at.up.sql",
        "0001_ix_events_user_id_created_at.down.sql",
        "0002_ix_users_lower_email_where_deleted_at_is_null.up.sql",
        "0002_ix_users_lower_email_where_deleted_at_is_null.down.sql",
        "0003_fk_ix_order_items_product_id.up.sql",
        "0003_fk_ix_order_items_product_id.down.sql",
    ]
    _compare(written, GOLDEN / "sql")


def _prose(text: str) -> str:
    """The comment header as one line: wrapping never splits what the tests look for."""
    lines = [line.removeprefix("--") for line in text.splitlines() if line.startswith("--")]
    return " ".join(" ".join(lines).split())


def test_the_header_carries_the_evidence(tmp_path: Path) -> None:
    texts = [p.read_text() for p in _write_sql(tmp_path)]
    # The prose fits 88 columns; a command naming a long file name may not.
    prose = [
        line
        for text in texts
        for line in text.splitlines()
        if line.startswith("--") and not line.startswith(("-- Apply", "-- Roll back"))
    ]
    assert max(map(len, prose)) <= 88
    events, _, users, _, fk, _ = map(_prose, texts)
    assert "1,200 calls, 50,280 ms total, 41.9 ms mean, at app/api/events.py:42" in events
    assert "5e1f0c9a2b7d4e10:r: 41.9 ms -> 0.10 ms (Seq Scan -> Index Scan)" in events
    assert "77ab03d1c9e2f456:r: > 5,000 ms (time box) -> 2.30 ms" in events
    assert "data: generated: generated rows" in events
    assert "public.events: generated 1,000,000 rows" in events
    assert "Index size 21.4 MB, built in 812.4 ms" in events
    assert "the workload ran 5,000 INSERT and 40 UPDATE statements on it." in events
    assert "1,250,000 rows inserted, 4,100 updated (3,900 HOT)" in events
    assert "NOT VERIFIED" not in events
    assert "Measured: NOT VERIFIED" in users and "time not recorded" in users
    assert "NOT part of the chosen set: no query of the workload uses it" in fk
    assert "Kind: chosen for the workload" in events and "Kind: chosen" not in fk


def test_every_migration_applies_twice_and_rolls_back(fresh_db: str, tmp_path: Path) -> None:
    load_ddl(fresh_db, SHOP)
    before = indexes(fresh_db)
    written = _write_sql(tmp_path)
    ups = [p for p in written if p.name.endswith(".up.sql")]
    for up in ups:
        psql_file(fresh_db, up)
        psql_file(fresh_db, up)  # IF NOT EXISTS: a second run is a no-op
    made = indexes(fresh_db)
    names = [s.name for s in (*CHOSEN, *FOREIGN_KEYS)]
    assert {name: made.get(name) for name in names} == dict.fromkeys(names, True)
    for down in reversed([p for p in written if p.name.endswith(".down.sql")]):
        psql_file(fresh_db, down)
        psql_file(fresh_db, down)  # IF EXISTS
    assert indexes(fresh_db) == before


def test_squawk_finds_no_violation(tmp_path: Path) -> None:
    written = _write_sql(tmp_path)
    done = subprocess.run(
        [squawk(), *map(str, written)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Found 0 issues in 6 files" in done.stdout + done.stderr


def test_squawk_would_catch_an_unsafe_migration(tmp_path: Path) -> None:
    # The check above means something only if squawk flags what advisor avoids.
    unsafe = tmp_path / "unsafe.sql"
    unsafe.write_text("CREATE INDEX ix_events_user_id ON events (user_id);\n")
    done = subprocess.run([squawk(), str(unsafe)], capture_output=True, text=True, check=False)
    assert done.returncode != 0 and "require-concurrent-index-creation" in done.stdout


def test_a_second_run_rewrites_in_place_and_a_new_index_takes_the_next_number(
    tmp_path: Path,
) -> None:
    (tmp_path / "0007_hand_written.up.sql").write_text("SELECT 1;\n")
    first = _write_sql(tmp_path)
    assert first[0].name == "0008_ix_events_user_id_created_at.up.sql"
    snapshot = {p.name: p.read_text() for p in tmp_path.iterdir()}
    again = _write_sql(tmp_path)
    assert again == first
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == snapshot
    extra = make_suggestion("public.orders", (IndexColumn("status"), IndexColumn("created_at")))
    more = write_migrations(tmp_path, (*CHOSEN, extra), foreign_keys=FOREIGN_KEYS)
    assert [p.name for p in more[::2]] == [
        "0008_ix_events_user_id_created_at.up.sql",
        "0009_ix_users_lower_email_where_deleted_at_is_null.up.sql",
        "0011_ix_orders_status_created_at.up.sql",
        "0010_fk_ix_order_items_product_id.up.sql",
    ]


def test_nothing_to_write_writes_nothing(tmp_path: Path) -> None:
    assert write_migrations(tmp_path / "new", ()) == ()
    assert list((tmp_path / "new").iterdir()) == []


def test_a_file_in_the_way_is_a_clear_error(tmp_path: Path) -> None:
    from advisor.errors import ConfigError

    (tmp_path / "taken").write_text("")
    with pytest.raises(ConfigError, match="taken: not a directory"):
        write_migrations(tmp_path / "taken", CHOSEN)


def _finding(rule: str, suggestion: IndexSuggestion) -> Finding:
    return Finding(rule, rule.lower(), Severity.MEDIUM, "m", suggestion=suggestion)


def test_fk_indexes_no_other_finding_asked_for_stand_apart() -> None:
    events, users = CHOSEN
    lone_fk = FOREIGN_KEYS[0]
    shared_fk = make_suggestion("public.orders", (IndexColumn("user_id"),))
    result = ScanResult(
        findings=(
            _finding("ADV003", events),
            _finding("ADV003", users),
            _finding("ADV004", lone_fk),
            _finding("ADV004", shared_fk),
            _finding("ADV003", shared_fk),  # a query filters on the FK: it is chosen
        ),
        suggestions=(events, users, lone_fk, shared_fk),
        notes=(),
        skipped=(),
        workload=Workload(shapes={}),
        schema=Schema(),
    )
    assert migration_sets(result) == ((events, users, shared_fk), (lone_fk,))
    # The verify stage keeps FK indexes among the suggestions; one the suggestions no longer
    # hold was absorbed by a longer index leading with its columns, which serves the FK.
    absorbed = dataclasses.replace(result, suggestions=(events, users, shared_fk))
    assert migration_sets(absorbed) == ((events, users, shared_fk), ())
