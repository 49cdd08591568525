"""The ``advisor`` command: the only package that prints or exits, one module per command.

Exit codes: 0 nothing at or above ``--fail-on``; 1 findings at or above it; 2 bad usage or
an unreadable input (the others are still scanned and reported); 3 an internal error (a bug:
please report it); 130 interrupted.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated

import typer

from advisor import __version__
from advisor.cli import capture, ci, demo, review, rules, scan
from advisor.cli.common import app, fail, out
from advisor.errors import AdvisorError

__all__ = ["app", "main"]
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


def main() -> None:
    """Console-script entry point: run the app, turn errors into messages and exit codes."""
    # sqlglot logs a warning for every statement it falls back on; the report says it instead.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    try:
        # Without standalone mode, click returns a command's typer.Exit code instead of exiting.
        code = app(standalone_mode=False)
    except AdvisorError as exc:
        fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        fail("interrupted", 130)
    except typer.TyperException as exc:
        # Usage errors (unknown option, missing argument): typer's own message and usage.
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            fail(str(exc), 2)
        sys.exit(2)
    except Exception as exc:
        if os.environ.get("ADVISOR_DEBUG"):
            raise
        fail(
            f"internal error: {type(exc).__name__}: {exc}; rerun with ADVISOR_DEBUG=1 "
            "and report it",
            3,
        )
    sys.exit(code if isinstance(code, int) else 0)
