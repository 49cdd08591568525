"""Durations and sizes as people read them, written once for every report and migration."""

from __future__ import annotations

__all__ = ["format_bytes", "format_ms"]


def format_ms(ms: float) -> str:
    """``0.42 ms``, ``41.9 ms``, ``12,345 ms``: enough digits to compare, no more."""
    if ms < 10:
        return f"{ms:.2f} ms"
    if ms < 1000:
        return f"{ms:.1f} ms"
    return f"{ms:,.0f} ms"


def format_bytes(size: int) -> str:
    """``8 kB``, ``21.4 MB``, ``1.2 GB`` (powers of 1024, as PostgreSQL's pg_size_pretty)."""
    value = float(size)
    for unit in ("bytes", "kB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{size:,} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover
