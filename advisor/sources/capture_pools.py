"""The ``pool_config`` and ``pool`` lines of a capture file -> one PoolUsage per pool.

A capture holds far more query lines than pool lines: the file is searched in large
blocks for the line prefix (as for schema lines), never decoded line by line. Lines that
do not decode are left out (the query reader already reports unreadable lines).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import msgspec

from advisor.model import PoolUsage
from advisor.sources.capture_file import _lines_matching, _open

__all__ = ["read_pools", "sources_pools"]

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
            try:
                line = msgspec.json.decode(raw)
            except msgspec.DecodeError:
                continue
            if isinstance(line, dict) and type(line.get("pool")) is int:
                _add(pools.setdefault(line["pool"], _Pool()), line)
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


def sources_pools(paths: Iterable[str]) -> tuple[PoolUsage, ...]:
    """The pools of every capture file among ``paths`` (numbered on across files).

    An unreadable file contributes nothing here: reading its queries reports it.
    """
    from advisor.errors import InputError
    from advisor.sources import is_capture

    found: list[PoolUsage] = []
    for path in paths:
        if path == "-" or not is_capture(path):
            continue
        try:
            pools = read_pools(path)
        except (InputError, OSError):
            continue
        found.extend(replace(p, pool=len(found) + i + 1) for i, p in enumerate(pools))
    return tuple(found)
