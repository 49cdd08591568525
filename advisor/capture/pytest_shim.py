"""Loads advisor's pytest plugin under ``advisor capture -- pytest`` (through PYTEST_PLUGINS).

The app's environment may or may not have advisor installed: when it has, its pytest11
entry point has registered :mod:`advisor.capture.pytest_plugin` already, and registering
the same module a second time under another name is an error; so this shim registers it
only when it is missing.
"""

from __future__ import annotations

from typing import Any

__all__ = ["pytest_addhooks"]


def pytest_addhooks(pluginmanager: Any) -> None:
    """Register :mod:`advisor.capture.pytest_plugin` unless the entry point did."""
    from advisor.capture import pytest_plugin

    if not pluginmanager.is_registered(pytest_plugin):
        pluginmanager.register(pytest_plugin, "advisor")
