"""``python -m advisor.schema``: the schema snapshot of the database whose DSN is on stdin.

Prints one JSON object (:func:`advisor.schema.schema_to_dict`). Capture runs it in a child
process with advisor's own Python, so that asyncpg and the rest of the scan side are never
imported into the application being captured. The DSN comes on stdin, never in argv (a
password would show in the process list). Exit code 2 and a one-line message on failure.
"""

from __future__ import annotations

import json
import sys

from advisor.errors import AdvisorError
from advisor.schema.introspect import read_schema
from advisor.schema.snapshot import schema_to_dict


def main() -> int:
    """Read a DSN from stdin, print its schema snapshot as JSON."""
    dsn = sys.stdin.readline().strip()
    try:
        snapshot = schema_to_dict(read_schema(dsn, source="capture"))
    except AdvisorError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    sys.stdout.write(json.dumps(snapshot) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
