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

# Eager: the function ``introspect`` shares its name with its submodule, and importing a
# submodule sets the package's attribute of that name (here, to the module) after any
# lazy lookup; importing the function here, after its module, keeps the name a function.
from advisor.schema.introspect import introspect, read_schema

if TYPE_CHECKING:
    from advisor.schema.ddl import load_ddl, schema_from_ddl
    from advisor.schema.metadata import load_metadata, schema_from_metadata
    from advisor.schema.snapshot import schema_from_dict, schema_to_dict

# Imported on first use: capture's schema snapshot child (``python -m advisor.schema``)
# needs only the catalog reader and a scan of a capture only snapshot.py, while the DDL
# and MetaData paths import sqlglot, SQLAlchemy and the parser (~0.3-0.5 s of CPU).
_LAZY = {
    "load_ddl": "advisor.schema.ddl",
    "load_metadata": "advisor.schema.metadata",
    "schema_from_ddl": "advisor.schema.ddl",
    "schema_from_dict": "advisor.schema.snapshot",
    "schema_from_metadata": "advisor.schema.metadata",
    "schema_to_dict": "advisor.schema.snapshot",
}

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


def __getattr__(name: str) -> Any:
    """The public name ``name``, from its module (imported now, once)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
