"""The ``docker`` sandbox: a ``postgres:<major>`` container through testcontainers."""

from __future__ import annotations

import contextlib
import importlib
import warnings
from collections.abc import Iterator
from types import ModuleType

from advisor.db import first_line, redact_dsn, run
from advisor.errors import SandboxError
from advisor.sandbox import teardown
from advisor.sandbox.base import PG_SETTINGS, Sandbox, prepare

__all__ = ["docker_sandbox", "docker_unavailable_reason"]

DEFAULT_MAJOR = 16


def docker_unavailable_reason() -> str | None:
    """None when a Docker engine answers, else why not (one line)."""
    try:
        docker = importlib.import_module("docker")
    except ImportError:
        return "the docker Python package is not installed"
    try:
        client = docker.from_env(timeout=5)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # the docker SDK raises many unrelated types
        text = first_line(exc)
        return text[:200]
    return None


def _testcontainers_postgres() -> ModuleType:
    for name in ("testcontainers.community.postgres", "testcontainers.postgres"):
        with warnings.catch_warnings(), contextlib.suppress(ImportError):
            warnings.simplefilter("ignore")  # the old path warns that it moved
            return importlib.import_module(name)
    raise SandboxError(
        "testcontainers is not installed; install advisor's docker extra:"
        " pip install 'db-advisor[docker]' (pipx: pipx inject db-advisor testcontainers)"
    )


@contextlib.contextmanager
def docker_sandbox(major: int | None) -> Iterator[Sandbox]:
    """A ``postgres:<major>`` container with pg_stat_statements preloaded, removed after."""
    reason = docker_unavailable_reason()
    if reason is not None:
        raise SandboxError(f"no Docker engine ({reason}); start Docker or use --sandbox local")
    image = f"postgres:{major or DEFAULT_MAJOR}"
    settings = " ".join(f"-c {s}" for s in PG_SETTINGS)
    container = (
        _testcontainers_postgres()
        .PostgresContainer(image, driver=None)
        .with_command(f"postgres -c shared_preload_libraries=pg_stat_statements {settings}")
    )
    try:
        container.start()
    except Exception as exc:  # testcontainers/docker raise many types
        raise SandboxError(f"{image} container did not start: {exc}") from exc
    teardown.register(container, container.stop)
    try:
        dsn = str(container.get_connection_url())
        version_num, hypopg, version = run(prepare(dsn, preload=True))
        yield Sandbox(
            dsn=dsn,
            kind="docker",
            description=f"docker {image} (PostgreSQL {version}) at {redact_dsn(dsn)}",
            server_version=version_num,
            hypopg=hypopg,
        )
    finally:
        with contextlib.suppress(Exception):
            container.stop()
        teardown.unregister(container)
