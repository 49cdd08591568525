"""A :class:`~advisor.model.Schema` as JSON-safe data and back (capture file headers).

``schema_from_dict(schema_to_dict(s)) == s`` for every schema: tuples become lists, the
table mapping becomes a list in key order, and every field is written, defaults included,
so a file stays readable when the model gains a field (missing keys take the default).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from advisor.errors import InputError
from advisor.model import Column, ForeignKey, Index, IndexKey, Schema, Table, TableStats

__all__ = ["SNAPSHOT_FORMAT", "schema_from_dict", "schema_to_dict"]

SNAPSHOT_FORMAT = 1


def schema_to_dict(schema: Schema) -> dict[str, Any]:
    """``schema`` as plain dicts, lists, strings and numbers (``json.dumps``-ready)."""
    return {
        "format": SNAPSHOT_FORMAT,
        "source": schema.source,
        "server_version": schema.server_version,
        "search_path": list(schema.search_path),
        "stats_since": schema.stats_since,
        "max_connections": schema.max_connections,
        "tables": [_table_to_dict(key, table) for key, table in schema.tables.items()],
    }


def schema_from_dict(data: Mapping[str, Any]) -> Schema:
    """The schema :func:`schema_to_dict` wrote; InputError when ``data`` is not one."""
    try:
        fmt = data.get("format", SNAPSHOT_FORMAT)
        if fmt != SNAPSHOT_FORMAT:
            raise InputError(f"schema snapshot format {fmt} is not supported (expected 1)")
        tables: dict[str, Table] = {}
        for item in data.get("tables", []):
            table = _table_from_dict(item)
            tables[str(item.get("key", table.qualified))] = table
        return Schema(
            tables=tables,
            source=data.get("source", "capture"),
            server_version=data.get("server_version"),
            search_path=tuple(data.get("search_path", ("public",))),
            stats_since=data.get("stats_since"),
            max_connections=_int_or_none(data.get("max_connections")),
        )
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise InputError(f"the schema snapshot is malformed ({type(exc).__name__}: {exc})") from exc


def _table_to_dict(key: str, table: Table) -> dict[str, Any]:
    return {
        "key": key,
        "schema": table.schema,
        "name": table.name,
        "columns": [_fields(col) for col in table.columns],
        "primary_key": list(table.primary_key),
        "unique_constraints": [list(cols) for cols in table.unique_constraints],
        "foreign_keys": [
            {**_fields(fk), "columns": list(fk.columns), "ref_columns": list(fk.ref_columns)}
            for fk in table.foreign_keys
        ],
        "indexes": [
            {
                **_fields(idx),
                "keys": [_fields(k) for k in idx.keys],
                "include": list(idx.include),
            }
            for idx in table.indexes
        ],
        "row_estimate": table.row_estimate,
        "size_bytes": table.size_bytes,
        "stats": None if table.stats is None else _fields(table.stats),
    }


def _fields(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__slots__}


def _column_from_dict(d: Mapping[str, Any]) -> Column:
    # JSON has lists where the model has tuples.
    return Column(
        **{
            **d,
            "most_common": tuple(d.get("most_common", ())),
            "most_common_freqs": tuple(d.get("most_common_freqs", ())),
        }
    )


def _table_from_dict(d: Mapping[str, Any]) -> Table:
    stats = d.get("stats")
    return Table(
        schema=d["schema"],
        name=d["name"],
        columns=tuple(_column_from_dict(col) for col in d.get("columns", [])),
        primary_key=tuple(d.get("primary_key", ())),
        unique_constraints=tuple(tuple(cols) for cols in d.get("unique_constraints", [])),
        foreign_keys=tuple(
            ForeignKey(
                name=fk["name"],
                columns=tuple(fk["columns"]),
                ref_table=fk["ref_table"],
                ref_columns=tuple(fk["ref_columns"]),
            )
            for fk in d.get("foreign_keys", [])
        ),
        indexes=tuple(_index_from_dict(idx) for idx in d.get("indexes", [])),
        row_estimate=d.get("row_estimate"),
        size_bytes=d.get("size_bytes"),
        stats=None if stats is None else TableStats(**stats),
    )


def _index_from_dict(d: Mapping[str, Any]) -> Index:
    fields = dict(d)
    fields["keys"] = tuple(IndexKey(**k) for k in d.get("keys", []))
    fields["include"] = tuple(d.get("include", ()))
    return Index(**fields)


def _int_or_none(value: object) -> int | None:
    return value if type(value) is int else None
