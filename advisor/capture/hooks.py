"""SQLAlchemy event listeners that turn every statement execution into a query event.

Only public events: ``before/after_cursor_execute`` and ``handle_error`` on engines,
``do_orm_execute`` on sessions, ``load`` on mappers. The ORM listener computes the call
site once and hands it, with what the ORM said, to the cursor listener through an
execution option, so every cursor execution of one ORM statement (selectinload chunks,
insertmanyvalues batches) carries it. Every listener swallows its own failures: they
are counted, and the application's statement goes on untouched.
"""

from __future__ import annotations

import itertools
import sys
from time import perf_counter
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapper, Session

from advisor.capture.context import current_scope
from advisor.capture.encode import LineEncoder
from advisor.capture.frames import Site, SiteFinder
from advisor.capture.orm import ORIGIN_KEY, describe
from advisor.capture.schema_line import SchemaProbe
from advisor.capture.writer import CaptureWriter

__all__ = ["OPTION", "Recorder"]

# The execution option carrying (call site, orm dict, origin) from do_orm_execute.
OPTION = "_advisor_capture"
_T0 = "_advisor_capture_t0"


def _error_text(exc: BaseException | None) -> str:
    if exc is None:
        return "error"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


class Recorder:
    """Listens to SQLAlchemy and submits one event per statement execution to a writer."""

    def __init__(
        self,
        writer: CaptureWriter,
        *,
        call_sites: bool = True,
        root: str | None = None,
        introspect_schema: bool = True,
    ) -> None:
        self.writer = writer
        self.encoder = LineEncoder(writer.keep_params)
        self.call_sites = call_sites
        self.finder = SiteFinder(root)
        self.probe = SchemaProbe(writer) if introspect_schema else None
        self._seq = itertools.count(1)
        self._seen: set[int] = set()
        self._listening: list[tuple[Any, str, Any]] = []

    # ------------------------------------------------------------------ listen / remove

    def _listen(self, target: Any, name: str, fn: Any, **kw: Any) -> None:
        event.listen(target, name, fn, **kw)
        self._listening.append((target, name, fn))

    def attach(self, target: Any = None) -> None:
        """Listen on one engine (``AsyncEngine`` through ``.sync_engine``), or on all."""
        engine: Any = Engine if target is None else getattr(target, "sync_engine", target)
        self._listen(engine, "before_cursor_execute", self._before)
        self._listen(engine, "after_cursor_execute", self._after)
        self._listen(engine, "handle_error", self._error)
        self._listen(Session, "do_orm_execute", self._orm)
        if self.call_sites:
            self._listen(Mapper, "load", self._load)

    def detach(self) -> None:
        """Remove every listener this recorder added (idempotent)."""
        while self._listening:
            target, name, fn = self._listening.pop()
            try:
                event.remove(target, name, fn)
            except Exception:
                self.writer.internal_errors += 1

    def close(self) -> None:
        """Detach, wait for a pending schema snapshot, and close the writer."""
        self.detach()
        if self.probe is not None:
            self.probe.wait()
        self.writer.close()

    # ------------------------------------------------------------------ listeners

    def _before(
        self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        if context is not None:
            try:
                context.__dict__[_T0] = perf_counter()
            except Exception:
                self.writer.internal_errors += 1

    def _after(
        self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        end = perf_counter()
        try:
            duration = None
            carried = None
            server_side = False
            if context is not None:
                start = context.__dict__.get(_T0)
                duration = None if start is None else (end - start) * 1000.0
                carried = context.execution_options.get(OPTION)
                many = many or bool(context.executemany)
                server_side = bool(
                    getattr(context, "_is_server_side", False)
                    or context.execution_options.get("stream_results", False)
                )
            rows = getattr(cursor, "rowcount", -1)
            if rows is None or rows < 0 or server_side:
                rows = None
            self._emit(conn, statement, params, many, duration, rows, carried, None, server_side)
        except Exception:
            self.writer.internal_errors += 1

    def _error(self, exc_context: Any) -> None:
        try:
            context = exc_context.execution_context
            statement = exc_context.statement
            if statement is None:
                return
            duration = None
            carried = None
            many = False
            if context is not None:
                start = context.__dict__.get(_T0)
                if start is not None:
                    duration = (perf_counter() - start) * 1000.0
                carried = context.execution_options.get(OPTION)
                many = bool(context.executemany)
            error = _error_text(exc_context.original_exception)
            self._emit(
                exc_context.connection,
                statement,
                exc_context.parameters,
                many,
                duration,
                None,
                carried,
                error,
                False,
            )
        except Exception:
            self.writer.internal_errors += 1

    def _emit(
        self,
        conn: Any,
        statement: str,
        params: Any,
        many: bool,
        duration: float | None,
        rows: int | None,
        carried: tuple[Site | None, dict[str, Any] | None, Site | None] | None,
        error: str | None,
        server_side: bool,
    ) -> None:
        if conn is not None and self.probe is not None:
            engine = conn.engine
            if id(engine) not in self._seen:
                self._seen.add(id(engine))
                self.probe.engine_seen(engine)
        site = orm = origin = None
        if carried is not None:
            site, orm, origin = carried
        if site is None and self.call_sites:
            site = self.finder.find(sys._getframe(2))
        writer = self.writer
        if writer.full():  # drop before paying to encode
            writer.dropped += 1
            return
        writer.submit(
            self.encoder.line(
                next(self._seq),
                current_scope(),
                statement,
                params,
                many,
                duration,
                rows,
                site,
                origin,
                orm,
                error,
                server_side,
            )
        )

    def _orm(self, orm_state: Any) -> None:
        try:
            orm, origin = describe(orm_state)
            site = self.finder.find(sys._getframe(1)) if self.call_sites else None
            if site is not None or orm is not None:
                orm_state.update_execution_options(**{OPTION: (site, orm, origin)})
        except Exception:
            self.writer.internal_errors += 1

    def _load(self, target: Any, query_context: Any) -> None:
        try:
            carried = query_context.execution_options.get(OPTION)
            if carried is not None and carried[0] is not None:
                target._sa_instance_state.info[ORIGIN_KEY] = carried[0]
        except Exception:
            self.writer.internal_errors += 1
