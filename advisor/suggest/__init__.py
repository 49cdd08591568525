"""advisor.suggest stage: the workload-wide index set and the migration writers.

select      from per-finding suggestions to the indexes to create
migration   plain SQL migration files (up and down)
alembic     Alembic migration files (text: advisor never imports Alembic)

The per-query knowledge these build on (candidates, coverage, names, DDL) is in
:mod:`advisor.indexes`, which the rules use too. :func:`sql_migration` and
:func:`alembic_migration` are library functions only for now: the CLI does not reach
them until the migrations issue wires them to ``--migrations-dir``.
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
