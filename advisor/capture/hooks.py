"""SQLAlchemy event listeners that turn every statement execution into a query event.

Only SQLAlchemy's event API: the dialect's ``do_execute`` / ``do_executemany`` /
``do_execute_no_params`` (the listener runs the cursor execution itself, and times it),
``do_orm_execute`` on sessions, ``load`` and ``refresh`` on mappers. Not the connection
events (``before/after_cursor_execute``, ``handle_error``, ``engine_connect``): one listener
there switches on SQLAlchemy's per-connection event dispatch for every statement of the
engine (measured under callgrind, a psycopg Core loop: +51k instructions on a 295k
statement; on a 5-query FastAPI request, 300k of capture's 700k). The ORM
listener computes the call site once and hands it, with what the ORM said, to the execute
listener through an execution option, so every cursor execution of one ORM statement
(selectinload chunks, insertmanyvalues batches) carries it. Every listener swallows its own
failures: they are counted, and the application's statement goes on untouched.
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
# The ``orm`` kinds of a statement that reloads columns of objects already loaded.
_RELOADS = frozenset({"column", "expired", "refresh"})


def _error_text(exc: BaseException) -> str:
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
        self._pool: Any = None  # the pool of the last statement's engine (watched)
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
        # Dialect events: a listener returning True has run the statement itself. Another
        # library's listener of these (rare: they are for replacing the DBAPI call) added
        # before ours runs instead of ours, and that statement is not recorded.
        self._listen(engine, "do_execute", self._execute)
        self._listen(engine, "do_executemany", self._executemany)
        self._listen(engine, "do_execute_no_params", self._execute_no_params)
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

    def _execute(self, cursor: Any, statement: str, params: Any, context: Any) -> bool:
        if context is None:  # no connection to attribute it to: SQLAlchemy runs it
            return False
        run = context.dialect.do_execute
        return self._run(run, (cursor, statement, params, context), params, False, context)

    def _executemany(self, cursor: Any, statement: str, params: Any, context: Any) -> bool:
        if context is None:
            return False
        run = context.dialect.do_executemany
        return self._run(run, (cursor, statement, params, context), params, True, context)

    def _execute_no_params(self, cursor: Any, statement: str, context: Any) -> bool:
        if context is None:
            return False
        run = context.dialect.do_execute_no_params
        return self._run(run, (cursor, statement, context), None, False, context)

    def _run(self, run: Any, args: tuple[Any, ...], params: Any, many: bool, context: Any) -> bool:
        """Run the dialect's own execute, timed, and record it (its error too)."""
        if getattr(context.root_connection, "_allow_autobegin", True) is False:
            # The connection SQLAlchemy opens for itself at the first connect (its
            # dialect's initialize: version(), current_schema()...): not the app's.
            run(*args)
            return True
        start = perf_counter()
        try:
            run(*args)
        except Exception as exc:
            self._failed(args[1], params, many, context, start, exc)
            raise
        self._record(args[0], args[1], params, many, context, start)
        return True

    def _record(
        self, cursor: Any, statement: str, params: Any, many: bool, context: Any, start: float
    ) -> None:
        # The hot path: every statement. Only cheap lookups here; the line is encoded by
        # the writer thread. The event holds no object the garbage collector tracks for
        # long (see Scope.settle), so a backlog never adds to the app's full collections.
        end = perf_counter()
        try:
            engine = context.root_connection.engine
            if engine.pool is not self._pool:
                self._pool = engine.pool
                self.pools.watch(engine.pool)  # a new engine, or dispose() replaced the pool
            if self._unprobed:
                self._probe(engine)
            pending = self._pending
            if len(pending) >= self._max_pending:
                self.writer.dropped += 1
                return
            site = orm = origin = callers = None
            # ``many``: a driver executemany (do_executemany); insertmanyvalues batches come
            # through do_execute, one statement each.
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
            blocks = not context.dialect.is_async and _get_running_loop() is not None
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
                    many,
                    (end - start) * 1000.0,
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

    def _probe(self, engine: Any) -> None:
        """Introspect the first PostgreSQL engine seen (one schema per file, as a rule)."""
        if self.probe is None or self.probe.engine_seen(engine):
            self._unprobed = False

    def _failed(
        self,
        statement: str,
        params: Any,
        many: bool,
        context: Any,
        start: float,
        exc: BaseException,
    ) -> None:
        """Record a statement the database (or the driver) refused."""
        try:
            duration = (perf_counter() - start) * 1000.0
            site = orm = origin = callers = None
            carried = context.execution_options.get(OPTION)
            if carried is not None:
                site, orm, origin, callers, _ = carried
            if site is None and self.call_sites:
                site, callers = self.finder.trace()
            scope = CURRENT_SCOPE.get() or FALLBACK_SCOPE[0]
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
                    _error_text(exc),
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
        if query_context is None:
            return  # a bulk UPDATE/DELETE synchronizing the session's objects: no query
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
