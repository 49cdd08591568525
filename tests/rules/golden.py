"""Golden cases: load ``rules/ADV*.yml``, run one case's rule, compare its outcomes.

The format is described in the repository's golden-case contract (one YAML file per rule,
named ``fail_*`` / ``pass_*`` cases against a schema in ``fixtures/``). Beyond it, a case
may give ``widths: {table.column: avg_width}`` to set ``Column.avg_width`` (statistics a
schema built from DDL never has).

Findings of the case's rule must match ``expect`` one-to-one (same count); each listed
``notes`` entry must match some Note of the rule (other notes are allowed). Unknown keys
in a case, an execution or an expectation are errors, so a typo never passes silently;
so are unknown rule options (checked like the CLI checks them).

Executions across scopes (ADV008, ADV010): ``scope_each`` makes each repeat its own scope
instance (a request); ``blocks_loop`` marks a sync call on an event loop; ``result`` names
the result a read returned (``vary_result``: a different one each repeat), finishing at
``start_s + n * interval_s`` seconds; ``params`` names the parameter values (executions
with the same name share a ``params_hash`` across entries); ``values`` are the parameter
values the capture kept (a list in ``$n`` order: the shape's samples); ``callers`` lists the
app frames above the call site (``path:line:function``, nearest first). ADV009's cases give
``pools`` (:class:`~advisor.model.PoolUsage` fields) and ``max_connections`` (the server's
setting).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from advisor.indexes.ddl import describe_column as render_column
from advisor.model import (
    CallSite,
    Execution,
    Finding,
    Hop,
    Index,
    Note,
    OrmLoad,
    PoolUsage,
    Schema,
    SourceKind,
    Table,
)
from advisor.rules import find_rule, rule_options
from advisor.rules.base import Outcome, RuleContext

__all__ = [
    "REPO",
    "GoldenCase",
    "GoldenFile",
    "apply_overrides",
    "case_executions",
    "compare",
    "load_golden_files",
    "parse_call_site",
    "render_column",
    "run_case",
]

REPO = Path(__file__).resolve().parents[2]
RULES_DIR = REPO / "rules"

_CASE_KEYS = {
    "name",
    "description",
    "schema_sql",
    "rows",
    "options",
    "live",
    "index_scans",
    "stats_since",
    "widths",
    "queries",
    "executions",
    "expect",
    "notes",
    "pools",
    "max_connections",
}
_EXECUTION_KEYS = {
    "sql",
    "scope",
    "scope_kind",
    "call_site",
    "origin",
    "orm",
    "repeat",
    "vary_params",
    "duration_ms",
    "rows",
    "calls",
    "source",
    "executemany",
    "params_shape",
    "blocks_loop",
    "result",
    "vary_result",
    "scope_each",
    "interval_s",
    "start_s",
    "params",
    "values",
    "callers",
}
_EXPECT_KEYS = {
    "table",
    "columns",
    "include",
    "where",
    "severity",
    "confidence",
    "location",
    "origin",
    "message_contains",
    "fix_contains",
}


@dataclass(frozen=True, slots=True)
class GoldenCase:
    """One named case of a golden file, as written (``data`` is the raw mapping)."""

    rule: str
    file: str
    name: str
    data: Mapping[str, Any]

    @property
    def id(self) -> str:
        """``ADV001::fail_lazy_collection``."""
        return f"{self.rule}::{self.name}"


@dataclass(frozen=True, slots=True)
class GoldenFile:
    """One ``rules/ADV*.yml`` file: its rule, base schema DDL and cases."""

    path: Path
    rule: str
    schema_path: Path
    cases: tuple[GoldenCase, ...]

    def ddl(self, case: GoldenCase) -> str:
        """The DDL for ``case``: the file's schema plus the case's ``schema_sql``."""
        extra = case.data.get("schema_sql") or ""
        return self.schema_path.read_text(encoding="utf-8") + ("\n" + extra if extra else "")


def load_golden_files(folder: Path = RULES_DIR) -> list[GoldenFile]:
    """Every golden file under ``folder``, sorted by name, each checked for well-formedness."""
    files = []
    for path in sorted(folder.glob("*.yml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict) or not {"rule", "schema", "cases"} <= raw.keys():
            raise ValueError(f"{path}: needs the keys rule, schema and cases")
        rule = str(raw["rule"])
        cases = []
        for data in raw["cases"]:
            unknown = set(data) - _CASE_KEYS
            if unknown:
                raise ValueError(f"{path}: case {data.get('name')}: unknown keys {sorted(unknown)}")
            cases.append(GoldenCase(rule=rule, file=path.name, name=str(data["name"]), data=data))
        files.append(GoldenFile(path, rule, REPO / str(raw["schema"]), tuple(cases)))
    return files


# --------------------------------------------------------------------------- building inputs


def parse_call_site(text: str | None) -> CallSite | None:
    """``path:line[:function]`` -> CallSite."""
    if not text:
        return None
    parts = str(text).split(":")
    if len(parts) >= 2 and parts[1].isdigit():
        return CallSite(parts[0], int(parts[1]), parts[2] if len(parts) > 2 else None)
    return CallSite(str(text))


def _callers(data: Sequence[str] | None) -> tuple[CallSite, ...]:
    """An execution's ``callers``: ``path:line[:function]`` entries, nearest first."""
    sites = (parse_call_site(text) for text in data or ())
    return tuple(site for site in sites if site is not None)


def _orm(data: Mapping[str, Any] | None) -> OrmLoad | None:
    if not data:
        return None
    return OrmLoad(
        kind=data["kind"],
        parent=data.get("parent"),
        attribute=data.get("attribute"),
        path=tuple(data.get("path") or ()),
        direction=data.get("direction"),
        target=data.get("target"),
        root=parse_call_site(data.get("root")),
        chain=tuple(Hop(*hop) for hop in data.get("chain") or ()),
        serializer=data.get("serializer"),
        origin_earlier=bool(data.get("origin_earlier", False)),
    )


def case_executions(case: GoldenCase) -> list[Execution]:
    """The case's ``queries`` and ``executions`` as Execution objects, ``seq`` increasing."""
    out: list[Execution] = []
    for i, sql in enumerate(case.data.get("queries") or ()):
        out.append(Execution(sql=sql, source=CallSite(f"{case.name}.sql", i + 1), seq=len(out)))
    for i, item in enumerate(case.data.get("executions") or ()):
        unknown = set(item) - _EXECUTION_KEYS
        if unknown:
            raise ValueError(f"{case.id}: execution {i}: unknown keys {sorted(unknown)}")
        repeat = int(item.get("repeat", 1))
        duration = item.get("duration_ms")
        calls = int(item.get("calls", 1))
        source = str(item.get("source") or f"{case.name}.capture")
        result = item.get("result")
        for n in range(repeat):
            param = n if item.get("vary_params", True) else 0
            # scope_each: every repeat is its own instance of the scope (one request each).
            scope_id = 1000 * (i + 1) + n if item.get("scope_each") else None
            digest = None
            if result is not None:
                digest = _hash(f"{result}:{n}" if item.get("vary_result") else str(result))
            at = float(item.get("start_s", 0.0)) + n * float(item.get("interval_s", 1.0))
            out.append(
                Execution(
                    sql=item["sql"],
                    source=CallSite(source, i + 1),
                    calls=calls,
                    total_ms=None if duration is None else float(duration) * calls,
                    rows=item.get("rows"),
                    scope=item.get("scope"),
                    scope_kind=item.get("scope_kind"),
                    seq=len(out),
                    call_site=parse_call_site(item.get("call_site")),
                    origin=parse_call_site(item.get("origin")),
                    params_hash=_hash(str(item["params"]) if "params" in item else f"{i}:p{param}"),
                    params=item.get("values"),
                    params_shape=item.get("params_shape"),
                    executemany=bool(item.get("executemany", False)),
                    orm=_orm(item.get("orm")),
                    scope_id=scope_id,
                    source_kind=_source_kind(source),
                    blocks_loop=bool(item.get("blocks_loop", False)),
                    result_hash=digest,
                    at=at if digest is not None else None,
                    callers=_callers(item.get("callers")),
                )
            )
    return out


def _pool(number: int, data: Mapping[str, Any]) -> PoolUsage:
    """A case's ``pools`` entry: PoolUsage's fields, ``waits_ms`` a list (or ``{ms: count}``)."""
    fields = {"pool": number, "pool_class": "QueuePool", "max_overflow": 0, "timeout_s": 30.0}
    fields |= {"timeouts": 0, "peak_overflow": 0, "peak_waiting": 0} | dict(data)
    waits = fields.get("waits_ms") or ()
    if isinstance(waits, Mapping):
        waits = [float(ms) for ms, count in waits.items() for _ in range(int(count))]
    fields["waits_ms"] = tuple(float(w) for w in waits)
    fields["scopes"] = tuple(fields.get("scopes") or ())
    return PoolUsage(**fields)


def _source_kind(source: str) -> SourceKind:
    # A case's `source: pg_stat_statements` stands for rows that source read.
    return "pg_stat_statements" if source == "pg_stat_statements" else "capture_file"


def _hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:8]


def apply_overrides(schema: Schema, case: GoldenCase) -> Schema:
    """``schema`` with the case's rows, widths, index_scans and stats_since applied."""
    data = case.data
    tables = dict(schema.tables)
    for name, rows in (data.get("rows") or {}).items():
        table = _table(schema, name, case)
        tables[table.qualified] = dataclasses.replace(tables[table.qualified], row_estimate=rows)
    for dotted, width in (data.get("widths") or {}).items():
        name, column = str(dotted).rsplit(".", 1)
        table = tables[_table(schema, name, case).qualified]
        if table.column(column) is None:
            raise ValueError(f"{case.id}: widths: no column {dotted}")
        cols = tuple(
            dataclasses.replace(c, avg_width=width) if c.name == column else c
            for c in table.columns
        )
        tables[table.qualified] = dataclasses.replace(table, columns=cols)
    scans = dict(data.get("index_scans") or {})
    if scans:
        for qualified, table in tables.items():
            indexes = tuple(_with_scans(ix, scans) for ix in table.indexes)
            tables[qualified] = dataclasses.replace(table, indexes=indexes)
        missing = set(scans) - {ix.name for t in tables.values() for ix in t.indexes}
        if missing:
            raise ValueError(f"{case.id}: index_scans: no index {sorted(missing)}")
    schema = dataclasses.replace(schema, tables=tables)
    if data.get("stats_since"):
        schema = dataclasses.replace(schema, stats_since=str(data["stats_since"]))
    return schema


def _table(schema: Schema, name: str, case: GoldenCase) -> Table:
    table = schema.find(name)
    if table is None:
        raise ValueError(f"{case.id}: no table {name!r} in the schema")
    return table


def _with_scans(index: Index, scans: Mapping[str, int]) -> Index:
    if index.name not in scans:
        return index
    return dataclasses.replace(index, scans=int(scans[index.name]))


# --------------------------------------------------------------------------- running, comparing


def run_case(case: GoldenCase, schema: Schema) -> list[Outcome]:
    """Run only the case's rule over the case's workload (built by advisor's own pipeline)."""
    from advisor.workload import build_workload

    rule = find_rule(case.rule)
    schema = apply_overrides(schema, case)
    if case.data.get("max_connections") is not None:
        schema = dataclasses.replace(schema, max_connections=int(case.data["max_connections"]))
    workload = build_workload(case_executions(case), schema)
    pools = tuple(_pool(n, data) for n, data in enumerate(case.data.get("pools") or (), 1))
    if pools:
        workload = dataclasses.replace(workload, pools=pools)
    options = rule_options(rule, case.data.get("options"))
    ctx = RuleContext(workload, schema, options=options, live=bool(case.data.get("live", False)))
    return list(rule.check(ctx))


def _where(site: CallSite | None) -> str | None:
    if site is None:
        return None
    return site.path if site.line is None else f"{site.path}:{site.line}"


def _mismatches(expected: Mapping[str, Any], finding: Finding) -> list[str]:
    unknown = set(expected) - _EXPECT_KEYS
    if unknown:
        return [f"unknown expect keys {sorted(unknown)}"]
    got: dict[str, Any] = {
        "severity": finding.severity.value,
        "confidence": finding.confidence,
        "location": _where(finding.location),
        "origin": _where(finding.origin),
    }
    sug = finding.suggestion
    if sug is not None:
        got.update(
            table=sug.table,
            columns=[render_column(c) for c in sug.columns],
            include=list(sug.include),
            where=sug.where,
        )
    problems = []
    for key, want in expected.items():
        if key == "message_contains":
            if str(want) not in finding.message:
                problems.append(f"message lacks {want!r}: {finding.message!r}")
        elif key == "fix_contains":
            if str(want) not in (finding.fix or ""):
                problems.append(f"fix lacks {want!r}: {finding.fix!r}")
        elif got.get(key) != (list(want) if isinstance(want, list) else want):
            problems.append(f"{key}: expected {want!r}, got {got.get(key)!r}")
    return problems


def compare(case: GoldenCase, outcomes: Sequence[Outcome]) -> list[str]:
    """What differs between the case's expectations and ``outcomes`` (empty: it passes)."""
    findings = [o for o in outcomes if isinstance(o, Finding) and o.rule == case.rule]
    expected = list(case.data.get("expect") or ())
    problems: list[str] = []
    if case.name.startswith("pass_") and expected:
        problems.append("a pass_* case must not expect findings")
    if case.name.startswith("fail_") and not expected:
        problems.append("a fail_* case must expect at least one finding")
    if len(findings) != len(expected):
        shown = "; ".join(f.message for f in findings)
        problems.append(f"expected {len(expected)} findings, got {len(findings)}: {shown}")
    elif _assign(expected, findings) is None:
        for i, want in enumerate(expected):
            best = min((_mismatches(want, f) for f in findings), key=len)
            if best:
                problems.append(f"expect[{i}] matches no finding: {'; '.join(best)}")
        problems = problems or ["no one-to-one match of expect to findings"]
    notes = [o for o in outcomes if isinstance(o, Note) and o.rule == case.rule]
    for want in case.data.get("notes") or ():
        text = str(want["reason_contains"])
        if not any(text in n.reason for n in notes):
            problems.append(f"no note contains {text!r}: {[n.reason for n in notes]}")
    return problems


def _assign(expected: Sequence[Mapping[str, Any]], findings: Sequence[Finding]) -> list[int] | None:
    """One distinct finding per expectation (backtracking; cases are small), or None."""

    def search(i: int, used: frozenset[int]) -> Iterator[list[int]]:
        if i == len(expected):
            yield []
            return
        for j, finding in enumerate(findings):
            if j not in used and not _mismatches(expected[i], finding):
                for rest in search(i + 1, used | {j}):
                    yield [j, *rest]

    return next(search(0, frozenset()), None)
