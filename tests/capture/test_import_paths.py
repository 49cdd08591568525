"""Zero-code capture instruments every engine, however and whenever SQLAlchemy is imported.

Each case is a child process run under :func:`run_command`; the engine is always created
by the app, and the capture must hold its statement with the process scope.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from advisor.capture.run import child_environment, run_command
from advisor.model import Execution

Read = Callable[[Path], list[Execution]]

_QUERY = """
import os
engine = sa.create_engine(os.environ["SHOP_DSN"].replace("postgresql://", "postgresql+psycopg://"))
with engine.connect() as conn:
    conn.execute(sa.text("SELECT 'imported'"))
"""

IMPORTS = {
    # A library with optional database support probes first (the spec is never executed).
    "find_spec_probe": "import importlib.util\n"
    "assert importlib.util.find_spec('sqlalchemy') is not None\n"
    "import sqlalchemy as sa\n",
    "import_module": "import importlib\nsa = importlib.import_module('sqlalchemy')\n",
    "dunder_import": "sa = __import__('sqlalchemy')\n",
    "lazy_loader": "import importlib.util, sys\n"
    "spec = importlib.util.find_spec('sqlalchemy')\n"
    "spec.loader = importlib.util.LazyLoader(spec.loader)\n"
    "sa = importlib.util.module_from_spec(spec)\n"
    "sys.modules['sqlalchemy'] = sa\n"
    "spec.loader.exec_module(sa)\n",
    "thread": "import threading\nfound = {}\n"
    "def load():\n    import sqlalchemy\n    found['sa'] = sqlalchemy\n"
    "t = threading.Thread(target=load)\nt.start()\nt.join()\nsa = found['sa']\n",
}


@pytest.mark.parametrize("how", sorted(IMPORTS))
def test_every_import_path_is_instrumented(
    how: str,
    shop_dsn: str,
    tmp_path: Path,
    capture_file: Path,
    executions: Read,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHOP_DSN", shop_dsn)
    script = tmp_path / "app.py"
    script.write_text(IMPORTS[how] + _QUERY)
    assert run_command(str(capture_file), [sys.executable, str(script)]).exit_code == 0
    found = executions(capture_file)
    assert [e.sql for e in found] == ["SELECT 'imported'"]
    assert found[0].scope_kind == "process"


def test_sqlalchemy_imported_and_engine_created_before_the_hook(
    shop_dsn: str, tmp_path: Path, capture_file: Path, executions: Read
) -> None:
    """As a .pth file or an earlier sitecustomize would: SQLAlchemy imported and an
    engine created before zero-code capture starts; the class listeners still see it."""
    parts = tmp_path / "parts"
    parts.mkdir()
    env = child_environment(str(parts), keep_params=False, call_sites=True)
    # No bootstrap on the path: the script starts capture itself, late.
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in env["PYTHONPATH"].split(os.pathsep) if not p.endswith("bootstrap")
    )
    env["SHOP_DSN"] = shop_dsn
    script = tmp_path / "late.py"
    script.write_text(
        "import os, sys\nimport sqlalchemy as sa\n"
        "engine = sa.create_engine(os.environ['SHOP_DSN'].replace('postgresql://', "
        "'postgresql+psycopg://'))\n"
        "with engine.connect() as conn:\n    conn.execute(sa.text(\"SELECT 'before'\"))\n"
        "from advisor.capture import zerocode\nzerocode.start()\n"
        "with engine.connect() as conn:\n    conn.execute(sa.text(\"SELECT 'after'\"))\n"
    )
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    from advisor.capture.merge import merge_parts

    merge_parts(sorted(str(p) for p in parts.glob("part-*.jsonl")), str(capture_file))
    assert [e.sql for e in executions(capture_file)] == ["SELECT 'after'"]
