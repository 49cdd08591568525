"""Capture-file lines that the reader and the merge tests write by hand."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["HEADER", "QUERY", "TRAILER", "write_lines"]


def write_lines(path: Path, *lines: object) -> str:
    """Write ``lines`` (JSON values, or raw strings as they are) one per line; the path."""
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return str(path)


HEADER = {"type": "header", "format": "advisor-capture", "version": 1}
QUERY = {
    "type": "query",
    "seq": 1,
    "sql": "SELECT 1",
    "scope": "s",
    "scope_kind": "test",
    "scope_id": 3,
    "orm": {
        "kind": "lazy",
        "parent": "A",
        "attribute": "b",
        "path": ["A", "b"],
        "direction": "ONETOMANY",
        "target": "B",
    },
    "call_site": {"path": "app.py", "line": 3, "function": "f"},
    "unknown_key": 1,
}
TRAILER = {"type": "trailer", "events": 1, "dropped": 0, "internal_errors": 0}
