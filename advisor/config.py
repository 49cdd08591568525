"""Configuration: ``[tool.advisor]`` of ``pyproject.toml`` or a ``--config`` TOML file.

```toml
[tool.advisor]
select = ["ADV001", "missing-index"]   # codes or names; default: every rule
ignore = ["ADV006"]                    # rules not to run at all
fail-on = "medium"                     # info | low | medium | high | never
sandbox = "auto"
verify = true                          # measure suggestions in a sandbox (--verify)
app-packages = ["mytracker"]           # installed packages that are application code
ignore-library = false                 # true: drop findings whose line is in a package

[tool.advisor.rules.n-plus-one]        # a rule's options, by code or name
min_repeats = 3

[[tool.advisor.suppress]]              # findings to hide; every key given must match
rule = "ADV002"                        # code or name
table = "audit_log"                    # also: fingerprint (a prefix), path (a glob)
reason = "read by the nightly export, which needs every column"
```
Inline suppressions (``-- advisor: ignore[ADV002]`` in SQL, ``# advisor: ignore[ADV001]``
in Python) are described in :mod:`advisor.triage.suppress`.
Command-line options win over the file.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from advisor.errors import ConfigError

if TYPE_CHECKING:
    from advisor.triage.suppress import Suppression

__all__ = ["Config", "find_config", "load_config"]

_KEYS = {
    "select",
    "ignore",
    "fail-on",
    "sandbox",
    "rules",
    "suppress",
    "verify",
    "app-packages",
    "ignore-library",
}


@dataclass(frozen=True, slots=True)
class Config:
    """Settings read from a file; ``rule_options`` keyed by rule code or name as written;
    ``suppress`` the ``[[tool.advisor.suppress]]`` entries."""

    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    fail_on: str | None = None
    sandbox: str | None = None
    verify: bool = False
    rule_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    path: str | None = None
    suppress: tuple[Suppression, ...] = ()
    # Installed packages whose frames capture takes for application code.
    app_packages: tuple[str, ...] = ()
    # Leave out findings whose call site is in an installed package.
    ignore_library: bool = False


def find_config(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` with a ``[tool.advisor]`` table, from ``start`` upwards."""
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            try:
                data = tomllib.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                return None
            return candidate if "advisor" in data.get("tool", {}) else None
    return None


def load_config(path: Path | None) -> Config:
    """Read ``path`` (a pyproject.toml or a plain advisor TOML file); None gives defaults."""
    if path is None:
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such config file; check the --config path") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config ({exc}); check the file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc}); fix the file") from exc
    table = data.get("tool", {}).get("advisor", data if "tool" not in data else {})
    return _config_from_table(table, str(path))


def _config_from_table(table: Mapping[str, Any], path: str) -> Config:
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise ConfigError(
            f"{path}: unknown [tool.advisor] key {unknown[0]!r}; "
            f"valid keys: {', '.join(sorted(_KEYS))}"
        )
    rules = table.get("rules", {})
    if not isinstance(rules, Mapping) or not all(isinstance(v, Mapping) for v in rules.values()):
        raise ConfigError(f"{path}: [tool.advisor.rules] must hold one table per rule")
    select = table.get("select")
    return Config(
        select=None if select is None else _names(select, "select", path),
        ignore=_names(table.get("ignore", []), "ignore", path),
        fail_on=_optional_str(table.get("fail-on"), "fail-on", path),
        sandbox=_optional_str(table.get("sandbox"), "sandbox", path),
        verify=_bool(table.get("verify", False), "verify", path),
        rule_options={str(k): dict(v) for k, v in rules.items()},
        path=path,
        suppress=_suppressions(table.get("suppress"), path),
        app_packages=_names(table.get("app-packages", []), "app-packages", path, "package names"),
        ignore_library=_flag(table.get("ignore-library", False), "ignore-library", path),
    )


def _suppressions(entries: object, path: str) -> tuple[Suppression, ...]:
    if entries is None:
        return ()
    # Imported only for a file that has entries: the triage side imports advisor.model
    # (~40 ms), which `advisor capture` (reading app-packages) has no use for.
    from advisor.triage.suppress import parse_suppressions

    return parse_suppressions(entries, path)


def _flag(value: object, key: str, path: str) -> bool:
    if isinstance(value, bool):
        return value
    raise ConfigError(f"{path}: {key} must be true or false")


def _names(
    value: object, key: str, path: str, what: str = "rule codes or names"
) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(f"{path}: {key} must be a list of {what}")


def _optional_str(value: object, key: str, path: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ConfigError(f"{path}: {key} must be a string")


def _bool(value: object, key: str, path: str) -> bool:
    if isinstance(value, bool):
        return value
    raise ConfigError(f"{path}: {key} must be true or false")
