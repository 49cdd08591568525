"""advisor: a database optimization advisor for Python services on PostgreSQL.

The pipeline, one package per stage: capture -> parse -> schema -> rules -> suggest
-> verify -> report, with :mod:`advisor.cli` at the edge.

PYTEST_DONT_REWRITE: under ``advisor capture -- pytest`` this package is imported at
start-up, before pytest marks installed plugins' packages for assertion rewriting; the
marker keeps pytest from warning into the app's output ("Module already imported").
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
