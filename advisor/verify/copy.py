"""A bounded, consistent copy of a live database's rows into a sandbox database.

Everything is read in ONE read-only ``REPEATABLE READ`` transaction on the source (one
snapshot, so parents and children agree) and streamed with ``COPY ... TO STDOUT`` /
``COPY ... FROM STDIN`` from one connection to the other, never through a file.

Tables up to ``limit_bytes`` are copied whole. A larger table is sampled: a row is kept
when a seeded hash of its primary key (of the whole row, without one) falls in the
table's fraction, ``limit_bytes / size`` bounded below by ``min_fraction``. A table with a
foreign key to a sampled table keeps only the rows whose parent is kept: its predicate is
``EXISTS`` over the parent's own predicate, all evaluated on the source, so a chain
``users -> orders -> items`` keeps whole families. Only when such a child is still over
the limit does it sample itself on top. Self-references and cycles are not followed; the
orphans they leave are cleaned up in the sandbox (:func:`advisor.verify.load.remove_orphans`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import asyncpg

from advisor.db import connect
from advisor.errors import DatabaseError
from advisor.model import Schema, Table
from advisor.sqltext import quote_ident, quote_qualified
from advisor.verify.load import TargetTable

__all__ = [
    "CopyPlan",
    "TableCopy",
    "copy_phrase",
    "copy_plan",
    "copy_rows",
    "source_extras",
    "source_tables",
    "table_sizes",
]

_SCALE = 1 << 20
_QUEUE_CHUNKS = 32


@dataclass(frozen=True, slots=True)
class TableCopy:
    """How one table is copied: ``where`` over alias ``s`` (None: the whole table).

    ``fraction`` is the expected share of the source's rows kept; ``sampled`` says whether
    the table samples itself (else it is whole, or follows its parents).
    """

    table: str
    columns: tuple[str, ...]
    where: str | None
    fraction: float
    sampled: bool
    source_rows: int | None


@dataclass(frozen=True, slots=True)
class CopyPlan:
    """Every table's :class:`TableCopy`, in the order they are copied."""

    tables: tuple[TableCopy, ...]


def _hash_pred(alias: str, table: Table, fraction: float, seed: int) -> str:
    if table.primary_key:
        keys = ", ".join(f"{alias}.{quote_ident(col)}" for col in table.primary_key)
        row = f"row({keys})::text"
    else:
        row = f"{alias}::text"
    threshold = max(1, round(fraction * _SCALE))
    return f"(hashtextextended({row}, {seed}) & {_SCALE - 1}) < {threshold}"


class _Planner:
    def __init__(
        self,
        source: Mapping[str, Table],
        sizes: Mapping[str, int],
        limit_bytes: int,
        min_fraction: float,
        seed: int,
    ) -> None:
        self.source = source
        self.sizes = sizes
        self.limit = limit_bytes
        self.min_fraction = min_fraction
        self.seed = seed
        self.memo: dict[str, tuple[str | None, float, bool]] = {}
        self.visiting: set[str] = set()
        self.depth = 0

    def plan(self, name: str) -> tuple[str | None, float, bool]:
        """(predicate over ``{a}``, expected fraction, samples itself) for table ``name``."""
        if name in self.memo:
            return self.memo[name]
        table = self.source[name]
        self.visiting.add(name)
        conds: list[str] = []
        parent_fraction = 1.0
        for fk in table.foreign_keys:
            if fk.ref_table not in self.source or fk.ref_table in self.visiting:
                continue  # a self-reference or cycle: cleaned up in the sandbox
            pred, fraction, _ = self.plan(fk.ref_table)
            if pred is None:
                continue
            parent_fraction = min(parent_fraction, fraction)
            nullable = [c for c in fk.columns if (col := table.column(c)) is None or col.nullable]
            conds.append(self._exists(fk.columns, fk.ref_table, fk.ref_columns, pred, nullable))
        self.visiting.discard(name)
        size = self.sizes.get(name, 0)
        sampled = size * parent_fraction > self.limit
        fraction = parent_fraction
        if sampled:
            own = max(self.min_fraction, self.limit / (size * parent_fraction))
            fraction *= own
            conds.append(_hash_pred("{a}", table, own, self.seed))
        result = (" AND ".join(conds) if conds else None, fraction, sampled)
        self.memo[name] = result
        return result

    def _exists(
        self,
        columns: tuple[str, ...],
        ref_table: str,
        ref_columns: tuple[str, ...],
        pred: str,
        nullable: list[str],
    ) -> str:
        self.depth += 1
        alias = f"p{self.depth}"
        match = " AND ".join(
            f"{alias}.{quote_ident(r)} = {{a}}.{quote_ident(c)}"
            for c, r in zip(columns, ref_columns, strict=True)
        )
        inner = pred.replace("{a}", alias)
        exists = (
            f"EXISTS (SELECT 1 FROM {quote_qualified(ref_table)} {alias} WHERE {match} AND {inner})"
        )
        if not nullable:
            return exists  # a plain EXISTS the planner turns into a (hash) semi-join
        nulls = " OR ".join(f"{{a}}.{quote_ident(c)} IS NULL" for c in nullable)
        return f"({nulls} OR {exists})"


def copy_plan(
    targets: Mapping[str, TargetTable],
    source: Mapping[str, Table],
    sizes: Mapping[str, int],
    *,
    limit_bytes: int,
    min_fraction: float,
    seed: int,
) -> CopyPlan:
    """What to copy of every sandbox table that the source has (``sizes`` in bytes)."""
    planner = _Planner(source, sizes, limit_bytes, min_fraction, seed)
    out: list[TableCopy] = []
    for name, target in targets.items():
        table = source.get(name)
        if table is None:
            continue
        have = {col.name for col in table.columns}
        columns = tuple(c.name for c in target.columns if not c.generated and c.name in have)
        pred, fraction, sampled = planner.plan(name)
        out.append(
            TableCopy(
                table=name,
                columns=columns,
                where=None if pred is None else pred.replace("{a}", "s"),
                fraction=fraction,
                sampled=sampled,
                source_rows=table.row_estimate,
            )
        )
    return CopyPlan(tables=tuple(out))


async def copy_rows(
    src: asyncpg.Connection, dst: asyncpg.Connection, item: TableCopy, *, binary: bool
) -> int:
    """Stream ``item``'s rows from ``src`` into the same table of ``dst``; rows copied."""
    cols = ", ".join(quote_ident(c) for c in item.columns)
    query = f"SELECT {cols} FROM {quote_qualified(item.table)} AS s"
    if item.where:
        query += f" WHERE {item.where}"
    fmt = "binary" if binary else "text"
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=_QUEUE_CHUNKS)

    async def sink(chunk: bytes) -> None:
        await queue.put(chunk)

    async def produce() -> None:
        try:
            await src.copy_from_query(query, output=sink, format=fmt)
        finally:
            await queue.put(None)

    async def chunks() -> AsyncIterator[bytes]:
        while (chunk := await queue.get()) is not None:
            yield chunk

    schema, _, name = item.table.partition(".")
    producer = asyncio.create_task(produce())
    try:
        status = await dst.copy_to_table(
            name, schema_name=schema, columns=list(item.columns), source=chunks(), format=fmt
        )
    except asyncpg.PostgresError as exc:
        producer.cancel()
        raise DatabaseError(f"copying {item.table} into the sandbox failed: {exc}") from exc
    try:
        await producer
    except asyncpg.PostgresError as exc:
        raise DatabaseError(f"reading {item.table} from the source failed: {exc}") from exc
    return int(str(status).rsplit(" ", 1)[-1])


_IDENTITIES = """
SELECT format('ALTER TABLE %s ALTER COLUMN %I ADD GENERATED %s AS IDENTITY;', c.oid::regclass,
              a.attname, CASE a.attidentity WHEN 'a' THEN 'ALWAYS' ELSE 'BY DEFAULT' END)
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE a.attidentity <> '' AND NOT a.attisdropped AND c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
ORDER BY c.oid, a.attnum
"""

_ENUMS = """
SELECT format('CREATE TYPE %s AS ENUM (%s);', t.oid::regtype,
              string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder))
FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
GROUP BY t.oid ORDER BY t.oid
"""


async def source_extras(source_dsn: str) -> tuple[str, str]:
    """The source's enum types and identity columns as DDL (the model holds neither)."""
    src = await connect(source_dsn, readonly=True)
    try:
        enums = "\n".join(row[0] for row in await src.fetch(_ENUMS))
        identities = "\n".join(row[0] for row in await src.fetch(_IDENTITIES))
        return enums, identities
    finally:
        await src.close()


async def source_tables(src: asyncpg.Connection, schema: Schema) -> Mapping[str, Table]:
    """The source's tables: ``schema``'s when it was read from it, else read now."""
    if schema.source == "dsn" and schema.tables:
        return schema.tables
    from advisor.schema.introspect import introspect

    return (await introspect(src, source="dsn")).tables


async def table_sizes(src: asyncpg.Connection, tables: Mapping[str, Table]) -> dict[str, int]:
    """``pg_table_size`` of each table (the schema's figure when it has one)."""
    sizes: dict[str, int] = {}
    for name, table in tables.items():
        if table.size_bytes is not None:
            sizes[name] = table.size_bytes
        else:
            value = await src.fetchval("SELECT pg_table_size($1::regclass)", quote_qualified(name))
            sizes[name] = int(value or 0)
    return sizes


def copy_phrase(item: TableCopy, rows: int) -> str:
    """What the copied rows are, for :class:`~advisor.model.DataOrigin` (``sampled 5 % ...``)."""
    total = item.source_rows
    if item.where is None:
        return f"copied {rows:,} rows"
    of = f" of {total:,}" if total else ""
    share = rows / total * 100 if total else item.fraction * 100
    if item.sampled:
        return f"sampled {share:.3g} % ({rows:,}{of})"
    return f"copied {rows:,}{of} rows whose parents are in the sample"
