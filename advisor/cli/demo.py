"""``advisor demo``: the example service, slow, scanned, fixed and measured again."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from advisor.cli.common import app, err, out
from advisor.errors import ConfigError

__all__ = ["demo"]


@app.command("demo")
def demo(
    size: Annotated[
        str, typer.Option(help="Data size: full (400,000 events) or small (a quick run).")
    ] = "full",
    requests: Annotated[int, typer.Option(help="Requests per run (after a warm-up).")] = 1200,
    concurrency: Annotated[int, typer.Option(help="Requests in flight at once.")] = 16,
    sandbox: Annotated[
        str, typer.Option(help="Throwaway PostgreSQL: auto, local, docker, embedded or a URL.")
    ] = "auto",
    workdir: Annotated[
        Path | None, typer.Option(help="Keep captures, logs and migrations here.")
    ] = None,
) -> None:
    """Run the example FastAPI service slow, scan it, apply the fixes, and measure again."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from advisor.demo import DemoOptions, run_demo
    from advisor.report.demo import demo_table
    from advisor.report.text import render

    if size not in ("full", "small"):
        raise ConfigError(f"--size {size!r}: use full or small")
    options = DemoOptions(
        size=size, requests=requests, concurrency=concurrency, sandbox=sandbox, workdir=workdir
    )
    interactive = err.is_terminal and not os.environ.get("CI")
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        console=err, transient=True, disable=not interactive,
    ) as bar:  # fmt: skip
        task = bar.add_task("requests", total=requests, visible=False)

        def step(message: str) -> None:
            bar.update(task, visible=False, completed=0)
            err.print(f"advisor demo: {message}", style="dim")

        def load(done: int, total: int) -> None:
            bar.update(task, visible=True, completed=done, total=total)

        result = run_demo(options, progress=step, load_progress=load)
    out.print(render(result.scan))
    out.print()
    out.print(demo_table(result), markup=False)
    out.print(f"captures, logs and migrations: {result.workdir}", style="dim")
