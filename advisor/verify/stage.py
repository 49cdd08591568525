"""The verify stage as the scan runs it: data, the workload-wide choice, then proof.

1. a sandbox server, of the source's major version when one is known;
2. a database on it holding the schema and rows to measure on (:mod:`advisor.verify.data`:
   copied from ``--dsn``, generated to size, a seed script, or the ``--schema`` file as
   written when it inserts its own rows);
3. the index set for the whole workload, costed what-if (:func:`choose_indexes`);
4. each chosen index built and measured with ``EXPLAIN (ANALYZE, BUFFERS)`` before and
   after, then the kept set together (:func:`verify_indexes`); N+1 loops against their
   batched form (:func:`measure_loops`).

The result is the scan's, with suggestions replaced by the kept indexes, ``rejected`` by
the ones measurement dropped, and a note for every candidate the choice left out.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from advisor.model import DataOrigin, Finding, IndexSuggestion, Note, ScanResult, Schema
from advisor.suggest.choose import Choice, ChoiceBudget, NotChosen
from advisor.verify.data import DataPlan
from advisor.verify.measure import VerifyOptions

__all__ = ["VerifySettings", "left_out_of", "measuring_database", "verify_result"]

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class VerifySettings:
    """Where and how to verify: the sandbox spec, the data plan, the measuring options and
    the choice's budget. ``schema_file`` is the user's ``--schema`` DDL (applied as
    written), ``source_dsn`` the live database data may be copied from (read-only)."""

    sandbox: str = "auto"
    data: DataPlan = field(default_factory=DataPlan)
    schema_file: str | None = None
    source_dsn: str | None = None
    measure: VerifyOptions = field(default_factory=VerifyOptions)
    budget: ChoiceBudget = field(default_factory=ChoiceBudget)


def verify_result(
    result: ScanResult, settings: VerifySettings, progress: Progress | None = None
) -> ScanResult:
    """``result`` with its index suggestions chosen for the workload and measured; N+1
    findings with their loop cost. ``progress(what, done, total)`` hears each step."""
    from advisor.verify.loops import measure_loops
    from advisor.verify.measure import verify_indexes
    from advisor.verify.params import statements_for
    from advisor.verify.whatif import choose_indexes

    if not result.suggestions and not any(f.rule == "ADV001" for f in result.findings):
        return result  # nothing to measure: no index to build, no loop to time
    tell = progress or (lambda _what, _done, _total: None)
    with measuring_database(result.schema, settings, progress) as (dsn, data, description):
        tables = {s.table for s in result.suggestions}
        shapes = [
            shape
            for shape in result.workload.shapes.values()
            if any(t.table in tables for t in shape.query.tables)
        ]
        tell("binding the workload's statements", 0, len(shapes))
        statements, refused = statements_for(shapes, dsn)
        tell("choosing the index set for the workload", 0, 0)
        choice = choose_indexes(
            dsn, result.workload, result.findings, result.schema, settings.budget, statements
        )
        outcome = verify_indexes(
            dsn,
            result.workload,
            choice.chosen,
            options=settings.measure,
            data=data,
            progress=progress,
            left_out=left_out_of(choice, settings.budget),
        )
        findings = measure_loops(
            dsn, result.workload, result.findings, runs=settings.measure.runs, data=data
        )
    judged = (*outcome.kept, *outcome.dropped)
    notes = (
        *result.notes,
        *choice.notes,
        *_not_chosen_notes(choice.not_chosen, outcome.looked, outcome.kept),
        *(Note("ADV003", key, f"not measured: {why}") for key, why in refused.items()),
    )
    return replace(
        result,
        findings=tuple(_judged(f, judged) for f in findings),
        suggestions=(*outcome.kept, *_outside_choice(result)),
        rejected=outcome.dropped,
        notes=notes,
        data=data,
        sandbox=result.sandbox or description,
    )


def left_out_of(choice: Choice, budget: ChoiceBudget) -> list[IndexSuggestion]:
    """The left-out candidates verification may measure and add back: all of them, unless
    the user set a budget (``max_indexes``, ``max_bytes``), which an added index would break."""
    if budget.max_indexes is not None or budget.max_bytes is not None:
        return []
    return [n.suggestion for n in choice.not_chosen]


@contextlib.contextmanager
def measuring_database(
    schema: Schema, settings: VerifySettings, progress: Progress | None = None
) -> Iterator[tuple[str, DataOrigin, str]]:
    """A sandbox (of the source's major version when known) and a database on it holding
    ``schema`` and the rows ``settings.data`` asks for: ``(dsn, where the rows came from,
    the sandbox's description)``; both are gone when the block ends."""
    from advisor.sandbox import open_sandbox

    spec, version_note = _sandbox_spec(settings.sandbox, schema)
    with open_sandbox(spec) as sandbox:
        if progress is not None:
            progress("preparing the data", 0, 0)
        with _data_database(sandbox.dsn, schema, settings, progress) as (dsn, data):
            if version_note:
                data = replace(data, summary=f"{data.summary}; {version_note}")
            yield dsn, data, sandbox.description


def _outside_choice(result: ScanResult) -> tuple[IndexSuggestion, ...]:
    """Suggestions the choice does not weigh: foreign-key indexes (ADV004) keep their own
    finding and migration, unmeasured, unless a missing-index candidate is the same index."""
    from advisor.verify.whatif import CANDIDATE_RULES

    weighed = {f.suggestion.name for f in result.findings
               if f.suggestion is not None and f.rule in CANDIDATE_RULES}  # fmt: skip
    return tuple(s for s in result.suggestions if s.name not in weighed)


def _not_chosen_notes(
    not_chosen: Sequence[NotChosen],
    looked: Sequence[IndexSuggestion],
    kept: Sequence[IndexSuggestion],
) -> Iterator[Note]:
    """A note for every candidate the choice left out and measurement did not add back;
    one the second opinion measured says what it measured."""
    added = {s.name for s in kept}
    measured = {s.name: s.verification for s in looked if s.verification is not None}
    for item in not_chosen:
        name = item.suggestion.name
        if name in added:
            continue  # a kept suggestion now, its evidence says why
        key = item.suggestion.query_keys[0] if item.suggestion.query_keys else name
        check = measured.get(name)
        then = f"; {check.detail}" if check is not None and check.detail else ""
        yield Note("ADV003", key, f"{name} not chosen: {item.reason}{then}")


def _judged(finding: Finding, judged: tuple[IndexSuggestion, ...]) -> Finding:
    """The finding with the index that now answers for its query: the chosen one that
    serves it (by name, else by query key), as verification judged it. A kept one is no
    longer a heuristic ("medium confidence") but measured."""
    if finding.suggestion is None:
        return finding
    wanted = finding.suggestion
    match = next((s for s in judged if s.name == wanted.name), None) or next(
        (s for s in judged if set(s.query_keys) & set(wanted.query_keys)), None
    )
    if match is None:
        return finding
    helps = match.verification is not None and match.verification.verdict == "helps"
    confidence = "high" if helps else finding.confidence
    if match.name == wanted.name:
        return replace(finding, suggestion=match, confidence=confidence)
    # The workload-wide choice serves this query with another index (merged or extended):
    # the fix is that index, and the message says so.
    fix = finding.fix.replace(wanted.sql, match.sql) if finding.fix else match.sql
    message = f"{finding.message}; for the whole workload, {match.name} serves it"
    return replace(finding, suggestion=match, confidence=confidence, fix=fix, message=message)


def _sandbox_spec(spec: str, schema: Schema) -> tuple[str, str | None]:
    """``auto`` becomes the local binaries of the source's major version when there are
    any (with a note when the versions differ); any other spec is the user's choice."""
    if spec != "auto" or schema.source != "dsn":
        return spec, None
    from advisor.sandbox import find_binaries
    from advisor.verify.versions import matching_sandbox

    match = matching_sandbox(schema.server_version, tuple(b.major for b in find_binaries()))
    return match.spec, match.note


def _writes_rows(ddl: str) -> bool:
    """Whether a DDL file inserts rows of its own (an INSERT or COPY statement)."""
    from advisor.parse.lexer import split_sql

    return any(
        sql.lstrip("( \n\t").split(None, 1)[0].upper() in ("INSERT", "COPY")
        for _line, sql in split_sql(ddl)
    )


@contextlib.contextmanager
def _data_database(
    server_dsn: str, schema: Schema, settings: VerifySettings, progress: Progress | None
) -> Iterator[tuple[str, DataOrigin]]:
    """A database on the sandbox with the rows to measure on, and where they came from;
    dropped when the block ends."""
    from advisor.sandbox import drop_database
    from advisor.schema.ddl import read_ddl
    from advisor.verify.data import prepare_data

    ddl = read_ddl(Path(settings.schema_file))[0] if settings.schema_file else None
    plan = settings.data
    as_written = plan.mode == "auto" and plan.seed_script is None and settings.source_dsn is None
    if as_written and ddl is not None and _writes_rows(ddl):
        plan = replace(plan, mode="as-is")
    # Rows copied from a live database go into its own schema, rendered from its catalog:
    # a --schema file may differ from it, or insert seed rows of its own.
    copying = settings.source_dsn is not None and plan.mode in ("auto", "copy")
    prepared_data = prepare_data(
        server_dsn,
        schema,
        plan,
        ddl=None if copying else ddl,
        source_dsn=settings.source_dsn,
        progress=progress,
    )
    try:
        yield prepared_data.dsn, prepared_data.origin
    finally:
        drop_database(server_dsn, prepared_data.database)
