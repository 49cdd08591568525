"""advisor: a database optimization advisor for Python services on PostgreSQL.

The pipeline, one package per stage: capture -> parse -> schema -> rules -> suggest
-> verify -> report, with :mod:`advisor.cli` at the edge.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
