"""The edge of the CLI without typer or rich: one-line messages, exit codes, the config.

``advisor capture`` runs here on its fast path (typer imports pydantic and rich, 0.15 s of
a captured test suite's wall time), and the typer commands use the same functions.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from advisor.errors import AdvisorError

if TYPE_CHECKING:
    from advisor.config import Config

__all__ = [
    "error_line",
    "fail",
    "guarded",
    "load_cfg",
    "note_line",
    "split_values",
    "stderr_line",
]


def stderr_line(kind: str, message: str) -> None:
    """``advisor: KIND: MESSAGE`` on stderr, as one line."""
    # Plain write: a one-line message must stay one line whatever the terminal width.
    sys.stderr.write(f"advisor: {kind}: {' '.join(message.split())}\n")


def error_line(message: str) -> None:
    """``advisor: error: MESSAGE`` on stderr."""
    stderr_line("error", message)


def note_line(message: str, *, dim: bool = False) -> None:
    """``message`` on stderr as one line; ``dim`` (faint) on a colour terminal only."""
    faint = dim and sys.stderr.isatty() and not os.environ.get("NO_COLOR")
    sys.stderr.write(f"\x1b[2m{message}\x1b[0m\n" if faint else f"{message}\n")
    sys.stderr.flush()


def fail(message: str, code: int) -> NoReturn:
    """The error line, then exit with ``code``."""
    error_line(message)
    sys.exit(code)


def guarded(body: Callable[[], int]) -> NoReturn:
    """Run ``body`` and exit with its code; errors become one line and their exit code
    (2 bad input, 3 a bug, 130 interrupted)."""
    try:
        code = body()
    except AdvisorError as exc:
        fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except Exception as exc:
        if os.environ.get("ADVISOR_DEBUG"):
            raise
        fail(
            f"internal error: {type(exc).__name__}: {exc}; rerun with ADVISOR_DEBUG=1 "
            "and report it",
            3,
        )
    sys.exit(code)


def load_cfg(config: Path | None) -> Config:
    """The ``--config`` file, else the one found from the working directory."""
    from advisor.config import find_config, load_config

    return load_config(config if config is not None else find_config(Path.cwd()))


def split_values(values: list[str]) -> list[str]:
    """Repeatable, comma-separated option values as one list: ``-a x,y -a z``."""
    return [v.strip() for value in values for v in value.split(",") if v.strip()]
