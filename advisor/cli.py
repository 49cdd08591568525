"""The ``advisor`` command: the only module that prints or exits.

Exit codes: 0 nothing at or above ``--fail-on``; 1 findings at or above it; 2 bad usage or
an unreadable input (the others are still scanned and reported); 3 an internal error (a bug:
please report it); 130 interrupted.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from advisor import __version__
from advisor.errors import AdvisorError, ConfigError
from advisor.model import ScanResult, Severity

__all__ = ["app", "main"]

app = typer.Typer(
    name="advisor",
    help="Find N+1 loops, SELECT * on wide tables and missing indexes in PostgreSQL workloads.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


class Format(StrEnum):
    """Output formats of ``advisor scan``."""

    text = "text"
    json = "json"


class MigrationFormat(StrEnum):
    """Migration file formats of ``advisor scan --migrations-dir``."""

    sql = "sql"
    alembic = "alembic"


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


@app.command()
def scan(
    sources: Annotated[
        list[str] | None,
        typer.Argument(help="SQL files, capture .jsonl files, or - for stdin.", show_default=False),
    ] = None,
    schema: Annotated[
        str | None, typer.Option("--schema", help="DDL file, applied to a throwaway PostgreSQL.")
    ] = None,
    metadata: Annotated[
        str | None,
        typer.Option("--metadata", help="SQLAlchemy metadata as package.module:Base."),
    ] = None,
    dsn: Annotated[
        str | None,
        typer.Option("--dsn", help="Live database URL, read-only (schema and statistics)."),
    ] = None,
    pg_stat_statements: Annotated[
        bool,
        typer.Option("--pg-stat-statements", help="Take the workload from pg_stat_statements."),
    ] = False,
    min_calls: Annotated[int, typer.Option(help="pg_stat_statements: minimum calls.")] = 1,
    min_total_time: Annotated[
        float, typer.Option(help="pg_stat_statements: minimum total time (ms).")
    ] = 0.0,
    sandbox: Annotated[
        str | None,
        typer.Option(help="Throwaway PostgreSQL: auto, local, docker, embedded or a URL."),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Report format.")] = Format.text,
    fail_on: Annotated[
        str | None,
        typer.Option(help="Exit 1 on findings at or above: info, low, medium, high, never."),
    ] = None,
    select: Annotated[
        list[str] | None, typer.Option(help="Rules to run (codes or names; repeatable).")
    ] = None,
    ignore: Annotated[
        list[str] | None, typer.Option(help="Rules to skip (codes or names; repeatable).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="Config file (default: [tool.advisor] of pyproject.toml).")
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Say why each query got no suggestion.")
    ] = False,
    migrations_dir: Annotated[
        Path | None,
        typer.Option(help="Write one migration per suggested index into this directory."),
    ] = None,
    migration_format: Annotated[
        MigrationFormat, typer.Option(help="Migration files: plain SQL (up/down) or Alembic.")
    ] = MigrationFormat.sql,
    alembic_dir: Annotated[
        Path | None,
        typer.Option(
            help="The Alembic project (holding versions/) whose head the revisions follow."
        ),
    ] = None,
) -> None:
    """Scan queries for problems and suggest fixes."""
    from advisor.config import find_config, load_config
    from advisor.scan import ScanOptions
    from advisor.scan import scan as run_scan

    cfg = load_config(config if config is not None else find_config(Path.cwd()))
    srcs = tuple(sources or ())
    stdin_text = _read_stdin() if "-" in srcs else None
    options = ScanOptions(
        sources=srcs,
        schema_file=schema,
        metadata=metadata,
        dsn=dsn,
        pg_stat_statements=pg_stat_statements,
        min_calls=min_calls,
        min_total_ms=min_total_time,
        sandbox=sandbox or cfg.sandbox or "auto",
        select=tuple(_split(select)) if select else cfg.select,
        ignore=tuple(_split(ignore)) if ignore else cfg.ignore,
        rule_options=cfg.rule_options,
        stdin_text=stdin_text,
        migrations_dir=str(migrations_dir) if migrations_dir is not None else None,
        migration_format=migration_format.value,
        alembic_dir=str(alembic_dir) if alembic_dir is not None else None,
    )
    threshold = _fail_on(fail_on or cfg.fail_on or "never")
    result = run_scan(options)
    rejected = [s for s in result.skipped if s.input_rejected]
    for skipped in rejected:
        _error_line(f"{skipped.source.path}: {skipped.reason}")
    if fmt is Format.json:
        from advisor.report.json import to_json

        sys.stdout.write(json.dumps(to_json(result), indent=2) + "\n")
    else:
        from advisor.report.text import render

        out.print(render(result, verbose=verbose))
    if result.migrations:
        # Plain write: a long path must not be wrapped onto a second line.
        sys.stderr.write(
            f"advisor: {len(result.migrations)} migration files written to {migrations_dir}\n"
        )
    elif migrations_dir is not None:
        sys.stderr.write(f"advisor: no index to create: nothing written to {migrations_dir}\n")
    raise typer.Exit(2 if rejected else _exit_code(result, threshold))


@app.command("rules")
def list_rules() -> None:
    """List every rule: code, name, default severity and summary."""
    from advisor.rules import RULES

    for rule in RULES:
        out.print(f"{rule.code}  {rule.name:<28} {rule.severity.value:<7} {rule.summary}")


@app.command("rule")
def show_rule(
    code: Annotated[str, typer.Argument(help="A rule code (ADV001) or name (n-plus-one).")],
) -> None:
    """Print a rule's documentation."""
    from rich.markdown import Markdown

    from advisor.rules import find_rule

    rule = find_rule(code)
    out.print(Markdown(f"# {rule.code} {rule.name}\n\n{inspect.cleandoc(rule.doc)}"))
    if rule.options:
        out.print("Defaults: " + ", ".join(f"{k} = {v!r}" for k, v in rule.options.items()))


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
) -> None:
    """Run COMMAND with every SQLAlchemy engine captured: advisor capture -o F -- COMMAND..."""
    from advisor.capture.run import run_command

    argv = list(ctx.args)
    if not argv:
        raise ConfigError("capture: no command given; usage: advisor capture -o FILE -- COMMAND")
    code = run_command(output, argv, keep_params=keep_params, call_sites=call_sites)
    err.print(f"advisor: capture written to {output}", style="dim")
    raise typer.Exit(code)


def _read_stdin() -> str:
    # Undecodable bytes become U+FFFD: the statements around them still parse.
    return sys.stdin.buffer.read().decode("utf-8", errors="replace")


def _split(values: list[str]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def _fail_on(value: str) -> Severity | None:
    if value == "never":
        return None
    try:
        return Severity(value.lower())
    except ValueError as exc:
        raise ConfigError(
            f"--fail-on {value!r}: unknown severity; use info, low, medium, high or never"
        ) from exc


def _exit_code(result: ScanResult, threshold: Severity | None) -> int:
    if threshold is None:
        return 0
    return 1 if any(f.severity.rank >= threshold.rank for f in result.findings) else 0


def _error_line(message: str) -> None:
    # Plain write: a one-line message must stay one line whatever the terminal width.
    sys.stderr.write(f"advisor: error: {' '.join(message.split())}\n")


def _fail(message: str, code: int) -> NoReturn:
    _error_line(message)
    sys.exit(code)


def main() -> None:
    """Console-script entry point: run the app, turn errors into messages and exit codes."""
    # sqlglot logs a warning for every statement it falls back on; the report says it instead.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    try:
        # Without standalone mode, click returns a command's typer.Exit code instead of exiting.
        code = app(standalone_mode=False)
    except AdvisorError as exc:
        _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        _fail("interrupted", 130)
    except typer.TyperException as exc:
        # Usage errors (unknown option, missing argument): typer's own message and usage.
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            _fail(str(exc), 2)
        sys.exit(2)
    except Exception as exc:
        if os.environ.get("ADVISOR_DEBUG"):
            raise
        _fail(
            f"internal error: {type(exc).__name__}: {exc}; rerun with ADVISOR_DEBUG=1 "
            "and report it",
            3,
        )
    sys.exit(code if isinstance(code, int) else 0)
