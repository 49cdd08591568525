"""Zero-code capture: run any command with every SQLAlchemy engine in it instrumented.

The child gets advisor's ``sitecustomize`` bootstrap first on its ``PYTHONPATH`` and the
capture settings in environment variables; each Python process it starts writes its own
part file into a private directory, and the parts are merged into ``output`` when the
command has exited (also after SIGINT/SIGTERM, which are forwarded to the child).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any

from advisor.capture import zerocode
from advisor.capture.merge import merge_parts
from advisor.capture.schema_line import DSN_FILE_PREFIX, ENV_PYTHON, ENV_PYTHONPATH
from advisor.capture.writer import open_output
from advisor.errors import CaptureError

__all__ = ["CaptureRun", "child_environment", "plugin_installed", "run_command"]

_BOOTSTRAP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bootstrap")
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_PLUGIN = "advisor.capture.pytest_plugin"
_SHIM = "advisor.capture.pytest_shim"


@dataclass(frozen=True, slots=True)
class CaptureRun:
    """The outcome of a captured command: its exit code and the capture's counters."""

    exit_code: int
    statements: int
    internal_errors: int
    dropped: int
    processes: int

    def problem(self) -> str | None:
        """One line saying what went wrong, or None when nothing did."""
        problems = []
        if self.exit_code != 0:
            problems.append(f"the command exited with code {self.exit_code}")
        if self.statements == 0:
            problems.append(
                "0 statements captured: "
                + (
                    f"no SQLAlchemy engine ran a statement in the {self.processes} Python"
                    " process(es) that imported SQLAlchemy"
                    if self.processes
                    else "no Python process of the command imported SQLAlchemy"
                )
            )
        if self.internal_errors:
            problems.append(
                f"{self.internal_errors} internal error(s) inside capture: some statements"
                " may be missing (the app was not affected); please report it"
            )
        return "; ".join(problems) or None


def plugin_installed() -> bool:
    """True when the pytest11 entry point already loads advisor's plugin."""
    import importlib.metadata  # ~25 ms: not on the path of every capture

    try:
        points = importlib.metadata.entry_points(group="pytest11")
    except Exception:
        return False
    return any(point.value == _PLUGIN for point in points)


def _package_dir(parts_dir: str) -> str:
    """A directory holding only ``advisor`` (a link to this package), for the child's path.

    Never the directory advisor is installed in: that is the CLI's site-packages, and its
    typer, pydantic or pytest would shadow the app's own.
    """
    directory = os.path.join(parts_dir, "path")
    os.makedirs(directory, exist_ok=True)
    link = os.path.join(directory, "advisor")
    if not os.path.lexists(link):
        os.symlink(_PACKAGE, link, target_is_directory=True)
    return directory


def child_environment(
    parts_dir: str,
    *,
    keep_params: bool,
    call_sites: bool,
    root: str | None = None,
    app_packages: tuple[str, ...] = (),
) -> dict[str, str]:
    """The environment of the captured command (``parts_dir`` is private to this run)."""
    env = dict(os.environ)
    package_dir = _package_dir(parts_dir)
    paths = [_BOOTSTRAP, package_dir]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env[zerocode.ENV_DIR] = parts_dir
    env[zerocode.ENV_KEEP_PARAMS] = "1" if keep_params else "0"
    env[zerocode.ENV_CALL_SITES] = "1" if call_sites else "0"
    env[zerocode.ENV_ROOT] = root or os.getcwd()
    env[zerocode.ENV_APP_PACKAGES] = ",".join(app_packages)
    # Schema snapshots run with advisor's own Python (asyncpg is not the app's).
    env[ENV_PYTHON] = sys.executable
    env[ENV_PYTHONPATH] = package_dir
    # The shim, whether or not the app's environment has advisor's entry point: it
    # registers the plugin only when missing.
    plugins = [p for p in env.get("PYTEST_PLUGINS", "").split(",") if p.strip()]
    if _SHIM not in plugins:
        env["PYTEST_PLUGINS"] = ",".join([*plugins, _SHIM])
    return env


@contextlib.contextmanager
def _forward_signals(proc: subprocess.Popen[bytes]) -> Iterator[None]:
    """Forward SIGINT (to the child's process group, like a terminal) and SIGTERM."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def forward(signum: int, frame: FrameType | None) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if signum == signal.SIGINT:
                os.killpg(proc.pid, signum)
            else:
                proc.send_signal(signum)

    previous: dict[int, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, forward)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _dsn_files(parts_dir: str) -> list[str]:
    return sorted(glob.glob(os.path.join(parts_dir, DSN_FILE_PREFIX + "*")))


def _prepare_snapshot(parts_dir: str, exited: threading.Event) -> None:
    """Once a PostgreSQL engine of the command has left its DSN, import the scan side
    (~0.1 s) while the command runs: the end-of-run snapshot then only reads the schema."""
    while not _dsn_files(parts_dir):
        if exited.wait(0.05):
            return
    with contextlib.suppress(Exception):
        import advisor.schema  # noqa: F401


def _last_snapshot(parts_dir: str) -> dict[str, Any] | None:
    """The schema the command's database has now that it exited (after its migrations),
    or None: no PostgreSQL engine ran, or the database is gone (a test suite's own)."""
    files = _dsn_files(parts_dir)
    if not files:
        return None
    try:
        with open(files[0], encoding="utf-8") as handle:
            dsn = handle.read().strip()
        # The scan side, in the CLI's own process (never in the app).
        from advisor.schema import read_schema, schema_to_dict

        return schema_to_dict(read_schema(dsn, source="capture"))
    except Exception:
        return None


def run_command(
    output: str,
    argv: list[str],
    *,
    keep_params: bool = False,
    call_sites: bool = True,
    app_packages: tuple[str, ...] = (),
) -> CaptureRun:
    """Run ``argv`` with zero-code capture into ``output``; returns what happened.

    Raises :class:`CaptureError` before starting anything when ``output`` is not writable
    or the command cannot be started. A child killed by a signal gives ``128 + signal``.
    """
    if not argv:
        raise CaptureError("no command to capture; give one after `--`, e.g. -- pytest")
    open_output(output).close()
    parts_dir = tempfile.mkdtemp(prefix="advisor-capture-")
    try:
        env = child_environment(
            parts_dir, keep_params=keep_params, call_sites=call_sites, app_packages=app_packages
        )
        try:
            # Own process group: a terminal's Ctrl-C reaches the child once, through us.
            proc = subprocess.Popen(argv, env=env, process_group=0)
        except OSError as exc:
            raise CaptureError(
                f"{argv[0]}: cannot start the command ({exc.strerror}); check its name"
            ) from exc
        exited = threading.Event()
        prepare = threading.Thread(
            target=_prepare_snapshot, args=(parts_dir, exited), name="advisor-prepare"
        )
        prepare.start()
        try:
            with _forward_signals(proc):
                code = proc.wait()
        finally:
            exited.set()
            prepare.join()
        parts = sorted(glob.glob(os.path.join(parts_dir, "part-*.jsonl")))
        schema = _last_snapshot(parts_dir)
        totals = merge_parts(parts, output, keep_params=keep_params, schema=schema)
    finally:
        shutil.rmtree(parts_dir, ignore_errors=True)
    return CaptureRun(
        exit_code=128 - code if code < 0 else code,
        statements=totals["events"],
        internal_errors=totals["internal_errors"],
        dropped=totals["dropped"],
        processes=totals["parts"],
    )
