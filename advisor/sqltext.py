"""SQL text helpers shared by every stage: identifiers and one-line excerpts.

Plain string functions that import nothing from advisor, so that parse, rules,
indexes, report and the sandbox can all use the one spelling of each.
"""

from __future__ import annotations

__all__ = ["one_line"]


def one_line(text: str, limit: int | None = 120, *, ellipsis: str = "...") -> str:
    """``text`` on one line (runs of whitespace become one space), cut to at most
    ``limit`` characters with ``ellipsis`` at the end; ``limit=None`` never cuts.

    >>> one_line("SELECT id\\n  FROM users", 14)
    'SELECT id F...'
    """
    flat = " ".join(text.split())
    if limit is None or len(flat) <= limit:
        return flat
    return flat[: limit - len(ellipsis)] + ellipsis
