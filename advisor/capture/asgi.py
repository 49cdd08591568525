"""ASGI middleware: one capture scope per HTTP request, named ``METHOD /route/template``.

The route template is known only once the router has matched: the scope's name is
resolved lazily, on its first statement and again at the end of the request, from
``scope["route"].path`` (set by Starlette's router) or by matching ``app.routes``.
Works with FastAPI and Starlette (``app.add_middleware(AdvisorMiddleware)``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from advisor.capture.context import CURRENT_SCOPE, Scope, next_scope_id

__all__ = ["AdvisorMiddleware", "RequestScope", "route_template"]

ASGIScope = MutableMapping[str, Any]
ASGIApp = Callable[[ASGIScope, Any, Any], Awaitable[None]]


def _match(routes: Any, asgi_scope: ASGIScope, prefix: str = "") -> str | None:
    for route in routes or ():
        try:
            match, child = route.matches(asgi_scope)
        except Exception:
            continue
        if getattr(match, "name", "") != "FULL":
            continue
        path = prefix + str(getattr(route, "path", ""))
        inner = getattr(route, "routes", None)
        if inner:
            nested = _match(inner, {**asgi_scope, **child}, path)
            if nested is not None:
                return nested
        return path or None
    return None


def route_template(asgi_scope: ASGIScope, app: Any = None) -> str | None:
    """The template of the route serving ``asgi_scope`` (``/users/{user_id}``), or None.

    ``app`` is the top-level application (a mounted sub-application replaces
    ``asgi_scope["app"]``); by default ``asgi_scope["app"]``.
    """
    app = app if app is not None else asgi_scope.get("app")
    route = asgi_scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str) and not getattr(route, "routes", None):
        mounted = asgi_scope.get("root_path", "") != asgi_scope.get(
            "app_root_path", asgi_scope.get("root_path", "")
        )
        if not mounted:
            return path
        # Inside a Mount the route's path is relative to it: match from the top.
        top = {**asgi_scope, "root_path": asgi_scope.get("app_root_path", "")}
        return _match(getattr(app, "routes", None), top) or path
    return _match(getattr(app, "routes", None), asgi_scope)


class RequestScope(Scope):
    """A request's scope: named lazily, once the route is known (see Scope.settle).

    It keeps the ASGI scope (Starlette's router adds ``route`` to it) until it is
    garbage: by the time a statement's line is written, routing has happened.
    """

    __slots__ = ("_app", "_asgi", "_resolved")

    def __init__(self, asgi_scope: ASGIScope) -> None:
        # Cheap on purpose: this runs for every request; the name is built on first use.
        self.name = ""
        self.kind = "request"
        self.id = next_scope_id()
        self.tag = None
        self._asgi = asgi_scope
        self._app = asgi_scope.get("app")
        self._resolved = False

    @property
    def resolved(self) -> bool:
        """True once the route template is known."""
        return self._resolved

    def resolve(self) -> str:
        """``METHOD /template``; the raw path while the route is unknown."""
        if not self._resolved:
            asgi = self._asgi
            method = str(asgi.get("method", "WS" if asgi.get("type") == "websocket" else ""))
            try:
                template = route_template(asgi, self._app)
            except Exception:
                template = None
            if template is None:
                return f"{method} {asgi.get('path', '')}"
            self.name = f"{method} {template}"
            self._resolved = True
        return self.name


class AdvisorMiddleware:
    """Pure ASGI middleware (no response buffering, streaming-safe)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: ASGIScope, receive: Any, send: Any) -> None:
        """Run the request inside its own capture scope."""
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        token = CURRENT_SCOPE.set(RequestScope(scope))
        try:
            await self.app(scope, receive, send)
        finally:
            CURRENT_SCOPE.reset(token)
