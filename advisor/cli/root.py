"""The typer app with every command, and its run: typer's exceptions become exit codes."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from advisor import __version__
from advisor.cli import capture, ci, demo, review, rules, scan
from advisor.cli.common import app, out

__all__ = ["app", "run_app"]
_COMMANDS = (scan, review, ci, rules, capture, demo)  # imported for their @app.command


def _version(value: bool) -> None:
    if value:
        out.print(f"advisor (db-advisor) {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """advisor: a database optimization advisor for Python services on PostgreSQL."""


def run_app() -> int:
    """Run the app on ``sys.argv``; the exit code (advisor's errors are the caller's)."""
    # sqlglot logs a warning for every statement it falls back on; the report says it instead.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    try:
        # Without standalone mode, click returns a command's typer.Exit code instead of exiting.
        code = app(standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        raise KeyboardInterrupt from None
    except typer.TyperException as exc:
        # Usage errors (unknown option, missing argument): typer's own message and usage.
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            sys.stderr.write(f"advisor: error: {exc}\n")
        return 2
    return code if isinstance(code, int) else 0
