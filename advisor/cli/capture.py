"""``advisor capture -o FILE -- COMMAND``: run an app with every engine captured."""

from __future__ import annotations

from typing import Annotated

import typer

from advisor.cli.common import app, err, load_cfg, split_values
from advisor.errors import ConfigError

__all__ = ["capture"]


@app.command(
    "capture",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def capture(
    ctx: typer.Context,
    output: Annotated[str, typer.Option("--output", "-o", help="Capture file (.jsonl).")],
    keep_params: Annotated[
        bool, typer.Option(help="Keep parameter values (redacted by default).")
    ] = False,
    call_sites: Annotated[bool, typer.Option(help="Record the application line.")] = True,
    app_package: Annotated[
        list[str] | None,
        typer.Option(
            "--app-package",
            help="An installed package that is application code (repeatable; default:"
            " app-packages of \\[tool.advisor]).",
        ),
    ] = None,
) -> None:
    """Run COMMAND with every SQLAlchemy engine captured: advisor capture -o F -- COMMAND..."""
    packages = tuple(split_values(app_package)) if app_package else None
    if packages is None:
        packages = load_cfg(None).app_packages
    from advisor.capture.run import run_command

    argv = list(ctx.args)
    if not argv:
        raise ConfigError("capture: no command given; usage: advisor capture -o FILE -- COMMAND")
    done = run_command(
        output, argv, keep_params=keep_params, call_sites=call_sites, app_packages=packages
    )
    written = f"{output} ({done.statements} statements)"
    problem = done.problem()
    if problem is None:
        err.print(
            f"advisor: capture written to {written}", style="dim", markup=False, soft_wrap=True
        )
    else:
        err.print(f"advisor: {problem}; capture written to {written}", markup=False, soft_wrap=True)
    raise typer.Exit(done.exit_code)
