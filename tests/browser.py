"""Headless Chromium with no network: open a file and return the DOM after scripts ran, measure its
layout at a window width, or take a screenshot."""

from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--virtual-time-budget=8000",
)


def chromium() -> str:
    """The browser, or a skip (a failure where CI requires it: WORKBENCH_REQUIRE_BROWSER=1)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("WORKBENCH_REQUIRE_BROWSER") == "1":
        pytest.fail("chromium is required here (WORKBENCH_REQUIRE_BROWSER=1) but not installed")
    pytest.skip("chromium is not installed (apt-get install chromium)")


def _offline_prefix() -> list[str]:
    """A fresh network namespace (no route anywhere) when we may create one; else nothing."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True).returncode == 0:
        return [unshare, "-n"]
    return []


def dump_dom(page: Path, *extra: str) -> str:
    """The rendered DOM of `page`, loaded with networking off; every external fetch would fail."""
    browser = chromium()
    with tempfile.TemporaryDirectory() as profile:
        command = [
            *_offline_prefix(),
            browser,
            *_FLAGS,
            f"--user-data-dir={profile}",
            # even without a namespace, nothing resolves and every proxy is dead
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--proxy-server=http://127.0.0.1:9",
            *extra,
            "--dump-dom",
            page.resolve().as_uri(),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


_MEASURE = Path(__file__).with_name("measure.js")


def measure(page: Path, width: int) -> dict[str, Any]:
    """Open a copy of `page` (offline) in a `width`-pixel window and return what the layout shows:
    title, header text, each table's overflow beyond its container and its cells, each chart."""
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / page.name
        script = f"<script>{_MEASURE.read_text()}</script>"
        copy.write_text(page.read_text().replace("</body>", script + "</body>"))
        dom = dump_dom(copy, f"--window-size={width},1000")
    start = dom.index('<pre id="wb-measure">') + len('<pre id="wb-measure">')
    measured: dict[str, Any] = json.loads(html.unescape(dom[start : dom.index("</pre>", start)]))
    return measured


def screenshot(page: Path, width: int, height: int, output: Path) -> Path:
    """A PNG of `page` opened offline in a `width` x `height` window."""
    browser = chromium()
    with tempfile.TemporaryDirectory() as profile:
        command = [
            *_offline_prefix(),
            browser,
            *_FLAGS,
            f"--user-data-dir={profile}",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--proxy-server=http://127.0.0.1:9",
            "--hide-scrollbars",
            f"--window-size={width},{height}",
            f"--screenshot={output.resolve()}",
            page.resolve().as_uri(),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and output.exists(), done.stderr[-2000:]
    return output
