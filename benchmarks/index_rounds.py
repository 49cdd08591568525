"""Index configurations measured in interleaved rounds, and what the rounds say.

``index_quality.py`` measures several index configurations on one machine that other work
shares: measured one after another, minutes apart, a configuration's times carry the
machine's drift of that moment (TPC-H Q1, a full scan no index serves, 153 ms in one
configuration and 210 ms in the next). Here each configuration is measured once per round,
in a shuffled order, and kept as the median over rounds; then

- :func:`drift_control`: the queries whose plan no configuration changes; their spread
  across configurations is the noise floor of a comparison;
- :func:`gap`: the verified-vs-candidates difference split into the part on those queries
  (drift) and the part on queries whose plans differ;
- :func:`losses`: the queries where one set beats the other beyond the noise floor, with the
  indexes its plans use that the other lacks.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from tpch_workload import QUERIES

from advisor.model import IndexSuggestion, Measurement, PlanNode
from advisor.verify.explain import iter_nodes

__all__ = [
    "Config",
    "Control",
    "Gap",
    "Loss",
    "analysis",
    "control_lines",
    "drift_control",
    "gap",
    "gap_line",
    "losses",
    "measure_rounds",
    "merge_rounds",
    "plan_indexes",
    "plan_shape",
    "round_gaps",
    "rounds_text",
    "why_left_out",
]

CALLS = {q.name: q.calls for q in QUERIES}


@dataclass(frozen=True, slots=True)
class Config:
    """One index configuration, as measured (over ``round_ms`` rounds when merged)."""

    name: str
    indexes: tuple[IndexSuggestion, ...]
    sizes: Mapping[str, int]
    times: Mapping[str, Measurement]
    build_s: float
    round_ms: tuple[float, ...] = ()
    shapes: Mapping[str, frozenset[str]] | None = None

    @property
    def size_bytes(self) -> int:
        """Total size of the configuration's indexes."""
        return sum(self.sizes.values())

    def total_ms(self, keys: Sequence[str] | None = None) -> tuple[float, bool]:
        """Workload time (median x calls; a timed-out query as its time box) over ``keys``
        (every query by default), and whether any query timed out (then the figure is a
        lower bound)."""
        total, boxed = 0.0, False
        for name in CALLS if keys is None else keys:
            m = self.times.get(name)
            if m is None:
                continue
            boxed = boxed or m.ms is None
            total += _ms(m) * CALLS[name]
        return total, boxed


def _ms(m: Measurement) -> float:
    return m.ms if m.ms is not None else (m.timed_out_ms or 0.0)


def measure_rounds(
    plan: Sequence[tuple[str, Sequence[IndexSuggestion]]],
    measure: Callable[[str, Sequence[IndexSuggestion]], Config],
    rounds: int,
    seed: int,
) -> list[Config]:
    """Each configuration of ``plan`` measured ``rounds`` times, every round in a fresh
    shuffled order (seeded), merged per configuration; in ``plan``'s order."""
    rng = random.Random(seed)
    seen: dict[str, list[Config]] = {name: [] for name, _ in plan}
    for _ in range(max(1, rounds)):
        order = list(plan)
        rng.shuffle(order)
        for name, indexes in order:
            seen[name].append(measure(name, indexes))
    return [merge_rounds(found) for found in seen.values()]


def merge_rounds(found: Sequence[Config]) -> Config:
    """One configuration's rounds as one: per query the round with the median time (the
    lower middle one of an even count; a timed-out round counts as its time box), its
    ``spread_ms`` the range over rounds; ``round_ms`` each round's workload total;
    ``shapes`` every plan shape a query had over the rounds."""
    first = found[0]
    times: dict[str, Measurement] = {}
    shapes: dict[str, frozenset[str]] = {}
    for key in first.times:
        ms = sorted((_ms(c.times[key]), i) for i, c in enumerate(found) if key in c.times)
        pick = found[ms[(len(ms) - 1) // 2][1]].times[key]
        times[key] = replace(pick, spread_ms=(ms[0][0], ms[-1][0])) if len(ms) > 1 else pick
        shapes[key] = frozenset(plan_shape(c.times[key].plan) for c in found if key in c.times)
    return replace(
        first,
        times=times,
        build_s=statistics.median(c.build_s for c in found),
        round_ms=tuple(c.total_ms()[0] for c in found),
        shapes=shapes,
    )


def plan_shape(node: PlanNode | None) -> str:
    """A plan's shape without its figures: node types, relations and indexes, nested;
    ``"?"`` for a query that was not planned (timed out)."""
    if node is None:
        return "?"
    inner = ",".join(plan_shape(c) for c in node.children)
    label = "/".join(x for x in (node.node_type, node.relation, node.index) if x)
    return f"{label}({inner})" if inner else label


def plan_indexes(node: PlanNode | None) -> set[str]:
    """The names of the indexes a plan reads."""
    return {n.index for n in iter_nodes(node) if n.index} if node is not None else set()


@dataclass(frozen=True, slots=True)
class Control:
    """The drift control: queries with one plan shape in every configuration and round.

    ``floor`` is the spread (max / min - 1) of their calls-weighted total across the
    configurations: how far apart the same work reads from one configuration to the next.
    A single query's spread is shown too, but a 0.02 ms query's is mostly rounding."""

    queries: tuple[str, ...]
    ms: Mapping[str, Mapping[str, float]]  # query -> configuration -> median ms
    floor: float

    def spread(self, query: str) -> float:
        """A control query's max / min - 1 over the configurations."""
        return _spread(self.ms[query].values())


def _spread(values: Iterable[float]) -> float:
    found = list(values)
    return max(found) / min(found) - 1 if found and min(found) > 0 else 0.0


def drift_control(configs: Sequence[Config]) -> Control:
    """The queries no configuration's plan changes (nor a round's), their per-config times,
    and the noise floor those times give."""
    queries = []
    for q in QUERIES:
        shapes: set[str] = set()
        for c in configs:
            shapes |= (c.shapes or {}).get(q.name, frozenset({"?"}))
        if len(shapes) == 1 and "?" not in shapes:
            queries.append(q.name)
    ms = {q: {c.name: _ms(c.times[q]) for c in configs} for q in queries}
    floor = _spread(c.total_ms(queries)[0] for c in configs) if queries else 0.0
    return Control(tuple(queries), ms, floor)


@dataclass(frozen=True, slots=True)
class Gap:
    """``a``'s workload time against ``b``'s, split by where the difference is."""

    a_ms: float
    b_ms: float
    same_plan_ms: float  # a - b on the queries whose plan is the same in a and b
    other_ms: float  # a - b on the others
    b_other_ms: float  # b's time on the others
    same: tuple[str, ...] = ()  # the queries whose plan is the same in a and b

    @property
    def relative(self) -> float:
        """(a - b) / b."""
        return self.a_ms / self.b_ms - 1 if self.b_ms else 0.0

    @property
    def plan_relative(self) -> float:
        """a over b on the queries whose plan differs, minus one: what drift of the size of
        the noise floor could also give."""
        return self.other_ms / self.b_other_ms if self.b_other_ms else 0.0


def _same_plan(a: Config, b: Config, key: str) -> bool:
    sa, sb = (a.shapes or {}).get(key), (b.shapes or {}).get(key)
    return sa is not None and sa == sb and len(sa) == 1 and "?" not in sa


def gap(a: Config, b: Config) -> Gap:
    """How ``a``'s workload time differs from ``b``'s, and how much of that is on queries
    whose plan the two share (there it can only be the machine's drift)."""
    same = [k for k in CALLS if _same_plan(a, b, k)]
    other = [k for k in CALLS if k not in same]
    ta, tb, b_other = a.total_ms()[0], b.total_ms()[0], b.total_ms(other)[0]
    same_ms = a.total_ms(same)[0] - b.total_ms(same)[0]
    return Gap(ta, tb, same_ms, a.total_ms(other)[0] - b_other, b_other, tuple(same))


@dataclass(frozen=True, slots=True)
class Loss:
    """A query ``loser`` runs slower than ``winner`` beyond the noise floor."""

    query: str
    calls: int
    loser_ms: float
    winner_ms: float
    lost_ms: float  # calls-weighted
    winner_uses: tuple[str, ...]  # indexes of the winner's configuration its plan reads,
    #                               which the loser's configuration lacks


def losses(loser: Config, winner: Config, floor: float, min_share: float = 0.005) -> list[Loss]:
    """The queries where ``winner`` beats ``loser`` by more than ``floor`` (relative) and
    by at least ``min_share`` of ``winner``'s workload time (a 0.03 against 0.02 ms lookup
    is rounding, whatever its ratio), and their plans differ; the most calls-weighted time
    first."""
    least = winner.total_ms()[0] * min_share
    mine = {s.name for s in loser.indexes}
    theirs = {s.name for s in winner.indexes}
    out = []
    for key, calls in CALLS.items():
        if key not in loser.times or key not in winner.times or _same_plan(loser, winner, key):
            continue
        lo, wi = _ms(loser.times[key]), _ms(winner.times[key])
        if wi <= 0 or lo / wi - 1 <= floor or (lo - wi) * calls < least:
            continue
        uses = sorted((plan_indexes(winner.times[key].plan) & theirs) - mine)
        out.append(Loss(key, calls, lo, wi, (lo - wi) * calls, tuple(uses)))
    return sorted(out, key=lambda x: -x.lost_ms)


# ---------------------------------------------------------------------------- reading


def rounds_text(c: Config) -> str:
    """A configuration's workload total per round as "min-max s" (its range)."""
    if len(c.round_ms) < 2:
        return "-"
    return f"{min(c.round_ms) / 1000:.2f}-{max(c.round_ms) / 1000:.2f} s"


def round_gaps(a: Config, b: Config) -> list[float]:
    """a's workload total over b's, minus one, round by round (the pair measured within
    minutes of each other, in the same round)."""
    return [x / y - 1 for x, y in zip(a.round_ms, b.round_ms, strict=False) if y]


def gap_line(g: Gap, control: Control, per_round: Sequence[float]) -> str:
    """The time target's figures read against the drift control."""
    rounds = ", ".join(f"{x:+.1%}" for x in per_round)
    beyond = "beyond" if g.plan_relative > control.floor else "within"
    return (
        f"of the {(g.a_ms - g.b_ms) / 1000:+.2f} s, {g.same_plan_ms / 1000:+.2f} s is on queries "
        f"with the same plan in both (drift) and {g.other_ms / 1000:+.2f} s on the others "
        f"({g.plan_relative:+.1%} of their time); per round {rounds or '-'}; noise floor "
        f"(spread of the control queries' total across configurations) {control.floor:.1%}: "
        f"the plan-borne gap is {beyond} it"
    )


def control_lines(control: Control, names: Sequence[str]) -> list[str]:
    """The drift control as a table: per control query its median ms per configuration."""
    if not control.queries:
        return ["no query has the same plan in every configuration"]
    head = f"{'query':<28}{'calls':>6}" + "".join(f"{n[:12]:>13}" for n in names)
    rows = [head + f"{'spread':>9}"]
    for q in control.queries:
        cells = "".join(f"{control.ms[q][n]:>13.2f}" for n in names)
        rows.append(f"{q:<28}{CALLS[q]:>6}{cells}{control.spread(q):>9.1%}")
    totals = "".join(
        f"{sum(control.ms[q][n] * CALLS[q] for q in control.queries):>13.1f}" for n in names
    )
    return [*rows, f"{'total, ms x calls':<34}{totals}{control.floor:>9.1%}"]


def why_left_out(name: str, choice: Mapping[str, object]) -> str:
    """What the benchmark's JSON ``choice`` section says of index ``name``: the verdict
    that dropped it, or the reason the choice did not take it."""
    for section in ("reduced", "dropped", "second_opinion", "kept"):
        for entry in _entries(choice, section):
            if entry.get("name") == name:
                return f"{section}: {entry.get('verdict')}: {entry.get('detail')}"
    for entry in _entries(choice, "not_chosen"):
        if entry.get("name") == name:
            return f"not chosen: {entry.get('reason')}"
    return "not among the choice's candidates"


def _entries(choice: Mapping[str, object], section: str) -> list[Mapping[str, object]]:
    found = choice.get(section)
    return [e for e in found if isinstance(e, Mapping)] if isinstance(found, list) else []


def analysis(found: Sequence[Loss], choice: Mapping[str, object]) -> list[str]:
    """The queries the candidates win beyond the noise floor, the index that wins each
    and why verification left it out, one line per query and per index."""
    if not found:
        return ["no query is faster with the candidates beyond the noise floor"]
    lines = []
    for loss in found:
        lines.append(
            f"{loss.query} x {loss.calls}: {loss.loser_ms:.2f} vs {loss.winner_ms:.2f} ms "
            f"({loss.lost_ms / 1000:+.3f} s); the candidates' plan reads "
            f"{', '.join(loss.winner_uses) or 'no index the verified set lacks'}"
        )
        lines += [f"    {name}: {why_left_out(name, choice)}" for name in loss.winner_uses]
    return lines
