"""Reading a rule's documentation: its sections and the fenced code blocks in them.

A rule's ``doc`` is its module docstring, written like ruff's rule pages::

    One summary line.

    ## What it does
    ...
    ## Why is this bad?
    ...
    ## Example
    ```sql
    SELECT * FROM products WHERE category = $1
    ```
    ## Use instead
    ...
    ## Options
    ...

``advisor rule ADV002`` prints it; the test suite runs its Example and Use instead blocks.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

__all__ = ["REQUIRED_SECTIONS", "CodeBlock", "RuleDoc", "parse_doc"]

REQUIRED_SECTIONS: tuple[str, ...] = (
    "What it does",
    "Why is this bad?",
    "Example",
    "Use instead",
    "Options",
)

_HEADING = re.compile(r"^##\s+(?P<title>.+?)\s*$")
_FENCE = re.compile(r"^```(?P<lang>[\w+-]*)\s*$")


@dataclass(frozen=True, slots=True)
class CodeBlock:
    """One fenced code block: its language tag (``sql``, ``python``) and its text."""

    lang: str
    code: str


@dataclass(frozen=True, slots=True)
class RuleDoc:
    """A rule's documentation split up: the summary line and the ``## ...`` sections."""

    summary: str
    sections: tuple[tuple[str, str], ...]

    def section(self, title: str) -> str | None:
        """The body of the section called ``title`` (without its heading), or None."""
        for name, body in self.sections:
            if name == title:
                return body
        return None

    def code_blocks(self, title: str, lang: str | None = None) -> tuple[CodeBlock, ...]:
        """The fenced blocks of section ``title``, optionally only those tagged ``lang``."""
        body = self.section(title)
        if body is None:
            return ()
        blocks = _fenced_blocks(body)
        return tuple(b for b in blocks if lang is None or b.lang == lang)

    @property
    def missing(self) -> tuple[str, ...]:
        """The required sections this doc lacks, in their canonical order."""
        present = {name for name, _ in self.sections}
        return tuple(s for s in REQUIRED_SECTIONS if s not in present)


def parse_doc(doc: str) -> RuleDoc:
    """Split a rule docstring into its summary line and ``## Title`` sections."""
    lines = _dedent(doc).splitlines()
    summary = next((line.strip() for line in lines if line.strip()), "")
    sections: list[tuple[str, str]] = []
    title: str | None = None
    body: list[str] = []
    in_fence = False
    for line in lines:
        if _FENCE.match(line.strip()) or line.strip() == "```":
            in_fence = not in_fence
        heading = None if in_fence else _HEADING.match(line)
        if heading is not None:
            if title is not None:
                sections.append((title, "\n".join(body).strip("\n")))
            title, body = heading.group("title"), []
        elif title is not None:
            body.append(line)
    if title is not None:
        sections.append((title, "\n".join(body).strip("\n")))
    return RuleDoc(summary=summary, sections=tuple(sections))


def _fenced_blocks(text: str) -> tuple[CodeBlock, ...]:
    blocks: list[CodeBlock] = []
    lang: str | None = None
    code: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if lang is None:
            opening = _FENCE.match(stripped)
            if opening is not None:
                lang, code = opening.group("lang"), []
        elif stripped == "```":
            blocks.append(
                CodeBlock(lang=lang, code=textwrap.dedent("\n".join(code)).strip("\n") + "\n")
            )
            lang = None
        else:
            code.append(line)
    return tuple(blocks)


def _dedent(doc: str) -> str:
    # A docstring's first line carries no indentation; the rest may (PEP 257 trimming).
    lines = doc.expandtabs().splitlines()
    if not lines:
        return ""
    indents = [len(line) - len(line.lstrip()) for line in lines[1:] if line.strip()]
    margin = min(indents, default=0)
    return "\n".join([lines[0].strip(), *(line[margin:] for line in lines[1:])])
