"""Screenshots of the four reports of a fresh default audit, as a reviewer sees them offline.

`make screenshots` (or `python -m tests.screenshots [OUT_DIR] [--width N]...`): copies the
repository's data/ into a temporary project, runs `workbench audit` there, and writes
`OUT_DIR/<report>-<width>.png` (default `reports/screenshots/`, widths 800 and 1400), each the whole
page tall, from headless Chromium without network (tests/browser.py).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.browser import measure, screenshot
from tests.paths import REPO

REPORTS = ("contract_audit", "rollback_readiness", "symptom_trends", "drift_explorer")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=REPO / "reports" / "screenshots")
    parser.add_argument("--width", type=int, action="append", help="window width in px (repeatable)")
    options = parser.parse_args()
    widths = options.width or [800, 1400]
    options.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        shutil.copytree(REPO / "data", project / "data", ignore=shutil.ignore_patterns("*.sqlite*"))
        done = subprocess.run(
            [sys.executable, "-m", "workbench", "audit", "--notebooks", str(REPO / "notebooks")],
            cwd=project,
            capture_output=True,
            text=True,
        )
        if done.returncode not in (0, 1):
            print(done.stdout + done.stderr, file=sys.stderr)
            return 2
        for report in REPORTS:
            (page,) = project.glob(f"reports/*/*-{report}.html")
            for width in widths:
                height = int(measure(page, width)["height"])
                shot = screenshot(page, width, height, options.out / f"{report}-{width}.png")
                print(f"{shot} ({width} x {height} px, {page.stat().st_size / 1000:,.0f} KB of HTML)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
