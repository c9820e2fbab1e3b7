"""Headless Chromium with no network: open a file and return the DOM after scripts ran, measure its
layout at a window width, take a screenshot, or drive a page on a loopback server with Playwright
(Debian's browser, never a downloaded one)."""

from __future__ import annotations

import html
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import pytest

# Every Chromium we start: root needs --no-sandbox; no GPU, no profile, no background calls home.
_QUIET = (
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
)
_FLAGS = ("--headless", *_QUIET, "--virtual-time-budget=8000")
# Loopback only, without a network namespace (the page must reach a server on 127.0.0.1): no name
# resolves and every proxied request dies. IP literals go through the resolver rules too (observed:
# without the EXCLUDE, http://127.0.0.1:PORT fails with ERR_NAME_NOT_RESOLVED); Chromium never sends
# loopback through a proxy.
LOOPBACK_ONLY = (
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9",
)


def _missing(what: str) -> NoReturn:
    """A skip, or a failure where CI requires the browser (WORKBENCH_REQUIRE_BROWSER=1)."""
    if os.environ.get("WORKBENCH_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{what} is required here (WORKBENCH_REQUIRE_BROWSER=1) but not installed")
    pytest.skip(f"{what} is not installed")


def chromium() -> str:
    """The browser, or a skip (a failure where CI requires it: WORKBENCH_REQUIRE_BROWSER=1)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    _missing("chromium (apt-get install chromium)")


def _offline_prefix() -> list[str]:
    """A fresh network namespace (no route anywhere) when we may create one; else nothing."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True).returncode == 0:
        return [unshare, "-n"]
    return []


def _offline_command(profile: str, *args: str) -> list[str]:
    """Headless Chromium with a fresh profile and no network, then `args`."""
    return [
        *_offline_prefix(),
        chromium(),
        *_FLAGS,
        f"--user-data-dir={profile}",
        # even without a namespace, nothing resolves and every proxy is dead
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=http://127.0.0.1:9",
        *args,
    ]


def dump_dom(page: Path, *extra: str) -> str:
    """The rendered DOM of `page`, loaded with networking off; every external fetch would fail."""
    with tempfile.TemporaryDirectory() as profile:
        command = _offline_command(profile, *extra, "--dump-dom", page.resolve().as_uri())
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def pids_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains `text` (a folder only one test uses): how a test
    finds what it started when it was not started as its child (kernels, browser helpers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().decode(errors="replace")
            if text in command and (entry / "stat").read_text().split(")")[-1].split()[0] != "Z":
                pids.append(int(entry.name))
        except (OSError, IndexError):
            continue  # gone while we looked
    return pids


def require_playwright() -> None:
    """Playwright's Python package (the dev extras), or a skip (a failure where CI requires the browser)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("playwright (the dev extras: pip install -e '.[dev]')")


@contextmanager
def loopback_page(*, width: int = 1400, height: int = 1000) -> Iterator[Any]:
    """A Playwright page in headless Debian Chromium with a fresh profile, reaching loopback only.

    Playwright's Python package carries its own driver; with `executable_path` it starts the system
    browser and downloads nothing (`playwright install` is never needed). The browser, and the
    driver, end when the block ends, whatever happened in it.
    """
    browser = chromium()
    require_playwright()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as profile, sync_playwright() as driver:
        context = driver.chromium.launch_persistent_context(
            profile,
            executable_path=browser,
            headless=True,
            args=[*_QUIET, *LOOPBACK_ONLY],
            viewport={"width": width, "height": height},
        )
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()
        deadline = time.monotonic() + 10
        while pids_mentioning(profile) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = pids_mentioning(profile)
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        assert not left, f"browser processes outlived the page: {left}"


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
    with tempfile.TemporaryDirectory() as profile:
        command = _offline_command(
            profile,
            "--hide-scrollbars",
            f"--window-size={width},{height}",
            f"--screenshot={output.resolve()}",
            page.resolve().as_uri(),
        )
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and output.exists(), done.stderr[-2000:]
    return output
