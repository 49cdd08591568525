"""advisor.parse: SQL text -> :class:`~advisor.model.ParsedQuery`.

Driver placeholders are rewritten to ``$n`` first (:func:`normalize_placeholders`);
PostgreSQL's grammar (pglast, isolated in :mod:`advisor.parse.pg`) validates the
statement and gives its fingerprint (with a digest of the relations it names) and
batched bit; sqlglot reads its structure (:mod:`advisor.parse.structure`) against a
schema.

:func:`fingerprint` is the cheap half (what grouping needs); :func:`parse` the full one.
:func:`prepare` and :func:`complete` are the same two halves for a caller (the workload
builder) that groups by key first and reads the structure once per key.
"""

from __future__ import annotations

from dataclasses import dataclass

from advisor.model import ParsedQuery, Schema, query_key
from advisor.parse.pg import PgStatement, analyze
from advisor.parse.placeholders import normalize_placeholders
from advisor.parse.structure import extract

__all__ = ["Prepared", "complete", "fingerprint", "normalize_placeholders", "parse", "prepare"]


@dataclass(frozen=True, slots=True)
class Prepared:
    """A statement checked by PostgreSQL's grammar, before its structure is read."""

    sql: str  # with ``$n`` placeholders
    pg: PgStatement

    @property
    def key(self) -> str:
        """The grouping key, as :attr:`ParsedQuery.key` will spell it."""
        return query_key(self.pg.fingerprint, self.pg.batched)


def prepare(sql: str) -> Prepared:
    """Normalize placeholders and validate; raises :class:`~advisor.errors.ParseError`."""
    text = normalize_placeholders(sql)
    return Prepared(text, analyze(text))


def complete(prepared: Prepared, schema: Schema) -> ParsedQuery:
    """Read the structure of a prepared statement against ``schema``; never raises.

    A transaction-control statement (BEGIN, SAVEPOINT, RELEASE, COMMIT ...) gets
    ``is_savepoint`` and no structure; neither do other utility statements (SET, SHOW,
    DDL, COPY ...), which no rule reads.
    """
    info = prepared.pg
    query = ParsedQuery(
        prepared.sql,
        info.fingerprint,
        info.batched,
        info.kind,
        is_savepoint=info.transaction_control,
    )
    if info.transaction_control or info.kind == "other":
        return query
    return extract(query, schema)


def fingerprint(sql: str) -> tuple[str, bool]:
    """``(fingerprint, batched)`` of ``sql``; raises :class:`~advisor.errors.ParseError`."""
    info = prepare(sql).pg
    return info.fingerprint, info.batched


def parse(sql: str, schema: Schema) -> ParsedQuery:
    """Parse one statement fully; raises :class:`~advisor.errors.ParseError`.

    ``ParsedQuery.sql`` is the statement with ``$n`` placeholders.
    """
    return complete(prepare(sql), schema)
