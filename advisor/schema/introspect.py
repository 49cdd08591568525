"""Read a :class:`~advisor.model.Schema` from a live PostgreSQL catalog.

Six catalog queries, whatever the number of tables: tables, columns (with ``pg_stats``),
constraints, indexes (with ``pg_stat_user_indexes``), and the database's settings.
System schemas and objects owned by extensions are left out; partitioned tables are kept
and their partitions are not (a partitioned table's rows and size are its partitions').
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from advisor.db import connect, map_errors, run
from advisor.errors import DatabaseError
from advisor.model import (
    Column,
    ForeignKey,
    Index,
    IndexKey,
    Schema,
    SchemaSource,
    Table,
    TableStats,
)

__all__ = ["introspect", "read_schema"]

Row = Mapping[str, Any]

_NOT_EXTENSION = """
    NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.deptype = 'e'
                AND ((d.classid = 'pg_class'::regclass AND d.objid = c.oid)
                  OR (d.classid = 'pg_namespace'::regclass AND d.objid = n.oid)))"""

# A partitioned table has no storage or statistics of its own: it gets its leaves' sums.
_TABLES = f"""
SELECT c.oid, n.nspname, c.relname, c.relkind::text AS relkind,
       c.reltuples::float8 AS reltuples, c.relpages,
       CASE WHEN c.relkind = 'p' THEN coalesce(leaves.size_bytes, 0)
            ELSE pg_table_size(c.oid) END AS size_bytes,
       leaves.row_sum AS partition_rows,
       CASE WHEN c.relkind = 'p' THEN leaves.seq_scan ELSE s.seq_scan END AS seq_scan,
       CASE WHEN c.relkind = 'p' THEN leaves.idx_scan ELSE s.idx_scan END AS idx_scan,
       CASE WHEN c.relkind = 'p' THEN leaves.n_tup_ins ELSE s.n_tup_ins END AS n_tup_ins,
       CASE WHEN c.relkind = 'p' THEN leaves.n_tup_upd ELSE s.n_tup_upd END AS n_tup_upd,
       CASE WHEN c.relkind = 'p' THEN leaves.n_tup_hot_upd ELSE s.n_tup_hot_upd END
           AS n_tup_hot_upd,
       CASE WHEN c.relkind = 'p' THEN leaves.n_tup_del ELSE s.n_tup_del END AS n_tup_del,
       CASE WHEN c.relkind = 'p' THEN leaves.seq_tup_read ELSE s.seq_tup_read END
           AS seq_tup_read,
       CASE WHEN c.relkind = 'p' THEN leaves.idx_tup_fetch ELSE s.idx_tup_fetch END
           AS idx_tup_fetch,
       (s.last_analyze IS NOT NULL OR s.last_autoanalyze IS NOT NULL) AS analyzed
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
LEFT JOIN LATERAL (
    SELECT sum(pg_table_size(t.relid))::int8 AS size_bytes,
           (sum(p.reltuples) FILTER (WHERE p.reltuples >= 0))::float8 AS row_sum,
           sum(pg_stat_get_numscans(t.relid))::int8 AS seq_scan,
           sum((SELECT sum(pg_stat_get_numscans(x.indexrelid)) FROM pg_index x
                WHERE x.indrelid = t.relid))::int8 AS idx_scan,
           sum(pg_stat_get_tuples_inserted(t.relid))::int8 AS n_tup_ins,
           sum(pg_stat_get_tuples_updated(t.relid))::int8 AS n_tup_upd,
           sum(pg_stat_get_tuples_hot_updated(t.relid))::int8 AS n_tup_hot_upd,
           sum(pg_stat_get_tuples_deleted(t.relid))::int8 AS n_tup_del,
           sum(pg_stat_get_tuples_returned(t.relid))::int8 AS seq_tup_read,
           sum(pg_stat_get_tuples_fetched(t.relid))::int8 AS idx_tup_fetch
    FROM pg_partition_tree(c.oid) t JOIN pg_class p ON p.oid = t.relid
    WHERE t.isleaf AND c.relkind = 'p'
) leaves ON true
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pg_(toast|temp_)'
  AND {_NOT_EXTENSION}
ORDER BY n.nspname, c.relname
"""

_COLUMNS = """
SELECT a.attrelid AS oid, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod) AS type,
       NOT a.attnotnull AS nullable, pg_get_expr(d.adbin, d.adrelid) AS default_expr,
       a.attcollation, st.avg_width, st.null_frac::float8 AS null_frac,
       st.n_distinct::float8 AS n_distinct, st.mcv, st.mcf, st.correlation::float8 AS corr
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
LEFT JOIN LATERAL (
    SELECT s.avg_width, s.null_frac, s.n_distinct,
           (s.most_common_vals::text::text[])[1:20] AS mcv,
           (s.most_common_freqs::float8[])[1:20] AS mcf, s.correlation
    FROM pg_stats s
    WHERE s.schemaname = n.nspname AND s.tablename = c.relname AND s.attname = a.attname
    ORDER BY s.inherited = (c.relkind = 'p') DESC
    LIMIT 1
) st ON true
WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"""

_CONSTRAINTS = """
SELECT con.conrelid AS oid, con.conname, con.contype::text AS contype,
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num
             ORDER BY k.ord) AS columns,
       rn.nspname || '.' || rc.relname AS ref_table,
       ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(num, ord)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num
             ORDER BY k.ord) AS ref_columns
FROM pg_constraint con
LEFT JOIN pg_class rc ON rc.oid = con.confrelid
LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
WHERE con.conrelid = ANY($1::oid[]) AND con.contype IN ('p', 'u', 'f')
  AND con.conparentid = 0
ORDER BY con.conrelid, con.conname
"""

_INDEXES = """
SELECT i.indrelid AS oid, ic.relname AS name, am.amname AS method,
       i.indisunique, i.indisprimary, i.indisvalid, i.indnkeyatts, i.indnatts,
       string_to_array(i.indkey::text, ' ')::int2[] AS attnums,
       string_to_array(i.indoption::text, ' ')::int2[] AS options,
       ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true)
             FROM generate_series(1, i.indnatts) k ORDER BY k) AS key_defs,
       ARRAY(SELECT CASE WHEN opc.opcdefault THEN NULL ELSE opc.opcname END
             FROM unnest(string_to_array(i.indclass::text, ' ')::oid[]) WITH ORDINALITY o(id, ord)
             LEFT JOIN pg_opclass opc ON opc.oid = o.id ORDER BY o.ord) AS opclasses,
       ARRAY(SELECT coll.collname
             FROM unnest(string_to_array(i.indcollation::text, ' ')::oid[])
                  WITH ORDINALITY o(id, ord)
             LEFT JOIN pg_collation coll ON coll.oid = o.id ORDER BY o.ord) AS collations,
       string_to_array(i.indcollation::text, ' ')::oid[] AS collation_oids,
       pg_get_expr(i.indpred, i.indrelid, true) AS predicate,
       pg_get_indexdef(i.indexrelid) AS definition,
       CASE WHEN ic.relkind = 'I' THEN
            (SELECT coalesce(sum(pg_relation_size(t.relid)), 0)
             FROM pg_partition_tree(i.indexrelid) t WHERE t.isleaf)
       ELSE pg_relation_size(i.indexrelid) END::int8 AS size_bytes,
       CASE WHEN ic.relkind = 'I' THEN
            (SELECT sum(pg_stat_get_numscans(t.relid))
             FROM pg_partition_tree(i.indexrelid) t WHERE t.isleaf)
       ELSE s.idx_scan END::int8 AS idx_scan,
       con.contype::text AS contype
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_am am ON am.oid = ic.relam
LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid
     AND con.contype IN ('p', 'u', 'x')
LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = i.indexrelid
WHERE i.indrelid = ANY($1::oid[])
ORDER BY i.indrelid, ic.relname
"""

_SETTINGS = """
SELECT current_setting('server_version_num')::int AS version,
       current_setting('max_connections')::int AS max_connections,
       current_schemas(false) AS search_path,
       coalesce((SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()),
                pg_postmaster_start_time()) AS stats_since
"""

# pg_index.indoption bits, as PostgreSQL defines them (INDOPTION_DESC, INDOPTION_NULLS_FIRST)
_INDOPTION_DESC = 0x0001
_INDOPTION_NULLS_FIRST = 0x0002
_DEFAULT_COLLATION_OID = 100


def _catalog_error(exc: Exception) -> DatabaseError:
    return DatabaseError(f"cannot read the catalog: {exc}; check the user's privileges")


async def introspect(conn: asyncpg.Connection, *, source: SchemaSource) -> Schema:
    """The schema of the database ``conn`` is connected to (read-only queries only)."""
    with map_errors({asyncpg.PostgresError: _catalog_error}):
        settings = await conn.fetchrow(_SETTINGS)
        tables = await conn.fetch(_TABLES)
        oids = [row["oid"] for row in tables]
        columns = await conn.fetch(_COLUMNS, oids)
        constraints = await conn.fetch(_CONSTRAINTS, oids)
        indexes = await conn.fetch(_INDEXES, oids)
    assert settings is not None
    version = int(settings["version"])
    by_oid_cols = _group(columns)
    by_oid_cons = _group(constraints)
    by_oid_idx = _group(indexes)
    result: dict[str, Table] = {}
    for row in tables:
        oid = row["oid"]
        table = _table(row, by_oid_cols[oid], by_oid_cons[oid], by_oid_idx[oid], version)
        result[table.qualified] = table
    stats_since = settings["stats_since"]
    return Schema(
        tables=result,
        source=source,
        server_version=version,
        search_path=tuple(settings["search_path"]),
        stats_since=stats_since.isoformat() if isinstance(stats_since, dt.datetime) else None,
        max_connections=int(settings["max_connections"]),
    )


def read_schema(dsn: str, *, source: SchemaSource = "dsn") -> Schema:
    """Connect read-only to ``dsn`` and introspect it (sync wrapper of :func:`introspect`)."""

    async def go() -> Schema:
        conn = await connect(dsn, readonly=True)
        try:
            return await introspect(conn, source=source)
        finally:
            await conn.close()

    return run(go())


def _group(rows: Sequence[Row]) -> defaultdict[int, list[Row]]:
    grouped: defaultdict[int, list[Row]] = defaultdict(list)
    for row in rows:
        grouped[row["oid"]].append(row)
    return grouped


def _row_estimate(row: Row, version: int) -> int | None:
    if row["relkind"] == "p":
        rows = row["partition_rows"]
        return None if rows is None else int(rows)
    reltuples = float(row["reltuples"])
    if reltuples < 0:
        return None
    # Before PostgreSQL 14, "never analyzed" was reltuples = 0, indistinguishable from empty.
    if reltuples == 0 and version < 140000 and row["relpages"] == 0 and not row["analyzed"]:
        return None
    return int(reltuples)


def _table(
    row: Row, columns: list[Row], constraints: list[Row], indexes: list[Row], version: int
) -> Table:
    qualified = f"{row['nspname']}.{row['relname']}"
    attnames = {col["attnum"]: col["attname"] for col in columns}
    attcollations = {col["attnum"]: col["attcollation"] for col in columns}
    primary: tuple[str, ...] = ()
    uniques: list[tuple[str, ...]] = []
    fks: list[ForeignKey] = []
    for con in constraints:
        cols = tuple(con["columns"])
        if con["contype"] == "p":
            primary = cols
        elif con["contype"] == "u":
            uniques.append(cols)
        else:
            fks.append(
                ForeignKey(
                    name=con["conname"],
                    columns=cols,
                    ref_table=con["ref_table"],
                    ref_columns=tuple(con["ref_columns"]),
                )
            )
    stats = None
    if row["seq_scan"] is not None:
        stats = TableStats(
            seq_scan=int(row["seq_scan"] or 0),
            idx_scan=int(row["idx_scan"] or 0),
            n_tup_ins=int(row["n_tup_ins"] or 0),
            n_tup_upd=int(row["n_tup_upd"] or 0),
            n_tup_hot_upd=int(row["n_tup_hot_upd"] or 0),
            n_tup_del=int(row["n_tup_del"] or 0),
            seq_tup_read=int(row["seq_tup_read"] or 0),
            idx_tup_fetch=int(row["idx_tup_fetch"] or 0),
        )
    return Table(
        schema=row["nspname"],
        name=row["relname"],
        columns=tuple(_column(col) for col in columns),
        primary_key=primary,
        unique_constraints=tuple(uniques),
        foreign_keys=tuple(fks),
        indexes=tuple(_index(qualified, idx, attnames, attcollations) for idx in indexes),
        row_estimate=_row_estimate(row, version),
        size_bytes=None if row["size_bytes"] is None else int(row["size_bytes"]),
        stats=stats,
    )


def _column(row: Row) -> Column:
    return Column(
        name=row["attname"],
        type=row["type"],
        nullable=bool(row["nullable"]),
        avg_width=row["avg_width"],
        null_frac=row["null_frac"],
        n_distinct=row["n_distinct"],
        most_common=tuple(row["mcv"] or ()),
        most_common_freqs=tuple(row["mcf"] or ()),
        correlation=row["corr"],
        default=row["default_expr"],
    )


def _index(
    table: str, row: Row, attnames: Mapping[int, str], attcollations: Mapping[int, int]
) -> Index:
    nkeys = int(row["indnkeyatts"])
    attnums: list[int] = row["attnums"]
    keys: list[IndexKey] = []
    for pos in range(nkeys):
        attnum = attnums[pos]
        option = row["options"][pos] if pos < len(row["options"]) else 0
        coll_oid = row["collation_oids"][pos]
        default_coll = attcollations.get(attnum) if attnum else _DEFAULT_COLLATION_OID
        collation = None
        if coll_oid and coll_oid not in (default_coll, _DEFAULT_COLLATION_OID):
            collation = row["collations"][pos]
        keys.append(
            IndexKey(
                column=attnames.get(attnum) if attnum else None,
                expression=None if attnum else row["key_defs"][pos],
                descending=bool(option & _INDOPTION_DESC),
                nulls_first=bool(option & _INDOPTION_NULLS_FIRST),
                opclass=row["opclasses"][pos],
                collation=collation,
            )
        )
    include = tuple(
        attnames.get(num, row["key_defs"][nkeys + i]) for i, num in enumerate(attnums[nkeys:])
    )
    contype = row["contype"]
    return Index(
        name=row["name"],
        table=table,
        keys=tuple(keys),
        method=row["method"],
        include=include,
        unique=bool(row["indisunique"]),
        primary=bool(row["indisprimary"]),
        constraint=contype if contype in ("p", "u", "x") else None,
        predicate=row["predicate"],
        valid=bool(row["indisvalid"]),
        size_bytes=None if row["size_bytes"] is None else int(row["size_bytes"]),
        scans=None if row["idx_scan"] is None else int(row["idx_scan"]),
        definition=row["definition"],
    )
