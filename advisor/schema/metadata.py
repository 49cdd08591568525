"""Load a schema from SQLAlchemy models (``"package.module:Base"``) via a sandbox.

SQLAlchemy emits the DDL of ``MetaData.create_all`` (types, tables, indexes, in dependency
order) through a mock engine; advisor runs it with asyncpg, so neither a sync driver nor
greenlet is needed.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from advisor.errors import InputError
from advisor.model import Schema
from advisor.schema.ddl import load_ddl

if TYPE_CHECKING:
    from advisor.sandbox import Sandbox

__all__ = ["load_metadata", "metadata_ddl", "resolve_metadata", "schema_from_metadata"]


@contextlib.contextmanager
def _cwd_on_path() -> Iterator[None]:
    # Like alembic and pytest: the user's project root is importable while we import.
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        yield
    finally:
        if added:
            with contextlib.suppress(ValueError):
                sys.path.remove(cwd)


def resolve_metadata(spec: str) -> sa.MetaData:
    """The ``MetaData`` named by ``package.module:Attr`` (a declarative base or a MetaData)."""
    module_name, sep, attr_path = spec.partition(":")
    if not sep or not module_name or not attr_path:
        raise InputError(f"{spec!r}: expected 'package.module:Base' (a module and an attribute)")
    try:
        with _cwd_on_path():
            obj: Any = importlib.import_module(module_name)
    except Exception as exc:  # the user's module may raise anything on import
        raise InputError(
            f"{spec}: cannot import {module_name} ({type(exc).__name__}: {exc}); run advisor "
            "from the project root or install the project"
        ) from exc
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as exc:
            raise InputError(f"{spec}: {module_name} has no attribute {attr_path}") from exc
    metadata = obj if isinstance(obj, sa.MetaData) else getattr(obj, "metadata", None)
    if not isinstance(metadata, sa.MetaData):
        raise InputError(
            f"{spec}: {attr_path} is neither a SQLAlchemy MetaData nor a declarative base "
            "(a class with .metadata)"
        )
    return metadata


def metadata_ddl(metadata: sa.MetaData) -> str:
    """The PostgreSQL DDL that ``metadata.create_all`` would run, as one script."""
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    statements: list[str] = [
        f"CREATE SCHEMA IF NOT EXISTS {dialect.identifier_preparer.quote_schema(schema)}"
        for schema in sorted({t.schema for t in metadata.tables.values() if t.schema})
    ]

    def execute(sql: Any, *_args: Any, **_kwargs: Any) -> None:
        statements.append(str(sql.compile(dialect=dialect)).strip())

    engine = sa.create_mock_engine(sa.make_url("postgresql://"), execute)
    try:
        metadata.create_all(engine, checkfirst=False)  # type: ignore[arg-type]
    except sa.exc.SQLAlchemyError as exc:
        raise InputError(f"the models cannot be turned into PostgreSQL DDL: {exc}") from exc
    return ";\n\n".join(statements) + ";\n"


def load_metadata(dsn: str, spec: str) -> Schema:
    """Create the models of ``spec`` in the (empty) database at ``dsn``; its schema."""
    ddl = metadata_ddl(resolve_metadata(spec))
    return load_ddl(dsn, ddl, source_name=f"<DDL of {spec}>", source="metadata")


def schema_from_metadata(spec: str, sandbox: Sandbox | str) -> Schema:
    """The schema of the SQLAlchemy models ``spec``, read back from a sandbox database.

    ``sandbox`` is a :class:`Sandbox` or the DSN of a server advisor may create databases on.
    """
    from advisor.sandbox import scratch_database

    with scratch_database(sandbox, "advisor_md") as dsn:
        return load_metadata(dsn, spec)
