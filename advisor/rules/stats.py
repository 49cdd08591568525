"""Small statistics the rules share."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["percentile"]


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of non-empty ``values``, by the nearest-rank method.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 95), percentile([1.0, 2.0, 3.0, 4.0], 50)
    (4.0, 2.0)
    """
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]
