"""Read a capture file (JSON Lines, see ``docs/capture-format.md``) back into executions.

:func:`read_header` gives the header (with the last schema snapshot in the file);
:func:`read_capture` yields one :class:`~advisor.model.Execution` per query line and a
:class:`~advisor.model.Skipped` for each line that cannot be read, for a missing
trailer (a killed process) and for events the writer dropped.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, get_args

from advisor.capture.writer import FORMAT, VERSION
from advisor.errors import InputError
from advisor.model import CallSite, Execution, OrmLoad, Schema, ScopeKind, Skipped

__all__ = ["CaptureHeader", "read_capture", "read_header"]

_SCOPE_KINDS = frozenset(get_args(ScopeKind))
_LOAD_KINDS = frozenset({"lazy", "column", "batched"})
_DIRECTIONS = frozenset({"ONETOMANY", "MANYTOONE", "MANYTOMANY"})


@dataclass(frozen=True, slots=True)
class CaptureHeader:
    """The header of a capture file, completed by its last ``schema`` line."""

    path: str
    version: int
    advisor_version: str | None = None
    created_at: str | None = None
    server_version: int | None = None
    dialect: str | None = None
    driver: str | None = None
    redacted: bool = True
    schema: Schema | None = None


def _open(path: str) -> IO[str]:
    try:
        return open(path, encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the capture file ({exc.strerror})") from exc


def _parse_header(path: str, first: str) -> dict[str, Any]:
    try:
        header = json.loads(first)
    except ValueError:
        header = None
    if (
        not isinstance(header, dict)
        or header.get("type") != "header"
        or (header.get("format") != FORMAT)
    ):
        raise InputError(
            f"{path}: not an advisor capture file (line 1 is not its header); "
            "record one with `advisor capture`"
        )
    version = header.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise InputError(
            f"{path}: capture format version {version} is newer than this advisor reads "
            f"({VERSION}); upgrade advisor"
        )
    return header


def _schema_from_dict(data: Any) -> Schema | None:
    if not isinstance(data, dict):
        return None
    try:
        snapshot = importlib.import_module("advisor.schema.snapshot")
        loader = getattr(snapshot, "schema_from_dict", None) or snapshot.dict_to_schema
        schema = loader(data)
    except Exception:
        return None
    return schema if isinstance(schema, Schema) else None


def read_header(path: str) -> CaptureHeader:
    """The header of ``path``; a later ``schema`` line overrides its schema and server."""
    with _open(path) as handle:
        header = _parse_header(path, handle.readline())
        fields = {k: header.get(k) for k in ("server_version", "dialect", "driver", "schema")}
        for line in handle:
            if line.startswith('{"type": "schema"'):
                try:
                    later = json.loads(line)
                except ValueError:
                    continue
                for key in fields:
                    if later.get(key) is not None:
                        fields[key] = later[key]
    return CaptureHeader(
        path=path,
        version=header["version"],
        advisor_version=header.get("advisor_version"),
        created_at=header.get("created_at"),
        server_version=fields["server_version"],
        dialect=fields["dialect"],
        driver=fields["driver"],
        redacted=bool(header.get("redacted", True)),
        schema=_schema_from_dict(fields["schema"]),
    )


def _site(data: Any) -> CallSite | None:
    if not isinstance(data, dict) or not isinstance(data.get("path"), str):
        return None
    line = data.get("line")
    function = data.get("function")
    return CallSite(
        data["path"],
        line if isinstance(line, int) else None,
        function if isinstance(function, str) else None,
    )


def _orm(data: Any) -> OrmLoad | None:
    if not isinstance(data, dict) or data.get("kind") not in _LOAD_KINDS:
        return None
    direction = data.get("direction")
    return OrmLoad(
        kind=data["kind"],
        parent=data.get("parent"),
        attribute=data.get("attribute"),
        path=tuple(str(p) for p in data.get("path") or ()),
        direction=direction if direction in _DIRECTIONS else None,
        target=data.get("target"),
    )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def to_execution(data: dict[str, Any], source: CallSite) -> Execution:
    """One query line as an :class:`Execution` (``source`` names file and line)."""
    rows = data.get("rows")
    seq = data.get("seq")
    kind = data.get("scope_kind")
    scope = data.get("scope")
    scope_id = data.get("scope_id")
    return Execution(
        sql=data["sql"],
        source=source,
        calls=1,
        total_ms=_number(data.get("duration_ms")),
        rows=rows if isinstance(rows, int) and not isinstance(rows, bool) else None,
        scope=scope if isinstance(scope, str) else None,
        scope_kind=kind if kind in _SCOPE_KINDS else None,
        seq=seq if isinstance(seq, int) else None,
        call_site=_site(data.get("call_site")),
        origin=_site(data.get("origin")),
        params_hash=data.get("params_hash"),
        params_shape=data.get("params_shape"),
        executemany=bool(data.get("executemany", False)),
        orm=_orm(data.get("orm")),
        error=data.get("error") if isinstance(data.get("error"), str) else None,
        scope_id=scope_id if isinstance(scope_id, int) and not isinstance(scope_id, bool) else None,
    )


def read_capture(path: str) -> Iterator[Execution | Skipped]:
    """Every query of ``path`` in file order; unreadable lines come out as Skipped."""
    with _open(path) as handle:
        _parse_header(path, handle.readline())
        trailer: dict[str, Any] | None = None
        number = 1
        for number, line in enumerate(handle, start=2):
            if not line.strip():
                continue
            where = CallSite(path, number)
            try:
                data = json.loads(line)
            except ValueError:
                yield Skipped(where, "not valid JSON (truncated line?)", line[:200].strip())
                continue
            if not isinstance(data, dict):
                yield Skipped(where, "not a JSON object")
                continue
            kind = data.get("type")
            if kind == "query":
                if not isinstance(data.get("sql"), str):
                    yield Skipped(where, "query line without sql")
                    continue
                yield to_execution(data, where)
            elif kind == "trailer":
                trailer = data
    yield from _trailer_notes(path, number, trailer)


def _trailer_notes(path: str, last: int, trailer: dict[str, Any] | None) -> Iterator[Skipped]:
    if trailer is None:
        yield Skipped(
            CallSite(path, last),
            "capture file has no trailer: it is truncated (the process was killed "
            "before capture finished); the queries before it were read",
        )
        return
    notes = {
        "dropped": "statements were dropped during capture (the writer could not keep up); "
        "counts may be low",
        "truncated_parts": "processes ended without completing their capture (killed?); "
        "their queries up to then were kept",
        "skipped_lines": "unreadable lines were left out when the per-process files were merged",
    }
    for key, text in notes.items():
        count = trailer.get(key)
        if isinstance(count, int) and count > 0:
            yield Skipped(CallSite(path, last), f"{count} {text}")
