"""Figure 4: `workbench audit` on the default configuration, minus its probe time, against bare
papermill plus nbconvert (the commands) on an empty notebook; the size of the HTML it wrote; and
the same pipeline for 200 embedded environments, five broken (`tests.many`): every report and
the whole audit against their limits (reports by exception, issue 22)."""

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
    with HistoryStore(f"sqlite:///{project / 'data' / 'history.sqlite'}", project=project) as store:
        run = store.runs(limit=1)[0]
    probing = (_time(run.finished_at) - _time(run.started_at)).total_seconds() if run.finished_at else 0.0
    return wall, probing


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


CHARTLESS_LIMIT = 200_000  # bytes: a report without an interactive chart
AUDIT_LIMIT = 2_000_000  # bytes: the HTML of a whole default audit


def sizes(project: Path) -> Figure:
    """The HTML of the newest audit in `project`, per report, against the size targets."""
    (day,) = sorted((project / "reports").glob("????-??-??"))[-1:]
    newest = sorted(day.glob("*-audit.json"))[-1].name.removesuffix("-audit.json")
    pages = {page.stem.removeprefix(f"{newest}-"): page for page in sorted(day.glob(f"{newest}-*.html"))}
    kb = {name: page.stat().st_size / 1000 for name, page in pages.items()}
    chartless = [name for name, page in pages.items() if 'class="wb-chart"' not in page.read_text()]
    total = sum(kb.values()) * 1000
    biggest_chartless = max((kb[name] * 1000 for name in chartless), default=0.0)
    return Figure(
        "report size (HTML of one default audit)",
        max(total / AUDIT_LIMIT, biggest_chartless / CHARTLESS_LIMIT),
        1.0,
        {**kb, "total": total / 1000},
        unit="KB",
        notes=f"targets: whole audit <= {AUDIT_LIMIT // 1000:,} KB, a report without charts "
        f"({', '.join(chartless) or 'none'}) <= {CHARTLESS_LIMIT // 1000} KB; the ratio is the tighter one",
    )


MANY = 200  # environments of the report pipeline at scale
MANY_REPORT_LIMIT = 2_000_000  # bytes: any one report's HTML
MANY_AUDIT_LIMIT = 4_000_000  # bytes: the whole audit folder (HTML, executed notebooks, its record)


def at_scale(count: int = MANY) -> Figure:
    """One `workbench audit` of `count` embedded environments: each report's HTML against 2 MB and
    the audit's folder against 4 MB (sizes, not time: the wall time is printed as a note)."""
    from tests.many import write_project

    with tempfile.TemporaryDirectory() as name:
        project = Path(name)
        write_project(project, count)
        started = time.perf_counter()
        done = subprocess.run(
            [str(BIN / "workbench"), "audit", "--notebooks", str(ROOT / "notebooks")],
            cwd=project,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        if done.returncode not in (0, 1):
            raise RuntimeError(f"the audit of {count} environments failed: {done.stderr[-2000:]}")
        (folder,) = {path.parent for path in project.glob("reports/*/*-audit.json")}
        pages = {page.stem.split("-", 1)[1]: page.stat().st_size for page in folder.glob("*.html")}
        whole = sum(path.stat().st_size for path in folder.iterdir())
    largest = max(pages.values())
    return Figure(
        f"report size at {count} environments (5 broken)",
        max(largest / MANY_REPORT_LIMIT, whole / MANY_AUDIT_LIMIT),
        1.0,
        {**{name: size / 1000 for name, size in sorted(pages.items())}, "whole audit": whole / 1000},
        unit="KB",
        notes=f"targets: each report <= {MANY_REPORT_LIMIT // 1000:,} KB, the audit folder (HTML, "
        f"notebooks, record) <= {MANY_AUDIT_LIMIT // 1000:,} KB; the ratio is the tighter one; "
        f"stdout {len(done.stdout.splitlines())} lines, {wall:.0f} s",
    )


def run(rounds: int = 3, warmup: int = 1) -> list[Figure]:
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
        size = sizes(project)
    medians = {
        "audit minus probes": median(samples["audit"]),
        "papermill + nbconvert": median(samples["bare"]),
        "probes": median(probes),
    }
    cost = Figure(
        "report cost (4 reports vs one empty notebook)",
        medians["audit minus probes"] / medians["papermill + nbconvert"],
        1.0,
        medians,
        unit="s",
        notes="audit = 4 executed notebooks + 4 HTML exports + index; baseline = the two commands",
    )
    return [cost, size, at_scale()]
