"""Query lines of the capture file, encoded by the writer thread, fast.

Statements and call sites repeat, so their JSON fragments are cached; everything else
is formatted directly (no intermediate dict, no ``json.dumps`` of the whole line).
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii as quote
from typing import Any, NamedTuple
from zlib import crc32

from advisor.capture.context import Scope, scope_fields
from advisor.capture.frames import Site
from advisor.capture.params import params_shape, to_json_value

__all__ = [
    "POOL",
    "Event",
    "Extra",
    "LineEncoder",
    "ParamsSummary",
    "PoolCheckout",
    "params_hash",
    "summarize",
]

# (scope, sql, params, executemany, duration_ms, rows, call_site, origin, orm, error,
#  server_side, keys, extra, callers): a plain tuple, because the application's hot path
# builds it. The scope is its settled JSON fields (Scope.settle) or, while its name is
# unknown, the Scope itself; with keys, params are the values of a dict (rebuilt here).
# ``extra`` is None or (blocks_loop, result_hash, at), ``callers`` the app frames above the
# call site: see docs/capture-format.md. The writer numbers the events (seq) in the order
# they were queued.
Extra = tuple[bool, str | None, float]
Event = tuple[
    Scope | str | None,
    str,
    Any,
    bool,
    float | None,
    int | None,
    Site | None,
    Site | None,
    dict[str, Any] | None,
    str | None,
    bool,
    tuple[str, ...] | None,
    Extra | None,
    tuple[Site, ...] | None,
]

_CACHE_LIMIT = 4096


# An executemany's hash covers its length and its first and last rows only: the repr of
# 100,000 rows holds the GIL (the application's threads stand still) for tens of ms.
_SAMPLE_ROWS = 64


def params_hash(params: Any, many: bool = False) -> str:
    """A short, stable hash of the parameter values: 8 hex digits, the CRC-32 of their repr.

    For an executemany of more than 128 rows: of its length, first 64 and last 64 rows.
    """
    if many and type(params) in (list, tuple) and len(params) > 2 * _SAMPLE_ROWS:
        params = (len(params), params[:_SAMPLE_ROWS], params[-_SAMPLE_ROWS:])
    return f"{crc32(repr(params).encode('utf-8', 'replace')):08x}"


class ParamsSummary(NamedTuple):
    """An executemany's parameters reduced, on the application thread, to their quoted
    hash and shape: the queue then holds no reference to thousands of rows (the app's
    own objects, which it may reuse or mutate), only two short strings."""

    digest: str
    shape: str


def summarize(params: Any, many: bool) -> ParamsSummary:
    """The :class:`ParamsSummary` of ``params``."""
    return ParamsSummary(f'"{params_hash(params, many)}"', LineEncoder.shape_of(params, many))


POOL = "pool"
"""The first item of a pool checkout event (a query event's is never this string)."""

# (POOL, pool number, at: seconds from the start of the capture when the checkout ended,
#  wait_ms, in_use, overflow, connected, timeout, scope as an Event's): a plain tuple, as
# an Event is, so the garbage collector untracks it (it never untracks a tuple subclass).
PoolCheckout = tuple[str, int, float, float, int, int, bool, bool, Scope | str | None]


class LineEncoder:
    """Turns one statement execution into one JSON line (see docs/capture-format.md)."""

    def __init__(self, keep_params: bool = False) -> None:
        self.keep_params = keep_params
        self._sql: dict[str, str] = {}
        self._sites: dict[Site, str] = {}
        self._shapes: dict[Any, str] = {}
        self._tails: dict[tuple[Site | None, Site | None, bool], str] = {}

    def _quoted_sql(self, sql: str) -> str:
        found = self._sql.get(sql)
        if found is None:
            if len(self._sql) >= _CACHE_LIMIT:
                self._sql.clear()
            found = self._sql[sql] = quote(sql)
        return found

    def _site(self, site: Site | None) -> str:
        if site is None:
            return "null"
        found = self._sites.get(site)
        if found is None:
            if len(self._sites) >= _CACHE_LIMIT:
                self._sites.clear()
            found = f'{{"path": {quote(site[0])}, "line": {site[1]}, "function": {quote(site[2])}'
            if site[3] is not None:  # a frame of an installed package
                version = "null" if site[4] is None else quote(site[4])
                found += f', "package": {quote(site[3])}, "version": {version}'
            found = self._sites[site] = found + "}"
        return found

    def _shape(self, params: Any, many: bool) -> str:
        """The quoted ``params_shape``; cached by parameter types (and names)."""
        kind = type(params)
        if kind is list or kind is tuple:
            if many:
                return self.shape_of(params, many)
            types = tuple(map(type, params))
            key: Any = types
        elif kind is dict:
            types = tuple(map(type, params.values()))
            key = (tuple(params), types)
        elif params is None:
            return "null"
        else:
            return self.shape_of(params, many)
        if list in types or tuple in types:  # the shape holds their lengths
            return self.shape_of(params, many)
        found = self._shapes.get(key)
        if found is None:
            if len(self._shapes) >= _CACHE_LIMIT:
                self._shapes.clear()
            found = self._shapes[key] = self.shape_of(params, many)
        return found

    @staticmethod
    def shape_of(params: Any, many: bool) -> str:
        """The quoted ``params_shape`` of ``params`` (uncached)."""
        shape = params_shape(params, many)
        return "null" if shape is None else quote(shape)

    def _scope(self, scope: Scope | str | None) -> str:
        if isinstance(scope, str):
            return scope
        if scope is None:
            return '"scope": null, "scope_kind": null, "scope_id": null'
        # A settled scope keeps its fields (Scope.tag): no cache needed here.
        settled = scope.settle()
        if isinstance(settled, str):
            return settled
        return scope_fields(scope.resolve(), scope.kind, scope.id)

    def line(
        self,
        seq: int,
        scope: Scope | str | None,
        sql: str,
        params: Any,
        many: bool,
        duration_ms: float | None,
        rows: int | None,
        site: Site | None,
        origin: Site | None,
        orm: dict[str, Any] | None,
        error: str | None,
        server_side: bool,
        keys: tuple[str, ...] | None = None,
        extra: Extra | None = None,
        callers: tuple[Site, ...] | None = None,
    ) -> str:
        """The JSON line (with its newline) of one query (with ``keys``, ``params`` are the
        values of a dict with these keys; ``extra`` adds ``blocks_loop``, ``result_hash``
        and ``at``)."""
        if keys is not None:
            params = dict(zip(keys, params, strict=True))
        quoted = self._sql.get(sql)
        if quoted is None:
            quoted = self._quoted_sql(sql)
        if params is None:
            digest = shape = "null"
        elif type(params) is ParamsSummary:
            digest, shape = params
            params = None  # kept values are never summarized (see Recorder._after)
        elif many:
            digest = f'"{params_hash(params, many)}"'
            shape = self._shape(params, many)
        else:
            # params_hash(params), inlined: this runs for every event.
            digest = f'"{crc32(repr(params).encode("utf-8", "replace")):08x}"'
            shape = self._shape(params, many)
        if orm is None and error is None:
            # The end of the line repeats with the call site: cached.
            tail_key = (site, origin, many)
            tail = self._tails.get(tail_key)
            if tail is None:
                tail = self._tail(site, origin, many, None, None)
                if len(self._tails) >= _CACHE_LIMIT:
                    self._tails.clear()
                self._tails[tail_key] = tail
        else:
            tail = self._tail(site, origin, many, orm, error)
        text = (
            f'{{"type": "query", "seq": {seq}, {self._scope(scope)}, '
            f'"sql": {quoted}, "params_shape": {shape}, "params_hash": {digest}, '
            f'"duration_ms": {"null" if duration_ms is None else f"{duration_ms:.4f}"}, '
            f'"rows": {"null" if rows is None else rows}, {tail}'
        )
        if server_side:
            text += ', "server_side": true'
        if extra is not None:
            blocks, result, at = extra
            if blocks:
                text += ', "blocks_loop": true'
            if result is not None:
                text += f', "result_hash": "{result}"'
            text += f', "at": {at:.4f}'
        if callers:
            text += f', "callers": [{", ".join(self._site(c) for c in callers)}]'
        if self.keep_params and params is not None:
            text += f', "params": {json.dumps(to_json_value(params), default=str)}'
        return text + "}\n"

    def pool_line(self, checkout: PoolCheckout) -> str:
        """The JSON line (with its newline) of one pool checkout."""
        _, pool, at, wait_ms, in_use, overflow, connected, timeout, scope = checkout
        text = (
            f'{{"type": "pool", "pool": {pool}, "at": {at:.4f}, "wait_ms": {wait_ms:.4f}, '
            f'"in_use": {in_use}, "overflow": {max(0, overflow)}'
        )
        if connected:
            text += ', "connected": true'
        if timeout:
            text += ', "timeout": true'
        if scope is not None:
            text += ", " + self._scope(scope)
        return text + "}\n"

    def _tail(
        self,
        site: Site | None,
        origin: Site | None,
        many: bool,
        orm: dict[str, Any] | None,
        error: str | None,
    ) -> str:
        return (
            f'"executemany": {"true" if many else "false"}, '
            f'"call_site": {self._site(site)}, "origin": {self._site(origin)}, '
            f'"orm": {"null" if orm is None else json.dumps(orm)}, '
            f'"error": {"null" if error is None else quote(error)}'
        )
