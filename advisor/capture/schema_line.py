"""The ``schema`` line: server version and schema snapshot of the first engine seen.

Introspection runs in a background thread on its own read-only connection (never on the
application's), through helper modules ``advisor.schema.introspect`` and
``advisor.schema.snapshot`` when they are importable. A failure leaves the snapshot null
and is counted in the trailer (``schema_errors``); it never reaches the application.
"""

from __future__ import annotations

import asyncio
import importlib
import threading
from typing import Any

from advisor.capture.writer import CaptureWriter

__all__ = ["SchemaProbe", "introspect_dsn", "server_version_number"]


def server_version_number(info: tuple[int, ...] | None) -> int | None:
    """``(15, 18)`` as PostgreSQL's ``server_version_num`` (150018)."""
    if not info:
        return None
    major = info[0]
    minor = info[1] if len(info) > 1 else 0
    if major >= 10:
        return major * 10000 + minor
    patch = info[2] if len(info) > 2 else 0
    return major * 10000 + minor * 100 + patch


def _modules() -> tuple[Any, Any] | None:
    """advisor.schema's introspect and snapshot modules, or None when unavailable."""
    try:
        importlib.import_module("advisor.db")
        return (
            importlib.import_module("advisor.schema.introspect"),
            importlib.import_module("advisor.schema.snapshot"),
        )
    except ImportError:
        return None


async def _introspect(dsn: str, modules: tuple[Any, Any] | None) -> dict[str, Any] | None:
    if modules is None:
        return None
    introspect_mod, snapshot_mod = modules
    from advisor.db import connect

    conn = await connect(dsn, readonly=True)
    try:
        schema = await introspect_mod.introspect(conn, source="capture")
    finally:
        await conn.close()
    result: dict[str, Any] = snapshot_mod.schema_to_dict(schema)
    return result


def introspect_dsn(dsn: str, modules: tuple[Any, Any] | None = None) -> dict[str, Any] | None:
    """The schema snapshot (as a dict) of the database at ``dsn``; None when unavailable."""
    return asyncio.run(_introspect(dsn, modules if modules is not None else _modules()))


class SchemaProbe:
    """Introspects each engine once, in a thread, and submits a ``schema`` line."""

    def __init__(self, writer: CaptureWriter) -> None:
        self.writer = writer
        self._threads: list[threading.Thread] = []
        self._urls: set[str] = set()

    def engine_seen(self, engine: Any) -> bool:
        """Start introspecting ``engine``; False when it is not PostgreSQL (never raises)."""
        dialect = engine.dialect
        if dialect.name != "postgresql":
            return False
        dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        if dsn in self._urls:
            return True
        self._urls.add(dsn)
        line = {
            "type": "schema",
            "server_version": server_version_number(dialect.server_version_info),
            "dialect": dialect.name,
            "driver": dialect.driver,
        }
        # Imported here, on the caller's thread: a fork while a background thread holds
        # an import lock would deadlock the child's imports.
        modules = _modules()
        thread = threading.Thread(
            target=self._run,
            args=(dsn, line, modules),
            name="advisor-capture-schema",
            daemon=True,
        )
        self._threads.append(thread)
        thread.start()
        return True

    def _run(self, dsn: str, line: dict[str, Any], modules: tuple[Any, Any] | None) -> None:
        try:
            line["schema"] = introspect_dsn(dsn, modules) if modules is not None else None
        except Exception:
            line["schema"] = None
            self.writer.schema_errors += 1
        self.writer.submit(line)

    def wait(self, timeout: float = 30.0) -> None:
        """Wait for pending introspections (called before the trailer is written)."""
        for thread in self._threads:
            thread.join(timeout)
