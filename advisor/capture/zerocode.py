"""Zero-code capture inside a child process started by :func:`advisor.capture.run.run_command`.

The ``sitecustomize`` bootstrap calls :func:`start` at interpreter start-up. Nothing is
imported eagerly: an import hook waits for ``sqlalchemy`` (then every engine is
instrumented, writing this process's own part file) and for Starlette/FastAPI (then
every application gets :class:`~advisor.capture.asgi.AdvisorMiddleware`). The process
is one scope (kind ``process``) unless a test or a request scope is active.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType, ModuleType
from typing import Any

__all__ = [
    "ENV_APP_PACKAGES",
    "ENV_CALL_SITES",
    "ENV_DIR",
    "ENV_KEEP_PARAMS",
    "ENV_ROOT",
    "active",
    "start",
]

ENV_DIR = "ADVISOR_CAPTURE_DIR"
ENV_KEEP_PARAMS = "ADVISOR_CAPTURE_KEEP_PARAMS"
ENV_CALL_SITES = "ADVISOR_CAPTURE_CALL_SITES"
ENV_ROOT = "ADVISOR_CAPTURE_ROOT"
ENV_APP_PACKAGES = "ADVISOR_CAPTURE_APP_PACKAGES"

_STATE: dict[str, Any] = {"started": False, "capture": None}


def active() -> bool:
    """True when zero-code capture is recording in this process."""
    return _STATE["capture"] is not None


class _ExecHook(importlib.abc.Loader):
    """A loader that runs the real one, then the watched module's callback (once).

    Everything but ``exec_module`` is the real loader's (resources, ``get_code``...).
    """

    def __init__(self, loader: Any, fire: Callable[[ModuleType], None]) -> None:
        self._advisor_loader = loader
        self._advisor_fire = fire

    def __getattr__(self, name: str) -> Any:
        return getattr(self._advisor_loader, name)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        """The real loader's module (or None for the default one)."""
        create = getattr(self._advisor_loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module: ModuleType) -> None:
        """Execute the module with the real loader, then fire the callback."""
        self._advisor_loader.exec_module(module)
        self._advisor_fire(module)


class _PostImportHook(importlib.abc.MetaPathFinder):
    """Runs a callback once a watched module has been *executed*, however it was imported.

    ``find_spec`` only hands out a spec whose loader is wrapped: a probe such as
    ``importlib.util.find_spec("sqlalchemy")`` that never executes it disarms nothing,
    since the callback is consumed by the execution, not by the lookup.
    """

    def __init__(self, callbacks: dict[str, Callable[[ModuleType], None]]) -> None:
        self.callbacks = callbacks
        self._busy: set[str] = set()
        self._lock = threading.Lock()

    def fire(self, fullname: str, module: ModuleType) -> None:
        """Run ``fullname``'s callback the first time (never raises into the import)."""
        with self._lock:
            callback = self.callbacks.pop(fullname, None)
        if callback is not None:
            _run_quietly(callback, module)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        """The real spec, its loader wrapped; None for modules not watched."""
        if fullname not in self.callbacks or fullname in self._busy:
            return None
        self._busy.add(fullname)
        try:
            spec = importlib.util.find_spec(fullname)
        except Exception:
            return None
        finally:
            self._busy.discard(fullname)
        loader = spec.loader if spec is not None else None
        if spec is None or loader is None or not hasattr(loader, "exec_module"):
            return None
        if not isinstance(loader, _ExecHook):
            spec.loader = _ExecHook(loader, lambda module: self.fire(fullname, module))
        return spec


def _run_quietly(callback: Callable[[ModuleType], None], module: ModuleType) -> None:
    """Capture must never break the application's imports."""
    with contextlib.suppress(Exception):
        callback(module)


def _process_scope_name() -> str:
    argv0 = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
    return f"{argv0} [pid {os.getpid()}]"


def _start_capture(_module: ModuleType | None = None, *, introspect: bool = True) -> None:
    from advisor.capture import instrument
    from advisor.capture.context import Scope, set_fallback_scope

    directory = os.environ[ENV_DIR]
    path = os.path.join(directory, f"part-{time.time_ns()}-{os.getpid()}.jsonl")
    _STATE["capture"] = instrument(
        output=path,
        keep_params=os.environ.get(ENV_KEEP_PARAMS) == "1",
        call_sites=os.environ.get(ENV_CALL_SITES, "1") == "1",
        root=os.environ.get(ENV_ROOT) or None,
        introspect_schema=introspect,
        app_packages=tuple(p for p in os.environ.get(ENV_APP_PACKAGES, "").split(",") if p),
    )
    set_fallback_scope(Scope(_process_scope_name(), "process"))


def _after_fork_in_child() -> None:
    inherited = _STATE["capture"]
    if inherited is None:
        return
    # The parent's writer thread did not survive the fork: leave its file to the parent.
    atexit.unregister(inherited.uninstrument)
    inherited.recorder.detach()
    inherited.recorder.writer.abandon()
    # No schema introspection in a forked child: its parent has done it, and a thread
    # importing modules at fork time would leave an import lock held forever here.
    _start_capture(introspect=False)


def _wrap_build_middleware_stack(cls: Any) -> None:
    from advisor.capture.asgi import AdvisorMiddleware

    original = cls.build_middleware_stack
    if getattr(original, "_advisor_wrapped", False):
        return

    def build_middleware_stack(self: Any) -> Any:
        app = original(self)
        return app if isinstance(app, AdvisorMiddleware) else AdvisorMiddleware(app)

    build_middleware_stack._advisor_wrapped = True  # type: ignore[attr-defined]
    cls.build_middleware_stack = build_middleware_stack


def _patch_starlette(module: ModuleType) -> None:
    _wrap_build_middleware_stack(module.Starlette)


def _patch_fastapi(module: ModuleType) -> None:
    _wrap_build_middleware_stack(module.FastAPI)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Default SIGTERM kills without atexit; exiting normally lets the trailer be written.
    raise SystemExit(128 + signum)


def start() -> None:
    """Arm zero-code capture (idempotent); does nothing without ``ADVISOR_CAPTURE_DIR``."""
    if _STATE["started"] or not os.environ.get(ENV_DIR):
        return
    _STATE["started"] = True
    watched: dict[str, Callable[[ModuleType], None]] = {
        "sqlalchemy": _start_capture,
        "starlette.applications": _patch_starlette,
        "fastapi.applications": _patch_fastapi,
    }
    # Already imported (by a .pth file, an earlier sitecustomize): instrument now. The
    # listeners go on SQLAlchemy's classes, so engines created before are covered too.
    for name in list(watched):
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__spec__", None) is not None:
            _run_quietly(watched.pop(name), module)
    sys.meta_path.insert(0, _PostImportHook(watched))
    os.register_at_fork(after_in_child=_after_fork_in_child)
    if (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    ):
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
