"""The sandbox-backed schema loaders, under the name :mod:`advisor.scan` imports them by.

:func:`schema_from_ddl` lives in :mod:`advisor.schema.ddl`, :func:`schema_from_metadata`
in :mod:`advisor.schema.metadata`; both are also exported by :mod:`advisor.schema`.
"""

from __future__ import annotations

from advisor.schema.ddl import schema_from_ddl
from advisor.schema.metadata import schema_from_metadata

__all__ = ["schema_from_ddl", "schema_from_metadata"]
