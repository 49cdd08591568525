"""A read's result, hashed without consuming or changing it (for ADV010 cache-candidate).

Only what the driver already buffered on the client is read, never fetched: psycopg's
client-side cursor keeps the whole result in ``cursor.pgresult`` (read by row and column
without moving the cursor's position); SQLAlchemy's asyncio adapters (asyncpg, psycopg
async) keep the fetched rows in the ``_rows`` deque that ``fetch*()`` later pops from,
and iterating a deque leaves it untouched. Anything else (server-side cursors, other
drivers, results of more than ``MAX_CELLS`` values) gets no hash: the values stay
redacted (only a CRC-32 leaves the process) and the cost stays small: measured with
psycopg 3.3, 1.3 us for a one-value lookup and 63 us for 240 values (one ctypes call per
value), hence the cap of 32 values (about 9 us at most).
"""

from __future__ import annotations

from collections import deque
from typing import Any
from zlib import crc32

__all__ = ["MAX_CELLS", "result_hash"]

MAX_CELLS = 32
"""Results with more values than this are not hashed (a cache candidate is a small read)."""


def result_hash(cursor: Any) -> str | None:
    """8 hex digits identifying the rows ``cursor`` holds, or None (see the module docstring)."""
    pgresult = getattr(cursor, "pgresult", None)
    if pgresult is not None:
        return _pgresult_hash(pgresult)
    rows = getattr(cursor, "_rows", None)
    if type(rows) is deque and rows and len(rows) * len(rows[0]) <= MAX_CELLS:
        # Records and tuples repr their values; the deque itself is not consumed.
        return f"{crc32(repr(tuple(rows)).encode('utf-8', 'replace')):08x}"
    return None


def _pgresult_hash(pgresult: Any) -> str | None:
    fields = pgresult.nfields
    tuples = pgresult.ntuples
    if not fields or not tuples or fields * tuples > MAX_CELLS:
        return None  # no result set (DML), or too large to be worth a cache
    get = pgresult.get_value
    digest = 0
    for row in range(tuples):
        for column in range(fields):
            value = get(row, column)
            # NULL and the empty string must differ; a separator keeps ('ab','c') != ('a','bc').
            digest = crc32(b"\x00" if value is None else b"\x01" + value + b"\x1f", digest)
    return f"{digest:08x}"
