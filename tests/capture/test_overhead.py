"""What keeps capture cheap: events the GC never tracks, settled scopes, cached call sites."""

from __future__ import annotations

import gc
import json
import types
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

import advisor.capture as capture
from advisor.capture.asgi import RequestScope
from advisor.capture.context import Scope
from advisor.capture.encode import POOL
from advisor.capture.frames import Site, SiteFinder

HERE = "tests/capture/test_overhead.py"


def test_queued_events_are_untracked_and_numbered_in_order(
    engine: Engine, capture_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    handle = capture.instrument(engine, output=str(capture_file), introspect_schema=False)
    writer = handle.recorder.writer
    monkeypatch.setattr(writer, "_drain", lambda: None)  # keep the events queued
    with engine.connect() as conn, capture.scope("queued"):
        for value in range(5):
            conn.execute(text("SELECT CAST(:x AS integer)"), {"x": value})
    # The pool's settings (a dict, once) and one checkout beside the five query tuples.
    pool_lines = [event for event in writer.pending if isinstance(event, dict)]
    checkouts = [e for e in writer.pending if isinstance(e, tuple) and e[0] is POOL]
    queued = [e for e in writer.pending if isinstance(e, tuple) and e[0] is not POOL]
    assert len(queued) == 5 and len(checkouts) == 1
    assert [line["type"] for line in pool_lines] == ["pool_config"]
    gc.collect()
    gc.collect()
    # Plain values, and tuples of them one level deep: the garbage collector untracks such
    # an event at the second collection it meets, so a backlog never reaches the oldest
    # generation (whose growth triggers the app's full collections).
    assert not any(gc.is_tracked(event) for event in queued + checkouts + pool_lines)
    assert all(isinstance(event, tuple) and isinstance(event[0], str) for event in queued)
    monkeypatch.undo()
    handle.uninstrument()
    lines = [json.loads(line) for line in capture_file.read_text().splitlines()]
    queries = [line for line in lines if line["type"] == "query"]
    assert [q["seq"] for q in queries] == [1, 2, 3, 4, 5]
    assert {q["scope"] for q in queries} == {"queued"}
    assert len({q["scope_id"] for q in queries}) == 1
    assert lines[-1]["events"] == 5
    (checkout,) = [line for line in lines if line["type"] == "pool"]
    # Checked out before the scope began: no scope fields.
    assert "scope" not in checkout and checkout["pool"] == 1 and checkout["in_use"] == 1


def test_request_scope_settles_once_routed() -> None:
    asgi: dict[str, object] = {"type": "http", "method": "GET", "path": "/users/7"}
    request = RequestScope(asgi)
    assert request.settle() is request  # not routed yet: the writer resolves it later
    asgi["route"] = types.SimpleNamespace(path="/users/{user_id}")
    fields = request.settle()
    assert isinstance(fields, str)
    assert json.loads("{" + fields + "}") == {
        "scope": "GET /users/{user_id}",
        "scope_kind": "request",
        "scope_id": request.id,
    }
    assert request.settle() is fields
    manual = Scope('a "quoted" name', "manual")
    assert json.loads("{" + str(manual.settle()) + "}")["scope"] == 'a "quoted" name'


def _site_of_each_line(finder: SiteFinder) -> list[Site | None]:
    found = []
    for _ in range(2):
        found.append(finder.find())  # mark:first
        found.append(finder.find())  # mark:second
    return found


def _helper(finder: SiteFinder) -> tuple[Site | None, tuple[Site, ...]]:
    return finder.trace()  # mark:helper


def _loop(finder: SiteFinder) -> list[tuple[Site | None, tuple[Site, ...]]]:
    return [_helper(finder) for _ in range(2)]  # mark:loop


def test_trace_gives_the_call_site_and_the_frames_above_it() -> None:
    """One walk gives the helper's line and the loop that called it, nearest first (the
    second time from the cache: the same objects)."""
    finder = SiteFinder(str(Path(__file__).resolve().parents[2]))
    (site, callers), again = _loop(finder)
    lines = Path(__file__).read_text().splitlines()
    helper = next(i for i, line in enumerate(lines, 1) if "# mark:helper" in line)
    loop = next(i for i, line in enumerate(lines, 1) if "# mark:loop" in line)
    assert site == (HERE, helper, "_helper", None, None)
    assert callers[0][:2] == (HERE, loop) and len(callers) <= 3
    assert callers[-1][2] == "test_trace_gives_the_call_site_and_the_frames_above_it"
    assert again[0] is site and again[1][0] is callers[0]


def test_cached_call_sites_keep_lines_apart() -> None:
    finder = SiteFinder(str(Path(__file__).resolve().parents[2]))
    found = _site_of_each_line(finder)
    lines = Path(__file__).read_text().splitlines()
    first = next(i for i, line in enumerate(lines, 1) if "# mark:first" in line)
    assert found[0] == (HERE, first, "_site_of_each_line", None, None)
    assert found[1] == (HERE, first + 1, "_site_of_each_line", None, None)
    assert found[2:] == found[:2]
    assert found[2] is found[0]  # served from the cache
