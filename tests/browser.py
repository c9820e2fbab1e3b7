"""Headless Chromium with no network: open a file and return the DOM after scripts ran."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

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


def dump_dom(page: Path) -> str:
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
            "--dump-dom",
            page.resolve().as_uri(),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout
