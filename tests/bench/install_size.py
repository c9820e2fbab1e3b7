"""The installed tool (issue 21): size on disk and install time of the base install against the
`[lab]` extra (JupyterLab), from the wheel of this checkout into fresh virtualenvs; and how long the
Airflow DAG file takes to import at parse time (target: at most 150 ms; it loaded SQLAlchemy before)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.install import build_wheel, install
from tests.paths import REPO

from ._common import Figure, median

DAG_FILE = REPO / "data" / "schedules" / "airflow_dag.py"
DAG_TARGET_MS = 150.0
_IMPORT = (
    "import importlib.util, json, sys, time\n"
    "started = time.perf_counter()\n"
    "spec = importlib.util.spec_from_file_location('dag', sys.argv[1])\n"
    "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
    "print(json.dumps((time.perf_counter() - started) * 1000))\n"
)


def dag_import_ms(rounds: int = 15) -> float:
    """The DAG file's import in a fresh interpreter (what a DAG processor pays per parse), after a warm-up."""
    times = []
    for _ in range(rounds + 1):
        done = subprocess.run(
            [sys.executable, "-c", _IMPORT, str(DAG_FILE)],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        )
        times.append(float(json.loads(done.stdout)))
    return median(times[1:])


def run() -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="wb-install-bench-") as scratch:
        folder = Path(scratch)
        wheel = build_wheel(folder / "dist")
        base = install(wheel, folder / "base")
        lab = install(wheel, folder / "lab", extras="lab")
    mib = 1024 * 1024
    dag = dag_import_ms()
    return [
        Figure(
            "installed size, base vs [lab]",
            base.size_bytes / lab.size_bytes,
            1.0,
            {"base": base.size_bytes / mib, "[lab]": lab.size_bytes / mib},
            unit="MiB",
            notes="a fresh virtualenv each, with every dependency",
            informational=True,
        ),
        Figure(
            "install time, base vs [lab]",
            base.seconds / lab.seconds,
            1.0,
            {"base": base.seconds, "[lab]": lab.seconds},
            unit="s",
            notes="venv + pip install of the wheel, dependencies from the configured index",
            informational=True,
        ),
        Figure(
            "DAG file import",
            dag / DAG_TARGET_MS,
            1.0,
            {"import": dag, "target": DAG_TARGET_MS},
            notes="data/schedules/airflow_dag.py in a fresh interpreter, median of 15",
        ),
    ]
