"""The public surface: `__all__` is sorted, complete and every name resolves; importing stays light."""

from __future__ import annotations

import subprocess
import sys

import workbench


def test_all_is_sorted_and_every_name_resolves() -> None:
    assert workbench.__all__ == sorted(workbench.__all__)
    for name in workbench.__all__:
        assert getattr(workbench, name) is not None, name


def test_importing_the_package_does_not_load_heavy_dependencies() -> None:
    heavy = ("pandas", "altair", "papermill", "httpx")
    code = f"import sys, workbench; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == ""
