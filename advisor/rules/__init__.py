"""advisor's detectors: one module per rule, listed in one ordered tuple.

Each rule module holds a documented ``check(ctx)`` and a ``RULE``; :data:`RULES` lists them
by code. Codes are never reused: a retired rule keeps its code out of circulation.

    ADV001 n-plus-one                 the same per-row query in a loop
    ADV002 select-star-wide-table     every column of a wide table fetched
    ADV003 missing-index              a filtered/sorted query no index serves
    ADV004 fk-without-index           a foreign key with no index on its columns
    ADV005 duplicate-index            an index another index already covers
    ADV006 unused-index               an index no query has used
    ADV007 repeated-identical-query   the same query, same parameters, again and again
    ADV008 blocking-call-in-event-loop  a sync driver's call inside ``async def``
    ADV009 connection-pool-pressure   requests waiting for a pooled connection
    ADV010 cache-candidate            the same read, same result, across requests
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from advisor.errors import ConfigError
from advisor.model import Finding, Note, Schema, Workload
from advisor.rules import (
    blocking_call_in_event_loop,
    cache_candidate,
    connection_pool_pressure,
    duplicate_index,
    fk_without_index,
    missing_index,
    n_plus_one,
    repeated_identical_query,
    select_star_wide_table,
    unused_index,
)
from advisor.rules.base import Outcome, Rule, RuleContext

__all__ = [
    "RULES",
    "Outcome",
    "Rule",
    "RuleContext",
    "find_rule",
    "rule_options",
    "run_rules",
    "select_rules",
]

RULES: tuple[Rule, ...] = (
    n_plus_one.RULE,
    select_star_wide_table.RULE,
    missing_index.RULE,
    fk_without_index.RULE,
    duplicate_index.RULE,
    unused_index.RULE,
    repeated_identical_query.RULE,
    blocking_call_in_event_loop.RULE,
    connection_pool_pressure.RULE,
    cache_candidate.RULE,
)


def _valid() -> str:
    return ", ".join(f"{r.code} ({r.name})" for r in RULES)


def find_rule(code_or_name: str) -> Rule:
    """The rule with this code (``ADV001``, any case) or name (``n-plus-one``).

    Raises :class:`~advisor.errors.ConfigError` naming the valid rules when none matches.
    """
    wanted = code_or_name.strip()
    for rule in RULES:
        if wanted.upper() == rule.code or wanted.lower() == rule.name:
            return rule
    raise ConfigError(f"unknown rule {code_or_name!r}; valid rules: {_valid()}")


def _matching(selector: str) -> list[Rule]:
    """Rules a selector names: a code, a name, or a code prefix (``ADV00``, ``ADV``)."""
    wanted = selector.strip()
    prefix = [r for r in RULES if wanted and r.code.startswith(wanted.upper())]
    return prefix or [find_rule(wanted)]


def select_rules(
    select: Sequence[str] | None = None, ignore: Sequence[str] | None = None
) -> tuple[Rule, ...]:
    """The rules to run: ``select`` (all when None) minus ``ignore``, in code order.

    Entries are codes, names or code prefixes; an unknown one raises ConfigError.
    """
    everything = [r.code for r in RULES]
    chosen = set(everything) if select is None else {r.code for s in select for r in _matching(s)}
    dropped = {r.code for s in ignore or () for r in _matching(s)}
    return tuple(r for r in RULES if r.code in chosen and r.code not in dropped)


def rule_options(rule: Rule, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """``given`` merged over ``rule``'s defaults; an unknown name or wrong type is a ConfigError."""
    merged = dict(rule.options)
    for name, value in (given or {}).items():
        if name not in rule.options:
            known = ", ".join(sorted(rule.options)) or "none"
            raise ConfigError(
                f"unknown option {name!r} for rule {rule.code} ({rule.name}); its options: {known}"
            )
        merged[name] = _coerce(rule, name, rule.options[name], value)
    return merged


def _coerce(rule: Rule, name: str, default: Any, value: Any) -> Any:
    # A float option takes an int (``0`` for ``0.0``); nothing else converts silently.
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if type(value) is not type(default):
        raise ConfigError(
            f"option {name!r} of rule {rule.code} ({rule.name}) must be "
            f"{type(default).__name__}, got {value!r}; fix the configuration"
        )
    return value


def run_rules(
    rules: Iterable[Rule],
    workload: Workload,
    schema: Schema,
    *,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    live: bool = False,
) -> list[Finding | Note]:
    """Run ``rules`` over the workload; ``options`` per rule code (or name) over defaults.

    Options are checked for every rule before any runs, so a typo fails fast.
    """
    per_rule: dict[str, dict[str, Any]] = {}
    for key, given in (options or {}).items():
        per_rule.setdefault(find_rule(key).code, {}).update(given)
    contexts: list[tuple[Rule, RuleContext]] = []
    for rule in rules:
        given = per_rule.get(rule.code, {})
        ctx = RuleContext(workload, schema, options=rule_options(rule, given), live=live)
        contexts.append((rule, ctx))
    outcomes: list[Finding | Note] = []
    for rule, ctx in contexts:
        outcomes.extend(rule.check(ctx))
    return outcomes
