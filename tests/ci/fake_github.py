"""A local HTTP server that speaks the few GitHub REST endpoints ``advisor comment`` uses.

``GET/POST /repos/{owner}/{name}/issues/{n}/comments`` (paginated with ``per_page``,
``page`` and a ``Link`` header, as GitHub does) and ``PATCH
/repos/{owner}/{name}/issues/comments/{id}``. ``failures`` queues answers to give before
the real one (a 502, a secondary rate limit); ``read_only`` answers writes with the 403 a
fork's token gets.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

_LIST = re.compile(r"^/repos/([^/]+/[^/]+)/issues/(\d+)/comments$")
_ONE = re.compile(r"^/repos/([^/]+/[^/]+)/issues/comments/(\d+)$")


@dataclass
class FakeGitHub:
    """The server's state: comments by issue, the requests seen, queued failures."""

    url: str = ""
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    failures: list[tuple[int, dict[str, str], str]] = field(default_factory=list)
    read_only: bool = False
    tokens: set[str] = field(default_factory=set)
    next_id: int = 1000

    def add(self, issue: int, body: str, user: str = "someone") -> dict[str, Any]:
        """Store a comment as if written by ``user``."""
        self.next_id += 1
        comment = {
            "id": self.next_id,
            "url": f"{self.url}/repos/o/r/issues/comments/{self.next_id}",
            "html_url": f"https://github.test/o/r/pull/{issue}#issuecomment-{self.next_id}",
            "body": body,
            "user": {"login": user},
        }
        self.comments.setdefault(issue, []).append(comment)
        return comment


def _handler(state: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # quiet test output
            pass

        def _send(self, code: int, payload: object, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _serve(self, method: str) -> None:
            state.requests.append((method, self.path))
            state.tokens.add(self.headers.get("Authorization", ""))
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            if state.failures:
                code, headers, message = state.failures.pop(0)
                self._send(code, {"message": message}, headers)
                return
            if method != "GET" and state.read_only:
                self._send(403, {"message": "Resource not accessible by integration"})
                return
            url = urlparse(self.path)
            listing, one = _LIST.match(url.path), _ONE.match(url.path)
            if listing and method == "GET":
                self._list(int(listing.group(2)), parse_qs(url.query))
            elif listing and method == "POST":
                self._send(201, state.add(int(listing.group(2)), body["body"], "github-actions"))
            elif one and method == "PATCH":
                for comments in state.comments.values():
                    for comment in comments:
                        if comment["id"] == int(one.group(2)):
                            comment["body"] = body["body"]
                            self._send(200, comment)
                            return
                self._send(404, {"message": "Not Found"})
            else:
                self._send(404, {"message": "Not Found"})

        def _list(self, issue: int, query: dict[str, list[str]]) -> None:
            per_page = int(query.get("per_page", ["30"])[0])
            page = int(query.get("page", ["1"])[0])
            comments = state.comments.get(issue, [])
            chunk = comments[(page - 1) * per_page : page * per_page]
            headers = {}
            if page * per_page < len(comments):
                nxt = f"{state.url}/repos/o/r/issues/{issue}/comments?per_page={per_page}"
                headers["Link"] = f'<{nxt}&page={page + 1}>; rel="next"'
            self._send(200, chunk, headers)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_PATCH(self) -> None:
            self._serve("PATCH")

    return Handler


@contextmanager
def fake_github() -> Iterator[FakeGitHub]:
    """Serve a :class:`FakeGitHub` on 127.0.0.1 in a thread for the block's duration."""
    state = FakeGitHub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
