"""The backward half of index selection: drop an index the rest of the set stands in for.

Verification keeps an index on what it saves alone, then adds left-out candidates on what
they save beside the set; neither asks what an index is still worth once the others are
built. On TPC-H ``(o_orderdate)`` is kept for four queries that, with the clerk's, the
shipdate and the returns indexes built, may be served nearly as well without it. So, once
the final set is verified (:func:`reduce_set`), each index is measured **given the
others**: the queries whose plan uses it with the set built are measured with the set,
then with the set minus it, side by side (the index dropped in the sandbox, built again
when it stays).

The keep rule is verification's own, read backward: with the set minus the index as the
"before" and the set as the "after", :func:`~advisor.verify.measure.verdict_of` must say
"helps" (its queries >= ``keep_ratio`` faster and >= ``keep_min_ms`` per call with it,
weighted by calls) or "regresses" (a query it slows is then weighed by the net saving,
:func:`keeps`), and the net calls-weighted time it saves must be at least
``reduce_share`` of the set's measured workload time. An index that fails either is
dropped, with both figures in its evidence. One goes at a time, and every later trial is
measured on the set as it then is (marginal values change when one goes). At most
``reduce_trials`` trials, the index the others look likeliest to stand in for first
(:func:`_estimated_loss`: what its queries measured with another index of the set alone).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Container, Mapping, Sequence
from dataclasses import replace

from advisor.model import IndexSuggestion, QueryEffect
from advisor.verify.effects import EffectMeter, figure, measurement_text
from advisor.verify.explain import plan_change, uses_index

__all__ = ["keeps", "reduce_set"]

Step = Callable[[IndexSuggestion], Awaitable[object]]


async def reduce_set(
    meter: EffectMeter,
    kept: Sequence[IndexSuggestion],
    together: Sequence[QueryEffect],
    *,
    judge: Callable[[Sequence[QueryEffect], Sequence[str]], tuple[str, str]],
    share: float,
    trials: int,
    build: Step,
    drop: Step,
    beside: Container[str] = (),
) -> tuple[list[IndexSuggestion], list[IndexSuggestion], tuple[QueryEffect, ...]]:
    """``(kept, dropped, together)`` after the leave-one-out trials of the module
    docstring. ``together`` are the set's figures (``after``: with the set built) and are
    returned with a dropped index's queries measured without it; ``judge(effects, keys)``
    is the keep rule's verdict and reason; ``beside`` names the indexes whose figures were
    measured beside the set (the second opinion's), not alone: the trials' order reads
    only figures measured alone (with the set built, every query is fast already). The
    set is dropped again when this returns."""
    now = {e.key: e for e in together}
    current = list(kept)
    dropped: list[IndexSuggestion] = []
    alone = [s for s in current if s.name not in beside]
    order = sorted(current, key=lambda s: (_estimated_loss(s, alone, now, meter), -_size(s)))
    for suggestion in current:
        await build(suggestion)
    try:
        for candidate in order[:trials]:
            if len(current) < 2:
                break
            total = sum((figure(e.after) or 0.0) * e.calls for e in now.values())
            keys = [k for k, e in now.items() if uses_index(e.after.plan, candidate.name)]
            effects = await _without(meter, candidate, keys, now, drop)
            if keys and not effects:
                await build(candidate)  # its queries could not be measured: no evidence
                continue
            saved = sum(_loss(e) for e in effects)
            verdict, reason = judge(effects, keys) if effects else ("not-used", "")
            if keeps(verdict, saved, total, share):
                await build(candidate)
                given = _given(total, saved, share)
                if verdict == "regresses":
                    given += f"; {reason}, outweighed by what it saves"
                noted = _noted(candidate, given)
                current[current.index(candidate)] = noted
                continue
            current.remove(candidate)
            dropped.append(_dropped(candidate, effects, total, saved, share, reason))
            for effect in effects:
                old = now[effect.key]
                change = plan_change(old.before.plan, effect.before.plan)
                now[effect.key] = replace(old, after=effect.before, plan_change=change)
    finally:
        for suggestion in current:
            await drop(suggestion)
    return current, dropped, tuple(now.values())


async def _without(
    meter: EffectMeter,
    candidate: IndexSuggestion,
    keys: Sequence[str],
    now: Mapping[str, QueryEffect],
    drop: Step,
) -> list[QueryEffect]:
    """``keys`` measured with the set built, then with ``candidate`` dropped (left
    dropped): each as an effect whose "before" is the set without it."""
    with_set = {k: m for k in keys if (m := await meter.measure(k)) is not None}
    await drop(candidate)
    effects = []
    for key, after in with_set.items():
        without = await meter.measure(key)
        if without is not None:
            change = plan_change(without.plan, after.plan)
            effects.append(QueryEffect(key, without, after, now[key].calls, change))
    return effects


def keeps(verdict: str, saved: float, total: float, share: float) -> bool:
    """Whether the set keeps an index after its trial. ``saved`` is the calls-weighted time
    the set loses without it, net: a query the index slows counts against it. The keep rule
    must call it a help (>= ``keep_ratio`` and ``keep_min_ms`` per call), or a regression:
    forward, one query slower by more than a tenth of what an index saves rejects it; here
    the question is only whether the set is faster with it, which the net saving answers.
    (TPC-H, SF 0.1: ``customer(c_mktsegment)`` slowed a 5-call Q3 from 61 to 72 ms given
    the others, and the set without it was 11 % slower.) Either way the net saving must be
    at least ``share`` of the set's measured time."""
    return verdict in ("helps", "regresses") and saved > 0 and saved >= share * total


def _loss(effect: QueryEffect) -> float:
    """Calls-weighted milliseconds the set loses on ``effect``'s query without the index."""
    return ((figure(effect.before) or 0.0) - (figure(effect.after) or 0.0)) * effect.calls


def _dropped(
    suggestion: IndexSuggestion,
    effects: Sequence[QueryEffect],
    total: float,
    saved: float,
    share: float,
    reason: str,
) -> IndexSuggestion:
    """``suggestion`` with its evidence saying what the set measured without it."""
    said = ", ".join(
        f"{e.key} {measurement_text(e.after)} with it, {measurement_text(e.before)} without "
        f"x {e.calls} calls"
        for e in effects
    )
    why = (
        f"dropped after measurement: {_given(total, saved, share)}"
        if effects and total > 0
        else "dropped after measurement: with the set built, no plan uses it"
    )
    if said:
        why += f"; {said}"
    if reason and not reason.startswith(("no plan", "no query")):
        why += f"; {reason}"
    verification = suggestion.verification
    assert verification is not None
    return replace(suggestion, verification=replace(verification, verdict="no-gain", detail=why))


def _given(total: float, saved: float, share: float) -> str:
    """``the set without it is 3.61 s vs 3.60 s (+0.28 % of the set's time, 1 % needed)``."""
    share_now = saved / total if total > 0 else 0.0
    part = f"{share_now:+.2%}" if abs(share_now) < 0.1 else f"{share_now:+.0%}"
    return (
        f"the set without it is {_s(total + saved)} vs {_s(total)} "
        f"({part} of the set's time, {share:.0%} needed)"
    )


def _noted(suggestion: IndexSuggestion, given: str) -> IndexSuggestion:
    """A kept index with its leave-one-out figures appended to its evidence."""
    verification = suggestion.verification
    assert verification is not None
    detail = f"{verification.detail or ''}; measured given the others: {given}"
    return replace(suggestion, verification=replace(verification, detail=detail))


def _estimated_loss(
    suggestion: IndexSuggestion,
    kept: Sequence[IndexSuggestion],
    now: Mapping[str, QueryEffect],
    meter: EffectMeter,
) -> float:
    """What the set would lose without ``suggestion``, from figures already measured:
    for each query whose plan uses it with the set built, the best time another index of
    the set gave that query alone (``kept``: the indexes measured alone; else its time
    without any index), less its time with the set, times its calls. An index another one
    stands in for scores near zero."""
    loss = 0.0
    for key, effect in now.items():
        if not uses_index(effect.after.plan, suggestion.name):
            continue
        alone = [
            t
            for other in kept
            if other is not suggestion and other.verification is not None
            for e in other.verification.effects
            if e.key == key and (t := figure(e.after)) is not None
        ]
        base = figure(meter.before[key]) if key in meter.before else figure(effect.before)
        without = min([*alone, base or 0.0])
        loss += max(without - (figure(effect.after) or 0.0), 0.0) * effect.calls
    return loss


def _size(suggestion: IndexSuggestion) -> int:
    verification = suggestion.verification
    return verification.size_bytes or 0 if verification is not None else 0


def _s(ms: float) -> str:
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.1f} ms"
