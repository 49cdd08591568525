"""Server versions: the sandbox to start for a source, and versions as people write them."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SandboxMatch", "matching_sandbox", "version_text"]


@dataclass(frozen=True, slots=True)
class SandboxMatch:
    """The sandbox spec to start for a source server, and a note when versions differ."""

    spec: str
    note: str | None = None


def version_text(server_version_num: int | None) -> str | None:
    """``150004`` -> ``"15.4"`` (``90624`` -> ``"9.6.24"``); None stays None."""
    if server_version_num is None:
        return None
    major, minor = divmod(server_version_num, 10_000)
    if major >= 10:
        return f"{major}.{minor}"
    return f"{server_version_num // 10_000}.{server_version_num // 100 % 100}.{minor % 100}"


def matching_sandbox(
    source_version: int | None, local_majors: tuple[int, ...], *, docker: bool = False
) -> SandboxMatch:
    """The sandbox whose major version is the source's: local binaries of that major,
    else a Docker image of it (when ``docker``), else the newest local one with a note."""
    if source_version is None:
        return SandboxMatch("auto", "the source's server version is unknown")
    major = source_version // 10_000 if source_version >= 100_000 else source_version // 100
    if major in local_majors:
        return SandboxMatch(f"local:{major}")
    if docker:
        return SandboxMatch(f"docker:{major}")
    if not local_majors:
        return SandboxMatch("auto", f"no PostgreSQL {major} binaries on this machine")
    newest = max(local_majors)
    return SandboxMatch(
        f"local:{newest}",
        f"the source runs PostgreSQL {major} and the sandbox {newest}: "
        "plans and timings may differ; install PostgreSQL "
        f"{major} server binaries or Docker to match",
    )
