"""The before/after table of ``advisor demo``: one row per route, the change beside it."""

from __future__ import annotations

from rich.table import Table

from advisor.demo import DemoResult, RouteRow

__all__ = ["demo_table"]


def _change(before: float, after: float) -> str:
    """``-62 %`` in green when the latency fell, red when it rose."""
    if before <= 0:
        return ""
    pct = (after / before - 1) * 100
    return f"[{'green' if pct < 0 else 'red'}]{pct:+.0f} %[/]"


def _queries(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}".removesuffix(".0")


def _row(row: RouteRow) -> list[str]:
    b, a = row.before, row.after
    return [
        row.route,
        f"{b.requests_per_s:.1f} -> {a.requests_per_s:.1f}",
        f"{b.p50_ms:.1f} -> {a.p50_ms:.1f}",
        f"{b.p95_ms:.1f} -> {a.p95_ms:.1f}",
        _change(b.p95_ms, a.p95_ms),
        f"{b.p99_ms:.1f} -> {a.p99_ms:.1f}",
        f"{_queries(row.queries_before)} -> {_queries(row.queries_after)}",
    ]


def demo_table(result: DemoResult) -> Table:
    """The per-route table: requests/s, p50, p95 (and its change), p99, queries per request."""
    table = Table(title="before -> after (same requests, same concurrency)", title_justify="left")
    for header in ("route", "req/s", "p50 ms", "p95 ms", "p95", "p99 ms", "queries/req"):
        table.add_column(header, justify="left" if header == "route" else "right")
    for row in result.rows:
        table.add_row(*_row(row))
    b, a = result.before, result.after
    total_b = sum(r.requests_per_s for r in b.routes)
    total_a = sum(r.requests_per_s for r in a.routes)
    table.add_section()
    table.add_row("all routes", f"{total_b:.1f} -> {total_a:.1f}", "", "", "", "", "")
    return table
