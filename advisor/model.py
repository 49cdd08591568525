"""The plain data that flows between advisor's stages.

capture  -> :class:`Execution` (one statement execution, or an aggregate row from
            pg_stat_statements; ``calls`` says how many)
parse    -> :class:`ParsedQuery` (grammar-checked, fingerprinted, structure extracted)
schema   -> :class:`Schema` (tables, columns, keys, indexes, statistics)
pipeline -> :class:`Workload` (one :class:`QueryShape` per fingerprint, and the per-scope
            :class:`ScopeGroup` aggregates that N+1 detection reads)
rules    -> :class:`Finding` / :class:`Note` (a reason why a query got no suggestion)
suggest  -> :class:`IndexSuggestion` (verification filled in later by ``advisor.verify``)
report   -> :class:`ScanResult`

Everything here is a frozen dataclass: stages never mutate what they are given.
:class:`CallSite`, :class:`Execution` and :class:`ReadEvent`, built once per executed
statement while a capture is read (millions), are :func:`_hot_record` classes: frozen for
the type checker, plain slots classes at runtime.
Names of tables are always qualified (``"public.orders"``) once resolved against a schema.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar, dataclass_transform

__all__ = [
    "BlockingSite",
    "CallSite",
    "Column",
    "ColumnRef",
    "DataOrigin",
    "Execution",
    "Finding",
    "FindingKey",
    "ForeignKey",
    "Hop",
    "Index",
    "IndexColumn",
    "IndexKey",
    "IndexSuggestion",
    "JoinKey",
    "LoopCost",
    "Measurement",
    "Note",
    "OrderItem",
    "OrmLoad",
    "ParsedQuery",
    "PlanNode",
    "PoolUsage",
    "Predicate",
    "QueryEffect",
    "QueryShape",
    "ReadEvent",
    "RepeatedRead",
    "ScanResult",
    "Schema",
    "ScopeGroup",
    "Severity",
    "Skipped",
    "SourceKind",
    "Table",
    "TableRef",
    "TableStats",
    "TableWrites",
    "Triage",
    "Verification",
    "Workload",
    "query_key",
]

_T = TypeVar("_T")


@dataclass_transform(frozen_default=True)
def _hot_record(cls: type[_T]) -> type[_T]:
    """A frozen dataclass for mypy (assigning a field is a type error), without the
    runtime write guard: a frozen dataclass's ``__init__`` sets each field through
    ``object.__setattr__``, 1.5 us for :class:`Execution`'s 16 fields against 0.2 us here,
    and a scan builds one per captured statement. Equality and hashing are the same as
    a frozen dataclass's.
    """
    return dataclass(slots=True, unsafe_hash=True)(cls)


# --------------------------------------------------------------------------- capture


@_hot_record
class CallSite:
    """A place in a file: an application line, or a statement's line in an input file."""

    path: str
    line: int | None = None
    function: str | None = None
    # Set when the line is in an installed package (no application frame issued the
    # statement): its distribution's name and version; ``path`` is then below site-packages.
    package: str | None = None
    version: str | None = None

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        where = where if not self.function else f"{where} in {self.function}()"
        if self.package is None:
            return where
        label = self.package if self.version is None else f"{self.package} {self.version}"
        return f"{where} (in installed package {label})"


ScopeKind = Literal["test", "request", "manual", "process", "fixture"]
SourceKind = Literal["sql_file", "capture_file", "pg_stat_statements"]
"""Which kind of input an execution came from (see :mod:`advisor.sources`)."""
LoadKind = Literal["lazy", "column", "batched", "expired", "refresh"]
Direction = Literal["ONETOMANY", "MANYTOONE", "MANYTOMANY"]


@dataclass(frozen=True, slots=True)
class Hop:
    """One relationship step of a loader path: ``Order.items`` (one-to-many)."""

    parent: str
    attribute: str
    direction: Direction | None = None


@dataclass(frozen=True, slots=True)
class OrmLoad:
    """What the SQLAlchemy ORM said about a statement (from ``do_orm_execute``).

    ``kind``: ``lazy`` for a real lazy load (``lazy_loaded_from`` set), ``column`` for a
    deferred-column load, ``batched`` for selectinload/subqueryload/immediate loads.
    ``parent`` is the mapped class that owns ``attribute`` (``Order`` / ``items``);
    ``path`` is the whole loader path, e.g. ``("User", "orders", "Order", "items")``.
    ``expired`` is a reload of attributes expired by ``commit()`` or ``expire()`` (its
    ``attribute`` names the columns, never relationships); ``refresh`` an explicit
    ``Session.refresh()``: neither is a deferred column, and ``undefer`` does not fix them.

    For a lazy load, ``root`` is the line of the query whose rows the chain of lazy loads
    started from and ``chain`` the lazy-loaded hops from those rows to this load's parent
    (``User.orders`` when ``user.orders[i].items`` loads): the fix goes on the root query,
    as one loader chain. ``serializer`` names the serialization that read the attribute
    (``pydantic``, ``fastapi``, ``dataclasses``) when one was on the stack.
    ``origin_earlier``: the parent object was loaded in an earlier scope (kept in the
    identity map or a cache), so its origin is another request's or test's query.
    """

    kind: LoadKind
    parent: str | None = None
    attribute: str | None = None
    path: tuple[str, ...] = ()
    direction: Direction | None = None
    target: str | None = None
    root: CallSite | None = None
    chain: tuple[Hop, ...] = ()
    serializer: str | None = None
    origin_earlier: bool = False


@_hot_record
class Execution:
    """One statement as a source saw it.

    From capture: one execution (``calls == 1``) with its scope, call site and timing.
    From a ``.sql`` file: one statement, ``source`` names the file and line.
    From pg_stat_statements: one aggregate row (``calls``, ``total_ms``, ``rows``).
    ``params_hash`` identifies the parameter values without keeping them, so that
    "same query, same parameters" and "same query, differing parameters" differ.
    ``scope_id`` tells apart two instances of one scope name (two concurrent requests
    to ``GET /users/{user_id}`` share the name, never the id); unique within a file.
    ``source_kind`` says which kind of source read it (None when built in code).
    ``params`` holds the values themselves, as JSON (a list, or an object keyed by
    placeholder name), only when the capture kept them (``--keep-params``).
    ``blocks_loop``: a sync driver ran it on a thread running an asyncio event loop.
    ``result_hash`` identifies a small read's result (values redacted); ``at`` is when it
    finished, in seconds from the start of the capture (set with ``result_hash``).
    ``callers``: the application frames above ``call_site`` (ORM and Core statements), nearest
    first (the loop that called a repository helper), a few at most.
    """

    sql: str
    source: CallSite
    calls: int = 1
    total_ms: float | None = None
    rows: int | None = None
    scope: str | None = None
    scope_kind: ScopeKind | None = None
    seq: int | None = None
    call_site: CallSite | None = None
    origin: CallSite | None = None
    params_hash: str | None = None
    params_shape: str | None = None
    executemany: bool = False
    orm: OrmLoad | None = None
    error: str | None = None
    scope_id: int | None = None
    source_kind: SourceKind | None = None
    params: object = None
    blocks_loop: bool = False
    result_hash: str | None = None
    at: float | None = None
    callers: tuple[CallSite, ...] = ()


# --------------------------------------------------------------------------- parse


@dataclass(frozen=True, slots=True)
class TableRef:
    """A table a query reads or writes; ``table`` is qualified when found in the schema."""

    table: str
    alias: str | None = None
    resolved: bool = False


@dataclass(frozen=True, slots=True)
class ColumnRef:
    """A column, qualified by its (qualified) table when it could be resolved."""

    table: str | None
    column: str


PredicateOp = Literal[
    "eq",
    "in",
    "any",
    "range",
    "is_null",
    "is_not_null",
    "like_prefix",
    "pattern",
    "pattern_param",
    "pattern_any",
    "neq",
    "other",
]


@dataclass(frozen=True, slots=True)
class Predicate:
    """One conjunct of a WHERE (or JOIN ... ON) clause that touches one table.

    ``column`` is set for a plain column; ``expression`` (normalized SQL such as
    ``lower(email)``) for an expression over one table's columns. ``constant`` holds the
    literal text compared against (``'active'``) and is None for parameters;
    ``in_size`` is the number of values of an ``IN`` list. ``params`` are the numbers of
    the ``$n`` compared against, in the order written (``BETWEEN $1 AND $2``: ``(1, 2)``);
    ``bound`` says which end of a one-sided range they give (``col > $1``: ``"lower"``),
    so that verification can bind each ``$n`` to a fitting value of the column. Neither
    takes part in equality: ``a = $1`` and ``a = $2`` are the same predicate to a rule.

    Pattern matches a btree cannot serve: ``pattern`` is a ``LIKE``/``ILIKE`` whose text
    shows it unanchored (``'%x%'``, ``'_x'``, ``'%' || $1 || '%'``) or any ``ILIKE`` of a
    constant; ``pattern_param`` a ``LIKE``/``ILIKE $n`` whose pattern is only known from
    the captured values of ``$n``; ``case_insensitive`` marks ``ILIKE`` (``~~*``).
    ``pattern_any`` is an ``OR`` of pattern matches on one table, each in ``alternatives``
    (``title ILIKE $1 OR notes ILIKE $1``).
    """

    table: str | None
    column: str | None
    op: PredicateOp
    expression: str | None = None
    constant: str | None = None
    parameterized: bool = False
    in_size: int | None = None
    params: tuple[int, ...] = field(default=(), compare=False)
    bound: Literal["lower", "upper"] | None = field(default=None, compare=False)
    case_insensitive: bool = False
    alternatives: tuple[Predicate, ...] = ()


@dataclass(frozen=True, slots=True)
class JoinKey:
    """An equality between columns of two tables (``o.user_id = u.id``)."""

    left: ColumnRef
    right: ColumnRef


@dataclass(frozen=True, slots=True)
class OrderItem:
    """One ORDER BY item; ``column`` is None for an expression."""

    column: ColumnRef | None
    descending: bool = False
    nulls_first: bool | None = None
    expression: str | None = None


StatementKind = Literal["select", "insert", "update", "delete", "other"]


def query_key(fingerprint: str, batched: bool) -> str:
    """The key one query shape is grouped by: ``fingerprint:b`` (batched) or ``:r`` (per row).

    ``fingerprint`` is :attr:`ParsedQuery.fingerprint`, which already carries the digest
    of the relations (``<pglast fingerprint>~<digest>``), so a key tells apart ``a.t``
    from ``b.t`` and ``orders_2024`` from ``orders_2025`` while literals, parameters,
    whitespace and IN-list lengths still share one.
    """
    return f"{fingerprint}:{'b' if batched else 'r'}"


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """One statement, parsed once and shared by every execution of its shape.

    ``fingerprint`` comes from PostgreSQL's own grammar (pglast) and ignores literals,
    followed by ``~`` and a digest of the relations as written when the statement names
    any (pglast's fingerprint drops schema names, digit runs in relation names and
    aliased relations' names; see :mod:`advisor.parse.pg`). It names the statement's
    shape short of the batched bit, which is how findings report it. ``batched`` is
    True for ``IN (a, b, ...)`` with more than one value or ``= ANY(...)``, so that a
    per-row lookup and its batched fix never share a key (see :func:`key`).
    ``star_tables`` lists the tables whose every column is fetched by ``*`` or ``t.*``.
    ``unknown`` names tables or columns the schema does not have.
    """

    sql: str
    fingerprint: str
    batched: bool
    kind: StatementKind
    tables: tuple[TableRef, ...] = ()
    star_tables: tuple[str, ...] = ()
    selected: tuple[ColumnRef, ...] = ()
    predicates: tuple[Predicate, ...] = ()
    joins: tuple[JoinKey, ...] = ()
    order_by: tuple[OrderItem, ...] = ()
    group_by: tuple[ColumnRef, ...] = ()
    limit: int | None = None
    has_limit: bool = False
    is_savepoint: bool = False
    unknown: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """The grouping key: the fingerprint plus the batched bit."""
        return query_key(self.fingerprint, self.batched)


# --------------------------------------------------------------------------- schema


@dataclass(frozen=True, slots=True)
class Column:
    """A table column; statistics (``avg_width`` ...) come from ``pg_stats`` when present.

    ``most_common`` holds ``pg_stats``'s most common values as text (at most 20) and
    ``most_common_freqs`` their shares of all rows, in the same order; ``correlation`` is
    how closely the physical row order follows the column's order (-1 to 1).
    """

    name: str
    type: str
    nullable: bool = True
    avg_width: int | None = None
    null_frac: float | None = None
    n_distinct: float | None = None
    default: str | None = None
    most_common: tuple[str, ...] = ()
    most_common_freqs: tuple[float, ...] = ()
    correlation: float | None = None


@dataclass(frozen=True, slots=True)
class IndexKey:
    """One key of an index, in order: a column or an expression."""

    column: str | None
    expression: str | None = None
    descending: bool = False
    nulls_first: bool = False
    opclass: str | None = None
    collation: str | None = None


@dataclass(frozen=True, slots=True)
class Index:
    """An index as the catalog describes it.

    ``constraint`` is ``"p"``, ``"u"`` or ``"x"`` when the index backs a primary-key,
    unique or exclusion constraint (such an index is never proposed for dropping).
    ``scans`` and ``size_bytes`` come from the statistics views (None when unknown).
    """

    name: str
    table: str
    keys: tuple[IndexKey, ...]
    method: str = "btree"
    include: tuple[str, ...] = ()
    unique: bool = False
    primary: bool = False
    constraint: Literal["p", "u", "x"] | None = None
    predicate: str | None = None
    valid: bool = True
    size_bytes: int | None = None
    scans: int | None = None
    definition: str = ""


@dataclass(frozen=True, slots=True)
class ForeignKey:
    """A foreign key: ``columns`` of this table reference ``ref_columns`` of ``ref_table``."""

    name: str
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TableStats:
    """Activity from ``pg_stat_user_tables`` (for the write-overhead model): scans, rows
    written, and rows read (``seq_tup_read`` by sequential scans, ``idx_tup_fetch`` through
    indexes)."""

    seq_scan: int = 0
    idx_scan: int = 0
    n_tup_ins: int = 0
    n_tup_upd: int = 0
    n_tup_hot_upd: int = 0
    n_tup_del: int = 0
    seq_tup_read: int = 0
    idx_tup_fetch: int = 0


@dataclass(frozen=True, slots=True)
class Table:
    """A table with its columns, keys and indexes.

    ``row_estimate`` is None when the table was never analyzed (a schema from DDL).
    """

    schema: str
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    unique_constraints: tuple[tuple[str, ...], ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    indexes: tuple[Index, ...] = ()
    row_estimate: int | None = None
    size_bytes: int | None = None
    stats: TableStats | None = None

    @property
    def qualified(self) -> str:
        """``schema.name``."""
        return f"{self.schema}.{self.name}"

    def column(self, name: str) -> Column | None:
        """The column called ``name``, or None."""
        for col in self.columns:
            if col.name == name:
                return col
        return None


SchemaSource = Literal["dsn", "ddl", "metadata", "capture", "none"]


@dataclass(frozen=True, slots=True)
class Schema:
    """The database, as its catalog describes it; ``tables`` keyed by qualified name.

    ``source`` says where it was read from; ``stats_since`` (ISO timestamp) is when the
    statistics used by ADV006 started collecting, when known (live databases only);
    ``max_connections`` is the server's setting (live databases only).
    """

    tables: Mapping[str, Table] = field(default_factory=dict)
    source: SchemaSource = "none"
    server_version: int | None = None
    search_path: tuple[str, ...] = ("public",)
    stats_since: str | None = None
    max_connections: int | None = None

    def find(self, name: str) -> Table | None:
        """Resolve a table name as written (``orders``, ``public.orders``, quoted or not)."""
        name = name.replace('"', "")
        if "." in name:
            return self.tables.get(name)
        for schema in self.search_path:
            table = self.tables.get(f"{schema}.{name}")
            if table is not None:
                return table
        return None


# --------------------------------------------------------------------------- workload


@dataclass(frozen=True, slots=True)
class QueryShape:
    """Every execution of one query shape (one :attr:`ParsedQuery.key`), aggregated.

    ``from_pg_stat_statements``: some of its executions have the ``pg_stat_statements``
    source kind (aggregate rows, without scopes or call sites).
    ``samples`` are a few of the parameter sets the application bound, in ``$n`` order,
    when the capture kept them (verification runs the query with the first).
    """

    query: ParsedQuery
    calls: int
    total_ms: float | None
    rows: int | None
    sources: tuple[CallSite, ...]
    call_sites: tuple[CallSite, ...] = ()
    from_pg_stat_statements: bool = False
    samples: tuple[tuple[object, ...], ...] = ()

    @property
    def location(self) -> CallSite | None:
        """Where the shape shows: its first application call site, else its first input."""
        if self.call_sites:
            return self.call_sites[0]
        return self.sources[0] if self.sources else None


@dataclass(frozen=True, slots=True)
class ScopeGroup:
    """Executions of one shape from one call site inside one scope (a request, a test).

    ``distinct_params`` counts differing parameter sets (capped at the cap the pipeline
    uses); ``executemany`` counts executions that were bulk executemany calls.
    ``batched`` is the shape's :attr:`ParsedQuery.batched` (``IN`` lists, ``= ANY``).
    ``chains``: every execution's callers, in order, when no two executions had the same
    ones (a test body calling one helper from several of its lines); otherwise empty.
    """

    scope: str
    scope_kind: ScopeKind | None
    key: str
    call_site: CallSite | None
    origin: CallSite | None
    count: int
    distinct_params: int
    total_ms: float | None
    first_seq: int | None
    orm: OrmLoad | None = None
    executemany: int = 0
    rows: int | None = None
    batched: bool = False
    callers: tuple[CallSite, ...] = ()
    chains: tuple[tuple[CallSite, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class BlockingSite:
    """Statements from one call site, inside one scope name, that blocked the event loop.

    ``per_scope_ms`` holds, for each instance of the scope (each request), the time its
    statements from this site held the loop; ``key`` is the first shape seen there.
    """

    scope: str
    scope_kind: ScopeKind | None
    call_site: CallSite | None
    key: str
    executions: int
    per_scope_ms: tuple[float, ...]


@_hot_record
class ReadEvent:
    """One execution of a read whose result was hashed at capture (see :class:`RepeatedRead`).

    A :func:`_hot_record`: a scan builds one per hashed read (most reads of a capture);
    0.22 us each against 0.64 us as a frozen dataclass (timeit, Python 3.11).
    """

    seq: int | None
    at: float | None
    scope_id: int | None
    result_hash: str
    ms: float | None


@dataclass(frozen=True, slots=True)
class RepeatedRead:
    """Every hashed execution of one read shape with one ``params_hash``, in capture order."""

    key: str
    params_hash: str | None
    call_sites: tuple[CallSite, ...]
    reads: tuple[ReadEvent, ...]


@dataclass(frozen=True, slots=True)
class TableWrites:
    """The writes (INSERT/UPDATE/DELETE executions) to one table seen in the workload.

    ``seqs`` are their capture positions, in order (capped; ``count`` is not); an
    ``array('q')`` from the workload: a capture can hold hundreds of thousands of writes.
    """

    table: str
    count: int
    seqs: Sequence[int]
    call_sites: tuple[CallSite, ...]


@dataclass(frozen=True, slots=True)
class PoolUsage:
    """One connection pool's checkouts, as capture timed them (see advisor.capture.pools).

    ``waits_ms`` are the waits of checkouts that found no free connection and opened none
    (capped); ``peak_waiting`` the most checkouts seen waiting at once; ``scopes`` the
    scope names that waited longest, worst first.
    """

    pool: int
    pool_class: str | None
    size: int | None
    max_overflow: int | None
    timeout_s: float | None
    checkouts: int
    waits_ms: tuple[float, ...]
    timeouts: int
    peak_in_use: int
    peak_overflow: int
    peak_waiting: int
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Skipped:
    """An input or statement that was not scanned, and why.

    ``input_rejected`` is True when a whole input could not be read (binary data, not a
    capture file, a newer capture format): the scan goes on with the other inputs, and
    the CLI exits 2.
    """

    source: CallSite
    reason: str
    sql: str | None = None
    input_rejected: bool = False


@dataclass(frozen=True, slots=True)
class Workload:
    """What the rules read: the shapes, the per-scope groups and what was skipped.

    Across scopes (see :mod:`advisor.timeline`): ``blocking`` (statements that held an
    event loop), ``reads`` (hashed reads by shape and parameters) and ``writes`` (by
    qualified table); ``pools`` (connection-pool checkouts, from capture files).
    """

    shapes: Mapping[str, QueryShape]
    groups: tuple[ScopeGroup, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    executions: int = 0
    blocking: tuple[BlockingSite, ...] = ()
    reads: tuple[RepeatedRead, ...] = ()
    writes: Mapping[str, TableWrites] = field(default_factory=dict)
    pools: tuple[PoolUsage, ...] = ()


# --------------------------------------------------------------------------- rules & suggestions


class Severity(enum.Enum):
    """How much a finding matters; ordered, so ``--fail-on`` can compare."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        """0 (info) to 3 (high)."""
        return list(Severity).index(self)


@dataclass(frozen=True, slots=True)
class IndexColumn:
    """One key of a suggested index: a column or an expression, with its direction.

    ``opclass`` names a non-default operator class (``gin_trgm_ops`` for a trigram key).
    """

    column: str | None
    expression: str | None = None
    descending: bool = False
    nulls_first: bool | None = None
    opclass: str | None = None


@dataclass(frozen=True, slots=True)
class PlanNode:
    """One node of an ``EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)`` plan, children in order.

    Times are milliseconds; ``actual_ms`` is the node's total time over all its loops
    (``Actual Total Time`` x ``Actual Loops``); None when the plan was not analyzed.
    """

    node_type: str
    relation: str | None = None
    index: str | None = None
    estimated_rows: float | None = None
    actual_rows: float | None = None
    loops: int | None = None
    actual_ms: float | None = None
    total_cost: float | None = None
    shared_hit: int | None = None
    shared_read: int | None = None
    detail: str | None = None
    children: tuple[PlanNode, ...] = ()


ParamSource = Literal["captured", "sampled", "literal", "generic"]


@dataclass(frozen=True, slots=True)
class Measurement:
    """One query shape measured with ``EXPLAIN (ANALYZE, BUFFERS)``: the median of ``runs``.

    ``ms`` is None when every run hit the time box (``timed_out_ms``): the query took
    longer than that and was not run again. ``params`` says where the ``$n`` values came
    from (captured values, values sampled from the data, literals in the text, or a generic
    plan that was only costed).
    """

    key: str
    ms: float | None
    runs: int
    shared_buffers: int | None = None
    cost: float | None = None
    plan: PlanNode | None = None
    timed_out_ms: float | None = None
    params: ParamSource = "literal"
    spread_ms: tuple[float, float] | None = None


@dataclass(frozen=True, slots=True)
class QueryEffect:
    """One query of the workload before and after an index (or a set of indexes)."""

    key: str
    before: Measurement
    after: Measurement
    calls: int = 1
    plan_change: str | None = None

    @property
    def saved_ms(self) -> float | None:
        """Time saved per call (negative when slower); None when either side timed out."""
        if self.before.ms is None or self.after.ms is None:
            return None
        return self.before.ms - self.after.ms


DataKind = Literal["copied", "sampled", "generated", "seed", "as-is"]


@dataclass(frozen=True, slots=True)
class DataOrigin:
    """Where the rows a measurement ran on came from, so a DBA knows what it is worth.

    ``tables`` maps each qualified table to a short phrase (``"generated 1,000,000 rows"``,
    ``"sampled 5 % (50,000 of 1,000,000)"``); ``server`` is the sandbox's version and
    ``source_server`` the source database's, when known (they may differ).
    """

    kind: DataKind
    summary: str
    tables: Mapping[str, str] = field(default_factory=dict)
    server: str | None = None
    source_server: str | None = None


Verdict = Literal["helps", "no-gain", "not-used", "regresses", "error"]


@dataclass(frozen=True, slots=True)
class Verification:
    """The evidence from ``EXPLAIN (ANALYZE, BUFFERS)`` before and after an index.

    ``before_ms``/``after_ms`` are the summed medians over the queries the index serves,
    weighted by nothing (one call each); ``effects`` holds each query's own numbers and
    plans. ``plan_change`` reads like ``"Seq Scan -> Index Scan"``. ``build_ms`` and
    ``size_bytes`` are the real index's build time and size in the sandbox.
    """

    before_ms: float
    after_ms: float
    before_cost: float | None = None
    after_cost: float | None = None
    before_buffers: int | None = None
    after_buffers: int | None = None
    used: bool = False
    verdict: Verdict = "helps"
    detail: str | None = None
    effects: tuple[QueryEffect, ...] = ()
    plan_change: str | None = None
    build_ms: float | None = None
    size_bytes: int | None = None
    data: DataOrigin | None = None

    @property
    def speedup(self) -> float | None:
        """``before_ms / after_ms`` (None when after is 0)."""
        return self.before_ms / self.after_ms if self.after_ms > 0 else None


@dataclass(frozen=True, slots=True)
class LoopCost:
    """An N+1 loop as it ran (``queries`` per-row statements) against its batched fix,
    both measured in the sandbox: "30 queries, 5.0 ms -> 1 query, 0.4 ms"."""

    queries: int
    loop_ms: float
    batched_ms: float
    batched_sql: str
    data: DataOrigin | None = None


@dataclass(frozen=True, slots=True)
class IndexSuggestion:
    """A suggested index: enough to write a migration and to verify it.

    ``query_keys`` are the keys (:attr:`ParsedQuery.key`) of the query shapes it serves
    (the JSON report calls them ``fingerprints``); ``sql`` is the CREATE INDEX statement.
    """

    table: str
    columns: tuple[IndexColumn, ...]
    name: str
    sql: str
    include: tuple[str, ...] = ()
    where: str | None = None
    method: str = "btree"
    query_keys: tuple[str, ...] = ()
    reason: str = ""
    verification: Verification | None = None
    kind: Literal["index"] = "index"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem a rule found, with where, why, and what to write instead.

    ``evidence`` holds the numbers behind it (count, time, calls ...) as JSON-ready values.
    """

    rule: str
    name: str
    severity: Severity
    message: str
    location: CallSite | None = None
    fingerprint: str | None = None
    sql: str | None = None
    fix: str | None = None
    origin: CallSite | None = None
    evidence: Mapping[str, object] = field(default_factory=dict)
    suggestion: IndexSuggestion | None = None
    confidence: Literal["high", "medium", "low"] = "high"
    loop_cost: LoopCost | None = None


@dataclass(frozen=True, slots=True)
class Note:
    """Why a query shape got no suggestion from a rule (dexter's "show_debug_info")."""

    rule: str
    fingerprint: str
    reason: str
    sql: str | None = None


@dataclass(frozen=True, slots=True)
class FindingKey:
    """What identifies a finding across runs: rule, query fingerprint, file and function.

    Line numbers are left out on purpose: an unrelated edit above a call site moves its
    line, and a baseline keyed on lines would call every finding below it new.
    ``message`` describes the finding for reports and takes no part in equality.
    """

    rule: str
    fingerprint: str | None
    path: str | None
    function: str | None
    message: str = field(default="", compare=False)

    def __str__(self) -> str:
        where = self.path or "?"
        if self.function:
            where += f" in {self.function}()"
        return f"{self.rule} at {where}"


@dataclass(frozen=True, slots=True)
class Triage:
    """What suppressions and a baseline (or an older report) took out of a scan.

    ``suppressed`` pairs each hidden finding with the suppression that hid it;
    ``unused`` lists suppressions that hid nothing (so they do not rot); ``baselined``
    counts findings already in the baseline; ``gone`` the baseline's findings this scan
    no longer has (resolved); ``against`` names the baseline or report compared with.
    """

    suppressed: tuple[tuple[Finding, str], ...] = ()
    unused: tuple[str, ...] = ()
    baselined: int = 0
    gone: tuple[FindingKey, ...] = ()
    against: str | None = None


@dataclass(frozen=True, slots=True)
class ScanResult:
    """Everything one scan produced, in the order the report shows it.

    ``suggestions`` are the indexes to create (verified ones carry their
    :class:`Verification`); ``rejected`` the candidates verification dropped, with the
    numbers that dropped them; ``data`` the rows verification measured on; ``triage``
    what suppressions and a baseline took out of ``findings`` (None when neither ran);
    ``migrations`` the migration files written (``--migrations-dir``), in order.
    """

    findings: tuple[Finding, ...]
    suggestions: tuple[IndexSuggestion, ...]
    notes: tuple[Note, ...]
    skipped: tuple[Skipped, ...]
    workload: Workload
    schema: Schema
    sandbox: str | None = None
    sources: tuple[str, ...] = ()
    rejected: tuple[IndexSuggestion, ...] = ()
    data: DataOrigin | None = None
    triage: Triage | None = None
    # One-line problems with the inputs as a whole (e.g. a schema without the queried
    # tables), each naming its fix; the CLI shows them on stderr.
    warnings: tuple[str, ...] = ()
    migrations: tuple[str, ...] = ()
