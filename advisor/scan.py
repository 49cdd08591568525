"""``advisor scan``: the pipeline end to end, as one function over plain data.

:mod:`advisor.sources` -> :func:`advisor.workload.build_workload` (parse once per shape)
-> rules -> suggestions -> :class:`advisor.model.ScanResult`. This module only orders the
stages; each input's reader is chosen in :mod:`advisor.sources`. Nothing here prints;
the CLI renders.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from advisor.errors import ConfigError, InputError
from advisor.model import Finding, Note, ScanResult, Schema, Workload
from advisor.sources import (
    CaptureExtras,
    PgStatStatements,
    capture_extras,
    check_readable,
    read_sources,
)

if TYPE_CHECKING:
    from advisor.verify.data import DataMode
    from advisor.verify.migration_review import MigrationReview
    from advisor.verify.stage import VerifySettings

__all__ = ["Progress", "ScanOptions", "load_schema", "review", "scan", "write_migrations_of"]

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """What to scan and against which schema; mirrors ``advisor scan``'s options.

    ``max_indexes`` / ``max_index_bytes`` are the workload-wide index choice's budget
    (:class:`advisor.suggest.choose.ChoiceBudget`); ``verify`` measures the chosen
    indexes on data in a sandbox (``data_mode``: copied from ``dsn``, generated to
    ``rows`` per table, or the ``seed_script``; see :mod:`advisor.verify.stage`).
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
    data_mode: DataMode = "auto"
    rows: Mapping[str, int] = field(default_factory=dict)
    seed_script: str | None = None
    # Drop findings whose call site is in an installed package (CallSite.package).
    ignore_library: bool = False
    migrations_dir: str | None = None
    migration_format: Literal["sql", "alembic"] = "sql"
    alembic_dir: str | None = None


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
    _check_migration_options(options)
    rules = select_rules(options.select, options.ignore)
    schema, sandbox, workload = _workload(options)
    outcomes = run_rules(
        rules, workload, schema, options=options.rule_options, live=schema.source == "dsn"
    )
    findings = tuple(
        o
        for o in outcomes
        if isinstance(o, Finding) and not (options.ignore_library and _in_library(o))
    )
    notes = tuple(o for o in outcomes if isinstance(o, Note))
    result = ScanResult(
        findings=findings,
        suggestions=collect_suggestions(findings),
        notes=notes,
        skipped=workload.skipped,
        workload=workload,
        schema=schema,
        sandbox=sandbox,
        sources=options.sources + tuple(source.name for source in _databases(options)),
        warnings=_schema_warnings(schema, workload),
    )
    return _verified(result, options, progress) if options.verify else result


def _in_library(finding: Finding) -> bool:
    return finding.location is not None and finding.location.package is not None


def _schema_warnings(schema: Schema, workload: Workload) -> tuple[str, ...]:
    """A schema that has none of the tables the queries name (a capture's snapshot taken
    before the app's migrations ran, a wrong database) silences the schema-aware rules."""
    if schema.source == "none":
        return ()
    named = [ref for shape in workload.shapes.values() for ref in shape.query.tables]
    if not named or any(ref.resolved for ref in named):
        return ()
    return (
        f"the schema (from {schema.source}, {len(schema.tables)} tables) has none of the"
        " tables the queries name, so the schema-aware rules found nothing; give --dsn URL"
        " of the database after its migrations (or --schema/--metadata)",
    )


def _workload(options: ScanOptions) -> tuple[Schema, str | None, Workload]:
    """The schema (and the sandbox that read it, described), then the workload of every
    input, with the connection-pool checkouts the captures hold."""
    from advisor.workload import build_workload

    if options.pg_stat_statements and not options.dsn:
        raise InputError("--pg-stat-statements needs --dsn URL of the database to read it from")
    for source in options.sources:
        check_readable(source)
    captures = capture_extras(options.sources)  # one pass for the schema and pool lines
    schema, sandbox = load_schema(options, captures)
    items = read_sources(
        options.sources, stdin_text=options.stdin_text, databases=_databases(options)
    )
    workload = build_workload(items, schema)
    pools = captures.pools
    return schema, sandbox, replace(workload, pools=pools) if pools else workload


def _verified(result: ScanResult, options: ScanOptions, progress: Progress | None) -> ScanResult:
    from advisor.verify.stage import verify_result

    return verify_result(result, _verify_settings(options), progress)


def _verify_settings(options: ScanOptions) -> VerifySettings:
    """Where and how ``--verify`` (and ``advisor verify``) measure, from the options."""
    from advisor.suggest.choose import ChoiceBudget
    from advisor.verify.data import DataPlan
    from advisor.verify.measure import VerifyOptions
    from advisor.verify.stage import VerifySettings

    return VerifySettings(
        sandbox=options.sandbox,
        data=DataPlan(
            mode=options.data_mode,
            rows=dict(options.rows),
            seed_script=Path(options.seed_script) if options.seed_script else None,
        ),
        schema_file=options.schema_file,
        source_dsn=options.dsn,
        measure=VerifyOptions(
            runs=options.verify_runs,
            time_box_ms=options.time_box_ms,
            keep_ratio=options.keep_threshold,
        ),
        budget=ChoiceBudget(max_indexes=options.max_indexes, max_bytes=options.max_index_bytes),
    )


def review(
    options: ScanOptions, migration: str, progress: Progress | None = None
) -> MigrationReview:
    """``advisor verify``: apply the migration file ``migration`` in a sandbox database with
    the schema and data a ``--verify`` scan measures on, and measure the workload of
    ``options.sources`` (and pg_stat_statements) before and after it.

    The user's database (``options.dsn``) is only read. Raises
    :class:`advisor.errors.InputError` naming ``file:line`` when a statement fails.
    """
    from advisor.verify.migration_review import read_migration, review_migration
    from advisor.verify.stage import measuring_database

    statements = read_migration(migration)  # a bad file fails before a sandbox starts
    schema, described, workload = _workload(options)
    settings = _verify_settings(options)
    with measuring_database(schema, settings, progress) as (dsn, data, description):
        reviewed = review_migration(
            dsn,
            workload,
            migration,
            statements=statements,
            options=settings.measure,
            data=data,
            progress=progress,
        )
    return replace(reviewed, sandbox=described or description)


def _check_migration_options(options: ScanOptions) -> None:
    """Refuse bad migration options before the scan runs, not after."""
    alembic = options.migration_format == "alembic"
    if options.alembic_dir and not alembic:
        raise ConfigError("--alembic-dir is for --migration-format alembic; add that option")
    if not options.migrations_dir:
        if alembic:
            raise ConfigError("--migration-format alembic needs --migrations-dir DIR to write to")
        return
    if alembic:
        from advisor.suggest.files import alembic_head

        alembic_head(Path(options.alembic_dir or options.migrations_dir))


def write_migrations_of(result: ScanResult, options: ScanOptions) -> ScanResult:
    """``result`` with the migration files of its indexes written to
    ``options.migrations_dir`` (nothing without one). The CLI calls it after suppressions
    and the baseline took their findings out, so that a suppressed index gets no file."""
    if not options.migrations_dir:
        return result
    from advisor.suggest.files import migration_sets, write_migrations

    wanted = {f.suggestion.name for f in result.findings if f.suggestion is not None}
    kept = tuple(s for s in result.suggestions if s.name in wanted)
    chosen, foreign_keys = migration_sets(replace(result, suggestions=kept))
    written = write_migrations(
        options.migrations_dir,
        chosen,
        fmt=options.migration_format,
        alembic_dir=options.alembic_dir,
        workload=result.workload,
        data=result.data,
        schema=result.schema,
        foreign_keys=foreign_keys,
    )
    return replace(result, migrations=tuple(str(p) for p in written))


def _databases(options: ScanOptions) -> tuple[PgStatStatements, ...]:
    if not (options.pg_stat_statements and options.dsn):
        return ()
    return (PgStatStatements(options.dsn, options.min_calls, options.min_total_ms),)


def load_schema(
    options: ScanOptions, captures: CaptureExtras | None = None
) -> tuple[Schema, str | None]:
    """The schema from ``--dsn``, ``--schema``/``--metadata`` (through a sandbox), or the
    first capture file's header; an empty schema when none is given.

    ``captures``: what the capture files hold besides queries, when the caller read it
    already (else their headers are read here). Returns the schema and the sandbox's
    one-line description when one was used.
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
    snapshot = (captures or capture_extras(options.sources)).schema
    return (Schema() if snapshot is None else snapshot), None
