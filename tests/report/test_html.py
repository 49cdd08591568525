"""The HTML report, opened in a real headless Chromium (Debian's ``chromium`` package).

The DOM is read after the page's script ran (``--dump-dom``) and checked for content; a
screenshot is taken to show the page renders, never compared by pixels. Without a
``chromium`` binary the browser tests skip and say how to install it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from advisor.report import render_document
from tests.report.sample import ROOT, sample_result

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary: apt-get install -y chromium"
)


def _chromium(*args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(render_document(sample_result(), "html", root=ROOT), encoding="utf-8")
    return path


def test_the_file_is_self_contained(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    # No stylesheet, script, image or font from anywhere: only the SVG namespace names a URL.
    assert not re.search(r"""(?:src|href)\s*=\s*['"]?(?:https?:)?//""", text)
    assert re.findall(r"https?://[^\s'\"<>]+", text) == ["http://www.w3.org/2000/svg"]
    assert "@import" not in text


@needs_chromium
def test_dom_after_scripts_shows_summary_findings_plans_and_chart(page: Path) -> None:
    dom = _chromium("--dump-dom", page.as_uri()).stdout
    # The script built the contents list from the headings.
    assert 'data-ready="yes"' in dom
    assert re.search(r"<a href=\"#index-0\">Index orders_user_id_created_at_idx", dom)
    text = re.sub(r"<[^>]+>", " ", dom)
    text = re.sub(r"\s+", " ", text).replace("&gt;", ">")
    assert "11 findings (3 high, 4 medium, 3 low, 1 info)" in text
    assert "app/users.py:24 in list_users()" in text
    # Before and after trees side by side, with what the index changed marked.
    assert "Seq Scan on public.orders [changed]" in text
    assert "Index Scan using orders_user_id_created_at_idx on public.orders [changed]" in text
    assert "Limit rows est 20 / actual 20 · time 14.2 ms · buffers hit 10 read 830" in text
    assert "Limit [changed]" not in text  # the top node is the same kind in both plans
    assert dom.count('class="plans"') == 2
    # The chart: two bars (before, after) per query the index serves.
    assert dom.count("<rect") == 4
    assert "before 1,704 ms" in text and "after 37.2 ms" in text


@needs_chromium
def test_screenshot_renders(page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    _chromium(f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri())
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1280, 2000)
