"""Connection-pool checkouts, timed (for ADV009 connection-pool-pressure).

SQLAlchemy has no event before a checkout starts waiting (``checkout`` fires once a
connection was handed over), so each instrumented engine's ``QueuePool`` (and its asyncio
subclass ``AsyncAdaptedQueuePool``) gets its ``_do_get`` wrapped on the instance: the one
call in which a checkout waits for a free connection, opens an overflow connection, or
times out. A ``pool_config`` line names each pool's settings once; a ``pool`` line per
checkout gives the wait, the connections in use, whether a new connection was opened
(``connected``: that time is connecting, not waiting), whether it timed out, and when
it ended (``at``, seconds from the start of the capture).
"""

from __future__ import annotations

from time import perf_counter
from typing import Any

from sqlalchemy import exc
from sqlalchemy.pool import QueuePool

from advisor.capture.context import CURRENT_SCOPE, FALLBACK_SCOPE
from advisor.capture.encode import POOL
from advisor.capture.writer import CaptureWriter

__all__ = ["PoolTimer"]


class PoolTimer:
    """Wraps the checkouts of every QueuePool it is shown; :meth:`restore` undoes it."""

    def __init__(self, writer: CaptureWriter, t0: float) -> None:
        self.writer = writer
        self._t0 = t0  # ``at`` (when the checkout ended) counts seconds from here
        self._wrapped: dict[int, Any] = {}  # id(pool) -> pool

    def watch(self, pool: Any) -> None:
        """Time ``pool``'s checkouts from now on (once per pool; other pool classes: no-op)."""
        if id(pool) in self._wrapped or not isinstance(pool, QueuePool):
            return
        self._wrapped[id(pool)] = pool
        number = len(self._wrapped)
        original = pool._do_get
        record = self._record
        self.writer.submit(
            {
                "type": "pool_config",
                "pool": number,
                "class": type(pool).__name__,
                "size": pool.size(),
                "max_overflow": pool._max_overflow,
                "timeout_s": pool.timeout(),
            }
        )

        def timed_do_get() -> Any:
            before = pool.overflow()
            start = perf_counter()
            try:
                entry = original()
            except exc.TimeoutError:
                record(number, pool, start, before, True)
                raise
            record(number, pool, start, before, False)
            return entry

        # On the instance, shadowing the class's method: restore() only deletes it again.
        setattr(pool, "_do_get", timed_do_get)  # noqa: B010

    def _record(self, number: int, pool: Any, start: float, before: int, timeout: bool) -> None:
        # Every checkout: a tuple here, the line is formatted by the writer thread.
        try:
            end = perf_counter()
            overflow = pool.overflow()
            scope = CURRENT_SCOPE.get() or FALLBACK_SCOPE[0]
            self.writer.submit(
                (
                    POOL,
                    number,
                    end - self._t0,
                    (end - start) * 1000.0,
                    pool.checkedout(),
                    overflow,
                    overflow > before,
                    timeout,
                    None if scope is None else (scope.tag or scope.settle()),
                )
            )
        except Exception:
            self.writer.internal_errors += 1

    def restore(self) -> None:
        """Give every wrapped pool its own ``_do_get`` back."""
        for pool in self._wrapped.values():
            vars(pool).pop("_do_get", None)
        self._wrapped.clear()
