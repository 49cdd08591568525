"""Every sandbox is stopped: at the end of its ``with`` block, at exit, and on SIGTERM.

A stop action is registered while a sandbox lives; :func:`stop_all` runs what is left, last
registered first (a server stops before the directory holding it is removed). SIGTERM runs
them, then does what the previous handler would have done (by default: die of SIGTERM).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

__all__ = ["register", "stop_all", "unregister"]

_LIVE: dict[int, Callable[[], None]] = {}
_LOCK = threading.Lock()
_previous_sigterm: Any = None


def register(owner: object, stop: Callable[[], None]) -> None:
    """Run ``stop`` at exit or on SIGTERM unless ``owner`` is unregistered first."""
    with _LOCK:
        _LIVE[id(owner)] = stop
    _install_sigterm()


def unregister(owner: object) -> None:
    """Forget ``owner``'s stop action (it has been stopped)."""
    with _LOCK:
        _LIVE.pop(id(owner), None)


def stop_all() -> None:
    """Run every registered stop action, newest first; errors are ignored."""
    with _LOCK:
        stops = list(_LIVE.values())
    for stop in reversed(stops):
        with contextlib.suppress(Exception):
            stop()


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    stop_all()
    previous = _previous_sigterm
    if callable(previous):
        previous(signum, frame)
    elif previous != signal.SIG_IGN:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)


def _install_sigterm() -> None:
    global _previous_sigterm
    # signal handlers can only be set from the main thread
    if threading.current_thread() is not threading.main_thread():
        return
    current = signal.getsignal(signal.SIGTERM)
    if current is _on_sigterm:
        return
    _previous_sigterm = current
    signal.signal(signal.SIGTERM, _on_sigterm)


atexit.register(stop_all)
