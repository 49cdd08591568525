"""What every command shares: the app, the consoles, writing outputs and one-line messages
(those, the config and the exit codes from :mod:`advisor.cli.edge`, which needs no typer)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from advisor.cli.edge import error_line, fail, load_cfg, split_values, stderr_line
from advisor.errors import ConfigError

if TYPE_CHECKING:
    from advisor.config import Config
    from advisor.scan import ScanOptions

__all__ = [
    "app",
    "err",
    "error_line",
    "fail",
    "load_cfg",
    "opened",
    "out",
    "print_to",
    "progress_bar",
    "read_stdin",
    "scan_options",
    "split_values",
    "stderr_line",
    "write_text",
]

app = typer.Typer(
    name="advisor",
    help="Find N+1 loops, SELECT * on wide tables and missing indexes in PostgreSQL workloads.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def scan_options(
    cfg: Config,
    sources: list[str] | None,
    *,
    sandbox: str | None = None,
    select: list[str] | None = None,
    ignore: list[str] | None = None,
    **fields: Any,
) -> ScanOptions:
    """``ScanOptions`` from the command line, with the config filling what it leaves out."""
    from advisor.scan import ScanOptions

    srcs = tuple(sources or ())
    return ScanOptions(
        sources=srcs,
        sandbox=sandbox or cfg.sandbox or "auto",
        select=tuple(split_values(select)) if select else cfg.select,
        ignore=tuple(split_values(ignore)) if ignore else cfg.ignore,
        rule_options=cfg.rule_options,
        stdin_text=read_stdin() if "-" in srcs else None,
        **fields,
    )


def print_to(renderable: Any, output: str | None) -> None:
    """A rich renderable to stdout, or to ``output`` at a fixed width."""
    if output is None or output == "-":
        out.print(renderable)
        return
    with opened(output) as handle:
        Console(file=handle, highlight=False, width=100).print(renderable)


def write_text(text: str, output: str | None) -> None:
    """``text`` to stdout, or into the file ``output``."""
    if output is None or output == "-":
        sys.stdout.write(text)
        return
    with opened(output) as handle:
        handle.write(text)


@contextlib.contextmanager
def opened(output: str) -> Iterator[Any]:
    """``output`` open for writing; an unwritable path is a one-line ConfigError."""
    try:
        handle = open(output, "w", encoding="utf-8")  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise ConfigError(
            f"--output {output}: cannot write ({exc.strerror}); check the path"
        ) from exc
    with handle:
        yield handle


def read_stdin() -> str:
    """Standard input as text (the ``-`` source)."""
    # Undecodable bytes become U+FFFD: the statements around them still parse.
    return sys.stdin.buffer.read().decode("utf-8", errors="replace")


@contextlib.contextmanager
def progress_bar() -> Iterator[Callable[[str, int, int], None] | None]:
    """A rich progress bar on a terminal; nothing when stderr is not one or CI is set."""
    if not err.is_terminal or os.environ.get("CI", "").lower() in ("1", "true"):
        yield None
        return
    from rich.progress import Progress

    with Progress(console=err, transient=True) as bar:
        task = bar.add_task("verifying", total=None)

        def tell(what: str, done: int, total: int) -> None:
            bar.update(task, description=what, completed=done, total=total or None)

        yield tell
