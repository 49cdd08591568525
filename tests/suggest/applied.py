"""Apply migration files the way a DBA would, lint them, and read back what they made."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from advisor.db import connect, run

__all__ = ["indexes", "psql_file", "squawk", "squawk_clean"]

PSQL = Path("/usr/lib/postgresql/15/bin/psql")


def psql_file(dsn: str, path: Path) -> None:
    """``psql -v ON_ERROR_STOP=1 -f path`` (never ``-1``); fails the test on any error."""
    psql = str(PSQL) if PSQL.exists() else shutil.which("psql")
    assert psql is not None, "psql not found: install postgresql-client-15"
    done = subprocess.run(
        [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-f", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"{path.name}: {done.stderr}"


def indexes(dsn: str) -> dict[str, bool]:
    """Index name -> ``pg_index.indisvalid`` for every index of the public schema."""

    async def go() -> dict[str, bool]:
        conn = await connect(dsn)
        try:
            rows = await conn.fetch(
                "SELECT c.relname, i.indisvalid FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE c.relnamespace = 'public'::regnamespace"
            )
        finally:
            await conn.close()
        return {r["relname"]: r["indisvalid"] for r in rows}

    return run(go())


def squawk() -> str:
    """The squawk binary of this environment (``squawk-cli`` in the dev extra)."""
    found = Path(sys.executable).parent / "squawk"
    path = str(found) if found.exists() else shutil.which("squawk")
    assert path is not None, "squawk not found: pip install squawk-cli (in the dev extra)"
    return path


def squawk_clean(folder: Path, up: str, down: str) -> tuple[Path, Path]:
    """Write ``up`` and ``down`` to ``folder`` and assert squawk finds 0 issues in them."""
    files = (folder / "up.sql", folder / "down.sql")
    for path, text in zip(files, (up, down), strict=True):
        path.write_text(text)
    done = subprocess.run([squawk(), *map(str, files)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout
    assert "Found 0 issues in 2 files" in done.stdout + done.stderr
    return files
