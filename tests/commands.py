"""Running the `workbench` command: in this process (`cli`, what most tests need), or in a fresh
process as cron, CI or a person at a shell would (`workbench`, for the README's commands, exit
codes seen by a shell, and signals)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

NOTICE = "note: no data/environments.toml here or in a folder above"  # the built-in default's one line


@dataclass(frozen=True)
class Ran:
    """What a shell would see of one command: the exit code and both streams."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def error_lines(self) -> list[str]:
        """stderr's lines but the one that says no configuration file named the project folder."""
        return [line for line in self.stderr.strip().splitlines() if not line.startswith(NOTICE)]


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Ran:
    """`workbench ARGS` run in this process (typer's CliRunner) from `cwd`, with `env` set for the
    call. The root group turns a `WorkbenchError` into one line and its exit code, as it does for
    a shell; any other exception is a bug, raised here so the test shows its traceback."""
    from workbench.cli import app

    previous = Path.cwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(app, list(args), env=env, prog_name="workbench")
    finally:
        os.chdir(previous)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Ran(result.exit_code, result.stdout, result.stderr)


def default_signals() -> None:
    """In a child before it starts: Ctrl-C back to its default. A shell running a job in the
    background (`nohup ... &`) starts it with SIGINT ignored, and a child inherits that, so a test
    that interrupts a child must not depend on how the test run itself was started."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def workbench(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`python -m workbench ARGS` in a fresh process in `cwd`, with `env` added to this environment."""
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        preexec_fn=default_signals,
    )
