"""Call sites: the first frame of application code above a SQLAlchemy event.

When there is none (a server or tool whose database code is all in an installed
package), the innermost frame outside SQLAlchemy, the drivers, the stdlib and advisor,
marked with its distribution's name and version.

Walks ``sys._getframe()`` (never ``inspect.stack()``, which reads source files) and
caches, per code object's file, whether it belongs to the application. Inside SQLAlchemy's
async greenlet there is no application frame (unless it runs the app's function through
``run_sync``): the walk starts at the parent greenlet's suspended ``greenlet_spawn``
frame, where the ``await`` chain leads back to the app.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from types import CodeType, FrameType
from typing import Any

__all__ = ["Site", "SiteFinder"]

# (path, line, function, package, version): a tuple, cheap to build on the hot path.
# package and version are None for application code; for a frame of an installed package
# (kept only when no application frame issued the statement) they name its distribution.
Site = tuple[str, int, str, str | None, str | None]

_SITE_LIMIT = 4096
# Application frames kept above an ORM statement's call site: enough to name the loop
# that called a helper, not a traceback.
_CALLERS = 3
# Library frames in a row past the last application frame after which the callers walk
# stops: a helper's caller is rarely further away; the runner's frames above are many.
_GAP = 8

# Installed packages whose frames are never a call site: SQLAlchemy, drivers, the test
# runner and advisor itself. Matched by top-level name, so a driver imported after
# capture started is skipped too.
_SKIP_PACKAGES = frozenset(
    {
        "sqlalchemy",
        "asyncpg",
        "psycopg",
        "psycopg_pool",
        "psycopg2",
        "pg8000",
        "greenlet",
        "advisor",
        "_pytest",
        "pytest",
        "pluggy",
    }
)
_SITE_DIRS = (os.sep + "site-packages" + os.sep, os.sep + "dist-packages" + os.sep)


def _library_dirs() -> tuple[str, ...]:
    """Directories outside site-packages whose code is never application code."""
    dirs: set[str] = set()
    for key in ("stdlib", "platstdlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            dirs.add(os.path.realpath(path))
    dirs.add(os.path.realpath(os.path.dirname(os.__file__)))
    for name in _SKIP_PACKAGES:
        module = sys.modules.get(name)
        file = getattr(module, "__file__", None) if module else None
        if file:
            dirs.add(os.path.realpath(os.path.dirname(file)))
    import advisor

    dirs.add(os.path.realpath(os.path.dirname(advisor.__file__ or "")))
    return tuple(sorted(d.rstrip(os.sep) + os.sep for d in dirs))


def _top_level(inside: str) -> str:
    """The top-level import name of ``inside``, a path below site-packages."""
    top = inside.split(os.sep, 1)[0]
    return top[:-3] if top.endswith(".py") else top


def _installed(top: str) -> tuple[str | None, str | None]:
    """(distribution, version) of the installed top-level package ``top``, read once per
    process and name, and only for a call site in library code: ``importlib.metadata``
    parses every distribution's METADATA file to map names (0.1 s of a captured test
    suite's start when every library frame on a stack asked)."""
    found = _INSTALLED.get(top)
    if found is not None:
        return found
    try:
        import importlib.metadata as metadata

        if not _DISTRIBUTIONS:
            _DISTRIBUTIONS.update(metadata.packages_distributions())
        names = _DISTRIBUTIONS.get(top)
        dist = names[0] if names else None
        found = (dist, metadata.version(dist) if dist else None)
    except Exception:
        found = (None, None)
    _INSTALLED[top] = found
    return found


# importlib.metadata's top-level name -> distributions map, and what _installed found.
_DISTRIBUTIONS: dict[str, list[str]] = {}
_INSTALLED: dict[str, tuple[str | None, str | None]] = {}


class SiteFinder:
    """Finds the first application frame; the app-or-library decision is cached per file.

    ``app_packages`` are installed packages (top-level import names) taken for
    application code. When no application frame issued a statement, the innermost frame
    of another installed package is the call site, marked with its distribution.
    """

    def __init__(
        self,
        root: str | None = None,
        max_depth: int = 64,
        app_packages: tuple[str, ...] = (),
    ) -> None:
        self.root = os.path.realpath(root or os.getcwd())
        self.max_depth = max_depth
        self.app_packages = frozenset(app_packages)
        self._skip_dirs = _library_dirs()
        # file name -> relative path (application), (path, top-level name) (an installed
        # package), or None (never a call site). Keyed by the code object's
        # file name, not the code object: a code object does not cache its hash
        # (hashing one hashes its bytecode), a string does.
        self._files: dict[str, str | tuple[str, str] | None] = {}
        # (id(code), f_lasti) -> (code, site): f_lineno scans the code's line table (over
        # a microsecond deep in a long function); the code is kept so its id is not reused.
        self._sites: dict[tuple[int, int], tuple[CodeType, Site]] = {}
        self._getcurrent: Any = None

    def _classify(self, filename: str) -> str | tuple[str, str] | None:
        if not filename or filename.startswith("<"):
            return None
        real = os.path.realpath(filename)
        for marker in _SITE_DIRS:
            at = real.rfind(marker)
            if at >= 0:
                inside = real[at + len(marker) :]
                top = _top_level(inside)
                if top in _SKIP_PACKAGES:
                    return None
                if top in self.app_packages:
                    return inside
                # A distribution name given as an app package (the only use of the
                # distribution here: a library site is named when it is recorded).
                if self.app_packages and _installed(top)[0] in self.app_packages:
                    return inside
                return (inside, top)
        if real.startswith(self._skip_dirs):
            return None
        try:
            rel = os.path.relpath(real, self.root)
        except ValueError:
            return real
        return real if rel.startswith("..") else rel

    def find(self, frame: FrameType | None = None) -> Site | None:
        """The first application frame above the caller, as ``(path, line, function)``.

        ``frame`` is where a synchronous walk starts (by default the caller);
        inside SQLAlchemy's async greenlet it is not needed, and not materialised.
        """
        spawning = self._spawning()
        if spawning is not None:
            # Inside SQLAlchemy's async greenlet: unless the greenlet runs the app's own
            # function (run_sync), its frames are all library code; skip them.
            caller = spawning.f_back
            if caller is None or caller.f_code.co_name != "run_sync":
                return self._chain(spawning, 0)[0]
            found = self._chain(frame or sys._getframe(1), 0)[0]
            return found if found is not None else self._chain(spawning, 0)[0]
        return self._chain(frame or sys._getframe(1), 0)[0]

    def trace(self, limit: int = _CALLERS) -> tuple[Site | None, tuple[Site, ...]]:
        """The call site (as :meth:`find`) and up to ``limit`` application frames above
        it, nearest first, in one walk: the loop that called a repository helper."""
        spawning = self._spawning()
        if spawning is not None:
            caller = spawning.f_back
            if caller is None or caller.f_code.co_name != "run_sync":
                return self._chain(spawning, limit)
            found = self._chain(sys._getframe(1), limit)
            return found if found[0] is not None else self._chain(spawning, limit)
        return self._chain(sys._getframe(1), limit)

    def _spawning(self) -> FrameType | None:
        """The parent greenlet's suspended ``greenlet_spawn`` frame inside SQLAlchemy's
        async greenlet, else None."""
        getcurrent = self._getcurrent
        if getcurrent is None:
            module = sys.modules.get("greenlet")
            if module is None:
                return None
            getcurrent = self._getcurrent = module.getcurrent
        try:
            parent = getcurrent().parent
        except Exception:
            return None
        if parent is None:
            return None
        spawning: FrameType | None = parent.gr_frame
        if spawning is not None and spawning.f_code.co_name == "greenlet_spawn":
            return spawning
        return None

    def _chain(self, frame: FrameType | None, limit: int) -> tuple[Site | None, tuple[Site, ...]]:
        """The first application frame's site and up to ``limit`` more above it, in one
        walk; without one, the innermost installed package's frame. Past the call site it
        stops after ``_GAP`` library frames in a row (a test runner's or a server's)."""
        cache, sites = self._files, self._sites
        site: Site | None = None
        library: tuple[str, int, str, str] | None = None
        found: list[Site] = []
        gap = 0
        depth = self.max_depth
        while frame is not None and depth > 0:
            code = frame.f_code
            try:
                rel = cache[code.co_filename]
            except KeyError:
                rel = cache[code.co_filename] = self._classify(code.co_filename)
            if type(rel) is str:
                key = (id(code), frame.f_lasti)
                known = sites.get(key)
                if known is None or known[0] is not code:
                    if len(sites) >= _SITE_LIMIT:
                        sites.clear()
                    known = sites[key] = (code, (rel, frame.f_lineno, code.co_name, None, None))
                if site is None:
                    site = known[1]
                    if not limit:
                        break
                else:
                    found.append(known[1])
                    if len(found) >= limit:
                        break
                gap = 0
            elif site is not None:
                gap += 1
                if gap >= _GAP:
                    break
            elif rel is not None and library is None:
                library = (rel[0], frame.f_lineno, code.co_name, rel[1])
            frame = frame.f_back
            depth -= 1
        if site is None:
            if library is None:
                return None, ()
            path, line, function, top = library
            dist, version = _installed(top)
            return (path, line, function, dist or top, version), ()
        return site, tuple(found)
