"""What a rule is: a code, a name, documentation, options and one pure ``check``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from advisor.model import Finding, Note, Schema, Severity, Workload

__all__ = ["Outcome", "Rule", "RuleContext"]

Outcome = Finding | Note


@dataclass(frozen=True, slots=True)
class RuleContext:
    """What a rule may read: the workload, the schema and its own options.

    ``live`` is True when the schema (and its statistics) come from a user's live
    database rather than from a throwaway one built from DDL or metadata.
    """

    workload: Workload
    schema: Schema
    options: Mapping[str, Any] = field(default_factory=dict)
    live: bool = False


@dataclass(frozen=True, slots=True)
class Rule:
    """One detector. ``doc`` is the module docstring (What it does / Why is this bad? /
    Example / Use instead / Options); ``options`` holds the defaults."""

    code: str
    name: str
    severity: Severity
    summary: str
    doc: str
    check: Callable[[RuleContext], Iterable[Outcome]]
    options: Mapping[str, Any] = field(default_factory=dict)
