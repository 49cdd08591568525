"""``advisor scan``: the pipeline end to end, as one function over plain data.

:mod:`advisor.sources` -> :func:`advisor.workload.build_workload` (parse once per shape)
-> rules -> suggestions -> :class:`advisor.model.ScanResult`. This module only orders the
stages; each input's reader is chosen in :mod:`advisor.sources`. Nothing here prints;
the CLI renders.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from advisor.db import connect, run
from advisor.errors import ConfigError, InputError
from advisor.model import (
    DataOrigin,
    Finding,
    IndexSuggestion,
    Note,
    ScanResult,
    Schema,
    Workload,
)
from advisor.sources import PgStatStatements, capture_schema, check_readable, read_sources

if TYPE_CHECKING:
    from advisor.sandbox import Sandbox
    from advisor.verify.measure import VerifyOptions
    from advisor.verify.migration_review import MigrationReview

__all__ = ["Progress", "ScanOptions", "load_schema", "review", "scan"]

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """What to scan and against which schema; mirrors ``advisor scan``'s options.

    ``max_indexes`` / ``max_index_bytes`` are the workload-wide index choice's budget
    (:class:`advisor.suggest.choose.ChoiceBudget`).
    """

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
    max_indexes: int | None = None
    max_index_bytes: int | None = None
    verify: bool = False
    verify_runs: int = 3
    time_box_ms: float = 5_000.0
    keep_threshold: float = 0.2


def scan(options: ScanOptions, progress: Progress | None = None) -> ScanResult:
    """Run the whole scan; raises :class:`advisor.errors.AdvisorError` on bad usage only.

    Unreadable statements and lines become ``skipped`` entries; the scan goes on.
    With ``options.verify`` the suggestions are measured in a sandbox (``progress``
    hears each step as ``(what, done, total)``).
    """
    from advisor.rules import run_rules, select_rules
    from advisor.suggest import collect_suggestions

    if not options.sources and not options.pg_stat_statements:
        raise InputError(
            "no input: give SQL or capture files, '-' for stdin, or --pg-stat-statements"
        )
    if options.verify:
        _check_data_source(options, "--verify")
    rules = select_rules(options.select, options.ignore)
    schema, sandbox, workload = _workload(options)
    databases = _databases(options)
    outcomes = run_rules(
        rules, workload, schema, options=options.rule_options, live=schema.source == "dsn"
    )
    findings = tuple(o for o in outcomes if isinstance(o, Finding))
    notes = tuple(o for o in outcomes if isinstance(o, Note))
    result = ScanResult(
        findings=findings,
        suggestions=collect_suggestions(findings),
        notes=notes,
        skipped=workload.skipped,
        workload=workload,
        schema=schema,
        sandbox=sandbox,
        sources=options.sources + tuple(source.name for source in databases),
    )
    return _verified(result, options, progress) if options.verify else result


def review(
    options: ScanOptions, migration: str, progress: Progress | None = None
) -> MigrationReview:
    """``advisor verify``: apply the migration file ``migration`` in a sandbox database with
    the schema and data a ``--verify`` scan measures on, and measure the workload of
    ``options.sources`` (and pg_stat_statements) before and after it.

    The user's database (``options.dsn``) is only read. Raises
    :class:`advisor.errors.InputError` naming ``file:line`` when a statement fails.
    """
    from advisor.sandbox import open_sandbox
    from advisor.verify.migration_review import read_migration, review_migration

    statements = read_migration(migration)  # a bad file fails before a sandbox starts
    _check_data_source(options, "advisor verify")
    schema, described, workload = _workload(options)
    result = ScanResult((), (), (), workload.skipped, workload, schema, sources=options.sources)
    with (
        open_sandbox(options.sandbox) as sandbox,
        _prepare_data(sandbox, result, options) as (dsn, data),
    ):
        reviewed = review_migration(
            dsn,
            workload,
            migration,
            statements=statements,
            options=_verify_options(options),
            data=data,
            progress=progress,
        )
        description = sandbox.description
    return replace(reviewed, sandbox=described or description)


def _check_data_source(options: ScanOptions, what: str) -> None:
    """Measuring needs a sandbox database with the schema and rows; say what is missing."""
    if not options.schema_file:
        raise ConfigError(
            f"{what} needs --schema FILE (the DDL, and any seed rows) to build its "
            "sandbox database for now; give the schema file"
        )


def _workload(options: ScanOptions) -> tuple[Schema, str | None, Workload]:
    """The schema (and the sandbox that read it), then the workload of every input."""
    from advisor.workload import build_workload

    if options.pg_stat_statements and not options.dsn:
        raise InputError("--pg-stat-statements needs --dsn URL of the database to read it from")
    for source in options.sources:
        check_readable(source)
    schema, sandbox = load_schema(options)
    items = read_sources(
        options.sources, stdin_text=options.stdin_text, databases=_databases(options)
    )
    return schema, sandbox, build_workload(items, schema)


def _verify_options(options: ScanOptions) -> VerifyOptions:
    from advisor.verify.measure import VerifyOptions

    return VerifyOptions(
        runs=options.verify_runs, time_box_ms=options.time_box_ms, keep_ratio=options.keep_threshold
    )


def _verified(result: ScanResult, options: ScanOptions, progress: Progress | None) -> ScanResult:
    """``result`` with its suggestions measured in a sandbox with data: kept ones carry
    their verification, dropped ones move to ``rejected``, N+1 findings get their loop
    cost, and each finding's suggestion is the judged one."""
    from advisor.sandbox import open_sandbox
    from advisor.verify.loops import measure_loops
    from advisor.verify.measure import verify_indexes

    verify_options = _verify_options(options)
    with (
        open_sandbox(options.sandbox) as sandbox,
        _prepare_data(sandbox, result, options) as (
            dsn,
            data,
        ),
    ):
        outcome = verify_indexes(
            dsn,
            result.workload,
            result.suggestions,
            options=verify_options,
            data=data,
            progress=progress,
        )
        findings = measure_loops(
            dsn, result.workload, result.findings, runs=options.verify_runs, data=data
        )
        description = sandbox.description
    judged = {s.name: s for s in (*outcome.kept, *outcome.dropped)}
    findings = tuple(_judged(f, judged) for f in findings)
    return replace(
        result,
        findings=findings,
        suggestions=outcome.kept,
        rejected=outcome.dropped,
        data=data,
        sandbox=result.sandbox or description,
    )


def _judged(finding: Finding, judged: Mapping[str, IndexSuggestion]) -> Finding:
    """The finding with its suggestion as verification judged it; a kept one is no longer
    a heuristic ("medium confidence") but measured."""
    if finding.suggestion is None or finding.suggestion.name not in judged:
        return finding
    suggestion = judged[finding.suggestion.name]
    helps = suggestion.verification is not None and suggestion.verification.verdict == "helps"
    confidence = "high" if helps else finding.confidence
    return replace(finding, suggestion=suggestion, confidence=confidence)


@contextlib.contextmanager
def _prepare_data(
    sandbox: Sandbox, result: ScanResult, options: ScanOptions
) -> Iterator[tuple[str, DataOrigin]]:
    """A database on ``sandbox`` holding the schema and rows to measure on, and where
    the rows came from; dropped when the block ends.

    For now the ``--schema`` file is applied as it is (rows come only from INSERTs it
    holds, such as ``generate_series`` seeds): ``advisor.verify.data.prepare_data``,
    which copies, samples or generates rows, takes this place when it is merged.
    """
    from advisor.sandbox import create_database, drop_database
    from advisor.schema.ddl import apply_statements, read_ddl

    assert options.schema_file is not None  # checked by scan()
    text, name = read_ddl(Path(options.schema_file))
    database = f"advisor_verify_{uuid.uuid4().hex[:12]}"
    dsn = create_database(sandbox, database)
    try:

        async def load() -> int:
            conn = await connect(dsn, readonly=False, statement_timeout_ms=0)
            try:
                await apply_statements(conn, text, name=name)
                await conn.execute("ANALYZE")
                # reltuples, as ANALYZE just set it (the statistics views lag behind).
                rows = await conn.fetchval(
                    "SELECT coalesce(sum(greatest(c.reltuples, 0)), 0) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' "
                    "AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
                )
                return int(rows)
            finally:
                await conn.close()

        rows = run(load())
        summary = f"the --schema file as written (about {rows:,} rows); no rows were generated"
        yield dsn, DataOrigin("as-is", summary, server=sandbox.description)
    finally:
        drop_database(sandbox, database)


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
