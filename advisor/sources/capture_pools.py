"""The ``pool_config`` and ``pool`` lines of a capture file -> one PoolUsage per pool.

A capture holds far more query lines than pool lines: the file is searched in large
blocks for the line prefix, never decoded line by line, and a scan finds them in the pass
that finds the schema lines (:func:`read_header_and_pools`). Lines that do not decode are
left out (the query reader already reports unreadable lines).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from advisor.model import PoolUsage
from advisor.sources.capture_file import CaptureHeader, _lines_matching, _open, read_header

__all__ = ["read_header_and_pools", "read_pools"]

_POOL_LINE = re.compile(rb'\n\{"type": ?"pool')
_WAITS_CAP = 100_000
_SCOPES_SHOWN = 5


@dataclass(slots=True)
class _Pool:
    config: dict[str, Any] = field(default_factory=dict)
    checkouts: int = 0
    waits: list[tuple[float, float]] = field(default_factory=list)  # (start, end) in ms
    timeouts: int = 0
    peak_in_use: int = 0
    peak_overflow: int = 0
    scope_wait: dict[str, float] = field(default_factory=dict)


def read_pools(path: str) -> tuple[PoolUsage, ...]:
    """Every pool of the capture at ``path``, in the order capture first saw them."""
    pools: dict[int, _Pool] = {}
    with _open(path) as handle:
        handle.readline()  # the header (read_capture checks it)
        for raw in _lines_matching(handle, _POOL_LINE):
            _add_line(pools, raw)
    return _frozen(pools)


def read_header_and_pools(path: str) -> tuple[CaptureHeader, tuple[PoolUsage, ...]]:
    """:func:`~advisor.sources.capture_file.read_header` and :func:`read_pools` of
    ``path`` in one pass over the file. Raises InputError as ``read_header`` does."""
    pools: dict[int, _Pool] = {}
    header = read_header(path, lambda raw: _add_line(pools, raw))
    return header, _frozen(pools)


def _add_line(pools: dict[int, _Pool], raw: bytes) -> None:
    try:
        line = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return
    if isinstance(line, dict) and type(line.get("pool")) is int:
        _add(pools.setdefault(line["pool"], _Pool()), line)


def _frozen(pools: dict[int, _Pool]) -> tuple[PoolUsage, ...]:
    return tuple(_freeze(number, p) for number, p in pools.items())


def _add(pool: _Pool, line: dict[str, Any]) -> None:
    if line.get("type") == "pool_config":
        pool.config = line
        return
    pool.checkouts += 1
    pool.peak_in_use = max(pool.peak_in_use, _int(line.get("in_use")))
    pool.peak_overflow = max(pool.peak_overflow, _int(line.get("overflow")))
    if line.get("timeout") is True:
        pool.timeouts += 1
    wait = line.get("wait_ms")
    at = line.get("at")
    if line.get("connected") is True or not isinstance(wait, int | float):
        return  # opening a new connection is not waiting for one
    if isinstance(at, int | float) and len(pool.waits) < _WAITS_CAP:
        pool.waits.append((at * 1000.0 - wait, at * 1000.0))
    scope = line.get("scope")
    if isinstance(scope, str):
        pool.scope_wait[scope] = pool.scope_wait.get(scope, 0.0) + wait


def _int(value: Any) -> int:
    return value if type(value) is int else 0


def _peak_overlap(intervals: Iterable[tuple[float, float]], min_ms: float = 0.1) -> int:
    """The most intervals (longer than ``min_ms``) open at one instant."""
    edges = sorted(
        edge
        for start, end in intervals
        if end - start >= min_ms
        for edge in ((start, 1), (end, -1))
    )
    peak = current = 0
    for _, step in edges:
        current += step
        peak = max(peak, current)
    return peak


def _freeze(number: int, pool: _Pool) -> PoolUsage:
    config = pool.config
    timeout = config.get("timeout_s")
    return PoolUsage(
        pool=number,
        pool_class=config.get("class") if isinstance(config.get("class"), str) else None,
        size=config.get("size") if type(config.get("size")) is int else None,
        max_overflow=config.get("max_overflow")
        if type(config.get("max_overflow")) is int
        else None,
        timeout_s=float(timeout) if isinstance(timeout, int | float) else None,
        checkouts=pool.checkouts,
        waits_ms=tuple(end - start for start, end in pool.waits),
        timeouts=pool.timeouts,
        peak_in_use=pool.peak_in_use,
        peak_overflow=pool.peak_overflow,
        peak_waiting=_peak_overlap(pool.waits),
        scopes=tuple(sorted(pool.scope_wait, key=pool.scope_wait.__getitem__, reverse=True))[
            :_SCOPES_SHOWN
        ],
    )
