"""The Airflow recipe's logic: two DAGs that run the audit's stages through the project's own
`workbench` command, for the DAG file a scheduler parses (data/schedules/airflow_dag.py).

`contract_audit_papermill`: probe -> contract_audit_notebook -> contract_audit_html -> gate
    1. `probe` runs `workbench probe --format json` (the probe stage): the probes run and are
       stored; the run id is read from the records. The task fails only when nothing could run
       (exit 2); a contract failure (exit 1) is a finding the report must show. It claims the
       report's name as `workbench audit` does (`reportnames.reserve_stem`).
    2. `contract_audit_notebook` is the papermill provider's `PapermillOperator`: it executes
       the project's contract_audit notebook on the project kernel with the parameters
       `workbench audit` passes (`reportnames.parameter_values`), none of them a secret.
    3. `contract_audit_html` runs `workbench reports html` (render and index stages): the offline
       HTML beside it, the report recorded in its manifest and reports/index.html rebuilt.
    4. `gate` fails the run when the probe's exit code was not 0, after the report is written.

`contract_audit_cli`: `workbench audit` in a BashOperator, the simpler alternative (all four
stages and reports in one task; exit 1 or 2 fails it).

Airflow is imported only inside `build_dags`; everything else is plain Python that the tests
import without Airflow. Nothing here imports SQLAlchemy, pydantic or pandas (see `recipes`).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from workbench.core import clock
from workbench.core.locations import absolute_store_url, find_config, locate
from workbench.core.locations import store_url as default_store_url
from workbench.render import reportnames

SCHEDULE = "17 6 * * *"  # daily at 06:17 UTC
KERNEL = "contract-workbench"  # registered by `workbench kernel` in the project's .venv
PROBE_TASK = "probe"
NOTEBOOK = reportnames.CONTRACT_AUDIT
# The parameters contract_audit.ipynb declares, all of which `workbench audit` passes.
PARAMETERS = reportnames.declared_parameters(NOTEBOOK)


def workbench_executable(project: Path) -> Path:
    """The project's own `workbench`: `.venv/bin/workbench` in the project folder."""
    return project / ".venv" / "bin" / "workbench"


def config_path(project: Path, environ: Mapping[str, str] = os.environ) -> str:
    """The config the probe reads, absolute (`locations.find_config` in the project folder); "" for
    the built-in default."""
    found = find_config(None, project_dir=project, environ=environ)
    return str((project / found).resolve()) if found is not None else ""


def store_url(project: Path, environ: Mapping[str, str] = os.environ) -> str:
    """The history store the probe writes and the notebook reads: $WORKBENCH_STORE, else the
    project's; a relative SQLite path taken in the project (the kernel's folder is not the project's)."""
    return absolute_store_url(default_store_url(None, project=project, environ=environ), base=project)


def notebook_parameters(
    run_id: str, *, environments: Sequence[str], config_path: str, store_url: str
) -> dict[str, Any]:
    """The parameters `workbench audit` passes to contract_audit.ipynb, none of them a secret."""
    values = reportnames.parameter_values(
        run_id=run_id, environments=environments, config_path=config_path, store_url=store_url
    )
    return reportnames.parameters_for(NOTEBOOK, values)


def probe_command(project: Path, environments: Sequence[str] = (), config: str = "") -> list[str]:
    """`workbench probe --format json` for these environments (the store comes from the environment)."""
    command = [str(workbench_executable(project)), "probe", "--format", "json", "--project-dir", str(project)]
    if config:
        command += ["--config", config]
    for name in environments:
        command += ["--env", name]
    return command


def report_path(project: Path, run_id: str, now: datetime | None = None) -> Path:
    """reports/YYYY-MM-DD/HHMMSS-contract_audit.ipynb (UTC), claimed as `workbench audit` claims a name."""
    now = now or clock.now()
    day = reportnames.day_folder(locate(project_dir=project).reports, now)
    stem, _manifest = reportnames.reserve_stem(
        day, reportnames.time_stem(now), run_id=run_id, pid=None, scheduler="airflow"
    )
    return reportnames.report_notebook(day, stem, NOTEBOOK)


def probe_task(
    project: str | Path, environments: Sequence[str] = (), now: datetime | None = None
) -> dict[str, Any]:
    """The `probe` task: run the probes, return what the next tasks need (pushed to XCom, no secret).

    Returns {"run_id", "exit_code", "parameters", "output_nb"}. Raises when the probe could not run.
    """
    project = Path(project)
    config = config_path(project)
    done = subprocess.run(
        probe_command(project, environments, config),
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        timeout=30 * 60,
    )
    sys.stderr.write(done.stderr)  # one progress line per result, into the task log
    if done.returncode not in (0, 1):
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"`workbench probe` could not run (exit {done.returncode}): {last}")
    records = json.loads(done.stdout)
    run_ids = sorted({record["run_id"] for record in records})
    if len(run_ids) != 1:
        raise RuntimeError(f"`workbench probe` printed {len(run_ids)} run ids, expected one")
    names = list(environments) or list(dict.fromkeys(record["env"] for record in records))
    parameters = notebook_parameters(
        run_ids[0], environments=names, config_path=config, store_url=store_url(project)
    )
    return {
        "run_id": run_ids[0],
        "exit_code": done.returncode,
        "parameters": parameters,
        "output_nb": str(report_path(project, run_ids[0], now)),
    }


def gate(exit_code: int | str) -> None:
    """The `gate` task: fail the DAG run unless every environment passed (exit 0)."""
    code = int(exit_code)
    if code == 0:
        return
    message = (
        "an environment is not ready (probe exit 1): the report names each failure and its action"
        if code == 1
        else f"the probe could not run (exit {code})"
    )
    try:  # fails the task without retries
        from airflow.sdk.exceptions import AirflowFailException
    except ImportError:  # outside Airflow (tests, a plain script)
        raise RuntimeError(message) from None
    raise AirflowFailException(message)


def html_command(project: Path, notebook: str) -> list[str]:
    """`workbench reports html NOTEBOOK`: the offline HTML beside the executed notebook, and the index."""
    return [str(workbench_executable(project)), "reports", "html", notebook]


def html_task(project: str | Path, notebook: str) -> str:
    """The `contract_audit_html` task: export the executed report; returns the HTML's path."""
    project = Path(project)
    done = subprocess.run(
        html_command(project, notebook),
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        timeout=10 * 60,
    )
    sys.stderr.write(done.stdout + done.stderr)
    if done.returncode != 0:
        raise RuntimeError(f"`workbench reports html` failed (exit {done.returncode})")
    return str(Path(notebook).with_suffix(".html"))


def kernel_environment(project: Path, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """What the notebook task adds to its environment for papermill's kernel: the report renderer,
    and the project venv's Jupyter folder first on JUPYTER_PATH, so the `contract-workbench`
    kernel registered there is found from Airflow's own Python."""
    jupyter = str(project / ".venv" / "share" / "jupyter")
    path = [jupyter, *(p for p in environ.get("JUPYTER_PATH", "").split(os.pathsep) if p and p != jupyter)]
    return {**reportnames.REPORT_KERNEL_ENV, "JUPYTER_PATH": os.pathsep.join(path)}


def audit_bash_command(project: Path, environments: Sequence[str] = ()) -> str:
    """The `contract_audit_cli` task: `workbench audit` from the project folder; its exit code gates."""
    envs = "".join(f" --env {shlex.quote(name)}" for name in environments)
    return (
        f"cd {shlex.quote(str(project))} && "
        f"{shlex.quote(str(workbench_executable(project)))} audit{envs} --junit reports/junit.xml"
    )


def _xcom(key: str) -> str:
    """A template for one field of the probe task's result (rendered as a native object)."""
    return "{{ ti.xcom_pull(task_ids='" + PROBE_TASK + "')['" + key + "'] }}"


def build_dags(project: Path, doc: str = __doc__ or "") -> tuple[Any, Any]:
    """The two DAGs of project folder `project` (imports Airflow 3: call it only where it is installed)."""
    from airflow.providers.papermill.operators.papermill import PapermillOperator
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.sdk import DAG, Param

    class ReportNotebookOperator(PapermillOperator):  # type: ignore[misc]
        """The provider's operator, run with the kernel environment `workbench audit` uses."""

        def execute(self, context: Any) -> Any:
            # papermill's kernel inherits this process's environment
            with reportnames.environment_set(kernel_environment(project)):
                return super().execute(context)

    common: dict[str, Any] = {
        "schedule": SCHEDULE,
        "start_date": datetime(2026, 1, 1, tzinfo=UTC),
        "catchup": False,
        "max_active_runs": 1,
        "default_args": {"retries": 0, "execution_timeout": timedelta(minutes=45)},
        "tags": ["contract-workbench"],
        "params": {
            "environments": Param(
                [],
                type="array",
                items={"type": "string", "minLength": 1},
                description="Environments to audit (names in the config); empty: every one.",
            )
        },
    }
    with DAG(
        dag_id="contract_audit_papermill",
        description="probe, contract_audit notebook (papermill), offline HTML, gate",
        render_template_as_native_obj=True,  # templates render to lists and dicts, not their text
        doc_md=doc,
        **common,
    ) as papermill_dag:
        probe = PythonOperator(
            task_id=PROBE_TASK,
            python_callable=probe_task,
            op_kwargs={"project": str(project), "environments": "{{ params.environments }}"},
        )
        notebook = ReportNotebookOperator(
            task_id="contract_audit_notebook",
            input_nb=str(locate(project_dir=project).notebooks / f"{NOTEBOOK}.ipynb"),
            output_nb=_xcom("output_nb"),
            parameters=_xcom("parameters"),
            kernel_name=KERNEL,
        )
        html = PythonOperator(
            task_id="contract_audit_html",
            python_callable=html_task,
            op_kwargs={"project": str(project), "notebook": _xcom("output_nb")},
        )
        verdict = PythonOperator(
            task_id="gate", python_callable=gate, op_kwargs={"exit_code": _xcom("exit_code")}
        )
        probe >> notebook >> html >> verdict
    with DAG(
        dag_id="contract_audit_cli",
        description="workbench audit (all reports, HTML and index)",
        doc_md=doc,
        user_defined_macros={"audit_command": lambda names: audit_bash_command(project, names)},
        **common,
    ) as cli_dag:
        BashOperator(task_id="workbench_audit", bash_command="{{ audit_command(params.environments) }}")
    return papermill_dag, cli_dag
