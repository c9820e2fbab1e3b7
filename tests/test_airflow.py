"""data/schedules/airflow_dag.py under real Apache Airflow 3 (its own virtualenv, SQLite metadata).

`.ci/run` installs Airflow from `.ci/airflow-requirements.txt` into a separate virtualenv and names
its `bin/` in WORKBENCH_AIRFLOW_BIN; without it these tests skip, unless WORKBENCH_REQUIRE_AIRFLOW=1
(CI), where they fail. One AIRFLOW_HOME per module, in a temporary folder, with the DAG file in its
dags folder and a temporary project (the repository's data/ without a history, plus an environment
whose key variable holds a canary) as WORKBENCH_PROJECT.

What real Airflow does, observed with apache-airflow 3.3.2 and apache-airflow-providers-papermill
3.13.3 (2026-12-02, 2 cores) by running the commands below by hand in such an AIRFLOW_HOME, and so
what the tests assert:

- `airflow db migrate` creates AIRFLOW_HOME/airflow.cfg and airflow.db (~10 s).
- `airflow dags list-import-errors` and `airflow dags list` read the metadata database, which the
  DAG processor fills: in a fresh home both print `[]`, and after `airflow dags reserialize` a
  file that fails to import is still not listed. So the loader is checked with Airflow's own
  `DagBag` (airflow.dag_processing.dagbag, what the DAG processor uses): its `import_errors` and
  its DAGs. Its safe mode skips files that do not mention both "airflow" and "dag", so the control
  (a broken DAG file, which must be reported) mentions both.
- A cron schedule becomes a `CronTriggerTimetable` (Airflow 3's default: no data interval).
- `airflow dags test DAG_ID -c JSON` runs one DAG run in-process, without executor or API server
  (~45-55 s here for either DAG); the JSON conf overrides the DAG params. It exits 0 when the run
  succeeded and 1 ("DagRun failed") when a task failed. `--use-executor` needs the API server
  (the LocalExecutor's task supervisor called the execution API on localhost:8080:
  ConnectError), so it is not used.
- In-process, the task logs are the command's output (Airflow's structlog lines, the probe's
  progress lines, papermill's "Executing notebook with kernel: contract-workbench", the
  BashOperator's command output); nothing is written under AIRFLOW_HOME/logs (with an executor
  they would be logs/dag_id=.../run_id=.../task_id=.../attempt=1.log). Both are searched.
- Task states: `airflow tasks states-for-dag-run DAG_ID RUN_ID -o json` (~11 s), the same as the
  metadata database's `task_instance` table. Airflow's run id is in the `dag_run` table.
- XComs: the `xcom` table, one JSON `value` per task (`return_value`): the probe's dict, the
  PapermillOperator's `NoteBook` (its url, with empty parameters), the HTML's path. Rendered
  template fields (the notebook parameters) are kept in `rendered_task_instance_fields`. The
  whole database is searched for the canary.
- The papermill task runs the notebook on the `contract-workbench` kernel that `make install`
  registered in the project's .venv (found through JUPYTER_PATH, which the DAG sets): Airflow's
  virtualenv has neither altair nor vl-convert, so a chart rendered as a static SVG in the
  report proves the kernel was the project's Python.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat
import pytest
import sqlalchemy as sa

from tests.canary import canary_key
from tests.paths import REPO

pytest_plugins = ("tests.pg",)

pytestmark = [pytest.mark.slow, pytest.mark.third_party, pytest.mark.timeout(900)]

BIN_ENV = "WORKBENCH_AIRFLOW_BIN"
REQUIRE_ENV = "WORKBENCH_REQUIRE_AIRFLOW"
DAG_FILE = REPO / "data" / "schedules" / "airflow_dag.py"
VENV = Path(sys.executable).parent.parent
KEY_VARIABLE = "COMETAPI_STAGING_KEY"
PROJECT_NAME = "airflow-team"  # whose evidence the project's runs are (`[workbench] project`)
KEY = canary_key("airflow")
PAPERMILL_TASKS = ["probe", "contract_audit_notebook", "contract_audit_html", "gate"]
# What the process environment must not bring in (the conftest clears these per test; the Airflow
# home is built once per module).
_OUTSIDE = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
_OUTSIDE += ("OPENAI_API_KEY", "OPENAI_BASE_URL", "COMETAPI_API_KEY", "WORKBENCH_CONFIG", "WORKBENCH_STORE")

# Run by Airflow's Python: what Airflow's own loader makes of a dags folder, as a JSON file (Airflow
# logs to stdout).
DAGBAG_SCRIPT = """
import json, sys
from airflow.dag_processing.dagbag import DagBag

bag = DagBag(dag_folder=sys.argv[1])
dags = {}
for dag_id, dag in bag.dags.items():
    dags[dag_id] = {
        "fileloc": dag.fileloc,
        "schedule": dag.schedule,
        "timetable": type(dag.timetable).__name__,
        "catchup": dag.catchup,
        "max_active_runs": dag.max_active_runs,
        "params": {name: dag.params.get_param(name).dump() for name in dag.params},
        "tasks": {
            task.task_id: {
                "classes": [cls.__name__ for cls in type(task).__mro__],
                "upstream": sorted(task.upstream_task_ids),
            }
            for task in dag.tasks
        },
    }
with open(sys.argv[2], "w") as out:
    json.dump({"import_errors": bag.import_errors, "dags": dags}, out, default=str)
"""


def airflow_bin() -> Path:
    """Airflow's bin/ folder, or a skip (a failure where CI requires it)."""
    named = os.environ.get(BIN_ENV, "")
    if named and (Path(named) / "airflow").is_file():
        return Path(named)
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(
            f"Airflow is required here ({REQUIRE_ENV}=1) but {BIN_ENV} names no bin/airflow: {named!r}"
        )
    pytest.skip(f"{BIN_ENV} is not set (.ci/run installs Airflow from .ci/airflow-requirements.txt)")


@dataclass(frozen=True)
class Airflow:
    bin: Path
    home: Path
    project: Path
    env: dict[str, str]

    def run(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / "airflow"), *args],
            env={**self.env, **(env or {})},
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def query(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.home / "airflow.db") as db:
            return db.execute(sql, args).fetchall()


@dataclass(frozen=True)
class DagRun:
    done: subprocess.CompletedProcess[str]
    run_id: str
    states: dict[str, str]
    xcoms: dict[str, Any]
    new_files: list[Path]

    @property
    def output(self) -> str:
        return self.done.stdout + self.done.stderr


def make_project(path: Path) -> Path:
    """The project as the DAG expects it: data/, notebooks/, workbench/ (imported by the DAG file
    when Airflow's Python lacks it) and .venv/ (the installed workbench and its kernel)."""
    path.mkdir(parents=True)
    shutil.copytree(REPO / "data", path / "data", ignore=shutil.ignore_patterns("*.sqlite*"))
    for name in ("notebooks", "workbench"):
        (path / name).symlink_to(REPO / name, target_is_directory=True)
    (path / ".venv").symlink_to(VENV, target_is_directory=True)
    config = path / "data" / "environments.toml"
    config.write_text(  # a project name: required on the shared PostgreSQL store (issue 20)
        f'[workbench]\nproject = "{PROJECT_NAME}"\n\n{config.read_text()}'
        f'\n[environments.keyed]\nbase_url = "embedded"\napi_key_env = "{KEY_VARIABLE}"\n'
    )
    return path


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Airflow:
    bin_dir = airflow_bin()
    base = tmp_path_factory.mktemp("airflow")
    home = base / "airflow-home"
    (home / "dags").mkdir(parents=True)
    shutil.copy(DAG_FILE, home / "dags" / "airflow_dag.py")
    project = make_project(base / "project")
    env = {name: value for name, value in os.environ.items() if name not in _OUTSIDE}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        WORKBENCH_PROJECT=str(project),
        XDG_CACHE_HOME=os.environ["XDG_CACHE_HOME"],  # the vega bundle, built once per test session
    )
    env[KEY_VARIABLE] = KEY  # the worker's environment holds the key
    flow = Airflow(bin_dir, home, project, env)
    migrated = flow.run("db", "migrate")
    assert migrated.returncode == 0, migrated.stdout[-3000:] + migrated.stderr[-3000:]
    return flow


def project_files(project: Path) -> set[Path]:
    return {path for path in (project / "reports").rglob("*") if path.is_file()}


def dag_test(
    flow: Airflow, dag_id: str, environments: list[str], env: dict[str, str] | None = None
) -> DagRun:
    """`airflow dags test DAG_ID -c '{"environments": [...]}'`, then what Airflow recorded."""
    before = project_files(flow.project)
    done = flow.run("dags", "test", dag_id, "-c", json.dumps({"environments": environments}), env=env)
    (run_id,) = flow.query("SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", dag_id)[0]
    states = dict(
        flow.query("SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ?", dag_id, run_id)
    )
    xcoms = {
        task: json.loads(value)
        for task, value in flow.query(
            "SELECT task_id, value FROM xcom WHERE dag_id = ? AND run_id = ? AND key = 'return_value'",
            dag_id,
            run_id,
        )
    }
    return DagRun(done, run_id, states, xcoms, sorted(project_files(flow.project) - before))


@pytest.fixture(scope="module")
def papermill_ready(airflow: Airflow) -> DagRun:
    return dag_test(airflow, "contract_audit_papermill", ["reference", "keyed"])


@pytest.fixture(scope="module")
def papermill_drifted(airflow: Airflow) -> DagRun:
    return dag_test(airflow, "contract_audit_papermill", ["reference-drifted"])


@pytest.fixture(scope="module")
def cli_ready(airflow: Airflow) -> DagRun:
    return dag_test(airflow, "contract_audit_cli", ["reference"])


@pytest.fixture(scope="module")
def cli_drifted(airflow: Airflow) -> DagRun:
    return dag_test(airflow, "contract_audit_cli", ["reference-drifted", "keyed"])


def dagbag(flow: Airflow, folder: Path, result: Path) -> dict[str, Any]:
    done = subprocess.run(
        [str(flow.bin / "python"), "-c", DAGBAG_SCRIPT, str(folder), str(result)],
        env=flow.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    loaded: dict[str, Any] = json.loads(result.read_text())
    return loaded


def today_folder(project: Path) -> Path:
    return project / "reports" / f"{datetime.now(UTC):%Y-%m-%d}"


def chart_errors(notebook: nbformat.NotebookNode) -> list[Any]:
    return [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]


# --- the loader ------------------------------------------------------------------------------------


def test_airflow_loads_both_dags_as_the_readme_describes(airflow: Airflow, tmp_path: Path) -> None:
    loaded = dagbag(airflow, airflow.home / "dags", tmp_path / "dags.json")
    assert loaded["import_errors"] == {}
    assert set(loaded["dags"]) == {"contract_audit_papermill", "contract_audit_cli", "contract_audit_workers"}
    for dag in loaded["dags"].values():
        assert dag["fileloc"] == str(airflow.home / "dags" / "airflow_dag.py")
        assert dag["schedule"] == "17 6 * * *" and dag["timetable"] == "CronTriggerTimetable"
        assert dag["catchup"] is False and dag["max_active_runs"] == 1
        environments = dag["params"]["environments"]
        assert environments["value"] == [] and environments["schema"]["type"] == "array"
    papermill = loaded["dags"]["contract_audit_papermill"]["tasks"]
    assert list(papermill) == PAPERMILL_TASKS
    for upstream, task in itertools.pairwise(PAPERMILL_TASKS):
        assert papermill[task]["upstream"] == [upstream]
    assert "PapermillOperator" in papermill["contract_audit_notebook"]["classes"]
    assert papermill["probe"]["classes"][0] == "PythonOperator"
    workers = loaded["dags"]["contract_audit_workers"]["tasks"]
    assert {task: sorted(spec["upstream"]) for task, spec in workers.items()} == {
        "environments": [],
        "probe": ["environments"],
        "render": ["probe"],
        "gate": ["environments", "render"],
    }
    assert (
        workers["probe"]["classes"][0] == "MappedOperator"
    )  # one task per environment (tests/test_airflow_workers.py)
    cli = loaded["dags"]["contract_audit_cli"]["tasks"]
    assert list(cli) == ["workbench_audit"] and cli["workbench_audit"]["classes"][0] == "BashOperator"

    # The control: the same loader reports a DAG file that cannot be imported.
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "broken_dag.py").write_text(
        "from airflow.sdk import DAG\nimport no_such_module_here\n"
    )
    broken = dagbag(airflow, tmp_path / "broken", tmp_path / "broken.json")
    assert list(broken["import_errors"]) == [str(tmp_path / "broken" / "broken_dag.py")]
    assert "no_such_module_here" in next(iter(broken["import_errors"].values()))


# --- the papermill DAG -----------------------------------------------------------------------------


def test_papermill_dag_writes_the_report_and_its_html_and_the_gate_passes(
    airflow: Airflow, papermill_ready: DagRun
) -> None:
    run = papermill_ready
    assert run.done.returncode == 0, run.output[-4000:]
    assert run.states == dict.fromkeys(PAPERMILL_TASKS, "success")
    probed = run.xcoms["probe"]
    assert probed["exit_code"] == 0
    assert probed["parameters"]["environments"] == ["reference", "keyed"]  # the DAG parameter
    notebook_path = Path(probed["output_nb"])
    html_path = notebook_path.with_suffix(".html")
    assert notebook_path.parent == today_folder(airflow.project)
    # the report's name is claimed as `workbench audit` claims one, and the html task lists it in the index
    manifest = notebook_path.with_name(notebook_path.name.replace("-contract_audit.ipynb", "-audit.json"))
    index = airflow.project / "reports" / "index.html"
    assert set(run.new_files) - {index} == {notebook_path, html_path, manifest}
    assert json.loads(manifest.read_text())["status"] == "complete"
    assert html_path.name in index.read_text()
    assert run.xcoms["contract_audit_html"] == str(html_path)
    assert run.xcoms["contract_audit_notebook"]["__data__"]["url"] == str(notebook_path)

    notebook = nbformat.read(notebook_path, as_version=4)
    assert notebook.metadata["papermill"]["parameters"] == probed["parameters"]
    assert not chart_errors(notebook)
    assert "**reference**: CONTRACT PASSES" in notebook_path.read_text()  # readiness is not judged here
    html = html_path.read_text()
    # A static SVG chart: rendered by vl-convert, which only the project's kernel has.
    assert 'class="wb-chart-static"' in html and "data:image/svg+xml;base64," in html
    assert "<script src=" not in html  # nothing loaded from elsewhere (a CDN)

    import workbench as wb

    runs = wb.History(
        probed["parameters"]["store_url"], config_path=probed["parameters"]["config_path"]
    ).runs()
    (stored,) = runs[runs["run_id"] == probed["run_id"]].to_dict("records")
    assert (stored["command"], stored["status"], stored["environments"]) == (
        "probe",
        "complete",
        "reference, keyed",
    )


def test_papermill_dag_gate_fails_for_the_drifted_environment_after_the_report(
    airflow: Airflow, papermill_drifted: DagRun
) -> None:
    run = papermill_drifted
    assert run.done.returncode == 1 and "DagRun failed" in run.output
    assert "an environment is not ready (probe exit 1)" in run.output  # the gate's message
    # What an operator sees, through Airflow's own command.
    shown = airflow.run("tasks", "states-for-dag-run", "contract_audit_papermill", run.run_id, "-o", "json")
    assert shown.returncode == 0, shown.stderr[-3000:]
    states = {row["task_id"]: row["state"] for row in json.loads(shown.stdout)}
    assert (
        states
        == run.states
        == {
            "probe": "success",  # exit 1 is a finding the report shows, not a failed probe
            "contract_audit_notebook": "success",
            "contract_audit_html": "success",
            "gate": "failed",
        }
    )
    notebook_path = Path(run.xcoms["probe"]["output_nb"])
    manifest = notebook_path.with_name(notebook_path.name.replace("-contract_audit.ipynb", "-audit.json"))
    assert set(run.new_files) - {airflow.project / "reports" / "index.html"} == {
        notebook_path,
        notebook_path.with_suffix(".html"),
        manifest,
    }
    assert "**reference-drifted**: NOT READY: contract probes" in notebook_path.read_text()


# --- the CLI DAG -----------------------------------------------------------------------------------


def test_cli_dag_audits_the_environments_given_and_its_exit_code_gates(
    airflow: Airflow, cli_ready: DagRun, cli_drifted: DagRun
) -> None:
    assert cli_ready.done.returncode == 0, cli_ready.output[-4000:]
    assert cli_ready.states == {"workbench_audit": "success"}
    assert "audit --env reference --junit reports/junit.xml" in cli_ready.output
    assert cli_drifted.done.returncode == 1 and cli_drifted.states == {"workbench_audit": "failed"}
    assert "audit --env reference-drifted --env keyed --junit" in cli_drifted.output
    assert "Command exited with return code 1" in cli_drifted.output
    for run in (cli_ready, cli_drifted):
        written = {path.name.split("-", 1)[-1] for path in run.new_files if path.parent.name != "reports"}
        assert {"contract_audit.html", "rollback_readiness.html", "audit.json"} <= written
    assert (airflow.project / "reports" / "index.html").is_file()
    assert (airflow.project / "reports" / "junit.xml").is_file()


# --- no key anywhere Airflow keeps things ----------------------------------------------------------


def test_no_key_in_task_logs_xcoms_or_the_metadata_database(
    airflow: Airflow, papermill_ready: DagRun, cli_drifted: DagRun, papermill_drifted: DagRun
) -> None:
    # The key was in the worker's environment and used: the keyed environment's malformed-JSON probe
    # (sent with the key, answered with a validation error) passed in both runs. Progress lines print
    # only failures (issue 22), so the store says it.
    import workbench as wb

    history = wb.History(  # the project's own name (make_project sets it), whose rows these are
        f"sqlite:///{airflow.project / 'data' / 'history.sqlite'}",
        config_path=str(airflow.project / "data" / "environments.toml"),
    )
    keyed = history.results(env="keyed", probe="errors.malformed_json")
    assert len(keyed) >= 2 and set(keyed["outcome"]) == {"pass"}
    for run in (papermill_ready, cli_drifted, papermill_drifted):
        assert KEY not in run.output  # the task logs (in-process: the command's output)
    # XComs hold what they should (the probe's run id), and no key.
    assert papermill_ready.xcoms["probe"]["run_id"] in json.dumps(papermill_ready.xcoms)
    assert KEY not in json.dumps(papermill_ready.xcoms)
    # Every row of every table of the metadata database (XComs, rendered fields, run conf, logs).
    with sqlite3.connect(airflow.home / "airflow.db") as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        rows = [row for table in tables for row in db.execute(f'SELECT * FROM "{table}"')]
    text = "\n".join(map(repr, rows))
    assert "contract_audit_papermill" in text and papermill_ready.run_id in text
    assert KEY not in text
    # Every file Airflow and the project wrote: AIRFLOW_HOME (logs/, the database), reports, history.
    for folder in (airflow.home, airflow.project / "reports", airflow.project / "data"):
        for path in folder.rglob("*"):
            if path.is_file():
                assert KEY.encode() not in path.read_bytes(), path


# --- a team: the shared PostgreSQL store ------------------------------------------------------------


@pytest.mark.postgres
def test_papermill_dag_on_a_shared_postgresql_store_keeps_its_password_out(
    airflow: Airflow, postgres_database: sa.URL
) -> None:
    """The last step of the README's path from cron to Airflow: WORKBENCH_STORE in the workers'
    environment names the team's PostgreSQL store, with its password."""
    url = postgres_database.render_as_string(hide_password=False)
    assert postgres_database.password and f":{postgres_database.password}@" in url
    userinfo = f"{postgres_database.username}:{postgres_database.password}@"
    run = dag_test(airflow, "contract_audit_papermill", ["reference"], env={"WORKBENCH_STORE": url})
    assert run.done.returncode == 0, run.output[-4000:]
    assert run.states == dict.fromkeys(PAPERMILL_TASKS, "success")
    probed = run.xcoms["probe"]
    assert probed["parameters"]["store_url"] == ""  # the kernel read WORKBENCH_STORE instead ...
    notebook_path = Path(probed["output_nb"])
    notebook = nbformat.read(notebook_path, as_version=4)
    assert not chart_errors(notebook)
    assert "**reference**: CONTRACT PASSES" in notebook_path.read_text()  # ... and found the run there

    import workbench as wb

    config = str(airflow.project / "data" / "environments.toml")
    runs = wb.History(url, config_path=config).runs()  # in the team's store, not the project's SQLite file
    assert probed["run_id"] in set(runs["run_id"])
    sqlite_runs = wb.History(
        f"sqlite:///{airflow.project / 'data' / 'history.sqlite'}", config_path=config
    ).runs()
    assert probed["run_id"] not in set(sqlite_runs["run_id"])
    # The password is in no task log, XCom, rendered field, report or notebook parameter.
    assert userinfo not in run.output and userinfo not in json.dumps(run.xcoms)
    with sqlite3.connect(airflow.home / "airflow.db") as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        rows = [row for table in tables for row in db.execute(f'SELECT * FROM "{table}"')]
    assert userinfo not in "\n".join(map(repr, rows))
    for path in (notebook_path, notebook_path.with_suffix(".html")):
        assert userinfo not in path.read_text(), path
