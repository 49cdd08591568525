"""The capture file format's identity: its name, its version and its first line.

The writer, the merge of per-process parts and the scan-side reader
(:mod:`advisor.sources.capture_file`) all take these from here, so that the reader needs
nothing else of capture. The whole format is described in ``docs/capture-format.md``.
"""

from __future__ import annotations

import datetime
from typing import Any

from advisor import __version__

__all__ = ["FORMAT", "VERSION", "header_line", "now_iso"]

FORMAT = "advisor-capture"
"""The header's ``format``: a file without it is not a capture."""

VERSION = 1
"""The header's ``version``; a reader refuses a newer one than it knows."""


def now_iso() -> str:
    """The current UTC time, ISO 8601 with a ``Z``."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def header_line(keep_params: bool) -> dict[str, Any]:
    """A capture file's first line, before the engine says what it connects to."""
    return {
        "type": "header",
        "format": FORMAT,
        "version": VERSION,
        "advisor_version": __version__,
        "created_at": now_iso(),
        "server_version": None,
        "dialect": None,
        "driver": None,
        "redacted": not keep_params,
        "schema": None,
    }
