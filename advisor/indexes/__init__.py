"""advisor.indexes: index knowledge shared by the rules and the suggest stage.

candidates  the best btree index for one query on one table (or why none)
coverage    does an existing index already serve a candidate, or lead with a foreign
            key? The one test of btree key order compatibility (same, or all flipped)
naming      deterministic, 63-byte index names
ddl         CREATE / DROP INDEX CONCURRENTLY text, index keys as text, IndexSuggestion builder

Plain functions over :mod:`advisor.model` data: nothing here opens a connection.
"""

from __future__ import annotations

__all__: list[str] = []
