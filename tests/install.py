"""A real install, as a team makes one: the wheel built from this checkout, installed with its
dependencies into a fresh virtualenv outside the checkout (used by tests/test_install.py and by the
install figures of `make bench`)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.paths import REPO


@dataclass(frozen=True)
class Installed:
    """A virtualenv with the workbench installed: where, how long the install took, its size."""

    venv: Path
    seconds: float
    size_bytes: int

    @property
    def bin(self) -> Path:
        return self.venv / "bin"


def build_wheel(folder: Path) -> Path:
    """The wheel of this checkout (hatchling, what `pip wheel .` builds), written to `folder`."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(folder), str(REPO)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    (wheel,) = folder.glob("contract_workbench-*.whl")
    return wheel


def install(wheel: Path, venv: Path, extras: str = "") -> Installed:
    """`python -m venv` (no system site-packages) and `pip install WHEEL[extras]` with its
    dependencies from the index pip is configured with, timed; then the venv's size on disk."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    target = f"{wheel}[{extras}]" if extras else str(wheel)
    done = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            target,
        ],
        capture_output=True,
        text=True,
        timeout=1800,
        env={key: value for key, value in os.environ.items() if key != "PYTHONPATH"},
        cwd=venv.parent,
    )
    if done.returncode != 0:
        raise RuntimeError(f"pip install {target} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    seconds = time.perf_counter() - started
    size = sum(path.stat().st_size for path in venv.rglob("*") if path.is_file() and not path.is_symlink())
    return Installed(venv, seconds, size)
