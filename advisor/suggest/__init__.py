"""advisor.suggest stage: the workload-wide index set and the migration writers.

select      from per-finding suggestions to the indexes to create
evidence    the header of a migration: queries served, measurements, data, write overhead
migration   plain SQL migration files (up and down)
alembic     Alembic migration files (text: advisor never imports Alembic)
files       one numbered migration per index in a directory; an Alembic project's head

The per-query knowledge these build on (candidates, coverage, names, DDL) is in
:mod:`advisor.indexes`, which the rules use too.
"""

from __future__ import annotations

from collections.abc import Iterable

from advisor.model import Finding, IndexSuggestion
from advisor.suggest.alembic import alembic_migration
from advisor.suggest.files import write_migrations
from advisor.suggest.migration import sql_migration
from advisor.suggest.select import select

__all__ = ["alembic_migration", "collect_suggestions", "sql_migration", "write_migrations"]


def collect_suggestions(findings: Iterable[Finding]) -> tuple[IndexSuggestion, ...]:
    """The indexes to create for ``findings``: identical suggestions merged (their query
    shapes united), and one dropped when a longer suggestion on its table starts with
    its keys (the longer index serves both)."""
    return select(f.suggestion for f in findings if f.suggestion is not None)
