"""Read a capture file (JSON Lines, see ``docs/capture-format.md``) back into executions.

:func:`read_header` gives the header (with the last schema snapshot in the file);
:func:`read_capture` yields one :class:`~advisor.model.Execution` per query line and a
:class:`~advisor.model.Skipped` for each line that cannot be read, for a missing
trailer (a killed process) and for events the writer dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, get_args

import orjson

from advisor.capture.writer import FORMAT, VERSION
from advisor.errors import InputError
from advisor.model import CallSite, Execution, OrmLoad, Schema, ScopeKind, Skipped

__all__ = ["CaptureHeader", "read_capture", "read_header"]

_SCOPE_KINDS = frozenset(get_args(ScopeKind))
_LOAD_KINDS = frozenset({"lazy", "column", "batched"})
_DIRECTIONS = frozenset({"ONETOMANY", "MANYTOONE", "MANYTOMANY"})
# Call sites repeat on every execution of a loop: one CallSite per distinct (path, line,
# function) is shared, which also makes the workload's comparisons identity checks.
_SITE_CACHE_LIMIT = 50_000


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
        header = orjson.loads(first)
    except orjson.JSONDecodeError:
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
    from advisor.schema.snapshot import schema_from_dict  # only a schema line needs it

    try:
        return schema_from_dict(data)
    except Exception:  # a malformed snapshot: the header is still usable without it
        return None


def read_header(path: str) -> CaptureHeader:
    """The header of ``path``; a later ``schema`` line overrides its schema and server."""
    with _open(path) as handle:
        header = _parse_header(path, handle.readline())
        fields = {k: header.get(k) for k in ("server_version", "dialect", "driver", "schema")}
        for line in handle:
            if line.startswith('{"type": "schema"'):
                try:
                    later = orjson.loads(line)
                except orjson.JSONDecodeError:
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


def _site(data: Any, cache: dict[tuple[str, int, str], CallSite] | None = None) -> CallSite | None:
    if not isinstance(data, dict):
        return None
    path = data.get("path")
    if not isinstance(path, str):
        return None
    line = data.get("line")
    function = data.get("function")
    if cache is not None and type(line) is int and type(function) is str:
        key = (path, line, function)
        site = cache.get(key)
        if site is None:
            if len(cache) >= _SITE_CACHE_LIMIT:
                cache.clear()
            site = cache[key] = CallSite(path, line, function)
        return site
    return CallSite(
        path,
        line if isinstance(line, int) else None,
        function if isinstance(function, str) else None,
    )


def _orm(data: Any) -> OrmLoad | None:
    # Type checks before set lookups: a JSON list or object is unhashable.
    if not isinstance(data, dict) or not _member(data.get("kind"), _LOAD_KINDS):
        return None
    direction = data.get("direction")
    path = data.get("path")
    return OrmLoad(
        kind=data["kind"],
        parent=data.get("parent"),
        attribute=data.get("attribute"),
        path=tuple(str(p) for p in path) if isinstance(path, list) else (),
        direction=direction if _member(direction, _DIRECTIONS) else None,
        target=data.get("target"),
    )


def _member(value: Any, names: frozenset[str]) -> bool:
    return type(value) is str and value in names


def _number(value: Any) -> float | None:
    kind = type(value)  # JSON numbers are exactly int or float; bool is not one
    return float(value) if kind is float or kind is int else None


def to_execution(
    data: dict[str, Any],
    source: CallSite,
    sites: dict[tuple[str, int, str], CallSite] | None = None,
) -> Execution:
    """One query line as an :class:`Execution` (``source`` names file and line).

    ``sites``, when given, shares equal call sites between executions (see
    :func:`read_capture`).
    """
    get = data.get
    rows = get("rows")
    seq = get("seq")
    kind = get("scope_kind")
    scope = get("scope")
    scope_id = get("scope_id")
    error = get("error")
    orm = get("orm")
    origin = get("origin")
    # Positional: this runs once per execution of a capture (millions).
    return Execution(
        data["sql"],
        source,
        1,
        _number(get("duration_ms")),
        rows if type(rows) is int else None,
        scope if type(scope) is str else None,
        kind if _member(kind, _SCOPE_KINDS) else None,
        seq if isinstance(seq, int) else None,
        _site(get("call_site"), sites),
        None if origin is None else _site(origin, sites),
        get("params_hash"),
        get("params_shape"),
        bool(get("executemany", False)),
        None if orm is None else _orm(orm),
        error if type(error) is str else None,
        scope_id if type(scope_id) is int else None,
    )


def read_capture(path: str) -> Iterator[Execution | Skipped]:
    """Every query of ``path`` in file order; unreadable lines come out as Skipped."""
    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    sites: dict[tuple[str, int, str], CallSite] = {}
    with _open(path) as handle:
        _parse_header(path, handle.readline())
        trailer: dict[str, Any] | None = None
        number = 1
        for number, line in enumerate(handle, start=2):
            try:
                data = loads(line)
            except decode_error:
                if line.strip():
                    yield Skipped(
                        CallSite(path, number),
                        "not valid JSON (truncated line?)",
                        line[:200].strip(),
                    )
                continue
            if type(data) is not dict:
                yield Skipped(CallSite(path, number), "not a JSON object")
                continue
            kind = data.get("type")
            if kind == "query":
                if type(data.get("sql")) is not str:
                    yield Skipped(CallSite(path, number), "query line without sql")
                    continue
                yield to_execution(data, CallSite(path, number), sites)
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
