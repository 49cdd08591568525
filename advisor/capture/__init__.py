"""advisor.capture: record what an application sends to PostgreSQL through SQLAlchemy.

    handle = advisor.capture.instrument(output="capture.jsonl")   # every engine
    handle = advisor.capture.instrument(engine, output="capture.jsonl")
    with advisor.capture.scope("nightly-report"):
        ...
    handle.uninstrument()          # or advisor.capture.uninstrument() for all

This package runs inside the user's application and imports nothing from the scan side.
The file format is described in ``docs/capture-format.md`` (its name, version and header
line in :mod:`advisor.capture.format`); :mod:`advisor.sources.capture_file` reads it back
when ``advisor scan`` runs.
"""

from __future__ import annotations

import atexit
import threading
from typing import TYPE_CHECKING, Any

from advisor.capture.context import Scope, current_scope, scope
from advisor.errors import CaptureError

if TYPE_CHECKING:
    from advisor.capture.hooks import Recorder

__all__ = ["Capture", "Scope", "current_scope", "instrument", "scope", "uninstrument"]

_ACTIVE: list[Capture] = []
_LOCK = threading.Lock()


class Capture:
    """A running capture: listeners on SQLAlchemy and a file being written."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.path = recorder.writer.path

    @property
    def dropped(self) -> int:
        """Events dropped so far because the writer could not keep up."""
        return self.recorder.writer.dropped

    @property
    def internal_errors(self) -> int:
        """Failures inside capture so far (the application's statements went on)."""
        return self.recorder.writer.internal_errors

    def uninstrument(self) -> None:
        """Stop listening, flush and complete the file with its trailer (idempotent)."""
        atexit.unregister(self.uninstrument)
        self.recorder.close()
        with _LOCK:
            if self in _ACTIVE:
                _ACTIVE.remove(self)

    def __enter__(self) -> Capture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.uninstrument()


def instrument(
    target: Any = None,
    *,
    output: str,
    keep_params: bool = False,
    call_sites: bool = True,
    root: str | None = None,
    introspect_schema: bool = True,
    max_pending: int = 50_000,
) -> Capture:
    """Capture every statement of ``target`` (an Engine or AsyncEngine), or of every engine.

    ``output`` is opened now: an unwritable path raises :class:`advisor.errors.CaptureError`.
    Parameters are redacted unless ``keep_params``; ``call_sites`` records the application
    line of each statement (paths relative to ``root``, default the current directory).
    """
    # Imported here so that `import advisor.capture` (the pytest plugin, the CLI) stays cheap.
    from advisor.capture.hooks import Recorder
    from advisor.capture.writer import CaptureWriter

    writer = CaptureWriter(output, keep_params=keep_params, max_pending=max_pending)
    recorder = Recorder(
        writer, call_sites=call_sites, root=root, introspect_schema=introspect_schema
    )
    try:
        recorder.attach(target)
    except Exception as exc:
        recorder.close()
        raise CaptureError(
            f"cannot instrument {target!r} ({exc}); pass an Engine or AsyncEngine"
        ) from exc
    handle = Capture(recorder)
    # At exit, complete the file the full way (schema snapshot included), not only the
    # writer's own last-resort close.
    atexit.register(handle.uninstrument)
    with _LOCK:
        _ACTIVE.append(handle)
    return handle


def uninstrument() -> None:
    """Stop every running capture and complete their files."""
    with _LOCK:
        active = list(_ACTIVE)
    for handle in reversed(active):
        handle.uninstrument()
