"""Merge per-process capture files (uvicorn workers, pytest-xdist) into one valid file.

Each process writes its own part; the merge keeps one header, the last schema snapshot,
every query line (``seq`` renumbered, part after part), and one trailer whose counters
are the sums. A part without a trailer (a killed process) is counted in
``truncated_parts``; its unreadable last line in ``skipped_lines``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import IO, Any

from advisor.capture.format import header_line, now_iso
from advisor.capture.writer import open_output

__all__ = ["merge_parts"]

_COUNTERS = (
    "events",
    "dropped",
    "internal_errors",
    "schema_errors",
    "truncated_parts",
    "skipped_lines",
)


# Lines copied from each part (the header, schema lines and trailer are rewritten).
_COPIED = frozenset({"query", "pool", "pool_config"})


def _scan_part(
    path: str,
) -> tuple[dict[str, Any] | None, dict[str, Any] | None, dict[str, Any] | None, int]:
    """(header, last schema line, trailer, unreadable lines) of one part; first pass."""
    header = schema = trailer = None
    bad = 0
    with open(path, encoding="utf-8", errors="replace") as handle:
        for raw in handle:
            if raw.startswith('{"type": "query"') and raw.endswith("}\n"):
                continue
            try:
                data = json.loads(raw)
            except ValueError:
                bad += 1
                continue
            kind = data.get("type") if isinstance(data, dict) else None
            if kind == "header" and header is None:
                header = data
            elif kind == "schema":
                schema = data
            elif kind == "trailer":
                trailer = data
            elif kind not in _COPIED:
                bad += 1
    return header, schema, trailer, bad


def _write(out: IO[str], data: dict[str, Any]) -> None:
    out.write(json.dumps(data, default=str) + "\n")


def _copy_queries(
    path: str, out: IO[str], seq: int, scope_ids: dict[Any, int], pool_ids: dict[Any, int]
) -> int:
    """Second pass: copy one part's query and pool lines, renumbering ``seq``, ``scope_id``
    and ``pool``.

    Scope ids and pool numbers are unique per process only: ``scope_ids`` maps (part, id)
    to a new id, ``pool_ids`` (part, number) to a new pool number.
    """
    with open(path, encoding="utf-8", errors="replace") as handle:
        for raw in handle:
            if not raw.startswith('{"type": "'):
                continue
            try:
                data = json.loads(raw)
            except ValueError:
                continue
            kind = data.get("type") if isinstance(data, dict) else None
            if kind not in _COPIED:
                continue
            if kind == "query":
                seq += 1
                data["seq"] = seq
            else:
                key = (path, data.get("pool"))
                data["pool"] = pool_ids.setdefault(key, len(pool_ids) + 1)
            old = data.get("scope_id")
            if old is not None:
                data["scope_id"] = scope_ids.setdefault((path, old), len(scope_ids) + 1)
            _write(out, data)
    return seq


def merge_parts(
    parts: Sequence[str],
    output: str,
    *,
    keep_params: bool = False,
    schema: dict[str, Any] | None = None,
) -> dict[str, int]:
    """Write ``output`` from ``parts`` (in order); returns the trailer's counters
    (``events`` is the number of query lines). ``schema``, a snapshot taken after the
    parts were written, replaces theirs when it has tables.

    The merge goes to a temporary file renamed over ``output`` at the end, so ``output``
    may be one of the parts, and a second Ctrl-C during the merge never leaves it
    without its trailer.
    """
    totals = dict.fromkeys(_COUNTERS, 0)
    header = header_line(keep_params)
    schema_line: dict[str, Any] | None = None
    readable: list[str] = []
    for part in parts:
        if not os.path.exists(part):
            continue
        part_header, part_schema, trailer, bad = _scan_part(part)
        totals["skipped_lines"] += bad
        if part_header is None:
            totals["truncated_parts"] += 1
            continue
        readable.append(part)
        for key in ("advisor_version", "server_version", "dialect", "driver", "schema"):
            if part_header.get(key) is not None and header.get(key) is None:
                header[key] = part_header[key]
        if part_schema is not None and (schema_line is None or part_schema.get("schema")):
            schema_line = part_schema
        if trailer is None:
            totals["truncated_parts"] += 1
            continue
        for key in _COUNTERS:
            value = trailer.get(key)
            if key != "events" and isinstance(value, int):
                totals[key] += value
    seq = 0
    merging = output + ".merging"
    with open_output(merging) as out:
        _write(out, header)
        if schema and schema.get("tables"):
            schema_line = {"type": "schema", **(schema_line or {}), "schema": schema}
        if schema_line is not None:
            _write(out, schema_line)
        scope_ids: dict[Any, int] = {}
        pool_ids: dict[Any, int] = {}
        for part in readable:
            seq = _copy_queries(part, out, seq, scope_ids, pool_ids)
        totals["events"] = seq
        totals["parts"] = len(readable)
        _write(out, {"type": "trailer", **totals, "ended_at": now_iso()})
    os.replace(merging, output)
    return totals
