"""Bulk loading into a sandbox database the way ``pg_restore`` does it: keys after the data.

:func:`detach_keys` saves and drops every primary key, UNIQUE, exclusion and foreign-key
constraint and every other index of the user's tables; rows are then loaded with triggers
off (``session_replication_role = replica``); :func:`reattach_keys` builds them again,
first the unique ones, then (after :func:`remove_orphans` made every foreign key hold)
the plain indexes and the foreign keys. :func:`target_tables` reads what the loaders need
to know about each column from the sandbox's own catalog (which is the truth whatever DDL
made it: enum labels, domains' base types, generated columns).
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from advisor.errors import DatabaseError
from advisor.sqltext import quote_ident, quote_qualified

__all__ = [
    "Detached",
    "ForeignKeyDef",
    "TargetColumn",
    "TargetTable",
    "detach_keys",
    "insert_unchecked",
    "reattach_keys",
    "remove_orphans",
    "reset_sequences",
    "target_tables",
    "try_foreign_keys",
]

_USER_SCHEMA = """n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pg_(toast|temp_)'"""

_TABLES = f"""
SELECT c.oid, n.nspname || '.' || c.relname AS qualified
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND {_USER_SCHEMA}
ORDER BY 2
"""

_COLUMNS = """
SELECT a.attrelid AS oid, a.attname, format_type(a.atttypid, a.atttypmod) AS type,
       coalesce(bt.typname, t.typname) AS base, coalesce(bt.typtype, t.typtype)::text AS typtype,
       coalesce(nullif(t.typtypmod, -1), a.atttypmod) AS typmod, a.attnotnull,
       a.attgenerated <> '' AS generated, d.adbin IS NOT NULL AS has_default,
       t.typcategory = 'A' OR bt.typcategory = 'A' AS is_array,
       ARRAY(SELECT e.enumlabel::text FROM pg_enum e
             WHERE e.enumtypid = coalesce(bt.oid, t.oid) ORDER BY e.enumsortorder) AS labels
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"""

_KEYS = f"""
SELECT con.conname, con.contype::text AS contype, c.oid,
       n.nspname || '.' || c.relname AS qualified, pg_get_constraintdef(con.oid) AS def,
       ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num
             ORDER BY k.ord) AS columns,
       rn.nspname || '.' || rc.relname AS ref_table,
       ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(num, ord)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num
             ORDER BY k.ord) AS ref_columns
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class rc ON rc.oid = con.confrelid
LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
WHERE con.contype IN ('p', 'u', 'x', 'f') AND con.conparentid = 0 AND {_USER_SCHEMA}
  AND NOT c.relispartition
"""

_INDEXES = f"""
SELECT n.nspname || '.' || ic.relname AS qualified, pg_get_indexdef(i.indexrelid) AS def
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = ic.relnamespace
WHERE {_USER_SCHEMA} AND NOT ic.relispartition
  AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid
                  AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x'))
"""

_OWNED_SEQUENCES = f"""
SELECT s.oid::regclass::text AS seq, n.nspname || '.' || c.relname AS qualified,
       a.attname
FROM pg_class s
JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid
     AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
JOIN pg_class c ON c.oid = d.refobjid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.refobjsubid
WHERE s.relkind = 'S' AND {_USER_SCHEMA}
"""


@dataclass(frozen=True, slots=True)
class TargetColumn:
    """A column as the sandbox's catalog has it.

    ``base`` is the type's name (a domain's base type's), ``typtype`` its kind (``b`` base,
    ``e`` enum, ...), ``typmod`` the length or precision modifier (-1 for none), ``labels``
    an enum's labels in order.
    """

    name: str
    type: str
    base: str
    typtype: str
    typmod: int
    not_null: bool
    generated: bool
    has_default: bool
    is_array: bool
    labels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ForeignKeyDef:
    """A foreign key of the sandbox database, with the DDL that adds it back."""

    name: str
    table: str
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]
    definition: str


@dataclass(frozen=True, slots=True)
class TargetTable:
    """A user table of the sandbox database: its columns and its unique keys (PK first)."""

    qualified: str
    columns: tuple[TargetColumn, ...]
    unique_keys: tuple[tuple[str, ...], ...]
    foreign_keys: tuple[ForeignKeyDef, ...]

    def column(self, name: str) -> TargetColumn:
        """The column called ``name`` (KeyError when there is none)."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)


@dataclass(frozen=True, slots=True)
class Detached:
    """What :func:`detach_keys` dropped: DDL to add back, in the order it must run."""

    unique: tuple[str, ...]
    indexes: tuple[str, ...]
    foreign_keys: tuple[ForeignKeyDef, ...]


async def target_tables(conn: asyncpg.Connection) -> dict[str, TargetTable]:
    """Every user table of the database ``conn`` is connected to, keyed by qualified name."""
    tables = await conn.fetch(_TABLES)
    columns = await conn.fetch(_COLUMNS, [row["oid"] for row in tables])
    keys = await conn.fetch(_KEYS)
    result: dict[str, TargetTable] = {}
    for table in tables:
        cols = tuple(
            TargetColumn(
                name=row["attname"],
                type=row["type"],
                base=row["base"],
                typtype=row["typtype"],
                typmod=int(row["typmod"]),
                not_null=bool(row["attnotnull"]),
                generated=bool(row["generated"]),
                has_default=bool(row["has_default"]),
                is_array=bool(row["is_array"]),
                labels=tuple(row["labels"]),
            )
            for row in columns
            if row["oid"] == table["oid"]
        )
        mine = [k for k in keys if k["oid"] == table["oid"]]
        mine.sort(key=lambda k: (k["contype"] != "p", k["conname"]))
        result[table["qualified"]] = TargetTable(
            qualified=table["qualified"],
            columns=cols,
            unique_keys=tuple(tuple(k["columns"]) for k in mine if k["contype"] in ("p", "u")),
            foreign_keys=tuple(_fk(k) for k in mine if k["contype"] == "f"),
        )
    return result


def _fk(row: asyncpg.Record) -> ForeignKeyDef:
    return ForeignKeyDef(
        name=row["conname"],
        table=row["qualified"],
        columns=tuple(row["columns"]),
        ref_table=row["ref_table"],
        ref_columns=tuple(row["ref_columns"]),
        definition=row["def"],
    )


def _add_constraint(table: str, name: str, definition: str) -> str:
    return f"ALTER TABLE {quote_qualified(table)} ADD CONSTRAINT {quote_ident(name)} {definition}"


async def detach_keys(conn: asyncpg.Connection) -> Detached:
    """Drop every key, foreign key and index of the user's tables; return how to add them back."""
    keys = await conn.fetch(_KEYS)
    indexes = await conn.fetch(_INDEXES)
    fks = [_fk(k) for k in keys if k["contype"] == "f"]
    unique = [k for k in keys if k["contype"] != "f"]
    for row in [*(k for k in keys if k["contype"] == "f"), *unique]:
        await conn.execute(
            f"ALTER TABLE {quote_qualified(row['qualified'])} "
            f"DROP CONSTRAINT {quote_ident(row['conname'])}"
        )
    for row in indexes:
        await conn.execute(f"DROP INDEX {quote_qualified(row['qualified'])}")
    return Detached(
        unique=tuple(_add_constraint(k["qualified"], k["conname"], k["def"]) for k in unique),
        indexes=tuple(row["def"] for row in indexes),
        foreign_keys=tuple(fks),
    )


async def remove_orphans(
    conn: asyncpg.Connection, foreign_keys: tuple[ForeignKeyDef, ...]
) -> dict[str, int]:
    """Make every foreign key hold: NULL out (all-nullable keys) or delete the rows whose
    parent is absent, until nothing changes (a deleted row can orphan its own children).
    Returns the rows changed per table."""
    changed: dict[str, int] = {}
    nullable = {fk.name: await _all_nullable(conn, fk) for fk in foreign_keys}
    while True:
        round_total = 0
        for fk in foreign_keys:
            count = await _fix_orphans(conn, fk, nullable[fk.name])
            if count:
                changed[fk.table] = changed.get(fk.table, 0) + count
                round_total += count
        if not round_total:
            return changed


async def _all_nullable(conn: asyncpg.Connection, fk: ForeignKeyDef) -> bool:
    count = await conn.fetchval(
        "SELECT count(*) FROM pg_attribute WHERE attrelid = $1::regclass "
        "AND attname = ANY($2::text[]) AND attnotnull",
        quote_qualified(fk.table),
        list(fk.columns),
    )
    return int(count) == 0


async def _fix_orphans(conn: asyncpg.Connection, fk: ForeignKeyDef, nullable: bool) -> int:
    child = quote_qualified(fk.table)
    present = " AND ".join(f"c.{quote_ident(col)} IS NOT NULL" for col in fk.columns)
    match = " AND ".join(
        f"p.{quote_ident(ref)} = c.{quote_ident(col)}"
        for col, ref in zip(fk.columns, fk.ref_columns, strict=True)
    )
    orphan = (
        f"{present} AND NOT EXISTS (SELECT 1 FROM {quote_qualified(fk.ref_table)} p WHERE {match})"
    )
    if nullable:
        sets = ", ".join(f"{quote_ident(col)} = NULL" for col in fk.columns)
        status = await conn.execute(f"UPDATE {child} c SET {sets} WHERE {orphan}")
    else:
        status = await conn.execute(f"DELETE FROM {child} c WHERE {orphan}")
    return int(str(status).rsplit(" ", 1)[-1])


async def try_foreign_keys(
    conn: asyncpg.Connection, foreign_keys: tuple[ForeignKeyDef, ...]
) -> bool:
    """Add every foreign key back, validated, in one transaction: all of them (True) or,
    when some row has no parent, none (False: remove the orphans, then reattach)."""
    try:
        async with conn.transaction():
            for fk in foreign_keys:
                await conn.execute(_add_constraint(fk.table, fk.name, fk.definition))
    except asyncpg.ForeignKeyViolationError:
        return False
    return True


async def reattach_keys(conn: asyncpg.Connection, detached: Detached) -> tuple[str, ...]:
    """Add back what :func:`detach_keys` dropped; returns notes on keys that could not be
    validated (added ``NOT VALID``) or built. Orphans must have been removed first."""
    notes: list[str] = []
    for sql in detached.unique + detached.indexes:
        try:
            await conn.execute(sql)
        except asyncpg.PostgresError as exc:
            notes.append(f"not rebuilt: {sql} ({exc})")
    for fk in detached.foreign_keys:
        sql = _add_constraint(fk.table, fk.name, fk.definition)
        try:
            await conn.execute(sql)
        except asyncpg.PostgresError as exc:
            notes.append(f"{fk.table}: foreign key {fk.name} added NOT VALID ({exc})")
            try:
                await conn.execute(sql + " NOT VALID")
            except asyncpg.PostgresError as again:
                raise DatabaseError(
                    f"cannot add foreign key {fk.name} back on {fk.table}: {again}"
                ) from again
    return tuple(notes)


_CHECKS = """
SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
WHERE conrelid = $1::regclass AND contype = 'c' ORDER BY conname
"""


async def insert_unchecked(conn: asyncpg.Connection, table: str, insert: str) -> str:
    """Run ``insert`` with ``table``'s CHECK constraints dropped, then add them back
    ``NOT VALID`` (new rows are checked, the generated ones are not); a phrase saying so.

    Generated values know nothing of a ``CHECK (status IN ('open', 'closed'))``; the rows
    still measure what an index does, and the report says the checks do not hold.
    """
    checks = await conn.fetch(_CHECKS, quote_qualified(table))
    for row in checks:
        await conn.execute(
            f"ALTER TABLE {quote_qualified(table)} DROP CONSTRAINT {quote_ident(row['conname'])}"
        )
    await conn.execute(insert)
    for row in checks:
        await conn.execute(_add_constraint(table, row["conname"], row["def"]) + " NOT VALID")
    names = ", ".join(row["conname"] for row in checks)
    return f" (CHECK {names} not validated: generated values break it)"


async def reset_sequences(conn: asyncpg.Connection) -> None:
    """Move every column-owned sequence (serial, identity) past its column's largest value."""
    for row in await conn.fetch(_OWNED_SEQUENCES):
        column = quote_ident(row["attname"])
        await conn.execute(
            f"SELECT setval($1::regclass, coalesce(max({column})::bigint, 0) + 1, false) "
            f"FROM {quote_qualified(row['qualified'])}",
            row["seq"],
        )
