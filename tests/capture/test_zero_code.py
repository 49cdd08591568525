"""Zero-code capture: a pytest run and a uvicorn server, without editing the app."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from advisor.capture.run import plugin_installed, run_command
from advisor.errors import CaptureError
from advisor.model import Execution, Skipped
from advisor.sources.capture_file import read_capture, read_header

from .conftest import APPS, ROOT

Read = Callable[[Path], list[Execution]]
SHOP_TESTS = "fixtures/apps/shop_app/test_shop_queries.py"
# The pytest11 entry point loads the plugin once advisor is installed; else load it by name.
PLUGIN = [] if plugin_installed() else ["-p", "advisor.capture.pytest_plugin"]


@pytest.fixture()
def app_env(shop_dsn: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SHOP_DSN", shop_dsn)
    monkeypatch.setenv("PYTHONPATH", str(APPS))
    monkeypatch.chdir(ROOT)
    return shop_dsn


@pytest.mark.parametrize("extra", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_zero_code_pytest_run(
    app_env: str, capture_file: Path, executions: Read, extra: list[str]
) -> None:
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra, SHOP_TESTS]
    assert run_command(str(capture_file), argv) == 0
    found = executions(capture_file)
    by_scope: dict[str | None, list[Execution]] = {}
    for e in found:
        by_scope.setdefault(e.scope, []).append(e)
    loop = by_scope[f"{SHOP_TESTS}::test_orders_of_every_user"]
    assert {e.scope_kind for e in loop} == {"test"}
    lazy = [e for e in loop if e.orm and e.orm.kind == "lazy"]
    assert len(lazy) >= 5 and all(e.call_site and e.call_site.path == SHOP_TESTS for e in lazy)
    assert len(by_scope[f"{SHOP_TESTS}::test_get_loop"]) == 3
    request = by_scope["GET /users/{user_id}/orders"]  # the ASGI app got the middleware
    assert {e.scope_kind for e in request} == {"request"}
    assert read_header(str(capture_file)).server_version is not None


def test_plugin_option_writes_one_scope_per_test(
    app_env: str, capture_file: Path, executions: Read
) -> None:
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        *PLUGIN,
        f"--advisor-capture={capture_file}",
        f"{SHOP_TESTS}::test_get_loop",
    ]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    found = executions(capture_file)
    assert len(found) == 3
    assert {(e.scope, e.scope_kind) for e in found} == {(f"{SHOP_TESTS}::test_get_loop", "test")}


def test_plugin_under_xdist_merges_the_workers_parts(
    app_env: str, capture_file: Path, executions: Read
) -> None:
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *PLUGIN]
    argv += ["-n", "2", f"--advisor-capture={capture_file}", SHOP_TESTS]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not list(capture_file.parent.glob(capture_file.name + ".*.part"))  # merged, removed
    found = list(read_capture(str(capture_file)))
    assert not [x for x in found if isinstance(x, Skipped)]  # complete: header and trailer
    queries = [x for x in found if isinstance(x, Execution)]
    assert [e.seq for e in queries] == list(range(1, len(queries) + 1))
    scopes = {e.scope for e in queries if e.scope_kind == "test"}
    assert {f"{SHOP_TESTS}::test_get_loop", f"{SHOP_TESTS}::test_orders_of_every_user"} <= scopes
    loop = [e for e in queries if e.scope == f"{SHOP_TESTS}::test_get_loop"]
    assert len(loop) == 3 and len({e.scope_id for e in loop}) == 1


def test_plugin_does_nothing_without_the_option(tmp_path: Path, app_env: str) -> None:
    probe = tmp_path / "test_probe.py"
    probe.write_text(
        "import sys\n\n"
        "def test_untouched():\n"
        "    assert 'advisor.capture.hooks' not in sys.modules\n"
        "    assert 'sqlalchemy' not in sys.modules\n"
    )
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        *PLUGIN,
        "-p",
        "no:queryspy",
        str(probe),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["test_probe.py"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_zero_code_uvicorn_server(
    signum: int, app_env: str, capture_file: Path, executions: Read
) -> None:
    port = _free_port()
    server = [
        sys.executable,
        "-m",
        "uvicorn",
        "shop_app.api:app",
        "--app-dir",
        str(APPS),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    wrapper = (
        "import sys\nfrom advisor.capture.run import run_command\n"
        f"sys.exit(run_command({str(capture_file)!r}, {server!r}))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(APPS)])}
    proc = subprocess.Popen([sys.executable, "-c", wrapper], env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/users/1", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "uvicorn did not start"
                time.sleep(0.1)
        for user_id in (1, 2, 3):
            assert httpx.get(f"http://127.0.0.1:{port}/users/{user_id}/orders").status_code == 200
        proc.send_signal(signum)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    found = executions(capture_file)  # fails on a missing trailer or a broken line
    orders = [e for e in found if e.scope == "GET /users/{user_id}/orders"]
    assert len({e.scope_id for e in orders}) == 3
    assert all(e.scope_kind == "request" for e in orders)
    assert any(e.scope == "GET /users/{user_id}" for e in found)


def test_unwritable_output_fails_at_start(tmp_path: Path) -> None:
    target = tmp_path / "missing-dir" / "capture.jsonl"
    with pytest.raises(CaptureError) as raised:
        run_command(str(target), [sys.executable, "-c", "raise SystemExit(3)"])
    message = str(raised.value)
    assert "\n" not in message and str(target) in message
    readonly = tmp_path / "ro"
    readonly.mkdir()
    readonly.chmod(0o500)
    if os.access(readonly, os.W_OK):  # root ignores permissions: use /proc instead
        target = Path("/proc/advisor-capture.jsonl")
    else:
        target = readonly / "capture.jsonl"
    with pytest.raises(CaptureError, match="cannot write the capture file"):
        run_command(str(target), [sys.executable, "-c", "pass"])


def test_plain_script_is_one_process_scope(
    app_env: str, tmp_path: Path, capture_file: Path, executions: Read
) -> None:
    script = tmp_path / "job.py"
    script.write_text(
        "import os\nfrom sqlalchemy import create_engine, text\n"
        "engine = create_engine(os.environ['SHOP_DSN'].replace('postgresql://', "
        "'postgresql+psycopg://'))\n"
        "with engine.connect() as conn:\n"
        "    for i in range(4):\n"
        "        conn.execute(text('SELECT id FROM users WHERE id = :i'), {'i': i})\n"
        "raise SystemExit(5)\n"
    )
    assert run_command(str(capture_file), [sys.executable, str(script)]) == 5
    found = executions(capture_file)
    assert len(found) == 4
    assert {e.scope_kind for e in found} == {"process"}
    assert all(e.scope and e.scope.startswith("job.py") for e in found)


def test_killed_process_is_reported_truncated(
    app_env: str, tmp_path: Path, capture_file: Path
) -> None:
    script = tmp_path / "killed.py"
    script.write_text(
        "import os, signal, time\nfrom sqlalchemy import create_engine, text\n"
        "engine = create_engine(os.environ['SHOP_DSN'].replace('postgresql://', "
        "'postgresql+psycopg://'))\n"
        "with engine.connect() as conn:\n"
        "    conn.execute(text('SELECT 1'))\n"
        "time.sleep(0.3)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    assert run_command(str(capture_file), [sys.executable, str(script)]) == 128 + 9
    found = list(read_capture(str(capture_file)))
    assert any(isinstance(x, Execution) and x.sql == "SELECT 1" for x in found)
    notes = [x for x in found if isinstance(x, Skipped)]
    assert len(notes) == 1 and "ended without completing" in notes[0].reason


def test_forked_child_writes_its_own_part(
    app_env: str, tmp_path: Path, capture_file: Path, executions: Read
) -> None:
    script = tmp_path / "forking.py"
    script.write_text(
        "import os, sys\nfrom sqlalchemy import create_engine, text\n"
        "engine = create_engine(os.environ['SHOP_DSN'].replace('postgresql://', "
        "'postgresql+psycopg://'))\n"
        "with engine.connect() as conn:\n"
        "    conn.execute(text(\"SELECT 'parent'\"))\n"
        "engine.dispose()\n"
        "pid = os.fork()\n"
        "with engine.connect() as conn:\n"
        "    conn.execute(text(\"SELECT 'child'\" if pid == 0 else \"SELECT 'parent again'\"))\n"
        "if pid:\n"
        "    os.waitpid(pid, 0)\n"
    )
    assert run_command(str(capture_file), [sys.executable, str(script)]) == 0
    found = executions(capture_file)
    by_sql = {e.sql: e.scope for e in found}
    assert set(by_sql) == {"SELECT 'parent'", "SELECT 'child'", "SELECT 'parent again'"}
    assert by_sql["SELECT 'child'"] != by_sql["SELECT 'parent'"] == by_sql["SELECT 'parent again'"]
