"""The before/after table of ``advisor demo``: per route, a line before and a line after.

Plain text with fixed columns, so that it reads the same in a terminal, a CI log and the
README (about 70 columns wide).
"""

from __future__ import annotations

from advisor.demo import DemoResult
from advisor.demo.load import RouteStats

__all__ = ["demo_table"]

_HEADER = ("", "req/s", "p50 ms", "p95 ms", "p99 ms", "queries/req", "p95")
_WIDTHS = (10, 8, 9, 9, 9, 12, 8)


def _ms(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _queries(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}".removesuffix(".0")


def _change(before: float, after: float) -> str:
    return "" if before <= 0 else f"{(after / before - 1) * 100:+.0f} %"


def _line(cells: tuple[str, ...] | list[str]) -> str:
    first, *rest = cells
    return (f"  {first:<{_WIDTHS[0]}}" + "".join(
        f"{cell:>{width}}" for cell, width in zip(rest, _WIDTHS[1:], strict=False)
    )).rstrip()  # fmt: skip


def _cells(run: str, stats: RouteStats, queries: float | None, change: str = "") -> list[str]:
    return [
        run,
        f"{stats.requests_per_s:.1f}",
        _ms(stats.p50_ms),
        _ms(stats.p95_ms),
        _ms(stats.p99_ms),
        _queries(queries),
        change,
    ]


def demo_table(result: DemoResult) -> str:
    """Per route: requests/s, p50, p95, p99 (ms) and queries per request, before and after,
    with the change of p95; then the whole service's requests per second."""
    lines = [_line(_HEADER)]
    for row in result.rows:
        lines.append(row.route)
        lines.append(_line(_cells("before", row.before, row.queries_before)))
        change = _change(row.before.p95_ms, row.after.p95_ms)
        lines.append(_line(_cells("after", row.after, row.queries_after, change)))
    total_b = sum(r.requests_per_s for r in result.before.routes)
    total_a = sum(r.requests_per_s for r in result.after.routes)
    lines.append(f"all routes: {total_b:.1f} -> {total_a:.1f} requests/s")
    return "\n".join(lines)
