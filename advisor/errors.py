"""The one exception tree of advisor.

Library code raises only these; :mod:`advisor.cli` turns them into a one-line
message and an exit code. Third-party errors are wrapped with ``raise ... from exc``.

    AdvisorError                 root: anything advisor reports to its user
    ├── InputError               an input cannot be read (file, stdin, capture line, config)
    │   └── ConfigError          bad configuration or command-line options
    ├── ParseError               one SQL statement cannot be parsed (skipped, never fatal)
    ├── DatabaseError            a database cannot be reached or answered with an error
    │   └── ExtensionMissing     a required extension (pg_stat_statements) is not installed
    ├── SandboxError             no throwaway PostgreSQL could be started or used
    └── CaptureError             capture cannot start (unwritable output, bad engine)

Every message is one line that names the input and says what to do.
"""

from __future__ import annotations

__all__ = [
    "AdvisorError",
    "CaptureError",
    "ConfigError",
    "DatabaseError",
    "ExtensionMissing",
    "InputError",
    "ParseError",
    "SandboxError",
]


class AdvisorError(Exception):
    """Root of every error advisor raises on purpose."""

    exit_code: int = 2


class InputError(AdvisorError):
    """An input (file, stdin, capture line) cannot be read."""


class ConfigError(InputError):
    """Configuration or command-line options are invalid."""


class ParseError(AdvisorError):
    """One SQL statement cannot be parsed; the scan skips it and goes on."""


class DatabaseError(AdvisorError):
    """A database cannot be reached, refused the login, or answered with an error."""


class ExtensionMissing(DatabaseError):
    """A PostgreSQL extension that the requested feature needs is not installed."""


class SandboxError(AdvisorError):
    """No throwaway PostgreSQL could be started, or it failed while in use."""


class CaptureError(AdvisorError):
    """Capture cannot start (for example, the output file is not writable)."""
