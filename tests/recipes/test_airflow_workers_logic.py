"""The workers DAG's task logic without Airflow (workbench/recipes/airflow.py): the gate judges
readiness, never the probe's exit code; the mapped tasks refuse a store the workers cannot share;
each command runs in a temporary folder of its own, removed after it. Under a real scheduler:
tests/test_airflow_workers.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from workbench.recipes import airflow as recipe

ENVIRONMENTS = [{"project": "/p", "environment": "staging"}, {"project": "/p", "environment": "production"}]


def audit(readiness: dict[str, str], **more: list[str]) -> dict[str, object]:
    return {"run_id": "r", "readiness": readiness, "errors": [], "leaks": [], **more}


def test_the_gate_passes_only_when_every_environment_is_rollback_ready() -> None:
    recipe.verdict_gate(
        ENVIRONMENTS, {"audits": [audit({"staging": "ready"}), audit({"production": "ready"})]}
    )


@pytest.mark.parametrize(
    ("rendered", "words"),
    [
        (
            {"audits": [audit({"staging": "ready"}), audit({"production": "not_ready"})]},
            "production: not rollback-ready",
        ),
        ({"audits": [audit({"staging": "ready"})]}, "production: no verdict"),  # its probe task failed
        (None, "staging: no verdict"),  # the render task failed: no XCom
        (
            {"audits": [audit({"staging": "ready", "production": "ready"}, errors=["cell 3 failed"])]},
            "report failed: cell 3 failed",
        ),
        (
            {"audits": [audit({"staging": "ready", "production": "ready"}, leaks=["x.html:3"])]},
            "a secret was written",
        ),
    ],
    ids=["one-not-ready", "probe-failed", "render-failed", "report-failed", "secret-written"],
)
def test_the_gate_fails_on_any_environment_without_a_ready_verdict(rendered: object, words: str) -> None:
    with pytest.raises(RuntimeError, match=words):  # AirflowFailException inside Airflow
        recipe.verdict_gate(ENVIRONMENTS, rendered)  # type: ignore[arg-type]


@pytest.mark.parametrize("store", ["", "sqlite:///data/history.sqlite"], ids=["unset", "sqlite"])
def test_the_mapped_tasks_refuse_a_store_each_worker_would_keep_alone(store: str) -> None:
    with pytest.raises(RuntimeError, match="WORKBENCH_STORE to a PostgreSQL URL"):
        recipe.check_shared_store({"WORKBENCH_STORE": store} if store else {})
    recipe.check_shared_store({"WORKBENCH_STORE": "postgresql://audit@db/workbench"})


def test_each_command_runs_in_a_folder_of_its_own_removed_after_it(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / ".venv" / "bin").mkdir(parents=True)
    fake = project / ".venv" / "bin" / "workbench"  # prints where it ran and what it was given
    fake.write_text(
        '#!/bin/sh\necho "$PWD"; echo "$TMPDIR"; echo "$JUPYTER_RUNTIME_DIR"; echo "$IPYTHONDIR"; '
        'echo "$@"; touch left-behind\n'
    )
    fake.chmod(0o755)
    done = recipe.run_in_scratch(
        project, ["probe", "--env", "staging"], timeout_s=30, environ=dict(os.environ)
    )
    cwd, tmpdir, runtime, ipython, args = done.stdout.splitlines()
    assert Path(cwd).name.startswith("workbench-task-") and tmpdir == cwd
    assert runtime.startswith(cwd) and ipython.startswith(cwd)
    assert args == f"probe --env staging --project-dir {project}"
    assert not Path(cwd).exists()  # removed, with what the command left there
    assert sorted(path.name for path in project.rglob("*")) == [".venv", "bin", "workbench"]
