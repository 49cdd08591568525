"""SQLAlchemy event listeners that turn every statement execution into a query event.

Only public events: ``before/after_cursor_execute`` and ``handle_error`` on engines,
``do_orm_execute`` on sessions, ``load`` on mappers. The ORM listener computes the call
site once and hands it, with what the ORM said, to the cursor listener through an
execution option, so every cursor execution of one ORM statement (selectinload chunks,
insertmanyvalues batches) carries it. Every listener swallows its own failures: they
are counted, and the application's statement goes on untouched.
"""

from __future__ import annotations

from asyncio import _get_running_loop
from time import perf_counter
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapper, Session

from advisor.capture.context import CURRENT_SCOPE, FALLBACK_SCOPE
from advisor.capture.encode import summarize
from advisor.capture.frames import SiteFinder
from advisor.capture.orm import Origins, describe, loaded
from advisor.capture.pools import PoolTimer
from advisor.capture.results import result_hash
from advisor.capture.schema_line import SchemaProbe
from advisor.capture.writer import CaptureWriter

__all__ = ["OPTION", "Recorder"]

# The execution option carrying (call site, orm dict, origin, callers, kept) from
# do_orm_execute; kept is the Loaded entry a column load's object keeps through its reload.
OPTION = "_advisor_capture"
# Start times of statements still running, by id() of their execution context; a context
# whose statement never finished (a cancelled task) leaves its entry: cleared past this.
_MAX_STARTS = 10_000
# The ``orm`` kinds of a statement that reloads columns of objects already loaded.
_RELOADS = frozenset({"column", "expired", "refresh"})


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
        app_packages: tuple[str, ...] = (),
    ) -> None:
        self.writer = writer
        self._pending = writer.pending
        self._max_pending = writer.max_pending
        self._keep_params = writer.keep_params
        self.call_sites = call_sites
        self.finder = SiteFinder(root, app_packages=app_packages)
        self.probe = SchemaProbe(writer) if introspect_schema else None
        self._unprobed = introspect_schema
        self._listening: list[tuple[Any, str, Any]] = []
        self._starts: dict[int, float] = {}
        self.origins = Origins()
        # The runid of the ORM query whose rows were loading last: its entry is built once
        # per query, not per row.
        self._seen_run = 0
        self._t0 = perf_counter()  # a line's ``at`` counts seconds from here
        self.pools = PoolTimer(writer, self._t0)

    # ------------------------------------------------------------------ listen / remove

    def _listen(self, target: Any, name: str, fn: Any, **kw: Any) -> None:
        event.listen(target, name, fn, **kw)
        self._listening.append((target, name, fn))

    def attach(self, target: Any = None) -> None:
        """Listen on one engine (``AsyncEngine`` through ``.sync_engine``), or on all."""
        engine: Any = Engine if target is None else getattr(target, "sync_engine", target)
        # retval=True: SQLAlchemy then calls us directly instead of through a wrapper.
        self._listen(engine, "before_cursor_execute", self._before, retval=True)
        self._listen(engine, "after_cursor_execute", self._after)
        self._listen(engine, "handle_error", self._error)
        # Each connect shows the engine's current pool (dispose() replaces it).
        self._listen(engine, "engine_connect", self._connect)
        if target is not None:
            self.pools.watch(engine.pool)
        self._listen(Session, "do_orm_execute", self._orm)
        if self.call_sites:
            # raw: the listener gets the InstanceState (no wrapper looking up the object).
            # refresh: a reload (expired attributes, Session.refresh, populate_existing)
            # stamps the object with the reloading query's runid.
            self._listen(Mapper, "load", self._load, raw=True)
            self._listen(Mapper, "refresh", self._load, raw=True)

    def detach(self) -> None:
        """Remove every listener this recorder added (idempotent)."""
        while self._listening:
            target, name, fn = self._listening.pop()
            try:
                event.remove(target, name, fn)
            except Exception:
                self.writer.internal_errors += 1
        self.pools.restore()

    def close(self) -> None:
        """Detach, take the last schema snapshot, and close the writer."""
        self.detach()
        if self.probe is not None:
            self.probe.finish()
        self.writer.close()

    # ------------------------------------------------------------------ listeners

    def _before(
        self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> tuple[str, Any]:
        # The start time, by execution context, in a dict of ours: a new attribute on the
        # context itself (one per statement) costs more, and is never removed.
        starts = self._starts
        if len(starts) >= _MAX_STARTS:  # contexts that never finished (cancelled tasks)
            starts.clear()
        starts[id(context)] = perf_counter()
        return statement, params

    def _after(
        self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        # The hot path: every statement. Only cheap lookups here; the line is encoded by
        # the writer thread. The event holds no object the garbage collector tracks for
        # long (see Scope.settle), so a backlog never adds to the app's full collections.
        end = perf_counter()
        start = self._starts.pop(id(context), None)
        try:
            if self._unprobed:
                self._probe(conn)
            pending = self._pending
            if len(pending) >= self._max_pending:
                self.writer.dropped += 1
                return
            duration = None if start is None else (end - start) * 1000.0
            site = orm = origin = callers = None
            server_side = False
            if context is not None:
                # ``many`` is the context's executemany (insertmanyvalues batches included).
                options = context.execution_options
                carried = options.get(OPTION)
                if carried is not None:
                    site, orm, origin, callers, _ = carried
                server_side = options.get("stream_results", False)
                if context.isddl and self.probe is not None:
                    self.probe.ddl_seen()
            if site is None and self.call_sites:
                # Core statements too (conn.execute(text(...)), exec_driver_sql): the
                # frames above the call site name the loop that called a helper.
                site, callers = self.finder.trace()
            rows = cursor.rowcount
            if server_side or rows is None or rows < 0:
                rows = None
            # A dict's keys and values, copied (the app may reuse the dict), side by side:
            # the garbage collector never untracks a tuple holding a dict, and it untracks
            # a tuple of plain values one nesting level per collection.
            keys = None
            if type(params) is dict:
                keys = tuple(params)
                params = tuple(params.values())
            elif many and params is not None and not self._keep_params:
                params = summarize(params, True)  # rare, and may hold thousands of rows
            # A sync driver on a thread running an event loop blocks that loop for the
            # statement's whole duration (ADV008); async dialects run in SQLAlchemy's
            # greenlet bridge and a plain `def` endpoint's thread has no running loop.
            blocks = not conn.dialect.is_async and _get_running_loop() is not None
            digest = None if server_side else result_hash(cursor)
            extra = None
            if blocks or digest is not None:
                extra = (blocks, digest, end - self._t0)
            scope = CURRENT_SCOPE.get() or FALLBACK_SCOPE[0]
            pending.append(
                (
                    None if scope is None else (scope.tag or scope.settle()),
                    statement,
                    params,
                    bool(many),
                    duration,
                    rows,
                    site,
                    origin,
                    orm,
                    None,
                    bool(server_side),
                    keys,
                    extra,
                    callers,
                )
            )
        except Exception:
            self.writer.internal_errors += 1

    def _connect(self, conn: Any) -> None:
        try:
            self.pools.watch(conn.engine.pool)
        except Exception:
            self.writer.internal_errors += 1

    def _probe(self, conn: Any) -> None:
        """Introspect the first PostgreSQL engine seen (one schema per file, as a rule)."""
        if self.probe is None or conn is None or self.probe.engine_seen(conn.engine):
            self._unprobed = False

    def _error(self, exc_context: Any) -> None:
        try:
            context = exc_context.execution_context
            statement = exc_context.statement
            if statement is None:
                return
            start = self._starts.pop(id(context), None)
            duration = None if start is None else (perf_counter() - start) * 1000.0
            site = orm = origin = callers = None
            many = False
            if context is not None:
                carried = context.execution_options.get(OPTION)
                if carried is not None:
                    site, orm, origin, callers, _ = carried
                many = bool(context.executemany)
            if site is None and self.call_sites:
                site = self.finder.find()
            error = _error_text(exc_context.original_exception)
            scope = CURRENT_SCOPE.get() or FALLBACK_SCOPE[0]
            params = exc_context.parameters
            if many and params is not None and not self._keep_params:
                params = summarize(params, True)
            self.writer.submit(
                (
                    None if scope is None else scope.settle(),
                    statement,
                    params,
                    many,
                    duration,
                    None,
                    site,
                    origin,
                    orm,
                    error,
                    False,
                    None,
                    None,
                    callers,
                )
            )
        except Exception:
            self.writer.internal_errors += 1

    def _orm(self, orm_state: Any) -> None:
        try:
            orm, found = describe(orm_state, self.origins)
            site = callers = None
            origin = None if found is None else found[0]
            # A column load's object keeps its entry through the reload (see _load).
            kept = found if orm is not None and orm["kind"] in _RELOADS else None
            if self.call_sites:
                site, callers = self.finder.trace()
            if site is not None or orm is not None:
                orm_state.update_execution_options(**{OPTION: (site, orm, origin, callers, kept)})
        except Exception:
            self.writer.internal_errors += 1

    def _load(self, state: Any, query_context: Any, attrs: Any = None) -> None:
        # Runs for every instance an ORM query creates (or reloads): one comparison.
        try:
            runid = query_context.runid
            if runid == self._seen_run:
                return
            self._seen_run = runid
            carried = query_context.execution_options.get(OPTION)
            if carried is None or carried[0] is None:
                return
            orm = carried[1]
            if orm is not None and orm["kind"] in _RELOADS:
                # A reload of an object's columns: it still comes from the query that
                # loaded it first (if that one is known).
                if carried[4] is not None:
                    self.origins.remember(runid, carried[4])
                return
            self.origins.remember(runid, loaded(carried[0], orm))
        except Exception:
            self.writer.internal_errors += 1
