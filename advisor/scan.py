"""``advisor scan``: the pipeline end to end, as one function over plain data.

:mod:`advisor.sources` -> :func:`advisor.workload.build_workload` (parse once per shape)
-> rules -> suggestions -> :class:`advisor.model.ScanResult`. This module only orders the
stages; each input's reader is chosen in :mod:`advisor.sources`. Nothing here prints;
the CLI renders.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advisor.errors import InputError
from advisor.model import Finding, Note, ScanResult, Schema
from advisor.sources import PgStatStatements, capture_schema, check_readable, read_sources

__all__ = ["ScanOptions", "load_schema", "scan"]


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """What to scan and against which schema; mirrors ``advisor scan``'s options."""

    sources: tuple[str, ...] = ()
    schema_file: str | None = None
    metadata: str | None = None
    dsn: str | None = None
    pg_stat_statements: bool = False
    min_calls: int = 1
    min_total_ms: float = 0.0
    sandbox: str = "auto"
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    rule_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    stdin_text: str | None = None


def scan(options: ScanOptions) -> ScanResult:
    """Run the whole scan; raises :class:`advisor.errors.AdvisorError` on bad usage only.

    Unreadable statements and lines become ``skipped`` entries; the scan goes on.
    """
    from advisor.rules import run_rules, select_rules
    from advisor.sources.capture_pools import sources_pools
    from advisor.suggest import collect_suggestions
    from advisor.workload import build_workload

    if not options.sources and not options.pg_stat_statements:
        raise InputError(
            "no input: give SQL or capture files, '-' for stdin, or --pg-stat-statements"
        )
    if options.pg_stat_statements and not options.dsn:
        raise InputError("--pg-stat-statements needs --dsn URL of the database to read it from")
    for source in options.sources:
        check_readable(source)
    rules = select_rules(options.select, options.ignore)
    schema, sandbox = load_schema(options)
    databases = _databases(options)
    items = read_sources(options.sources, stdin_text=options.stdin_text, databases=databases)
    workload = build_workload(items, schema)
    pools = sources_pools(options.sources)
    if pools:
        workload = dataclasses.replace(workload, pools=pools)
    outcomes = run_rules(
        rules, workload, schema, options=options.rule_options, live=schema.source == "dsn"
    )
    findings = tuple(o for o in outcomes if isinstance(o, Finding))
    notes = tuple(o for o in outcomes if isinstance(o, Note))
    return ScanResult(
        findings=findings,
        suggestions=collect_suggestions(findings),
        notes=notes,
        skipped=workload.skipped,
        workload=workload,
        schema=schema,
        sandbox=sandbox,
        sources=options.sources + tuple(source.name for source in databases),
    )


def _databases(options: ScanOptions) -> tuple[PgStatStatements, ...]:
    if not (options.pg_stat_statements and options.dsn):
        return ()
    return (PgStatStatements(options.dsn, options.min_calls, options.min_total_ms),)


def load_schema(options: ScanOptions) -> tuple[Schema, str | None]:
    """The schema from ``--dsn``, ``--schema``/``--metadata`` (through a sandbox), or the
    first capture file's header; an empty schema when none is given.

    Returns the schema and the sandbox's one-line description when one was used.
    """
    if options.dsn:
        from advisor.schema.introspect import read_schema

        return read_schema(options.dsn, source="dsn"), None
    if options.schema_file or options.metadata:
        from advisor.sandbox import open_sandbox
        from advisor.schema import schema_from_ddl, schema_from_metadata

        if options.schema_file:
            check_readable(options.schema_file)
        with open_sandbox(options.sandbox) as sandbox:
            if options.schema_file:
                schema = schema_from_ddl(Path(options.schema_file), sandbox)
            else:
                schema = schema_from_metadata(str(options.metadata), sandbox)
            return schema, sandbox.description
    snapshot = capture_schema(options.sources)
    return (Schema() if snapshot is None else snapshot), None
