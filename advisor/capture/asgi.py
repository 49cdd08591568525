"""ASGI middleware: one capture scope per HTTP request, named ``METHOD /route/template``.

The route template is known only once the router has matched: the scope's name is
resolved lazily, on its first statement and again at the end of the request, from
``scope["route"].path`` (set by Starlette's router) or by matching ``app.routes``.
Works with FastAPI and Starlette (``app.add_middleware(AdvisorMiddleware)``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from advisor.capture.context import Scope, reset_scope, set_scope

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
    """A request's scope: its name waits for the route to be known."""

    __slots__ = ("_app", "_asgi", "_resolved")

    def __init__(self, asgi_scope: ASGIScope) -> None:
        method = str(asgi_scope.get("method", "WS" if asgi_scope["type"] == "websocket" else ""))
        super().__init__(f"{method} {asgi_scope.get('path', '')}", "request")
        self._asgi = asgi_scope
        self._app = asgi_scope.get("app")
        self._resolved = False

    def resolve(self) -> str:
        """``METHOD /template``; falls back to the raw path while the route is unknown."""
        if not self._resolved:
            try:
                template = route_template(self._asgi, self._app)
            except Exception:
                template = None
            if template is not None:
                method = self.name.split(" ", 1)[0]
                self.name = f"{method} {template}"
                self._resolved = True
        return self.name

    def finish(self) -> None:
        """The request ended: resolve for the last time and let go of the ASGI scope."""
        self.resolve()
        self._resolved = True
        self._asgi = {}
        self._app = None


class AdvisorMiddleware:
    """Pure ASGI middleware (no response buffering, streaming-safe)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: ASGIScope, receive: Any, send: Any) -> None:
        """Run the request inside its own capture scope."""
        if scope.get("type") not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request = RequestScope(scope)
        token = set_scope(request)
        try:
            await self.app(scope, receive, send)
        finally:
            reset_scope(token)
            request.finish()
