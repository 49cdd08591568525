"""The ``advisor`` command: the only module that prints or exits.

Exit codes: 0 nothing at or above ``--fail-on``; 1 findings at or above it; 2 bad usage or
an unreadable input (the others are still scanned and reported); 3 an internal error (a bug:
please report it); 130 interrupted.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console

from advisor import __version__
from advisor.errors import AdvisorError, ConfigError
from advisor.model import ScanResult, Severity

if TYPE_CHECKING:
    from advisor.config import Config
    from advisor.scan import ScanOptions

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
    from advisor.config import find_config, load_config
    from advisor.scan import scan as run_scan
    from advisor.scan import write_migrations_of
    from advisor.suggest.choose import parse_size
    from advisor.triage import triage

    if baseline is not None and diff_against is not None:
        raise ConfigError("--baseline and --diff-against: give one of them")
    pairs = _pair_outputs(list(formats or [Format.text]), list(outputs or []))
    cfg = load_config(config if config is not None else find_config(Path.cwd()))
    if workers is not None:
        cfg = _with_workers(cfg, workers)
    threshold = _fail_on(fail_on or cfg.fail_on or "never")
    options = _scan_options(
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
    with _progress() as progress:
        result = run_scan(options, progress)
    for warning in result.warnings:
        _stderr_line("warning", warning)
    root = str(Path.cwd())
    result = triage(result, cfg.suppress, baseline=baseline, diff_against=diff_against, root=root)
    rejected = [s for s in result.skipped if s.input_rejected]
    for skipped in rejected:
        _error_line(f"{skipped.source.path}: {skipped.reason}")
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


def _scan_options(
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
        select=tuple(_split(select)) if select else cfg.select,
        ignore=tuple(_split(ignore)) if ignore else cfg.ignore,
        rule_options=cfg.rule_options,
        stdin_text=_read_stdin() if "-" in srcs else None,
        **fields,
    )


def _rows(values: list[str]) -> dict[str, int]:
    """``--rows orders=1000000`` (repeatable, or comma-separated) as ``{"orders": 1000000}``."""
    rows: dict[str, int] = {}
    for item in _split(values):
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

        _print(render(result, verbose=verbose, limit=limit), output)
        return
    from advisor.report import render_document

    _write_text(render_document(result, fmt.value, root=root), output)


def _print(renderable: Any, output: str | None) -> None:
    """A rich renderable to stdout, or to ``output`` at a fixed width."""
    if output is None or output == "-":
        out.print(renderable)
        return
    with _opened(output) as handle:
        Console(file=handle, highlight=False, width=100).print(renderable)


def _write_text(text: str, output: str | None) -> None:
    if output is None or output == "-":
        sys.stdout.write(text)
        return
    with _opened(output) as handle:
        handle.write(text)


@contextlib.contextmanager
def _opened(output: str) -> Iterator[Any]:
    try:
        handle = open(output, "w", encoding="utf-8")  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise ConfigError(
            f"--output {output}: cannot write ({exc.strerror}); check the path"
        ) from exc
    with handle:
        yield handle


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
    from advisor.config import find_config, load_config
    from advisor.report import migration as review_report
    from advisor.scan import review

    cfg = load_config(config if config is not None else find_config(Path.cwd()))
    options = _scan_options(
        cfg,
        workload,
        sandbox=sandbox,
        schema_file=schema,
        dsn=dsn,
        pg_stat_statements=pg_stat_statements,
        verify_runs=runs,
        time_box_ms=time_box,
    )
    with _progress() as progress:
        reviewed = review(options, str(migration), progress)
    if fmt is ReviewFormat.json:
        document = review_report.to_json(reviewed, root=str(Path.cwd()))
        _write_text(json.dumps(document, indent=2) + "\n", output)
    else:
        _print(review_report.render(reviewed), output)
    bad = reviewed.of("slower") or reviewed.broken
    raise typer.Exit(1 if fail_on_slower and bad else 0)


baseline_app = typer.Typer(help="Record the current findings, so later scans report only new ones.")
app.add_typer(baseline_app, name="baseline")


@baseline_app.command("create")
def baseline_create(
    file: Annotated[Path, typer.Argument(help="The baseline file to write (JSON).")],
    sources: Annotated[
        list[str] | None,
        typer.Argument(help="SQL files, capture .jsonl files, or - for stdin.", show_default=False),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(help="Take the findings from this JSON report instead of scanning."),
    ] = None,
    schema: Annotated[str | None, typer.Option("--schema", help="DDL file.")] = None,
    metadata: Annotated[
        str | None, typer.Option("--metadata", help="SQLAlchemy metadata as package.module:Base.")
    ] = None,
    dsn: Annotated[str | None, typer.Option("--dsn", help="Live database URL, read-only.")] = None,
    pg_stat_statements: Annotated[
        bool,
        typer.Option("--pg-stat-statements", help="Take the workload from pg_stat_statements."),
    ] = False,
    sandbox: Annotated[str | None, typer.Option(help="Throwaway PostgreSQL to use.")] = None,
    config: Annotated[Path | None, typer.Option(help="Config file.")] = None,
) -> None:
    """Write FILE with the findings of a scan (or of --report), keyed without line numbers."""
    from advisor.config import find_config, load_config
    from advisor.scan import scan as run_scan
    from advisor.triage.baseline import baseline_document, finding_key, read_keys
    from advisor.triage.suppress import apply_suppressions

    root = str(Path.cwd())
    if report is not None:
        keys = read_keys(report)
    else:
        cfg = load_config(config if config is not None else find_config(Path.cwd()))
        options = _scan_options(
            cfg,
            sources,
            sandbox=sandbox,
            schema_file=schema,
            metadata=metadata,
            dsn=dsn,
            pg_stat_statements=pg_stat_statements,
        )
        result = run_scan(options)
        result = apply_suppressions(result, cfg.suppress, root)
        keys = tuple(finding_key(f, root) for f in result.findings)
    document = baseline_document(keys)
    try:
        file.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{file}: cannot write the baseline ({exc.strerror})") from exc
    err.print(f"advisor: baseline of {len(document['findings'])} finding(s) written to {file}")


@app.command("comment")
def comment(
    report: Annotated[Path, typer.Option("--report", help="A JSON report (advisor scan).")],
    repo: Annotated[
        str | None, typer.Option("--repo", help="OWNER/NAME (default: $GITHUB_REPOSITORY).")
    ] = None,
    pr: Annotated[
        int | None, typer.Option("--pr", help="Pull request number (default: from the event).")
    ] = None,
) -> None:
    """Create or update the one advisor comment on a pull request (GITHUB_TOKEN).

    When the token cannot write (a pull request from a fork), the findings go out as
    annotations and into $GITHUB_STEP_SUMMARY instead, with a note saying why.
    """
    from advisor.ci.github import CommentForbidden, find_pull_request, post_report, token_from
    from advisor.report import github, markdown

    document = _read_report(report)
    body = markdown.render(document)
    token = token_from(os.environ)
    if not token:
        raise ConfigError("comment: GITHUB_TOKEN is not set; pass the workflow's token in env")
    target = find_pull_request(os.environ, repo, pr)
    try:
        action, url = post_report(target, body, markdown.MARKER, token)
    except CommentForbidden as exc:
        note = (
            f"advisor could not comment on pull request #{target.number}: {exc}. "
            "The report is in this job summary and as annotations instead."
        )
        sys.stdout.write(github.render(document))
        sys.stdout.write(f"::warning title=advisor comment::{github.escape_data(note)}\n")
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary:
            with open(summary, "a", encoding="utf-8") as handle:
                handle.write(f"> **Note:** {note}\n\n{body}\n")
        return
    err.print(f"advisor: comment {action}: {url}")


def _read_report(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such report; write one with --format json") from exc
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"{path}: not a JSON report ({exc}); use --format json") from exc
    if not isinstance(data, dict) or data.get("format") != "advisor-report":
        raise ConfigError(f"{path}: not an advisor JSON report; use advisor scan --format json")
    return data


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
    from advisor.config import find_config, load_config

    packages = tuple(_split(app_package)) if app_package else None
    if packages is None:
        packages = load_config(find_config(Path.cwd())).app_packages
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


@contextlib.contextmanager
def _progress() -> Iterator[Callable[[str, int, int], None] | None]:
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


def _stderr_line(kind: str, message: str) -> None:
    # Plain write: a one-line message must stay one line whatever the terminal width.
    sys.stderr.write(f"advisor: {kind}: {' '.join(message.split())}\n")


def _error_line(message: str) -> None:
    _stderr_line("error", message)


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
