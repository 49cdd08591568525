"""``advisor scan``: the pipeline from the command line, and its report formats."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from advisor.cli.common import (
    app,
    error_line,
    load_cfg,
    print_to,
    progress_bar,
    scan_options,
    split_values,
    stderr_line,
    write_text,
)
from advisor.errors import ConfigError

if TYPE_CHECKING:
    from advisor.config import Config
    from advisor.model import ScanResult, Severity

__all__ = ["DataSource", "Format", "MigrationFormat", "scan"]


class DataSource(StrEnum):
    """Where ``--verify`` takes the rows it measures on."""

    auto = "auto"
    copy = "copy"
    generate = "generate"
    seed = "seed"


class Format(StrEnum):
    """Output formats of ``advisor scan``."""

    text = "text"
    json = "json"
    markdown = "markdown"
    sarif = "sarif"
    github = "github"
    gitlab = "gitlab"
    html = "html"


class MigrationFormat(StrEnum):
    """Migration file formats of ``advisor scan --migrations-dir``."""

    sql = "sql"
    alembic = "alembic"


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
    formats: Annotated[
        list[Format] | None,
        typer.Option(
            "--format", help="Report format; repeat it, with one --output each, for several."
        ),
    ] = None,
    outputs: Annotated[
        list[str] | None,
        typer.Option(
            "--output", "-o", help="File for the matching --format (stdout when left out)."
        ),
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(help="Report only findings not in this baseline (advisor baseline create)."),
    ] = None,
    diff_against: Annotated[
        Path | None,
        typer.Option(help="An older JSON report: show only what this scan adds and resolves."),
    ] = None,
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
        Path | None, typer.Option(help="Config file (default: \\[tool.advisor] of pyproject.toml).")
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Say why each query got no suggestion.")
    ] = False,
    max_indexes: Annotated[
        int | None, typer.Option(min=0, help="Index choice: at most this many new indexes.")
    ] = None,
    max_index_size: Annotated[
        str | None, typer.Option(help="Index choice: total size of new indexes, e.g. 50MB.")
    ] = None,
    verify: Annotated[
        bool | None,
        typer.Option(
            "--verify/--no-verify",
            help="Measure each suggested index with EXPLAIN ANALYZE in a sandbox; keep the ones "
            "that help.",
            show_default=False,
        ),
    ] = None,
    verify_runs: Annotated[
        int, typer.Option(min=1, help="--verify: runs per query (the first warms the cache).")
    ] = 3,
    time_box: Annotated[
        float, typer.Option("--time-box", min=1.0, help="--verify: time box per run (ms).")
    ] = 5_000.0,
    keep_threshold: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="--verify: keep an index that saves at least this fraction."
        ),
    ] = 0.2,
    data: Annotated[
        DataSource,
        typer.Option(
            "--data",
            help="--verify: the rows to measure on: copied from --dsn, generated to size, "
            "a --seed script (auto: copy with --dsn, else the --schema file's own rows, else "
            "generate).",
        ),
    ] = DataSource.auto,
    rows: Annotated[
        list[str] | None,
        typer.Option(
            "--rows", help="--verify: rows to generate for a table, TABLE=N (repeatable)."
        ),
    ] = None,
    seed: Annotated[
        str | None, typer.Option("--seed", help="--verify --data seed: the SQL seed script.")
    ] = None,
    ignore_library: Annotated[
        bool,
        typer.Option(
            "--ignore-library",
            help="Leave out findings whose line is in an installed package (not your code).",
        ),
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
    workers: Annotated[
        int | None,
        typer.Option(
            min=1, help="Processes that each hold a connection pool (ADV009's `workers`)."
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option(help="Findings the text report prints (0: all; JSON keeps all).")
    ] = 15,
) -> None:
    """Scan queries for problems and suggest fixes."""
    from advisor.scan import scan as run_scan
    from advisor.scan import write_migrations_of
    from advisor.suggest.choose import parse_size
    from advisor.triage import triage

    if baseline is not None and diff_against is not None:
        raise ConfigError("--baseline and --diff-against: give one of them")
    pairs = _pair_outputs(list(formats or [Format.text]), list(outputs or []))
    cfg = load_cfg(config)
    if workers is not None:
        cfg = _with_workers(cfg, workers)
    threshold = _fail_on(fail_on or cfg.fail_on or "never")
    options = scan_options(
        cfg,
        sources,
        sandbox=sandbox,
        select=select,
        ignore=ignore,
        schema_file=schema,
        metadata=metadata,
        dsn=dsn,
        pg_stat_statements=pg_stat_statements,
        min_calls=min_calls,
        min_total_ms=min_total_time,
        max_indexes=max_indexes,
        max_index_bytes=parse_size(max_index_size) if max_index_size is not None else None,
        verify=cfg.verify if verify is None else verify,
        verify_runs=verify_runs,
        time_box_ms=time_box,
        keep_threshold=keep_threshold,
        data_mode=data.value,
        rows=_rows(rows or []),
        seed_script=seed,
        ignore_library=ignore_library or cfg.ignore_library,
        migrations_dir=str(migrations_dir) if migrations_dir is not None else None,
        migration_format=migration_format.value,
        alembic_dir=str(alembic_dir) if alembic_dir is not None else None,
    )
    with progress_bar() as progress:
        result = run_scan(options, progress)
    for warning in result.warnings:
        stderr_line("warning", warning)
    root = str(Path.cwd())
    result = triage(result, cfg.suppress, baseline=baseline, diff_against=diff_against, root=root)
    rejected = [s for s in result.skipped if s.input_rejected]
    for skipped in rejected:
        error_line(f"{skipped.source.path}: {skipped.reason}")
    result = write_migrations_of(result, options)
    for fmt, output in pairs:
        _write_report(result, fmt, output, root=root, verbose=verbose, limit=limit)
    if migrations_dir is not None:
        # Plain write: a long path must not be wrapped onto a second line.
        written = f"{len(result.migrations)} migration files" if result.migrations else "nothing"
        sys.stderr.write(f"advisor: {written} written to {migrations_dir}\n")
    raise typer.Exit(2 if rejected else _exit_code(result, threshold))


def _with_workers(cfg: Config, workers: int) -> Config:
    """``cfg`` with ``--workers`` set as ADV009's ``workers`` option (over the config's)."""
    import dataclasses

    options = dict(cfg.rule_options)
    options["ADV009"] = {**options.get("ADV009", {}), "workers": workers}
    return dataclasses.replace(cfg, rule_options=options)


def _rows(values: list[str]) -> dict[str, int]:
    """``--rows orders=1000000`` (repeatable, or comma-separated) as ``{"orders": 1000000}``."""
    rows: dict[str, int] = {}
    for item in split_values(values):
        table, _, count = item.partition("=")
        if not table.strip() or not count.strip().replace("_", "").isdigit():
            raise ConfigError(f"--rows {item!r}: write TABLE=N, e.g. --rows orders=1000000")
        rows[table.strip()] = int(count.strip().replace("_", ""))
    return rows


def _pair_outputs(formats: list[Format], outputs: list[str]) -> list[tuple[Format, str | None]]:
    """The k-th --output goes with the k-th --format; formats left over go to stdout."""
    if len(outputs) > len(formats):
        raise ConfigError(
            f"{len(outputs)} --output for {len(formats)} --format: give a --format for each"
        )
    pairs: list[tuple[Format, str | None]] = [
        (fmt, outputs[i] if i < len(outputs) else None) for i, fmt in enumerate(formats)
    ]
    to_stdout = [fmt.value for fmt, output in pairs if output is None or output == "-"]
    if len(to_stdout) > 1:
        raise ConfigError(
            f"--format {' and '.join(to_stdout)} would both go to stdout; give --output FILE "
            "for all but one"
        )
    return pairs


def _write_report(
    result: ScanResult,
    fmt: Format,
    output: str | None,
    *,
    root: str,
    verbose: bool,
    limit: int = 15,
) -> None:
    if fmt is Format.text:
        from advisor.report.text import render

        print_to(render(result, verbose=verbose, limit=limit), output)
        return
    from advisor.report import render_document

    write_text(render_document(result, fmt.value, root=root), output)


def _fail_on(value: str) -> Severity | None:
    # Imported here: `advisor capture` and `advisor --version` need none of the model.
    from advisor.model import Severity

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
