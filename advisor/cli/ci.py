"""``advisor baseline create`` and ``advisor comment``: what CI runs around a scan."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from advisor.cli.common import app, err, load_cfg, scan_options
from advisor.errors import ConfigError

__all__ = ["baseline_app", "baseline_create", "comment"]

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
    from advisor.scan import scan as run_scan
    from advisor.triage.baseline import baseline_document, finding_key, read_keys
    from advisor.triage.suppress import apply_suppressions

    root = str(Path.cwd())
    if report is not None:
        keys = read_keys(report)
    else:
        cfg = load_cfg(config)
        options = scan_options(
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
