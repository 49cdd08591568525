"""Origins: the query each loaded object came from, by the runid SQLAlchemy stamps on it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from advisor.capture import orm
from advisor.capture.orm import Origins


def test_origins_are_found_by_runid_and_the_oldest_forgotten_past_the_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(orm, "_MAX_RUNS", 8)
    origins = Origins()
    site = ("app.py", 3, "handler", None, None)
    for runid in range(1, 9):
        origins.remember(runid, (site, runid, site, []))
    assert origins.of(SimpleNamespace(runid=5)) == (site, 5, site, [])
    assert origins.of(SimpleNamespace(runid=None)) is None  # never loaded by a query
    origins.remember(9, (site, 9, site, []))  # past the bound: the oldest quarter goes
    assert [origins.of(SimpleNamespace(runid=r)) is None for r in (1, 2, 3, 9)] == [
        True,
        True,
        False,
        False,
    ]
