"""`contract_audit_workers` under a real Airflow 3 scheduler: mapped probing over a shared
PostgreSQL store, reports in an S3 bucket, the gate on readiness, the key nowhere.

Airflow's api-server, scheduler and dag-processor run side by side with the LocalExecutor
(parallelism 2) and a PostgreSQL metadata database of their own (not the workbench's store); moto's
server stands in for S3. The DAG is triggered with `airflow dags trigger`, twice (the drifted run
first, then the ready one: `max_active_runs=1` queues the second), and the test waits for both.
Needs WORKBENCH_AIRFLOW_BIN, WORKBENCH_MOTO_BIN and WORKBENCH_TEST_POSTGRES_URL (.ci/run sets all
three and requires them). It takes ~2 minutes of CI on 2 cores (measured: services up and the DAG
parsed 13-16 s, the two runs 86-97 s, stopping 5-9 s; the first start after Airflow's venv is built
adds ~45 s).

What real Airflow 3.3.2 does here, observed by hand (2026-12-07, 2 cores) before these asserts:

- The metadata database on PostgreSQL needs a driver in Airflow's venv: psycopg 3 (in the lock) with
  `postgresql+psycopg://`; Airflow derives its async URL as `postgresql+asyncpg://` unless
  `[database] sql_alchemy_conn_async` says `postgresql+psycopg_async://`.
- The three services started at once answer `GET /api/v2/monitor/health` after ~55 s the first
  time after Airflow's venv is installed (compiling and importing it on the same 2 cores), ~9 s
  after that; `airflow db migrate` takes ~16 s, then ~4 s. A task's supervisor calls the execution API at
  `[core] execution_api_server_url` (default localhost:8080), so it is set to the api-server's port.
- The DAG appears in the `dag` table once the dag-processor has parsed the folder; new DAGs start
  paused: `airflow dags unpause` first. Unpausing a DAG with a daily schedule made the scheduler
  start its latest scheduled run at once (`scheduled__2026-12-06T06:17:00+00:00`, every
  environment), so the test turns the schedule off (`[scheduler] use_job_schedule = False`).
- `airflow serve-logs` (started by the scheduler) listens on port 8793 unless told another one.
- `airflow dags trigger DAG --run-id ID -c JSON` only queues
  the run (~7 s, mostly start-up); the scheduler then starts it.
- A mapped task is one `task_instance` row per `map_index`, each with its own `start_date` and
  `end_date` (when its process really ran): two mapped tasks of a 5 s sleep ran 02:19:28.3-33.5 and
  02:19:32.9-38.1, so start-up alone (a task process imports Airflow: ~4 s of CPU) can keep two
  short tasks from overlapping on 2 cores. The environment `keyed` is given 400 ms of latency per
  request (its probes then take seconds), so the probes are long enough to meet.
- The LocalExecutor's two workers and `airflow serve-logs` are children of the scheduler, all in
  the process group the test starts it in; SIGTERM to each group stops everything in ~7 s.
- Task logs are files under AIRFLOW_HOME/logs/dag_id=.../run_id=.../task_id=.../[map_index=N/]
  attempt=1.log; XComs and rendered fields are rows of `xcom` and `rendered_task_instance_fields`.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from tests.canary import canary_key
from tests.paths import REPO
from tests.test_airflow import airflow_bin, make_project

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from tests.s3server import S3Server

pytest_plugins = ("tests.pg", "tests.s3server")

pytestmark = [pytest.mark.slow, pytest.mark.third_party, pytest.mark.postgres, pytest.mark.timeout(1200)]

DAG_ID = "contract_audit_workers"
DAG_FILE = REPO / "data" / "schedules" / "airflow_dag.py"
KEY_VARIABLE = "COMETAPI_STAGING_KEY"  # the environment `keyed` that make_project adds
KEY = canary_key("workers")
DRIFTED = ["reference", "reference-drifted", "keyed"]
READY = ["reference"]
SERVICES = ("api-server", "scheduler", "dag-processor")


@dataclass
class Scheduler:
    bin: Path
    home: Path
    project: Path
    scratch: Path  # TMPDIR and HOME of every Airflow process: what the tasks might leave behind
    env: dict[str, str]
    metadata: sa.Engine
    bucket: str
    s3: Any
    timings: dict[str, float]
    store_url: str
    services: dict[str, subprocess.Popen[bytes]]

    def stop(self) -> list[str]:
        """SIGTERM to each service's process group (its workers, serve-logs, uvicorn), a wait of up
        to 60 s, then SIGKILL for what is left; returns the services that had to be killed."""
        stopped = time.monotonic()
        for process in self.services.values():
            if group_alive(process.pid):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for process in self.services.values():
                process.poll()  # reaps the leader: a zombie still counts as a member of its group
            if not any(group_alive(p.pid) for p in self.services.values()):
                break
            time.sleep(0.2)
        killed = [name for name, process in self.services.items() if group_alive(process.pid)]
        for name in killed:
            os.killpg(self.services[name].pid, signal.SIGKILL)
        for process in self.services.values():
            process.wait(timeout=30)
        if "services stopped" not in self.timings:
            self.timings["services stopped"] = time.monotonic() - stopped
        return killed

    def airflow(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / "airflow"), *args],
            env=self.env,
            cwd=self.scratch,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.metadata.connect() as connection:
            return list(connection.execute(sa.text(sql), params))

    def objects(self) -> dict[str, int]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        return {item["Key"]: item["Size"] for page in pages for item in page.get("Contents", ())}

    def read(self, key: str) -> bytes:
        body: bytes = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def snapshot(*folders: Path) -> dict[str, tuple[int, int]]:
    """Every file under `folders` (not following links) with its size and modification time."""
    found = {}
    for folder in folders:
        for root, _dirs, names in os.walk(folder):
            for name in names:
                path = Path(root, name)
                stat = path.lstat()
                found[str(path)] = (stat.st_size, stat.st_mtime_ns)
    return found


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def scheduler(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_database: sa.URL,
    new_database: Callable[[str], AbstractContextManager[sa.URL]],
    s3_server: S3Server,
) -> Iterator[Scheduler]:
    bin_dir = airflow_bin()
    import boto3

    from workbench.render.notebooks import vega_bundle_gz

    vega_bundle_gz()  # the chart bundle cache exists before the snapshot: a render only reads it
    base = tmp_path_factory.mktemp("workers")
    home, scratch = base / "airflow-home", base / "worker-scratch"
    (home / "dags").mkdir(parents=True)
    scratch.mkdir()
    (home / "dags" / "airflow_dag.py").write_bytes(DAG_FILE.read_bytes())
    project = make_project(base / "project")
    bucket = f"wb-airflow-{secrets.token_hex(4)}"
    config = project / "data" / "environments.toml"
    config.write_text(  # make_project named the project in [workbench]; the reports go beside it
        config.read_text().replace(
            "[workbench]\n", f'[workbench]\nreports = "s3://{bucket}/contract-audit"\n', 1
        )
        + "latency_ms = 400\n"  # the keyed environment (last): its probes take seconds
    )
    store_url = postgres_database.render_as_string(hide_password=False)
    port = _free_port()
    timings: dict[str, float] = {}
    with new_database("airflow_meta") as meta:
        meta_url = meta.render_as_string(hide_password=False)
        env = {name: value for name, value in os.environ.items() if not name.startswith(("AIRFLOW", "AWS_"))}
        env.update(s3_server.env)
        env.update(
            AIRFLOW_HOME=str(home),
            AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__EXECUTOR="LocalExecutor",
            AIRFLOW__CORE__PARALLELISM="2",
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=meta_url,
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC=meta_url.replace("+psycopg:", "+psycopg_async:"),
            AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
            AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK="False",
            # only the runs the test triggers: no run of the daily schedule when the DAG is unpaused
            AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE="False",
            AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(_free_port()),
            WORKBENCH_PROJECT=str(project),
            WORKBENCH_STORE=store_url,  # the team's shared store, password included
            TMPDIR=str(scratch),
            HOME=str(scratch),
        )
        env[KEY_VARIABLE] = KEY
        s3 = boto3.session.Session().client(
            "s3",
            endpoint_url=s3_server.endpoint,
            aws_access_key_id=s3_server.access_key,
            aws_secret_access_key=s3_server.secret_key,
            region_name="us-east-1",
        )
        s3.create_bucket(Bucket=bucket)
        engine = sa.create_engine(meta, poolclass=NullPool)
        flow = Scheduler(bin_dir, home, project, scratch, env, engine, bucket, s3, timings, store_url, {})
        started = time.monotonic()
        migrated = flow.airflow("db", "migrate")
        assert migrated.returncode == 0, migrated.stdout[-3000:] + migrated.stderr[-3000:]
        timings["db migrate"] = time.monotonic() - started
        started = time.monotonic()
        try:
            for service in SERVICES:  # side by side: each imports Airflow, together ~1 min on 2 cores
                args = [str(bin_dir / "airflow"), service]
                if service == "api-server":
                    args += ["--host", "127.0.0.1", "--port", str(port)]
                log = (base / f"{service}.log").open("wb")
                flow.services[service] = subprocess.Popen(
                    args, env=env, cwd=scratch, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            wait_for(lambda: _healthy(port), 180, "the api-server's health endpoint")
            wait_for(
                lambda: flow.rows("SELECT 1 FROM dag WHERE dag_id = :d", d=DAG_ID), 180, "the parsed DAG"
            )
            timings["services up, DAG parsed"] = time.monotonic() - started
            yield flow
        finally:
            left = flow.stop()
            engine.dispose()
            assert left == [], f"still running after SIGTERM and 60 s: {left}"
            print("airflow workers timings (s):", json.dumps({k: round(v, 1) for k, v in timings.items()}))


def _healthy(port: int) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=5) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def wait_for(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(1)


@dataclass(frozen=True)
class Runs:
    states: dict[str, str]  # run id -> dag run state
    tasks: dict[str, list[Any]]  # run id -> task_instance rows (task_id, map_index, state, start, end)
    before: dict[str, tuple[int, int]]
    after: dict[str, tuple[int, int]]


@pytest.fixture(scope="module")
def runs(scheduler: Scheduler) -> Runs:
    flow = scheduler
    watched = (flow.project, flow.scratch, Path(os.environ["XDG_CACHE_HOME"]))
    before = snapshot(*watched)
    unpaused = flow.airflow("dags", "unpause", DAG_ID)
    assert unpaused.returncode == 0, unpaused.stderr[-3000:]
    started = time.monotonic()
    for run_id, environments in (("workers-drifted", DRIFTED), ("workers-ready", READY)):
        triggered = flow.airflow(
            "dags", "trigger", DAG_ID, "--run-id", run_id, "-c", json.dumps({"environments": environments})
        )
        assert triggered.returncode == 0, triggered.stdout[-3000:] + triggered.stderr[-3000:]
    done = "SELECT run_id, state FROM dag_run WHERE dag_id = :d AND state IN ('success', 'failed')"
    wait_for(lambda: len(flow.rows(done, d=DAG_ID)) >= 2, 900, "both DAG runs to finish")
    flow.timings["two DAG runs, triggered to finished"] = time.monotonic() - started
    states = {run_id: state for run_id, state in flow.rows(done, d=DAG_ID)}
    tasks: dict[str, list[Any]] = {}
    for row in flow.rows(
        "SELECT run_id, task_id, map_index, state, start_date, end_date FROM task_instance "
        "WHERE dag_id = :d ORDER BY start_date",
        d=DAG_ID,
    ):
        tasks.setdefault(row[0], []).append(tuple(row[1:]))
    return Runs(states, tasks, before, snapshot(*watched))


def test_the_mapped_probes_ran_in_parallel_and_the_gate_judges_readiness(
    scheduler: Scheduler, runs: Runs
) -> None:
    assert runs.states == {"workers-drifted": "failed", "workers-ready": "success"}, runs.tasks
    drifted = runs.tasks["workers-drifted"]
    assert {(task, index, state) for task, index, state, _s, _e in drifted} == {
        ("environments", -1, "success"),
        *(("probe", index, "success") for index in range(len(DRIFTED))),  # exit 1 is a finding
        ("render", -1, "success"),
        ("gate", -1, "failed"),  # reference-drifted (and keyed, without fixtures or bundle) not ready
    }
    probes = [(start, end) for task, _i, _s, start, end in drifted if task == "probe"]
    overlapping = [(a, b) for a in probes for b in probes if a < b and b[0] < a[1]]
    assert overlapping, f"no two mapped probes overlapped in time: {probes}"
    spans = [f"{(end - start).total_seconds():.1f} s" for start, end in probes]
    shared = max((min(a[1], b[1]) - b[0]).total_seconds() for a, b in overlapping)
    print(f"mapped probes: {len(probes)} tasks of {', '.join(spans)}; longest overlap {shared:.1f} s")
    ready = runs.tasks["workers-ready"]
    assert {(task, index, state) for task, index, state, _s, _e in ready} == {
        ("environments", -1, "success"),
        ("probe", 0, "success"),
        ("render", -1, "success"),
        ("gate", -1, "success"),
    }
    gate_log = task_log(scheduler, "workers-drifted", "gate")
    assert "reference-drifted: not rollback-ready" in gate_log and "reference: not" not in gate_log


def task_log(flow: Scheduler, run_id: str, task_id: str) -> str:
    logs = sorted(
        (flow.home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}" / f"task_id={task_id}").rglob("*.log")
    )
    assert logs, f"no log for {run_id}/{task_id}"
    return "\n".join(path.read_text(errors="replace") for path in logs)


def test_the_runs_meet_in_the_shared_store_and_the_reports_and_index_are_in_the_bucket(
    scheduler: Scheduler, runs: Runs
) -> None:
    import workbench as wb

    xcoms = {
        (run_id, task, index): json.loads(value) if isinstance(value, str) else value
        for run_id, task, index, value in scheduler.rows(
            "SELECT run_id, task_id, map_index, value FROM xcom WHERE dag_id = :d AND key = 'return_value'",
            d=DAG_ID,
        )
    }
    probed = {
        value["environment"]: value["run_id"]
        for (run_id, task, _i), value in xcoms.items()
        if task == "probe" and run_id == "workers-drifted"
    }
    assert set(probed) == set(DRIFTED)
    stored = wb.History(
        scheduler.store_url, config_path=str(scheduler.project / "data" / "environments.toml")
    ).runs()
    assert set(probed.values()) <= set(stored["run_id"])  # every mapped task's run, in the one store
    keys = scheduler.objects()
    index = scheduler.read("contract-audit/index.html").decode()
    manifests = [key for key in keys if key.endswith("-audit.json")]
    assert len(manifests) == len(DRIFTED) + len(READY)  # one audit per probed run, none lost
    for manifest in manifests:
        record = json.loads(scheduler.read(manifest))
        assert record["status"] == "complete" and record["run_id"] in index
        for report in record["reports"]:
            day = manifest.split("/")[1]
            assert f"contract-audit/{day}/{report['html']}" in keys and f"{day}/{report['html']}" in index
    rendered = xcoms[("workers-ready", "render", -1)]
    assert (
        rendered["exit_code"] == 0
        and rendered["index"] == f"s3://{scheduler.bucket}/contract-audit/index.html"
    )
    assert [audit["readiness"] for audit in rendered["audits"]] == [{"reference": "ready"}]


def test_nothing_is_written_anywhere_but_the_bucket_and_the_store(scheduler: Scheduler, runs: Runs) -> None:
    changed = {
        path for path in set(runs.before) | set(runs.after) if runs.before.get(path) != runs.after.get(path)
    }
    assert changed == set(), sorted(changed)[:20]  # the project, the workers' TMPDIR and HOME, the cache


def test_the_key_is_nowhere(scheduler: Scheduler, runs: Runs) -> None:
    # It was in the workers' environment and used: the keyed environment's malformed-JSON probe (sent
    # with the key, answered with a validation error) passed, in the shared store.
    import workbench as wb

    keyed = wb.History(
        scheduler.store_url, config_path=str(scheduler.project / "data" / "environments.toml")
    ).results(env="keyed", probe="errors.malformed_json")
    assert len(keyed) == 1 and set(keyed["outcome"]) == {"pass"}
    password = sa.make_url(scheduler.store_url).password
    secrets_ = {
        "endpoint key": KEY,
        "bucket secret": scheduler.env["AWS_SECRET_ACCESS_KEY"],
        "store password": f":{password}@",
    }
    # Every row of every table of the metadata database: XComs, rendered fields, run conf, logs.
    tables = [
        name for (name,) in scheduler.rows("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    ]
    text = "\n".join(repr(row) for table in tables for row in scheduler.rows(f'SELECT * FROM "{table}"'))
    assert "workers-drifted" in text and "contract_audit_workers" in text
    # Every file Airflow wrote (task logs, the services' logs) and every object in the bucket.
    files = [path for path in scheduler.home.parent.rglob("*") if path.is_file() and path.suffix == ".log"]
    assert any("task_id=render" in str(path) for path in files)
    objects = {key: scheduler.read(key) for key in scheduler.objects()}
    for what, value in secrets_.items():
        assert value not in text, what
        for path in files:
            assert value.encode() not in path.read_bytes(), (what, path)
        for key, body in objects.items():
            assert value.encode() not in body, (what, key)


def test_every_service_stops_and_is_gone(scheduler: Scheduler, runs: Runs) -> None:
    """Last: every service (each its own process group: its workers, serve-logs) stops on SIGTERM."""
    groups = {name: process.pid for name, process in scheduler.services.items()}
    assert all(group_alive(pgid) for pgid in groups.values())  # they ran the DAG until now
    assert scheduler.stop() == []  # none needed SIGKILL
    assert [name for name, pgid in groups.items() if group_alive(pgid)] == []
    assert all(process.returncode is not None for process in scheduler.services.values())
