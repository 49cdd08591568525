"""``advisor rules`` and ``advisor rule CODE``: the rules and their documentation."""

from __future__ import annotations

import inspect
from typing import Annotated

import typer

from advisor.cli.common import app, out

__all__ = ["list_rules", "show_rule"]


@app.command("rules")
def list_rules() -> None:
    """List every rule: code, name, default severity and summary."""
    from advisor.rules import RULES

    for rule in RULES:
        out.print(f"{rule.code}  {rule.name:<28} {rule.severity.value:<7} {rule.summary}")


@app.command("rule")
def show_rule(
    code: Annotated[str, typer.Argument(help="A rule code (ADV001) or name (n-plus-one).")],
) -> None:
    """Print a rule's documentation."""
    from rich.markdown import Markdown

    from advisor.rules import find_rule

    rule = find_rule(code)
    out.print(Markdown(f"# {rule.code} {rule.name}\n\n{inspect.cleandoc(rule.doc)}"))
    if rule.options:
        out.print("Defaults: " + ", ".join(f"{k} = {v!r}" for k, v in rule.options.items()))
