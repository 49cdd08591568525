"""advisor.schema: the database's tables, columns, keys, indexes and statistics.

Three ways in, one :class:`~advisor.model.Schema` out:

* :func:`read_schema` / :func:`introspect`: a live database's catalog (read-only);
* :func:`schema_from_ddl` / :func:`load_ddl`: DDL text applied to a sandbox database;
* :func:`schema_from_metadata`: a SQLAlchemy ``MetaData`` created in a sandbox database.

:func:`schema_to_dict` / :func:`schema_from_dict` turn a schema into JSON-safe data and back.
"""

from __future__ import annotations

from advisor.schema.ddl import load_ddl, schema_from_ddl
from advisor.schema.introspect import introspect, read_schema
from advisor.schema.metadata import load_metadata, schema_from_metadata
from advisor.schema.snapshot import schema_from_dict, schema_to_dict

__all__ = [
    "introspect",
    "load_ddl",
    "load_metadata",
    "read_schema",
    "schema_from_ddl",
    "schema_from_dict",
    "schema_from_metadata",
    "schema_to_dict",
]
