"""Shared fixtures: one PostgreSQL server per test session, fresh databases on it.

``pg_dsn``          the server: ``ADVISOR_TEST_DSN`` when set, else a local sandbox
                    started from the PostgreSQL binaries found on this machine. When
                    neither can be had the test FAILS with the reason (never skips).
``fresh_db``        the DSN of a new, empty database, dropped after the test.
``schema_factory``  ``factory(ddl_text) -> Schema``: applies the DDL to a new database
                    (dropped at session end) and returns its introspected schema
                    (``source="ddl"``); cached by DDL text, so call it freely.
``schema_dsn``      ``factory(ddl_text) -> dsn``: the database behind ``schema_factory``
                    for that DDL (shared, so treat it as read-only).
``docker_engine``   skips (with the reason) when no Docker engine answers; the only
                    skip the suite allows.

Databases get the prefix ``advt_`` and a random suffix, so sessions sharing a server
(``ADVISOR_TEST_DSN``) never collide.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest

from advisor.errors import AdvisorError
from advisor.model import Schema

TEST_DSN_ENV = "ADVISOR_TEST_DSN"


def pytest_configure(config: pytest.Config) -> None:
    """Register the suite's markers."""
    config.addinivalue_line("markers", "docker: needs a Docker engine (skipped without one)")


def _unique_name(prefix: str = "advt") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    """The DSN of a PostgreSQL server the tests may create databases on."""
    env = os.environ.get(TEST_DSN_ENV)
    if env:
        yield env
        return
    from advisor.sandbox import open_sandbox

    try:
        ctx = open_sandbox("local")
        sandbox = ctx.__enter__()
    except AdvisorError as exc:
        pytest.fail(
            f"no PostgreSQL for the tests: {TEST_DSN_ENV} is not set and no local sandbox "
            f"could be started ({exc}); set {TEST_DSN_ENV}=postgresql://... or install "
            "PostgreSQL server binaries",
            pytrace=False,
        )
    try:
        yield sandbox.dsn
    finally:
        ctx.__exit__(None, None, None)


@pytest.fixture()
def fresh_db(pg_dsn: str) -> Iterator[str]:
    """The DSN of a new, empty database; dropped after the test."""
    from advisor.sandbox import scratch_database

    with scratch_database(pg_dsn, "advt") as dsn:
        yield dsn


@pytest.fixture(scope="session")
def _ddl_databases(pg_dsn: str) -> Iterator[dict[str, tuple[str, Schema]]]:
    """DDL text -> (database name, schema) for every database ``schema_dsn`` made."""
    from advisor.sandbox import drop_database

    made: dict[str, tuple[str, Schema]] = {}
    yield made
    for name, _schema in made.values():
        drop_database(pg_dsn, name)


@pytest.fixture(scope="session")
def schema_dsn(pg_dsn: str, _ddl_databases: dict[str, tuple[str, Schema]]) -> Callable[[str], str]:
    """``factory(ddl) -> dsn`` of a database holding that DDL (shared: do not modify it)."""
    from advisor.sandbox import create_database, database_dsn, drop_database
    from advisor.schema import load_ddl

    def factory(ddl: str) -> str:
        cached = _ddl_databases.get(ddl)
        if cached is not None:
            return database_dsn(pg_dsn, cached[0])
        name = _unique_name()
        dsn = create_database(pg_dsn, name)
        try:
            schema = load_ddl(dsn, ddl, source_name="<schema_factory DDL>")
        except BaseException:
            drop_database(pg_dsn, name)
            raise
        _ddl_databases[ddl] = (name, schema)
        return dsn

    return factory


@pytest.fixture(scope="session")
def schema_factory(
    schema_dsn: Callable[[str], str], _ddl_databases: dict[str, tuple[str, Schema]]
) -> Callable[[str], Schema]:
    """``factory(ddl) -> Schema`` (``source="ddl"``), cached by DDL text."""

    def factory(ddl: str) -> Schema:
        schema_dsn(ddl)
        return _ddl_databases[ddl][1]

    return factory


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """Skip the test, printing why, when no Docker engine answers."""
    from advisor.sandbox import docker_unavailable_reason

    reason = docker_unavailable_reason()
    if reason is not None:
        pytest.skip(f"no Docker engine: {reason}")
