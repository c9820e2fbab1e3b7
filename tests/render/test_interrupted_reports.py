"""Reports of audits that were interrupted (Ctrl-C) or killed are marked so in the manifest and the index."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.commands import default_signals
from tests.paths import REPO
from workbench.render.notebooks import write_index

NOTEBOOKS = REPO / "notebooks"


def test_a_report_reserved_by_a_dead_process_is_listed_as_incomplete(tmp_path: Path) -> None:
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    day = tmp_path / "2026-11-27"
    day.mkdir()
    (day / "101010-audit.json").write_text(
        json.dumps(
            {
                "status": "running",
                "time": "10:10:10",
                "host": socket.gethostname(),
                "pid": int(finished.stdout),
            }
        )
    )
    (day / "111111-audit.json").write_text(
        json.dumps(
            {"status": "running", "time": "11:11:11", "host": socket.gethostname(), "pid": os.getpid()}
        )
    )
    index = write_index(tmp_path).read_text()
    assert index.count('class="v incomplete"') == 1  # the dead one
    assert index.count('class="v running"') == 1  # this process is alive


@pytest.mark.slow
def test_ctrl_c_while_rendering_marks_the_audit_interrupted(tmp_path: Path) -> None:
    (tmp_path / "env.toml").write_text('[environments.ref]\nbase_url = "embedded"\n')
    child = subprocess.Popen(
        [sys.executable, "-m", "workbench", "audit", "--config", "env.toml", "--notebooks", str(NOTEBOOKS)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_signals,  # the test interrupts it: Ctrl-C must not be ignored
    )
    deadline = time.monotonic() + 120
    assert child.stderr is not None
    for line in child.stderr:
        if line.startswith("rendering Rollback readiness") or time.monotonic() > deadline:
            break
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 130, err
    assert "interrupted" in err
    (manifest,) = tmp_path.glob("reports/*/*-audit.json")
    assert json.loads(manifest.read_text())["status"] == "interrupted"
    assert "interrupted" in (tmp_path / "reports" / "index.html").read_text()
