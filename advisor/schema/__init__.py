"""advisor.schema: the database's tables, columns, keys, indexes and statistics.

Three ways in, one :class:`~advisor.model.Schema` out:

* :func:`read_schema` / :func:`introspect`: a live database's catalog (read-only);
* :func:`schema_from_ddl` / :func:`load_ddl`: DDL text applied to a sandbox database;
* :func:`schema_from_metadata`: a SQLAlchemy ``MetaData`` created in a sandbox database.

:func:`schema_to_dict` / :func:`schema_from_dict` turn a schema into JSON-safe data and back.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Not lazy: the function `introspect` shares its name with its module, which would
# replace it as this package's attribute when first imported.
from advisor.schema.introspect import introspect, read_schema

if TYPE_CHECKING:
    from advisor.schema.ddl import load_ddl, schema_from_ddl
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

# Imported when first used: a scan that reads a capture's schema snapshot needs only
# snapshot.py, and importing metadata.py (SQLAlchemy) and ddl.py costs ~0.3 s of CPU.
_MODULES = {
    "load_ddl": "ddl",
    "load_metadata": "metadata",
    "schema_from_ddl": "ddl",
    "schema_from_dict": "snapshot",
    "schema_from_metadata": "metadata",
    "schema_to_dict": "snapshot",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"advisor.schema.{module}"), name)
