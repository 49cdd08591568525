"""The ``advisor`` command: the only package that prints or exits, one module per command.

Exit codes: 0 nothing at or above ``--fail-on``; 1 findings at or above it; 2 bad usage or
an unreadable input (the others are still scanned and reported); 3 an internal error (a bug:
please report it); 130 interrupted.

Importing this package imports no typer: a plain ``advisor capture ... -- COMMAND`` runs
without it (:mod:`advisor.cli.capture_argv`); ``app`` is built on first use.
"""

from __future__ import annotations

import sys
from typing import Any

from advisor.cli.edge import guarded

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point: run the command, turn errors into messages and exit codes."""
    args = sys.argv[1:]
    if args[:1] == ["capture"]:
        from advisor.cli.capture_argv import parse_plain, run_capture

        plain = parse_plain(args[1:])
        if plain is not None:
            guarded(lambda: run_capture(plain))
    from advisor.cli.root import run_app

    guarded(run_app)


def __getattr__(name: str) -> Any:
    # ``app``: the typer app with its commands, imported only when asked for.
    if name == "app":
        from advisor.cli.root import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
