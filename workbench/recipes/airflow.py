"""The Airflow recipe's logic: three DAGs that run the audit's stages through the project's own
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

`contract_audit_workers`: environments -> probe (mapped: one task per environment) -> render -> gate
    For several workers that share no disk. Each mapped `probe` runs `workbench probe --env NAME`
    and stores its run in the shared store ($WORKBENCH_STORE: PostgreSQL), where the tasks meet;
    `render` runs `workbench reports render --run ID...`: readiness judged, every report written
    into `[workbench] reports` (an `s3://bucket/prefix`) with the index; `gate` fails the run
    unless every environment is rollback-ready (the verdict, not the probe's exit code). Each task
    runs the project's `workbench` command in a temporary folder of its own, removed after it.

Airflow is imported only inside `build_dags`; everything else is plain Python that the tests
import without Airflow. Nothing here imports SQLAlchemy, pydantic or pandas (see `recipes`).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from workbench.core import clock
from workbench.core.locations import STORE_ENV_VAR, absolute_store_url, find_config, locate, store_backend
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


# -- contract_audit_workers: mapped probing over a shared store, reports in object storage -----------


def run_in_scratch(
    project: Path, args: Sequence[str], *, timeout_s: int, environ: Mapping[str, str] = os.environ
) -> subprocess.CompletedProcess[str]:
    """The project's `workbench ARGS --project-dir PROJECT` from a temporary folder of its own (the
    task's: its working folder, temporary files, Jupyter runtime and IPython folders), removed
    afterwards, so a task leaves nothing on the worker: its results go to the store, its reports
    to the bucket. Its stderr (progress, one line per result, never a key) goes to the task log."""
    with tempfile.TemporaryDirectory(prefix="workbench-task-") as scratch:
        env = {
            **environ,
            **kernel_environment(project, environ),
            "TMPDIR": scratch,
            "JUPYTER_RUNTIME_DIR": str(Path(scratch, "jupyter-runtime")),
            "IPYTHONDIR": str(Path(scratch, "ipython")),
            "MPLCONFIGDIR": str(Path(scratch, "matplotlib")),
        }
        done = subprocess.run(
            [str(workbench_executable(project)), *args, "--project-dir", str(project)],
            cwd=scratch,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout_s,
        )
    sys.stderr.write(done.stderr)
    return done


def _last_line(done: subprocess.CompletedProcess[str]) -> str:
    return (done.stderr.strip().splitlines() or ["no output"])[-1]


def check_shared_store(environ: Mapping[str, str] = os.environ) -> None:
    """Mapped tasks meet in the store: on several workers it must be a server, not a worker's file."""
    url = environ.get(STORE_ENV_VAR, "")
    if store_backend(url) != "postgresql":
        raise RuntimeError(
            f"the mapped probe tasks meet in a shared store: set {STORE_ENV_VAR} to a PostgreSQL URL in the "
            "workers' environment (each worker's own SQLite file would split the run)"
        )


def environments_task(project: str | Path, environments: Sequence[str] = ()) -> list[dict[str, str]]:
    """The `environments` task: the names to probe (the DAG parameter, else every configured one),
    checked by the workbench (`probe --dry-run`, which sends nothing); one entry per mapped probe."""
    project = Path(project)
    check_shared_store()
    selected = [part for name in environments for part in ("--env", name)]
    done = run_in_scratch(project, ["probe", "--dry-run", "--format", "json", *selected], timeout_s=5 * 60)
    if done.returncode != 0:
        raise RuntimeError(f"cannot list the environments (exit {done.returncode}): {_last_line(done)}")
    names = [plan["env"] for plan in json.loads(done.stdout)]
    return [{"project": str(project), "environment": name} for name in names]


def probe_environment_task(project: str | Path, environment: str) -> dict[str, Any]:
    """One mapped `probe` task: `workbench probe --env NAME`, its run stored in the shared store.

    Returns {"environment", "run_id", "exit_code"} (no secret). Exit 1 is a finding the reports
    show; it raises only when nothing could run (exit 2)."""
    done = run_in_scratch(
        Path(project), ["probe", "--format", "json", "--env", environment], timeout_s=30 * 60
    )
    if done.returncode not in (0, 1):
        raise RuntimeError(
            f"`workbench probe --env {environment}` could not run (exit {done.returncode}): "
            f"{_last_line(done)}"
        )
    run_ids = sorted({record["run_id"] for record in json.loads(done.stdout)})
    if len(run_ids) != 1:
        raise RuntimeError(f"`workbench probe` printed {len(run_ids)} run ids, expected one")
    return {"environment": environment, "run_id": run_ids[0], "exit_code": done.returncode}


def render_task(project: str | Path, probes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The `render` task: readiness judged and every report of each probed run written, with the
    index, where `[workbench] reports` says (`workbench reports render`). Returns what it printed
    as JSON: {"audits": [{"run_id", "verdicts", "readiness", "reports", ...}], "index", "exit_code"}.
    Exit 1 (an environment not rollback-ready) is the gate's to judge; exit 2 raises."""
    runs = [part for probe in probes for part in ("--run", str(probe["run_id"]))]
    if not runs:
        raise RuntimeError("no probe task stored a run: nothing to render")
    done = run_in_scratch(Path(project), ["reports", "render", "--format", "json", *runs], timeout_s=30 * 60)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"`workbench reports render` failed (exit {done.returncode}): {_last_line(done)}")
    rendered: dict[str, Any] = json.loads(done.stdout)
    for audit in rendered["audits"]:
        for location in audit["reports"]:
            sys.stderr.write(f"report: {location}\n")
    sys.stderr.write(f"index:  {rendered['index']}\n")
    return rendered


def verdict_gate(environments: Sequence[Mapping[str, str]], rendered: Mapping[str, Any] | None) -> None:
    """The `gate` task: fail the DAG run unless every environment asked for is rollback-ready in
    the rendered audits (readiness, the verdict, never the probe's exit code alone)."""
    wanted = [entry["environment"] for entry in environments]
    readiness: dict[str, str] = {}
    problems = []
    for audit in (rendered or {}).get("audits", []):
        readiness.update(audit.get("readiness", {}))
        problems += [f"report failed: {error}" for error in audit.get("errors", [])]
        problems += [f"a secret was written: {leak}" for leak in audit.get("leaks", [])]
    for name in wanted:
        state = readiness.get(name)
        if state is None:
            problems.append(f"{name}: no verdict (its probe or the render task did not finish)")
        elif state != "ready":
            problems.append(f"{name}: not rollback-ready (the report names each step and its action)")
    if problems:
        _fail("; ".join(problems))


def _fail(message: str) -> None:
    try:  # fails the task without retries
        from airflow.sdk.exceptions import AirflowFailException
    except ImportError:  # outside Airflow (tests, a plain script)
        raise RuntimeError(message) from None
    raise AirflowFailException(message)


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


def build_dags(project: Path, doc: str = __doc__ or "") -> tuple[Any, Any, Any]:
    """The three DAGs of project folder `project` (imports Airflow 3: call it only where it is installed)."""
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
    with DAG(
        dag_id="contract_audit_workers",
        description="probe each environment (mapped), render into object storage, gate on readiness",
        render_template_as_native_obj=True,
        doc_md=doc,
        **common,
    ) as workers_dag:
        listed = PythonOperator(
            task_id="environments",
            python_callable=environments_task,
            op_kwargs={"project": str(project), "environments": "{{ params.environments }}"},
        )
        probed = PythonOperator.partial(task_id=PROBE_TASK, python_callable=probe_environment_task).expand(
            op_kwargs=listed.output
        )
        rendered = PythonOperator(
            task_id="render",
            python_callable=render_task,
            op_kwargs={"project": str(project), "probes": probed.output},
            trigger_rule="all_done",  # the environments that could be probed still get their reports
        )
        gate_task = PythonOperator(
            task_id="gate",
            python_callable=verdict_gate,
            op_kwargs={"environments": listed.output, "rendered": rendered.output},
            trigger_rule="all_done",  # a failed probe or render is a failed gate, never a skipped one
        )
        listed >> probed >> rendered >> gate_task
    return papermill_dag, cli_dag, workers_dag
