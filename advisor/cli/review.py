"""``advisor verify MIGRATION``: a migration applied in the sandbox, the workload measured."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from advisor.cli.common import app, load_cfg, print_to, progress_bar, scan_options, write_text

__all__ = ["ReviewFormat", "verify_migration"]


class ReviewFormat(StrEnum):
    """Output formats of ``advisor verify``."""

    text = "text"
    json = "json"


@app.command("verify")
def verify_migration(
    migration: Annotated[Path, typer.Argument(help="The migration: a plain SQL file.")],
    workload: Annotated[
        list[str] | None,
        typer.Option(
            "--workload", "-w", help="Capture .jsonl or SQL file of the queries (repeatable)."
        ),
    ] = None,
    schema: Annotated[
        str | None, typer.Option("--schema", help="DDL file (and seed rows) for the sandbox.")
    ] = None,
    dsn: Annotated[
        str | None,
        typer.Option("--dsn", help="Live database URL, read-only (schema, statistics, data)."),
    ] = None,
    pg_stat_statements: Annotated[
        bool,
        typer.Option(
            "--pg-stat-statements", help="Also take the workload from pg_stat_statements."
        ),
    ] = False,
    sandbox: Annotated[
        str | None,
        typer.Option(help="Throwaway PostgreSQL: auto, local, docker, embedded or a URL."),
    ] = None,
    fmt: Annotated[ReviewFormat, typer.Option("--format", help="Report format.")] = (
        ReviewFormat.text
    ),
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="Write the report here (default stdout).")
    ] = None,
    runs: Annotated[
        int, typer.Option(min=1, help="Runs per query (the first warms the cache).")
    ] = 3,
    time_box: Annotated[
        float, typer.Option("--time-box", min=1.0, help="Time box per run (ms).")
    ] = 5_000.0,
    fail_on_slower: Annotated[
        bool,
        typer.Option(help="Exit 1 when a query got slower or fails after the migration."),
    ] = True,
    config: Annotated[Path | None, typer.Option(help="Config file.")] = None,
) -> None:
    """Apply MIGRATION in a sandbox on the same data and report which queries got faster
    or slower, by how much, with their plans. The --dsn database is only read."""
    from advisor.report import migration as review_report
    from advisor.scan import review

    cfg = load_cfg(config)
    options = scan_options(
        cfg,
        workload,
        sandbox=sandbox,
        schema_file=schema,
        dsn=dsn,
        pg_stat_statements=pg_stat_statements,
        verify_runs=runs,
        time_box_ms=time_box,
    )
    with progress_bar() as progress:
        reviewed = review(options, str(migration), progress)
    if fmt is ReviewFormat.json:
        document = review_report.to_json(reviewed, root=str(Path.cwd()))
        write_text(json.dumps(document, indent=2) + "\n", output)
    else:
        print_to(review_report.render(reviewed), output)
    bad = reviewed.of("slower") or reviewed.broken
    raise typer.Exit(1 if fail_on_slower and bad else 0)
