"""advisor.suggest stage: index candidates, coverage, names, SQL and migrations.

candidates  the best btree index for one query on one table (or why none)
coverage    does an existing index already serve a candidate?
naming      deterministic, quoted, 63-byte index names
sql         CREATE / DROP INDEX CONCURRENTLY statements, IndexSuggestion builder
select      from per-finding suggestions to the indexes to create
evidence    the header of a migration: queries served, measurements, data, write overhead
migration   plain SQL migration files (up and down)
alembic     Alembic migration files (text: advisor never imports Alembic)
files       one numbered migration per index in a directory; an Alembic project's head
"""

from __future__ import annotations

from collections.abc import Iterable

from advisor.model import Finding, IndexSuggestion
from advisor.suggest.alembic import alembic_migration
from advisor.suggest.migration import sql_migration
from advisor.suggest.select import select

__all__ = ["alembic_migration", "collect_suggestions", "sql_migration"]


def collect_suggestions(findings: Iterable[Finding]) -> tuple[IndexSuggestion, ...]:
    """The indexes to create for ``findings``: identical suggestions merged (their query
    shapes united), and one dropped when a longer suggestion on its table starts with
    its keys (the longer index serves both)."""
    return select(f.suggestion for f in findings if f.suggestion is not None)
