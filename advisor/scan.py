"""``advisor scan``: the pipeline end to end, as one function over plain data.

sources -> :func:`advisor.workload.build_workload` (parse once per shape) -> rules ->
suggestions -> :class:`advisor.model.ScanResult`. Nothing here prints; the CLI renders.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from advisor.errors import ConfigError, InputError
from advisor.model import CallSite, Execution, Finding, Note, ScanResult, Schema, Skipped

__all__ = ["ScanOptions", "iter_source", "load_schema", "scan"]

Item = Execution | Skipped


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
    migrations_dir: str | None = None
    migration_format: Literal["sql", "alembic"] = "sql"
    alembic_dir: str | None = None


def scan(options: ScanOptions) -> ScanResult:
    """Run the whole scan; raises :class:`advisor.errors.AdvisorError` on bad usage only.

    Unreadable statements and lines become ``skipped`` entries; the scan goes on.
    """
    from advisor.rules import run_rules, select_rules
    from advisor.suggest import collect_suggestions
    from advisor.workload import build_workload

    if not options.sources and not options.pg_stat_statements:
        raise InputError(
            "no input: give SQL or capture files, '-' for stdin, or --pg-stat-statements"
        )
    if options.pg_stat_statements and not options.dsn:
        raise InputError("--pg-stat-statements needs --dsn URL of the database to read it from")
    for source in options.sources:
        _check_readable(source)
    _check_migration_options(options)
    rules = select_rules(options.select, options.ignore)
    schema, sandbox = load_schema(options)
    workload = build_workload(_all_items(options), schema)
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
        sources=options.sources + (("pg_stat_statements",) if options.pg_stat_statements else ()),
    )
    return _with_migrations(result, options)


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


def _with_migrations(result: ScanResult, options: ScanOptions) -> ScanResult:
    if not options.migrations_dir:
        return result
    from advisor.suggest.files import migration_sets, write_migrations

    chosen, foreign_keys = migration_sets(result)
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


def load_schema(options: ScanOptions) -> tuple[Schema, str | None]:
    """The schema from ``--dsn``, ``--schema``/``--metadata`` (through a sandbox), or the
    first capture file's header; an empty schema when none is given.

    Returns the schema and the sandbox's one-line description when one was used.
    """
    if options.dsn:
        from advisor.schema.introspect import read_schema

        return read_schema(options.dsn, source="dsn"), None
    if options.schema_file or options.metadata:
        from advisor.schema import schema_from_ddl, schema_from_metadata
        from advisor.verify.sandbox import open_sandbox

        if options.schema_file:
            _check_readable(options.schema_file)
        with open_sandbox(options.sandbox) as sandbox:
            if options.schema_file:
                schema = schema_from_ddl(Path(options.schema_file), sandbox)
            else:
                schema = schema_from_metadata(str(options.metadata), sandbox)
            return schema, sandbox.description
    for source in options.sources:
        if _is_capture(source):
            from advisor.capture.jsonl import read_header

            try:
                header = read_header(source)
            except InputError:
                continue  # reported as skipped when the source itself is read
            if header.schema is not None:
                return header.schema, None
    return Schema(), None


def iter_source(source: str, stdin_text: str | None = None) -> Iterator[Item]:
    """The executions of one input: a ``.sql`` file, a capture ``.jsonl`` file, or ``-``.

    An input that turns out unreadable part-way (a wrong capture header, an I/O error)
    ends as one rejected :class:`Skipped` entry naming it, and an empty one as a plain
    entry; the other inputs are still scanned.
    """
    read = 0
    try:
        for item in _read_source(source, stdin_text):
            read += 1
            yield item
    except InputError as exc:
        reason = str(exc).removeprefix(f"{source}: ")
        yield Skipped(CallSite(source), reason, input_rejected=True)
        return
    if not read:
        yield Skipped(CallSite(source), "no statements found: the input is empty")


def _read_source(source: str, stdin_text: str | None) -> Iterator[Item]:
    if source == "-":
        from advisor.capture.sqlfile import read_sql

        yield from read_sql("-", stdin_text or "")
    elif _is_capture(source):
        from advisor.capture.jsonl import read_capture

        yield from read_capture(source)
    else:
        from advisor.capture.sqlfile import read_sql

        yield from read_sql(source)


def _all_items(options: ScanOptions) -> Iterable[Item]:
    streams: list[Iterable[Item]] = [iter_source(s, options.stdin_text) for s in options.sources]
    if options.pg_stat_statements and options.dsn:
        from advisor.capture.pg_stat_statements import read_statements

        streams.append(
            read_statements(
                options.dsn, min_calls=options.min_calls, min_total_ms=options.min_total_ms
            )
        )
    return itertools.chain.from_iterable(streams)


def _is_capture(source: str) -> bool:
    return source.endswith((".jsonl", ".ndjson"))


def _check_readable(source: str) -> None:
    if source == "-":
        return
    path = Path(source)
    if not path.exists():
        raise InputError(f"{source}: no such file; check the path")
    if path.is_dir():
        raise InputError(f"{source}: is a directory; give the .sql or .jsonl files inside it")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise InputError(f"{source}: cannot read ({exc.strerror}); check its permissions") from exc
