"""A :class:`~advisor.model.Schema` written back as DDL, to recreate its tables in a sandbox.

What the model knows is rendered: schemas, tables, columns with their types, NOT NULL, the
defaults that are safe to repeat (constants, casts, ``now()``-like functions, ``nextval`` of
a sequence this script also creates), primary keys, UNIQUE constraints, foreign keys (after
every table, so that cycles and self-references need no order) and the other indexes from
their catalog definitions. The model does not hold CHECK constraints, triggers, enum labels
identity columns or partitioning: a caller that can read them passes them as ``prelude``
(``CREATE TYPE`` of enums) and ``postlude`` (``ALTER TABLE ... ADD GENERATED ...``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from advisor.model import Column, Schema, Table
from advisor.sqltext import quote_ident, quote_qualified

__all__ = ["render_schema"]

_NEXTVAL = re.compile(r"^nextval\('([^']+)'::regclass\)$")
# A default that calls nothing but these is the same in any database of any version.
_SAFE_CALLS = frozenset(
    {
        "now",
        "clock_timestamp",
        "statement_timestamp",
        "transaction_timestamp",
        "timezone",
        "gen_random_uuid",
        "current_date",
        "current_timestamp",
        "localtimestamp",
        "random",
    }
)
_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_.]*)\s*\(")
_STRING = re.compile(r"'(?:[^']|'')*'")


def render_schema(schema: Schema, *, prelude: str = "", postlude: str = "") -> str:
    """DDL that recreates ``schema``'s tables, keys and indexes in an empty database;
    ``prelude`` runs first (types), ``postlude`` after the tables (identity columns)."""
    tables = list(schema.tables.values())
    parts: list[str] = [prelude.strip()] if prelude.strip() else []
    parts += [
        f"CREATE SCHEMA IF NOT EXISTS {quote_ident(name)};"
        for name in sorted({t.schema for t in tables} - {"public"})
    ]
    sequences = _sequences(tables)
    parts += [f"CREATE SEQUENCE IF NOT EXISTS {seq};" for seq in sorted(sequences)]
    parts += [_create_table(table) for table in tables]
    # Owned, so that it moves with its column (and a loader can find and advance it).
    parts += [
        f"ALTER SEQUENCE {seq} OWNED BY {quote_qualified(table)}.{quote_ident(column)};"
        for seq, (table, column) in sorted(sequences.items())
    ]
    parts += [postlude.strip()] if postlude.strip() else []
    parts += [fk for table in tables for fk in _foreign_keys(table)]
    parts += [idx for table in tables for idx in _indexes(table)]
    return "\n".join(parts) + "\n"


def _sequences(tables: Iterable[Table]) -> dict[str, tuple[str, str]]:
    """Sequence -> (table, column) of every ``nextval`` default (its first user)."""
    found: dict[str, tuple[str, str]] = {}
    for table in tables:
        for col in table.columns:
            match = _NEXTVAL.match(col.default or "")
            if match:
                found.setdefault(match.group(1), (table.qualified, col.name))
    return found


def _safe_default(default: str | None) -> str | None:
    if default is None:
        return None
    if _NEXTVAL.match(default):
        return default
    calls = {name.lower().rsplit(".", 1)[-1] for name in _CALL.findall(_STRING.sub("''", default))}
    return default if calls <= _SAFE_CALLS else None


def _column(col: Column) -> str:
    text = f"{quote_ident(col.name)} {col.type}"
    if not col.nullable:
        text += " NOT NULL"
    default = _safe_default(col.default)
    if default is not None:
        text += f" DEFAULT {default}"
    return text


def _columns(names: Iterable[str]) -> str:
    return ", ".join(quote_ident(name) for name in names)


def _create_table(table: Table) -> str:
    lines = [_column(col) for col in table.columns]
    if table.primary_key:
        lines.append(f"PRIMARY KEY ({_columns(table.primary_key)})")
    lines += [f"UNIQUE ({_columns(cols)})" for cols in table.unique_constraints]
    body = ",\n    ".join(lines)
    return f"CREATE TABLE {quote_qualified(table.qualified)} (\n    {body}\n);"


def _foreign_keys(table: Table) -> list[str]:
    return [
        f"ALTER TABLE {quote_qualified(table.qualified)} ADD CONSTRAINT {quote_ident(fk.name)} "
        f"FOREIGN KEY ({_columns(fk.columns)}) "
        f"REFERENCES {quote_qualified(fk.ref_table)} ({_columns(fk.ref_columns)});"
        for fk in table.foreign_keys
    ]


def _indexes(table: Table) -> list[str]:
    # Constraint-backed indexes came with the constraints; the rest carry their own DDL.
    return [
        f"{index.definition};"
        for index in table.indexes
        if index.constraint is None and index.definition and index.valid
    ]
