"""``advisor capture -o FILE -- COMMAND``: run an app with every engine captured.

The typer command, for ``--help`` and usage errors; a plain command line takes the fast
path of :mod:`advisor.cli.capture_argv` (same options, same body) without typer.
"""

from __future__ import annotations

from typing import Annotated

import typer

from advisor.cli.capture_argv import (
    APP_PACKAGE,
    CALL_SITES,
    KEEP_PARAMS,
    OUTPUT,
    CaptureArgs,
    run_capture,
)
from advisor.cli.common import app

__all__ = ["capture"]


@app.command(
    "capture",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def capture(
    ctx: typer.Context,
    output: Annotated[str, typer.Option(*OUTPUT.decls, help=OUTPUT.help)],
    keep_params: Annotated[bool, typer.Option(*KEEP_PARAMS.decls, help=KEEP_PARAMS.help)] = False,
    call_sites: Annotated[bool, typer.Option(*CALL_SITES.decls, help=CALL_SITES.help)] = True,
    app_package: Annotated[
        list[str] | None, typer.Option(*APP_PACKAGE.decls, help=APP_PACKAGE.help)
    ] = None,
) -> None:
    """Run COMMAND with every SQLAlchemy engine captured: advisor capture -o F -- COMMAND..."""
    args = CaptureArgs(
        output=output,
        command=tuple(ctx.args),
        keep_params=keep_params,
        call_sites=call_sites,
        app_package=tuple(app_package) if app_package else None,
    )
    raise typer.Exit(run_capture(args))
