"""Running the `workbench` command in a fresh process, as cron, CI or a person at a shell would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def workbench(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`python -m workbench ARGS` in `cwd`, with `env` added to this environment; output captured."""
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
