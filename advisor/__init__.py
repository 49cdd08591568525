"""advisor: a database optimization advisor for Python services on PostgreSQL.

The pipeline, one package per stage: sources -> parse -> schema -> rules -> suggest
-> verify -> report, run in order by :mod:`advisor.scan`, with :mod:`advisor.cli` at the
edge. :mod:`advisor.capture` runs inside the user's application and writes the capture
files that :mod:`advisor.sources` reads; :mod:`advisor.sandbox` starts the throwaway
PostgreSQL servers that schema loading and verification use.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
