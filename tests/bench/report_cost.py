"""Figure 4: `workbench audit` on the default configuration, minus its probe time, against bare
papermill plus nbconvert (the commands) on an empty notebook."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import nbformat

from ._common import Figure, interleaved, median

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _bare(folder: Path) -> float:
    empty = folder / "empty.ipynb"
    if not empty.exists():
        notebook = nbformat.v4.new_notebook()
        notebook.cells = [nbformat.v4.new_code_cell("1 + 1")]
        notebook.metadata["kernelspec"] = {
            "name": "contract-workbench",
            "display_name": "Contract Workbench",
            "language": "python",
        }
        nbformat.write(notebook, empty)
    started = time.perf_counter()
    subprocess.run(
        [
            str(BIN / "papermill"),
            str(empty),
            str(folder / "out.ipynb"),
            "-k",
            "contract-workbench",
            "--no-progress-bar",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [str(BIN / "jupyter"), "nbconvert", "--to", "html", str(folder / "out.ipynb")],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def _audit(project: Path) -> tuple[float, float]:
    """(wall seconds, probe seconds) of one `workbench audit` of the default configuration."""
    from workbench import HistoryStore

    started = time.perf_counter()
    subprocess.run(
        [str(BIN / "workbench"), "audit", "--notebooks", str(ROOT / "notebooks")],
        cwd=project,
        capture_output=True,
    )
    wall = time.perf_counter() - started
    with HistoryStore(f"sqlite:///{project / 'data' / 'history.sqlite'}") as store:
        run = store.runs(limit=1)[0]
    probing = (_time(run.finished_at) - _time(run.started_at)).total_seconds() if run.finished_at else 0.0
    return wall, probing


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def run(rounds: int = 3, warmup: int = 1) -> Figure:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        project = folder / "project"
        shutil.copytree(ROOT / "data", project / "data", ignore=shutil.ignore_patterns("*.sqlite*"))
        probes: list[float] = []

        def audit() -> float:
            wall, probing = _audit(project)
            probes.append(probing)
            return wall - probing

        samples = interleaved(rounds, warmup, bare=lambda: _bare(folder), audit=audit)
    medians = {
        "audit minus probes": median(samples["audit"]),
        "papermill + nbconvert": median(samples["bare"]),
        "probes": median(probes),
    }
    return Figure(
        "report cost (4 reports vs one empty notebook)",
        medians["audit minus probes"] / medians["papermill + nbconvert"],
        1.3,
        medians,
        unit="s",
        notes="audit = 4 executed notebooks + 4 HTML exports + index; baseline = the two commands",
    )
