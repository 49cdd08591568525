"""One pull-request comment kept up to date, through GitHub's REST API (stdlib only).

``post_report`` lists the PR's issue comments (every page), finds the one whose body holds
:data:`~advisor.report.markdown.MARKER`, and PATCHes it, or POSTs a new one. 5xx answers
and secondary rate limits (403 or 429 with ``retry-after``, or a 403 whose message says
"secondary rate limit") are retried with a wait; a 403 that is not a rate limit means the
token cannot write (a pull request from a fork gets a read-only token), which
:class:`CommentForbidden` reports so the caller can fall back to annotations and the job
summary.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advisor.errors import AdvisorError, ConfigError

__all__ = [
    "CommentForbidden",
    "GitHubError",
    "PullRequest",
    "find_pull_request",
    "post_report",
    "token_from",
]

_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')
_ATTEMPTS = 4


class GitHubError(AdvisorError):
    """GitHub answered with an error advisor cannot work around."""


class CommentForbidden(GitHubError):
    """The token may not write comments (a fork's pull request gets a read-only token)."""


@dataclass(frozen=True, slots=True)
class PullRequest:
    """Where the comment goes: ``owner/name`` and the pull request's number."""

    api_url: str
    repository: str
    number: int


def find_pull_request(
    env: Mapping[str, str], repository: str | None = None, number: int | None = None
) -> PullRequest:
    """The pull request from flags, else from the Actions environment.

    ``GITHUB_REPOSITORY`` gives the repository, the event payload at ``GITHUB_EVENT_PATH``
    the number (``pull_request.number``, or ``issue.number`` for comment events), and
    ``GITHUB_API_URL`` the API (GitHub Enterprise has its own).
    """
    repository = repository or env.get("GITHUB_REPOSITORY")
    if not repository or "/" not in repository:
        raise ConfigError("comment: no repository; pass --repo OWNER/NAME or run in GitHub Actions")
    if number is None:
        number = _number_from_event(env.get("GITHUB_EVENT_PATH"))
    api = env.get("GITHUB_API_URL") or "https://api.github.com"
    return PullRequest(api.rstrip("/"), repository, number)


def post_report(
    pr: PullRequest,
    body: str,
    marker: str,
    token: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[str, str]:
    """Create or update the one comment holding ``marker``; ``(action, html_url)``.

    ``action`` is ``"created"`` or ``"updated"``.
    """
    client = _Client(token, sleep)
    url: str | None = f"{pr.api_url}/repos/{pr.repository}/issues/{pr.number}/comments?per_page=100"
    existing: Mapping[str, Any] | None = None
    while url and existing is None:
        page, headers = client.request("GET", url)
        existing = next((c for c in page if marker in (c.get("body") or "")), None)
        match = _NEXT.search(headers.get("link", ""))
        url = match.group(1) if match else None
    if existing is not None:
        done, _ = client.request("PATCH", str(existing["url"]), {"body": body})
        return "updated", str(done.get("html_url", ""))
    done, _ = client.request(
        "POST", f"{pr.api_url}/repos/{pr.repository}/issues/{pr.number}/comments", {"body": body}
    )
    return "created", str(done.get("html_url", ""))


class _Client:
    def __init__(self, token: str, sleep: Callable[[float], None]) -> None:
        self.token = token
        self.sleep = sleep

    def request(
        self, method: str, url: str, payload: Mapping[str, Any] | None = None
    ) -> tuple[Any, Mapping[str, str]]:
        data = json.dumps(payload).encode() if payload is not None else None
        for attempt in range(1, _ATTEMPTS + 1):
            req = urllib.request.Request(url, data=data, method=method, headers=self._headers())
            try:
                with urllib.request.urlopen(req, timeout=30) as resp:
                    headers = {k.lower(): v for k, v in resp.headers.items()}
                    return json.loads(resp.read() or b"null"), headers
            except urllib.error.HTTPError as exc:
                text = exc.read().decode("utf-8", "replace")
                wait = _retry_wait(exc.code, exc.headers, text, attempt)
                if wait is None or attempt == _ATTEMPTS:
                    raise _error(method, url, exc.code, text) from exc
                self.sleep(wait)
            except urllib.error.URLError as exc:
                if attempt == _ATTEMPTS:
                    raise GitHubError(
                        f"{method} {url}: {exc.reason}; check GITHUB_API_URL"
                    ) from exc
                self.sleep(2.0**attempt)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _headers(self) -> dict[str, str]:
        return {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {self.token}",
            "X-GitHub-Api-Version": "2022-11-28",
            "Content-Type": "application/json",
            "User-Agent": "advisor",
        }


def _retry_wait(code: int, headers: Any, text: str, attempt: int) -> float | None:
    """Seconds to wait before retrying, or None when retrying cannot help."""
    retry_after = headers.get("retry-after") if headers is not None else None
    if code >= 500:
        return float(retry_after) if retry_after else 2.0**attempt
    secondary = "secondary rate limit" in text.lower()
    if code in (403, 429) and (retry_after or secondary):
        if retry_after:
            return float(retry_after)
        reset = headers.get("x-ratelimit-reset") if headers is not None else None
        return max(1.0, float(reset) - time.time()) if reset else 60.0
    return None


def _error(method: str, url: str, code: int, text: str) -> GitHubError:
    try:
        message = str(json.loads(text).get("message", text))
    except (ValueError, AttributeError):
        message = text
    message = " ".join(message.split())[:200]
    if code == 403:
        return CommentForbidden(
            f"{method} {url}: 403 {message}; the token cannot write comments (a pull request "
            "from a fork gets a read-only GITHUB_TOKEN)"
        )
    return GitHubError(f"{method} {url}: HTTP {code} {message}")


def _number_from_event(path: str | None) -> int:
    if not path:
        raise ConfigError("comment: no pull request number; pass --pr N or run in GitHub Actions")
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read the GitHub event ({exc}); pass --pr N") from exc
    for key in ("pull_request", "issue"):
        number = (event.get(key) or {}).get("number")
        if isinstance(number, int):
            return number
    raise ConfigError(
        f"{path}: the event is not a pull request (no pull_request.number); pass --pr N "
        "or run on pull_request events"
    )


def token_from(env: Mapping[str, str] = os.environ) -> str | None:
    """``GITHUB_TOKEN`` (or ``GH_TOKEN``) from ``env``."""
    return env.get("GITHUB_TOKEN") or env.get("GH_TOKEN")
