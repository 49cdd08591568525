"""Pool lines: read into one PoolUsage per pool, kept by the merge, scanned with --workers."""

from __future__ import annotations

import json
from pathlib import Path

from advisor.capture.merge import merge_parts
from advisor.sources import capture_extras
from advisor.sources.capture_pools import read_header_and_pools, read_pools
from tests.test_cli import advisor

from .lines import HEADER, QUERY, TRAILER, write_lines

CONFIG = {"type": "pool_config", "pool": 1, "class": "QueuePool", "size": 2}
CONFIG |= {"max_overflow": 0, "timeout_s": 30.0}


def _checkout(at: float, wait_ms: float, **extra: object) -> dict[str, object]:
    line = {"type": "pool", "pool": 1, "at": at, "wait_ms": wait_ms, "in_use": 2, "overflow": 0}
    return line | {"scope": "GET /slow", "scope_id": 1} | extra


def _capture(path: Path) -> str:
    return write_lines(
        path,
        HEADER,
        CONFIG,
        _checkout(0.010, 9.0, connected=True, in_use=1),  # opening a connection: not a wait
        QUERY,
        _checkout(0.100, 50.0),  # waits 50..100 ms
        _checkout(0.120, 40.0),  # waits 80..120 ms: two waiting at once
        _checkout(31.0, 30000.0, timeout=True, scope="GET /report"),
        '{"type": "pool", "pool": 1, "wait_ms": ',  # truncated: left out
        TRAILER,
    )


def test_pool_lines_become_one_usage_per_pool(tmp_path: Path) -> None:
    (pool,) = read_pools(_capture(tmp_path / "c.jsonl"))
    assert (pool.pool_class, pool.size, pool.max_overflow, pool.timeout_s) == (
        "QueuePool",
        2,
        0,
        30.0,
    )
    assert pool.checkouts == 4 and pool.timeouts == 1
    assert sorted(pool.waits_ms) == [40.0, 50.0, 30000.0]
    assert pool.peak_in_use == 2 and pool.peak_waiting == 2
    assert pool.scopes == ("GET /report", "GET /slow")


def test_merge_keeps_pool_lines_and_renumbers_pools(tmp_path: Path) -> None:
    parts = [_capture(tmp_path / f"part{n}.jsonl") for n in (1, 2)]
    out = tmp_path / "merged.jsonl"
    merge_parts(parts, str(out))
    pools = read_pools(str(out))
    assert [p.pool for p in pools] == [1, 2]
    assert all(p.checkouts == 4 for p in pools)
    trailer = json.loads(out.read_text().splitlines()[-1])
    assert trailer["skipped_lines"] == 2  # the truncated line of each part


def test_scan_reports_pool_pressure_with_workers(tmp_path: Path) -> None:
    path = _capture(tmp_path / "c.jsonl")
    proc = advisor("scan", path, "--format", "json", "--select", "ADV009", "--workers", "8")
    assert proc.returncode == 0, proc.stderr
    (finding,) = json.loads(proc.stdout)["findings"]
    assert finding["rule"] == "ADV009"
    assert finding["evidence"]["workers"] == 8
    assert finding["evidence"]["timeouts"] == 1


def test_the_schema_pass_finds_the_pools_too(tmp_path: Path) -> None:
    lines = Path(_capture(tmp_path / "c.jsonl")).read_text().splitlines()
    schema = {"type": "schema", "driver": "psycopg", "schema": {"tables": [], "server_version": 1}}
    path = tmp_path / "s.jsonl"
    path.write_text("\n".join([lines[0], json.dumps(schema), *lines[1:]]) + "\n")
    header, pools = read_header_and_pools(str(path))
    assert pools == read_pools(str(path)) and pools[0].checkouts == 4
    assert header.driver == "psycopg" and header.schema is not None
    extras = capture_extras(["q.sql", str(path), str(tmp_path / "absent.jsonl"), str(path)])
    assert [p.pool for p in extras.pools] == [1, 2]  # numbered on across files
    assert extras.schema == header.schema
