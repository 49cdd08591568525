"""Read a capture file (JSON Lines, see ``docs/capture-format.md``) back into executions.

:func:`read_header` gives the header (with the last schema snapshot in the file);
:func:`read_capture` yields one :class:`~advisor.model.Execution` per query line and a
:class:`~advisor.model.Skipped` for each line that cannot be read, for a missing
trailer (a killed process) and for events the writer dropped.

Query lines are decoded straight into a typed record (:class:`_QueryLine`, msgspec checks
the types in C): that is the common case and runs once per captured statement. A line
that does not fit it (another line type, a field of an unexpected type, invalid UTF-8)
goes through a tolerant reader that keeps what it can.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any, Literal, get_args

import msgspec

from advisor.capture.format import FORMAT, VERSION
from advisor.errors import InputError
from advisor.model import CallSite, Execution, Hop, LoadKind, OrmLoad, Schema, ScopeKind, Skipped

__all__ = ["CaptureHeader", "read_capture", "read_header"]

_SCOPE_KINDS = frozenset(get_args(ScopeKind))
_LOAD_KINDS = frozenset(get_args(LoadKind))
_DIRECTIONS = frozenset({"ONETOMANY", "MANYTOONE", "MANYTOMANY"})
# Call sites repeat on every execution of a loop: one CallSite per distinct (path, line,
# function) is shared, which also makes the workload's comparisons identity checks.
_SITE_CACHE_LIMIT = 50_000
_SCHEMA_LINE = re.compile(rb'\n\{"type": ?"schema"')  # a regex finds it fastest
# Schema and pool lines found in one pass: the search costs the same as for one kind.
_SCHEMA_OR_POOL_LINE = re.compile(rb'\n\{"type": ?"(?:schema"|pool)')
_POOL_START = re.compile(rb'\{"type": ?"pool')
_BLOCK = 1 << 22


class _Site(msgspec.Struct, frozen=True, gc=False):
    path: str
    line: int | None = None
    function: str | None = None
    package: str | None = None
    version: str | None = None


class _OrmLine(msgspec.Struct, gc=False):
    kind: LoadKind
    parent: str | None = None
    attribute: str | None = None
    path: tuple[str, ...] = ()
    direction: Literal["ONETOMANY", "MANYTOONE", "MANYTOMANY"] | None = None
    target: str | None = None
    root: _Site | None = None
    chain: tuple[tuple[str, str, Literal["ONETOMANY", "MANYTOONE", "MANYTOMANY"] | None], ...] = ()
    serializer: str | None = None
    origin_scope: str | None = None


class _QueryLine(msgspec.Struct, gc=False):
    """A query line as the writer writes it; unknown keys are ignored."""

    type: str
    sql: str
    seq: int | None = None
    scope: str | None = None
    scope_kind: ScopeKind | None = None
    scope_id: int | None = None
    params_hash: str | None = None
    params_shape: str | None = None
    params: Any = None
    duration_ms: float | None = None
    rows: int | None = None
    executemany: bool | None = None
    call_site: _Site | None = None
    origin: _Site | None = None
    orm: _OrmLine | None = None
    error: str | None = None
    blocks_loop: bool = False
    result_hash: str | None = None
    at: float | None = None
    # Tuples, not lists: a missing field's default is then the shared empty tuple, where
    # a list default is a new list per line (a million objects for the collector).
    callers: tuple[_Site, ...] = ()


_Sites = dict[_Site, CallSite]
_decode_any = msgspec.json.decode


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


def _open(path: str) -> IO[bytes]:
    try:
        return open(path, "rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot read the capture file ({exc.strerror})") from exc


def _loads(line: bytes) -> Any:
    """Any JSON value of ``line``; invalid UTF-8 is replaced. Raises msgspec.DecodeError."""
    try:
        return _decode_any(line)
    except msgspec.DecodeError:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            return _decode_any(line.decode("utf-8", "replace"))
        raise  # valid UTF-8: the JSON itself is broken


def _parse_header(path: str, first: bytes) -> dict[str, Any]:
    try:
        header = _loads(first)
    except (msgspec.DecodeError, RecursionError):
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


def read_header(path: str, pool_lines: Callable[[bytes], object] | None = None) -> CaptureHeader:
    """The header of ``path``; a later ``schema`` line overrides its schema and server.

    ``pool_lines``, when given, is handed each ``pool`` / ``pool_config`` line (raw, in
    file order) found by the same pass over the file.
    """
    pattern = _SCHEMA_LINE if pool_lines is None else _SCHEMA_OR_POOL_LINE
    with _open(path) as handle:
        header = _parse_header(path, handle.readline())
        fields = {k: header.get(k) for k in ("server_version", "dialect", "driver", "schema")}
        for line in _lines_matching(handle, pattern):
            if pool_lines is not None and _POOL_START.match(line):
                pool_lines(line)
                continue
            try:
                later = _loads(line)
            except (msgspec.DecodeError, RecursionError):
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


def _lines_matching(handle: IO[bytes], prefix: re.Pattern[bytes]) -> Iterator[bytes]:
    """The lines after the current position (a line start) that ``prefix`` (which starts
    with a newline) finds at their start, in file order.

    A capture holds a million query lines for a few schema lines: the file is read in
    large blocks and searched for the line prefix, not split into lines.
    """
    carry = b"\n"  # what is left of the previous block, from its last newline on
    while block := handle.read(_BLOCK):
        data = carry + block
        last = data.rfind(b"\n")
        for match in prefix.finditer(data, 0, last):
            start = match.start() + 1
            yield data[start : data.find(b"\n", start)]
        carry = data[last:]
    if prefix.match(carry):  # a last line without its newline
        yield carry[1:]


def _site(data: Any, cache: _Sites) -> CallSite | None:
    if not isinstance(data, dict):
        return None
    path = data.get("path")
    if not isinstance(path, str):
        return None
    line = data.get("line")
    function = data.get("function")
    package = _str(data.get("package"))
    version = _str(data.get("version"))
    if type(line) is int and type(function) is str:
        return _shared(_Site(path, line, function, package, version), cache)
    return CallSite(
        path,
        line if isinstance(line, int) else None,
        function if isinstance(function, str) else None,
        package,
        version,
    )


def _shared(site: _Site, cache: _Sites) -> CallSite:
    found = cache.get(site)
    if found is None:
        if len(cache) >= _SITE_CACHE_LIMIT:
            cache.clear()
        found = cache[site] = CallSite(
            site.path, site.line, site.function, site.package, site.version
        )
    return found


def _orm(data: Any) -> OrmLoad | None:
    # Type checks before set lookups: a JSON list or object is unhashable.
    if not isinstance(data, dict) or not _member(data.get("kind"), _LOAD_KINDS):
        return None
    direction = data.get("direction")
    path = data.get("path")
    return OrmLoad(
        kind=data["kind"],
        parent=_str(data.get("parent")),
        attribute=_str(data.get("attribute")),
        path=tuple(str(p) for p in path) if isinstance(path, list) else (),
        direction=direction if _member(direction, _DIRECTIONS) else None,
        target=_str(data.get("target")),
        root=_site(data.get("root"), {}),
        chain=_chain(data.get("chain")),
        serializer=_str(data.get("serializer")),
        origin_earlier=data.get("origin_scope") == "earlier",
    )


def _chain(data: Any) -> tuple[Hop, ...]:
    """The lazy-loaded hops ``[[parent, attribute, direction], ...]``; odd items dropped."""
    if not isinstance(data, list):
        return ()
    hops = []
    for item in data:
        if isinstance(item, list) and len(item) == 3 and _str(item[0]) and _str(item[1]):
            direction = item[2] if _member(item[2], _DIRECTIONS) else None
            hops.append(Hop(item[0], item[1], direction))
    return tuple(hops)


def _member(value: Any, names: frozenset[str]) -> bool:
    return type(value) is str and value in names


def _str(value: Any) -> str | None:
    return value if type(value) is str else None


def _number(value: Any) -> float | None:
    kind = type(value)  # JSON numbers are exactly int or float; bool is not one
    return float(value) if kind is float or kind is int else None


def _from_line(line: _QueryLine, source: CallSite, sites: _Sites) -> Execution:
    """The common case: a query line whose fields all have the documented types."""
    site = line.call_site
    origin = line.origin
    orm = line.orm
    load = None
    if orm is not None:
        path = orm.path
        root = None if orm.root is None else _shared(orm.root, sites)
        chain = tuple(Hop(*hop) for hop in orm.chain)
        load = OrmLoad(
            orm.kind,
            orm.parent,
            orm.attribute,
            path,
            orm.direction,
            orm.target,
            root,
            chain,
            orm.serializer,
            orm.origin_scope == "earlier",
        )
    # Positional: this runs once per execution of a capture (millions).
    return Execution(
        line.sql,
        source,
        1,
        line.duration_ms,
        line.rows,
        line.scope,
        line.scope_kind,
        line.seq,
        None if site is None else _shared(site, sites),
        None if origin is None else _shared(origin, sites),
        line.params_hash,
        line.params_shape,
        line.executemany is True,
        load,
        line.error,
        line.scope_id,
        "capture_file",
        line.params,
        line.blocks_loop,
        line.result_hash,
        line.at,
        tuple(_shared(c, sites) for c in line.callers) if line.callers else (),
    )


def _from_dict(data: dict[str, Any], source: CallSite, sites: _Sites) -> Execution:
    """A query line with odd field types: each field is kept when it has its type."""
    get = data.get
    rows = get("rows")
    seq = get("seq")
    kind = get("scope_kind")
    scope_id = get("scope_id")
    orm = get("orm")
    return Execution(
        data["sql"],
        source,
        1,
        _number(get("duration_ms")),
        rows if type(rows) is int else None,
        _str(get("scope")),
        kind if _member(kind, _SCOPE_KINDS) else None,
        seq if type(seq) is int else None,
        _site(get("call_site"), sites),
        _site(get("origin"), sites),
        _str(get("params_hash")),
        _str(get("params_shape")),
        bool(get("executemany", False)),
        None if orm is None else _orm(orm),
        _str(get("error")),
        scope_id if type(scope_id) is int else None,
        "capture_file",
        get("params"),
        get("blocks_loop") is True,
        _str(get("result_hash")),
        _number(get("at")),
        _callers(get("callers"), sites),
    )


def _callers(data: Any, sites: _Sites) -> tuple[CallSite, ...]:
    if not isinstance(data, list):
        return ()
    found = (_site(item, sites) for item in data)
    return tuple(site for site in found if site is not None)


def read_capture(path: str) -> Iterator[Execution | Skipped]:
    """Every query of ``path`` in file order; unreadable lines come out as Skipped."""
    decode_query = msgspec.json.Decoder(_QueryLine).decode
    decode_error = msgspec.DecodeError
    sites: _Sites = {}
    with _open(path) as handle:
        _parse_header(path, handle.readline())
        trailer: dict[str, Any] | None = None
        number = 1
        for number, line in enumerate(handle, start=2):
            try:
                query = decode_query(line)
            except (decode_error, RecursionError):
                query = None
            if query is not None and query.type == "query":
                yield _from_line(query, CallSite(path, number), sites)
                continue
            try:
                data = _loads(line)
            except decode_error:
                if line.strip():
                    yield Skipped(
                        CallSite(path, number),
                        "not valid JSON (truncated line?)",
                        line[:200].decode("utf-8", "replace").strip(),
                    )
                continue
            except RecursionError:  # msgspec's depth limit: no capture line nests that deep
                yield Skipped(CallSite(path, number), "malformed: JSON nested too deeply")
                continue
            if type(data) is not dict:
                yield Skipped(CallSite(path, number), "not a JSON object")
                continue
            kind = data.get("type")
            if kind == "query":
                if type(data.get("sql")) is not str:
                    yield Skipped(CallSite(path, number), "query line without sql")
                    continue
                yield _from_dict(data, CallSite(path, number), sites)
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
