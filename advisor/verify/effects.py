"""A workload's queries measured before and after a change to a sandbox database.

:class:`EffectMeter` is the one place that turns query shapes into :class:`QueryEffect`
figures: it binds each shape's ``$n`` (:func:`~advisor.verify.params.bind_statement`),
runs :func:`~advisor.verify.explain.explain`, and keeps each shape's first figure as its
"before", so a change measured against it (one index, a set of indexes, a migration)
pays for the "before" runs once. :func:`~advisor.verify.measure.verify_indexes` and
:func:`~advisor.verify.migration_review.review_migration` both measure through it.

Which difference counts, and why (:func:`regressed`, :func:`improved`): a read whose
plan stayed the same was not touched by the change, so its difference is noise (0.3 ms
was seen on a 1.5 ms scan on a shared 2-core machine); a plan change, or a statement
that writes (it maintains every index), can be real.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from advisor.errors import AdvisorError
from advisor.model import Measurement, QueryEffect, Workload
from advisor.verify.explain import explain, plan_change
from advisor.verify.params import Statement, bind_statement

__all__ = [
    "EffectMeter",
    "effect_text",
    "figure",
    "improved",
    "measurement_text",
    "regressed",
]


def figure(m: Measurement) -> float | None:
    """The time a measurement stands for; a timed-out run counts as its time box (a
    lower bound); None when it was only costed."""
    return m.ms if m.ms is not None else m.timed_out_ms


def measurement_text(m: Measurement) -> str:
    """``12.40 ms``; a timed-out run reads ``> 5000 ms``, one only costed ``not run``."""
    if m.ms is None and m.timed_out_ms is not None:
        return f"> {m.timed_out_ms:.0f} ms"
    return f"{m.ms:.2f} ms" if m.ms is not None else "not run"


def effect_text(effect: QueryEffect) -> str:
    """``12.40 ms -> 0.08 ms``; a timed-out side reads ``> 5000 ms``."""
    return f"{measurement_text(effect.before)} -> {measurement_text(effect.after)}"


def _may_differ(effect: QueryEffect) -> bool:
    writes = effect.after.plan is not None and effect.after.plan.node_type == "ModifyTable"
    return effect.plan_change is not None or writes


def regressed(effect: QueryEffect, *, tolerance: float, min_ms: float) -> bool:
    """Slower by more than ``tolerance`` (a fraction) and ``min_ms``, where the change can
    be the cause (see the module docstring)."""
    before, after = figure(effect.before), figure(effect.after)
    if before is None or after is None or not _may_differ(effect):
        return False
    return after > before * (1 + tolerance) and after - before > min_ms


def improved(effect: QueryEffect, *, tolerance: float, min_ms: float) -> bool:
    """Faster by more than ``tolerance`` (a fraction) and ``min_ms``, where the change can
    be the cause; a timed-out "before" counts as its time box."""
    before, after = figure(effect.before), figure(effect.after)
    if before is None or after is None or not _may_differ(effect):
        return False
    return after < before * (1 - tolerance) and before - after > min_ms


class EffectMeter:
    """Measures the shapes of one workload on one sandbox connection; see the module
    docstring. A shape the sandbox refuses, or whose EXPLAIN fails, is not measured."""

    def __init__(
        self, conn: asyncpg.Connection, workload: Workload, *, runs: int, time_box_ms: float
    ) -> None:
        self.conn = conn
        self.workload = workload
        self.runs = runs
        self.time_box_ms = time_box_ms
        self.statements: dict[str, Statement | None] = {}
        self.before: dict[str, Measurement] = {}
        self.unmeasured: dict[str, str] = {}

    async def statement(self, key: str) -> Statement | None:
        """The bound statement of shape ``key``; None when it is not measurable."""
        if key not in self.statements:
            try:
                self.statements[key] = await bind_statement(self.conn, self.workload.shapes[key])
            except AdvisorError as exc:
                self.statements[key] = None  # the sandbox refuses it: not measured
                self.unmeasured[key] = str(exc)
            else:
                if self.statements[key] is None:
                    self.unmeasured[key] = "not a SELECT, INSERT, UPDATE or DELETE"
        return self.statements[key]

    async def measure(self, key: str) -> Measurement | None:
        """Shape ``key`` measured now; None when it cannot be."""
        stmt = await self.statement(key)
        if stmt is None:
            return None
        try:
            return await explain(
                self.conn, stmt, analyze=True, runs=self.runs, time_box_ms=self.time_box_ms, key=key
            )
        except AdvisorError as exc:
            self.unmeasured[key] = str(exc)
            return None

    async def baseline(self, key: str) -> Measurement | None:
        """Shape ``key``'s "before": measured the first time it is asked for, then kept."""
        if key not in self.before:
            found = await self.measure(key)
            if found is None:
                return None
            self.before[key] = found
        return self.before[key]

    async def effects(self, keys: Sequence[str]) -> list[QueryEffect]:
        """Each shape of ``keys`` now against its baseline, with its calls and plan change;
        shapes that cannot be measured are left out."""
        out: list[QueryEffect] = []
        for key in keys:
            before = await self.baseline(key)
            after = await self.measure(key) if before is not None else None
            if before is None or after is None:
                continue
            calls = self.workload.shapes[key].calls
            change = plan_change(before.plan, after.plan)
            out.append(QueryEffect(key, before, after, calls=calls, plan_change=change))
        return out
