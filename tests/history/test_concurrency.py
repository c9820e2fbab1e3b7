"""Processes sharing one store, on SQLite and PostgreSQL: concurrent audits, first opens and appends,
and runs that are killed (SIGKILL) or interrupted (Ctrl-C) halfway."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup

from tests.commands import default_signals
from tests.paths import REPO
from workbench import HistoryStore, run_probes
from workbench.core.config import parse_config
from workbench.history.schema import SCHEMA_VERSION, metadata, schema_table
from workbench.probes.catalog import CATALOG
from workbench.render.reportnames import REPORT_NOTEBOOKS

pytest_plugins = ("tests.pg",)

PROJECT = "team-a"  # whose evidence the stores of these tests hold (`core.projectname`)

ROOT = REPO
NOTEBOOKS = ROOT / "notebooks"
PROCESSES = 4
TWO_ENVS = (
    '[workbench]\nproject = "team-a"\n\n'
    '[environments.conformant]\nbase_url = "embedded"\n\n'
    '[environments.drifted]\nbase_url = "embedded"\nscenario = "missing-usage"\n'
)
SLOW = (
    '[workbench]\nproject = "team-a"\n\n'
    '[environments.slow]\nbase_url = "embedded"\nscenario = "slow"\nlatency_ms = 2000\n'
)
FAST = '[environments.fast]\nbase_url = "embedded"\n'

# The CLI, in a child whose Ctrl-C is restored first (`default_signals`: a child started from a
# shell's background job inherits SIGINT ignored).
CLI = "import sys; from workbench.cli import main; sys.argv[0] = 'workbench'; main()"

# Open (or fill) each store given, all processes at once: a line on stdin is the starting shot.
AT_ONCE = """
import sys
from workbench.core.clock import now_iso
from workbench.probes.engine import new_run_id
from workbench.core.models import ProbeResult
from workbench.history.store import HistoryStore, RunRecord

ROW = {"env": "load", "probe": "endpoint.minimal", "area": "endpoint", "outcome": "pass", "symptom": "none",
       "retryable": False, "http_status": 200, "latency_ms": 12.5, "action": ""}

mode, *urls = sys.argv[1:]
failures = 0
for url in urls:
    print("ready", flush=True)
    sys.stdin.readline()
    try:
        with HistoryStore(url, project_name="team-a") as store:
            if mode == "append":
                run_id = new_run_id()
                store.begin_run(RunRecord(run_id, now_iso(), "running", ("load",), "d", "probe", "0"))
                for n in range(200):
                    row = {**ROW, "run_id": run_id, "detail": f"row {n}", "started_at": now_iso()}
                    store.append(ProbeResult.from_dict(row))
                    if n % 50 == 0:
                        store.results(run_ids=[run_id])
                store.finish_run(run_id, status="complete", finished_at=now_iso(), requests={"load": 200})
    except Exception as exc:
        failures += 1
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
sys.exit(failures)
"""

# A notebook cell calling run_probes inside the kernel's running loop, interrupted 2.5 s in (the
# slow probes take 2 s each, the whole run over 6 s).
KERNEL_INTERRUPT = """
import asyncio, signal, sys, threading, time
from workbench import HistoryStore, run_probes
from workbench.core.config import parse_config

async def cell(store):
    interrupt = (threading.main_thread().ident, signal.SIGINT)
    threading.Timer(2.5, signal.pthread_kill, interrupt).start()
    return run_probes(parse_config(sys.argv[2], source=None), store=store)

with HistoryStore(sys.argv[1], project_name="team-a") as store:
    started = time.monotonic()
    try:
        asyncio.new_event_loop().run_until_complete(cell(store))
    except KeyboardInterrupt:
        print(f"interrupted after {time.monotonic() - started:.1f} s")
"""


def child_env() -> dict[str, str]:
    """This environment without the developer's store, config, keys or proxies."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("WORKBENCH_", "OPENAI_")) and "proxy" not in name.lower()
    }


def at_once(mode: str, urls: Sequence[str]) -> list[str]:
    """Run AT_ONCE in PROCESSES processes, in step over `urls`; their stderr."""
    children = [
        subprocess.Popen(
            [sys.executable, "-c", AT_ONCE, mode, *urls],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        for _ in range(PROCESSES)
    ]
    for _ in urls:
        for child in children:
            assert child.stdout is not None and child.stdout.readline() == "ready\n", child.communicate()
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
    errors = []
    for child in children:
        _, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        errors.append(err)
    return errors


# -- four audits at once on one store -------------------------------------------------------------


@dataclass(frozen=True)
class Audits:
    store_url: str
    workdir: Path
    exit_codes: list[int]
    stderr: list[str]


@pytest.fixture(scope="module")
def audits(module_store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Audits:
    workdir = tmp_path_factory.mktemp("audits")
    (workdir / "env.toml").write_text(TWO_ENVS)
    command = [sys.executable, "-m", "workbench", "audit", "--config", "env.toml"]
    command += ["--store", module_store_url, "--notebooks", str(NOTEBOOKS)]
    children = []
    for n in range(PROCESSES):
        with (workdir / f"out-{n}.txt").open("w") as out, (workdir / f"err-{n}.txt").open("w") as err:
            children.append(subprocess.Popen(command, cwd=workdir, stdout=out, stderr=err, env=child_env()))
    exit_codes = [child.wait(timeout=280) for child in children]
    stderr = [(workdir / f"err-{n}.txt").read_text() for n in range(PROCESSES)]
    return Audits(module_store_url, workdir, exit_codes, stderr)


@pytest.mark.slow
def test_concurrent_audits_all_finish_without_store_errors(audits: Audits) -> None:
    for code, err in zip(audits.exit_codes, audits.stderr, strict=True):
        assert code in (0, 1), err  # ready or not ready: both are a finished audit
        assert "locked" not in err.lower() and "already exists" not in err.lower(), err


@pytest.mark.slow
def test_concurrent_audits_store_every_run_and_every_result(audits: Audits) -> None:
    with HistoryStore(audits.store_url, project_name=PROJECT) as store:
        runs = store.runs()
        assert len(runs) == PROCESSES
        assert {(run.status, run.command) for run in runs} == {("complete", "audit")}
        assert len({run.pid for run in runs}) == PROCESSES
        for run in runs:
            per_env = Counter(result.env for result in store.results(run_ids=[run.run_id]))
            assert per_env == {"conformant": len(CATALOG), "drifted": len(CATALOG)}, run.run_id
            assert set(store.readiness(run.run_id)) == {"conformant", "drifted"}


@pytest.mark.slow
def test_concurrent_audits_each_get_their_own_report_and_the_index_lists_them(audits: Audits) -> None:
    manifests = sorted(audits.workdir.glob("reports/*/*-audit.json"))
    stems = {(path.parent, path.name.removesuffix("-audit.json")) for path in manifests}
    assert len(stems) == PROCESSES, manifests
    for day, stem in stems:
        for name, _title, _parameters in REPORT_NOTEBOOKS:
            assert (day / f"{stem}-{name}.html").is_file(), (stem, name)
    with HistoryStore(audits.store_url, project_name=PROJECT) as store:
        run_ids = {run.run_id for run in store.runs()}
    finals = [json.loads(path.read_text()) for path in manifests]
    assert {manifest["run_id"] for manifest in finals} == run_ids
    assert "running" not in {manifest["status"] for manifest in finals}
    index = BeautifulSoup((audits.workdir / "reports" / "index.html").read_text(), "html.parser")
    rows = index.select("tbody tr")
    assert len(rows) == PROCESSES
    listed = {row.select("td")[-1].get_text(strip=True) for row in rows}
    assert listed - {""} <= run_ids


# -- first opens and appends at once ------------------------------------------------------------


def test_processes_opening_a_fresh_store_at_once_all_succeed(
    store_url: str, another_store_url: Callable[[str], str]
) -> None:
    urls = [store_url, *(another_store_url(store_url) for _ in range(3))]  # four races, four stores
    errors = at_once("open", urls)
    assert not any(errors), errors
    for url in urls:
        with HistoryStore(url, project_name=PROJECT) as store, store.engine.connect() as connection:
            assert connection.execute(schema_table.select()).all() == [(1, SCHEMA_VERSION)]
            assert set(metadata.tables) <= set(sa.inspect(connection).get_table_names())


def test_concurrent_runs_append_without_lock_errors(store_url: str) -> None:
    HistoryStore(store_url, project_name=PROJECT).close()
    at_once("append", [store_url])
    with HistoryStore(store_url, project_name=PROJECT) as store:
        runs = store.runs()
        assert [run.status for run in runs] == ["complete"] * PROCESSES
        for run in runs:
            assert len(store.results(run_ids=[run.run_id])) == 200


# -- killed and interrupted runs ----------------------------------------------------------------


def start_slow_probe(tmp_path: Path, store_url: str) -> subprocess.Popen[str]:
    (tmp_path / "slow.toml").write_text(SLOW)
    return subprocess.Popen(
        [sys.executable, "-c", CLI, "probe", "--config", "slow.toml", "--store", store_url],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
        preexec_fn=default_signals,
    )


def wait_for_results(store: HistoryStore, child: subprocess.Popen[str]) -> int:
    """How many results the child's run has stored, once there is at least one."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert child.poll() is None, child.communicate()
        stored = len(store.results())
        if stored:
            return stored
        time.sleep(0.1)
    child.kill()
    raise AssertionError(f"no result stored in 60 s: {child.communicate()}")


def test_a_killed_run_keeps_its_results_and_is_interrupted_when_the_next_run_starts(
    store_url: str, tmp_path: Path
) -> None:
    with HistoryStore(store_url, project_name=PROJECT) as store:
        child = start_slow_probe(tmp_path, store_url)
        seen = wait_for_results(store, child)
        child.kill()
        child.wait()

    with HistoryStore(store_url, project_name=PROJECT) as store:  # opens fine: nothing half-written blocks it
        (killed,) = store.runs()
        assert (killed.status, killed.host, killed.pid) == ("running", socket.gethostname(), child.pid)
        kept = store.results(run_ids=[killed.run_id])
        assert len(kept) >= seen
        assert store.run(killed.run_id).status == "running"  # opening alone changes nothing

        summary = run_probes(parse_config(FAST, source=None), store=store)

        assert summary.status == "complete"
        assert {run.run_id: run.status for run in store.runs()} == {
            killed.run_id: "interrupted",
            summary.run_id: "complete",
        }
        assert store.results(run_ids=[killed.run_id]) == kept
        assert len(store.results(run_ids=[summary.run_id])) == len(CATALOG)


def test_ctrl_c_finishes_the_run_interrupted_and_keeps_its_results(store_url: str, tmp_path: Path) -> None:
    with HistoryStore(store_url, project_name=PROJECT) as store:
        child = start_slow_probe(tmp_path, store_url)
        seen = wait_for_results(store, child)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
        assert child.returncode == 130, err

        (run,) = store.runs()
        assert run.status == "interrupted" and run.finished_at, run
        assert len(store.results(run_ids=[run.run_id])) >= seen


def test_an_interrupt_in_a_notebook_stops_the_run_instead_of_waiting_for_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'history.sqlite'}"
    done = subprocess.run(
        [sys.executable, "-c", KERNEL_INTERRUPT, url, SLOW],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=child_env(),
        preexec_fn=default_signals,  # the test interrupts it: Ctrl-C must not be ignored
    )
    assert done.stdout.startswith("interrupted after "), done.stdout + done.stderr
    assert float(done.stdout.split()[2]) < 6  # not after the whole run
    with HistoryStore(url, project_name=PROJECT) as store:
        (run,) = store.runs()
        assert run.status == "interrupted"
        assert 0 < len(store.results()) < len(CATALOG)
