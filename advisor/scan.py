"""``advisor scan``: the pipeline end to end, as one function over plain data.

sources -> :func:`advisor.workload.build_workload` (parse once per shape) -> rules ->
suggestions -> :class:`advisor.model.ScanResult`. Nothing here prints; the CLI renders.
"""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from advisor.db import connect, run
from advisor.errors import ConfigError, InputError
from advisor.model import (
    CallSite,
    DataOrigin,
    Execution,
    Finding,
    IndexSuggestion,
    Note,
    ScanResult,
    Schema,
    Skipped,
)

if TYPE_CHECKING:
    from advisor.verify.sandbox import Sandbox

__all__ = ["ScanOptions", "iter_source", "load_schema", "scan"]

Item = Execution | Skipped
Progress = Callable[[str, int, int], None]


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
    from advisor.workload import build_workload

    if not options.sources and not options.pg_stat_statements:
        raise InputError(
            "no input: give SQL or capture files, '-' for stdin, or --pg-stat-statements"
        )
    if options.pg_stat_statements and not options.dsn:
        raise InputError("--pg-stat-statements needs --dsn URL of the database to read it from")
    if options.verify and not options.schema_file:
        raise ConfigError(
            "--verify needs --schema FILE (the DDL, and any seed rows) to build its "
            "sandbox database for now; give the schema file"
        )
    for source in options.sources:
        _check_readable(source)
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
    return _verified(result, options, progress) if options.verify else result


def _verified(result: ScanResult, options: ScanOptions, progress: Progress | None) -> ScanResult:
    """``result`` with its suggestions measured in a sandbox with data: kept ones carry
    their verification, dropped ones move to ``rejected``, N+1 findings get their loop
    cost, and each finding's suggestion is the judged one."""
    from advisor.verify.loops import measure_loops
    from advisor.verify.measure import VerifyOptions, verify_indexes
    from advisor.verify.sandbox import open_sandbox

    verify_options = VerifyOptions(
        runs=options.verify_runs, time_box_ms=options.time_box_ms, keep_ratio=options.keep_threshold
    )
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
    from advisor.schema.ddl import apply_statements, read_ddl
    from advisor.verify.sandbox import create_database, drop_database

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
