"""pytest plugin: ``pytest --advisor-capture=capture.jsonl`` records one scope per test.

Registered as the ``advisor`` pytest11 entry point. Without ``--advisor-capture`` (and
outside ``advisor capture -- pytest``) it only adds its options and does nothing else:
it imports neither SQLAlchemy nor the capture machinery. Each test (setup, call and
teardown) is a scope named by its node id, kind ``test``; a session-, package-, module-
or class-scoped fixture is a scope of its own (``fixture NAME``, kind ``fixture``). Under
pytest-xdist each worker writes ``FILE.<worker>.part`` and the controller merges them into
``FILE`` at the end. Under ``advisor capture`` it is loaded by
:mod:`advisor.capture.pytest_shim` when the app's environment lacks the entry point.
Works with pytest >= 7.0 and pluggy >= 1.0 (old-style hook wrappers only).
"""

from __future__ import annotations

import contextlib
import glob
import os
from collections.abc import Generator, Iterator
from typing import Any

import pytest

__all__ = ["pytest_addoption", "pytest_configure"]

_NAME = "advisor-capture-session"


@contextlib.contextmanager
def _fallback(active: Any) -> Iterator[None]:
    """Make ``active`` the process-wide fallback scope inside the block."""
    from advisor.capture.context import fallback_scope, set_fallback_scope

    previous = fallback_scope()
    set_fallback_scope(active)
    try:
        yield
    finally:
        set_fallback_scope(previous)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--advisor-capture=FILE`` and ``--advisor-keep-params``."""
    group = parser.getgroup("advisor", "advisor query capture")
    group.addoption(
        "--advisor-capture",
        metavar="FILE",
        default=None,
        help="record every SQLAlchemy statement, one scope per test, into FILE (JSON Lines)",
    )
    group.addoption(
        "--advisor-keep-params",
        action="store_true",
        default=False,
        help="keep parameter values in the capture (redacted by default)",
    )


class _Session:
    """The active part of the plugin, registered only when capture is on."""

    def __init__(self, output: str | None, keep_params: bool, worker: str | None) -> None:
        self.output = output
        self.worker = worker
        self.keep_params = keep_params
        self.capture: Any = None
        if output is not None:
            from advisor.capture import instrument

            path = f"{output}.{worker}.part" if worker else output
            self.capture = instrument(output=path, keep_params=keep_params)

    # hookwrapper=True (old-style wrappers), not wrapper=True: pluggy 1.0 / pytest 7.
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: Any) -> Generator[None]:
        """Run the whole test protocol inside the test's scope."""
        from advisor.capture.context import Scope

        # The process-wide fallback, not the ContextVar: async test runners may run the
        # test in a task whose context was copied before this test started.
        with _fallback(Scope(item.nodeid, "test")):
            yield

    @pytest.hookimpl(hookwrapper=True)
    def pytest_fixture_setup(self, fixturedef: Any, request: Any) -> Generator[None]:
        """A session-, package-, module- or class-scoped fixture is a scope of its own
        (``fixture NAME``), in its setup and in its teardown, not the first or last test's."""
        if fixturedef.scope == "function":
            yield
            return
        from advisor.capture.context import Scope, fallback_scope, set_fallback_scope

        fixture = Scope(f"fixture {fixturedef.argname}", "fixture")
        # Finalizers run last-added first: `leave` (added now) runs after the fixture's own
        # teardown, `enter` (added after its setup, so after its teardown's) before it.
        during: list[Any] = []

        def leave() -> None:
            if during:
                set_fallback_scope(during.pop())

        fixturedef.addfinalizer(leave)
        with _fallback(fixture):
            yield

        def enter() -> None:
            during.append(fallback_scope())
            set_fallback_scope(fixture)

        fixturedef.addfinalizer(enter)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: Any) -> None:
        """The end-of-run schema snapshot, while this process is sure to live (an xdist
        worker may be killed soon after it reports the end of its session)."""
        probe = self.capture.recorder.probe if self.capture is not None else None
        if probe is not None:
            probe.finish()

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """Complete the file; the xdist controller merges the workers' parts."""
        if self.capture is not None:
            self.capture.uninstrument()
        if self.output is not None and self.worker is None:
            parts = sorted(glob.glob(glob.escape(self.output) + ".*.part"))
            if parts:
                from advisor.capture.merge import merge_parts

                merge_parts([self.output, *parts], self.output, keep_params=self.keep_params)
                for part in parts:
                    os.remove(part)


def pytest_configure(config: pytest.Config) -> None:
    """Start capture when asked; otherwise do nothing at all."""
    output = config.getoption("advisor_capture", None)
    # Under `advisor capture -- pytest` the bootstrap already records this process: the
    # plugin only contributes the per-test scopes.
    from advisor.capture.zerocode import ENV_DIR

    zero_code = bool(os.environ.get(ENV_DIR))
    if zero_code:
        output = None
    elif output is None:
        return
    worker_input = getattr(config, "workerinput", None)
    worker = worker_input.get("workerid") if isinstance(worker_input, dict) else None
    from advisor.errors import CaptureError

    try:
        session = _Session(output, bool(config.getoption("advisor_keep_params", False)), worker)
    except CaptureError as exc:
        raise pytest.UsageError(str(exc)) from exc
    config.pluginmanager.register(session, _NAME)
