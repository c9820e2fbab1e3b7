"""The history store on SQLite and PostgreSQL: round trips, the schema and its versions, URLs, stale runs."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.commands import cli
from tests.history import oldstores
from workbench import Area, HistoryStore, Outcome, ProbeResult, StoreError, Symptom
from workbench.core.clock import now_iso
from workbench.core.locations import url_has_password
from workbench.history import schema as schema_module
from workbench.history import store as store_module
from workbench.history.confirmations import Confirmation
from workbench.history.dialects import POSTGRES_EXTRA
from workbench.history.schema import (
    SCHEMA_VERSION,
    confirmations_table,
    daily_latency_table,
    daily_outcomes_table,
    metadata,
    readiness_table,
    results_table,
    runs_table,
    schema_table,
    series_table,
)
from workbench.history.store import RunRecord

pytest_plugins = ("tests.pg",)

PROJECT = "team-a"  # whose evidence the stores of these tests hold (`core.projectname`)

CANARY = "pw-canary-7f3a9c"  # a password that must never appear in a message


@pytest.fixture
def store(store_url: str) -> Iterator[HistoryStore]:
    with HistoryStore(store_url, project_name=PROJECT) as history:
        yield history


def result(run_id: str = "r1", env: str = "staging", **changes: object) -> ProbeResult:
    fields: dict[str, object] = {
        "run_id": run_id,
        "env": env,
        "probe": "endpoint.minimal",
        "area": Area.ENDPOINT,
        "outcome": Outcome.FAIL,
        "symptom": Symptom.PARSER,
        "retryable": True,
        "http_status": 200,
        "latency_ms": 123.456,
        "detail": "choices[0].message.content missing — «moved»",
        "action": "fix the parser",
        "started_at": "2026-11-27T04:35:03.123Z",
        "ttft_ms": 45.5,
        "retry_after_s": 1.25,
        "shape": ("choices:array", "id:string"),
        "facts": {"tokens": 7, "nested": {"ok": True}, "ratio": 0.5},
    }
    fields.update(changes)
    return ProbeResult(**fields)  # type: ignore[arg-type]


def run_record(run_id: str, started_at: str = "2026-11-27T04:35:00.000Z", **changes: object) -> RunRecord:
    fields: dict[str, object] = {
        "run_id": run_id,
        "started_at": started_at,
        "status": "running",
        "environments": ("staging", "prod"),
        "config_digest": "d" * 64,
        "command": "probe",
        "workbench_version": "0.1.0",
    }
    fields.update(changes)
    return RunRecord(**fields)  # type: ignore[arg-type]


def one_line(error: pytest.ExceptionInfo[StoreError]) -> str:
    message = str(error.value)
    assert "\n" not in message, message
    assert CANARY not in message, message
    return message


# -- round trips -----------------------------------------------------------------------------------


def test_results_round_trip_every_column_with_its_type(store: HistoryStore) -> None:
    full = result()
    empty = result(
        probe="auth.missing_key",
        area=Area.AUTH,
        outcome=Outcome.PASS,
        symptom=Symptom.NONE,
        retryable=False,
        http_status=None,
        latency_ms=None,
        detail="",
        action="",
        ttft_ms=None,
        retry_after_s=None,
        shape=(),
        facts={},
    )
    other = result(run_id="r2", env="prod", started_at="2026-11-27T04:36:00.000Z")
    for row in (full, empty, other):
        store.append(row)

    assert store.results() == [full, empty, other]
    assert store.results(run_ids=["r1"]) == [full, empty]
    assert store.results(envs=["prod"]) == [other]
    assert store.results(run_ids=["r1"], envs=["prod"]) == []

    columns = [results_table.c[name] for name in ("retryable", "http_status", "latency_ms", "ttft_ms")]
    with store.engine.connect() as connection:
        raw = connection.execute(sa.select(*columns).order_by(results_table.c.id)).all()
    assert raw[0] == (True, 200, 123.456, 45.5)
    assert [type(value) for value in raw[0]] == [bool, int, float, float]
    assert raw[1] == (False, None, None, None)
    assert type(raw[1][0]) is bool


def test_runs_round_trip_with_host_and_pid(store: HistoryStore) -> None:
    store.begin_run(run_record("r1"))
    stored = store.run("r1")
    assert stored == run_record(
        "r1", requests={}, host=socket.gethostname(), pid=os.getpid(), project=PROJECT
    )

    store.finish_run("r1", status="complete", finished_at="2026-11-27T04:36:00.000Z", requests={"prod": 3})
    finished = store.run("r1")
    assert (finished.status, finished.finished_at, finished.requests) == (
        "complete",
        "2026-11-27T04:36:00.000Z",
        {"prod": 3},
    )
    assert finished.environments == ("staging", "prod")

    with pytest.raises(StoreError, match=r"no run 'nope' in .*workbench runs"):
        store.run("nope")


def test_runs_are_newest_first_and_ties_sort_as_bytes_on_every_backend(store: HistoryStore) -> None:
    # A server's linguistic collation would put "a-c" after "ab" and "B" after "a": the store must not.
    ids = ["ab", "a-c", "B", "a_b", "Ab"]
    for run_id in ids:
        store.begin_run(run_record(run_id, status="complete"))
    store.begin_run(run_record("old", started_at="2026-11-26T23:59:59.999Z", status="complete"))

    assert [run.run_id for run in store.runs()] == [*sorted(ids, reverse=True), "old"]
    assert [run.run_id for run in store.runs(limit=2)] == sorted(ids, reverse=True)[:2]
    assert [run.run_id for run in store.runs(run_ids=["old", "B"])] == ["B", "old"]


def test_the_schema_has_the_same_column_types_on_every_backend(store: HistoryStore) -> None:
    inspector = sa.inspect(store.engine)
    for table in metadata.sorted_tables:
        reflected = {column["name"]: column for column in inspector.get_columns(table.name)}
        assert list(reflected) == [column.name for column in table.columns], table.name
        for column in table.columns:
            found = reflected[column.name]
            assert found["type"].python_type is column.type.python_type, (table.name, column.name)
            assert found["nullable"] == column.nullable, (table.name, column.name)
    assert runs_table.c.started_at.type.python_type is str  # ISO text everywhere, never a timestamp

    store.append(result(started_at="2026-11-27T04:35:03.123Z"))
    day = sa.func.substr(results_table.c.started_at, 1, 10)
    with store.engine.connect() as connection:
        assert connection.execute(sa.select(day)).scalar() == "2026-11-27"
        later = results_table.c.started_at > "2026-11-27T04:35:03.122Z"
        assert connection.execute(sa.select(sa.func.count()).where(later)).scalar() == 1


def test_confirmations_round_trip_oldest_first(store: HistoryStore) -> None:
    newer = Confirmation("prod", "rate_limits", "ana", "raised to 600 rpm", "2026-11-27T10:00:00.000Z")
    older = Confirmation(
        "prod", "rate_limits", "bo", "", "2026-11-26T10:00:00.000Z", "2026-12-26T10:00:00.000Z"
    )
    elsewhere = Confirmation("staging", "quota", "ana", "note", "2026-11-25T10:00:00.000Z")
    for confirmation in (newer, older, elsewhere):
        store.add_confirmation(confirmation)

    assert store.confirmations() == [elsewhere, older, newer]
    assert store.confirmations(["prod"]) == [older, newer]
    assert confirmations_table.c.expires_at.nullable


def test_readiness_rows_round_trip(store: HistoryStore) -> None:
    steps = '[{"number": 1, "status": "pass"}]'
    store.save_readiness("r1", "prod", ready=True, steps_json=steps, assessed_at="2026-11-27T04:40:00.000Z")
    store.save_readiness(
        "r1", "staging", ready=False, steps_json="[]", assessed_at="2026-11-27T04:40:00.000Z"
    )
    store.save_readiness("r2", "prod", ready=False, steps_json="[]", assessed_at="2026-11-27T04:41:00.000Z")

    assert store.readiness("r1") == {"prod": steps, "staging": "[]"}
    assert store.readiness("missing") == {}
    query = sa.select(readiness_table.c.env, readiness_table.c.ready).where(readiness_table.c.run_id == "r1")
    with store.engine.connect() as connection:
        ready = {env: flag for env, flag in connection.execute(query)}
    assert ready == {"prod": True, "staging": False}
    assert all(type(value) is bool for value in ready.values())
    with pytest.raises(StoreError, match="cannot write the history store"):  # one assessment per run and env
        store.save_readiness(
            "r1", "prod", ready=True, steps_json="[]", assessed_at="2026-11-27T04:42:00.000Z"
        )


def test_last_passing_run_is_the_newest_complete_clean_run_before(store: HistoryStore) -> None:
    def add_run(
        run_id: str,
        minute: int,
        outcome: Outcome,
        *,
        status: str = "complete",
        env: str = "prod",
        complete: bool = True,
    ) -> None:
        started = f"2026-11-27T04:{minute:02d}:00.000Z"
        store.begin_run(run_record(run_id, started_at=started, complete=complete))
        store.append(result(run_id=run_id, env=env, outcome=outcome, started_at=started))
        store.finish_run(run_id, status=status, finished_at=started, requests={})

    add_run("clean-1", 1, Outcome.PASS)
    add_run("clean-2", 2, Outcome.SKIP)
    add_run("failing", 3, Outcome.FAIL)
    add_run("cut-short", 4, Outcome.PASS, status="interrupted")
    add_run("other-env", 5, Outcome.PASS, env="staging")
    add_run("erroring", 6, Outcome.ERROR)
    # Finding (issue 12): `probe --probe auth.missing_key` passed and became the baseline.
    add_run("partial", 7, Outcome.PASS, complete=False)

    assert store.last_passing_run("prod", before="2026-11-27T04:59:00.000Z") == "clean-2"
    assert store.last_passing_run("prod", before="2026-11-27T04:02:00.000Z") == "clean-1"
    assert store.last_passing_run("prod", before="2026-11-27T04:01:00.000Z") is None
    assert store.last_passing_run("staging", before="2026-11-27T04:59:00.000Z") == "other-env"


# -- schema versions -------------------------------------------------------------------------------


def schema_rows(store: HistoryStore) -> list[tuple[int, int]]:
    with store.engine.connect() as connection:
        return [(row.id, row.version) for row in connection.execute(sa.select(schema_table))]


def test_the_schema_version_is_one_row(store_url: str) -> None:
    with HistoryStore(store_url, project_name=PROJECT) as store:
        assert schema_rows(store) == [(1, SCHEMA_VERSION)]
    with HistoryStore(store_url, project_name=PROJECT) as store:  # opening again adds nothing
        assert schema_rows(store) == [(1, SCHEMA_VERSION)]
        for row in ({"id": 1, "version": SCHEMA_VERSION}, {"id": 2, "version": SCHEMA_VERSION}):
            with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as connection:
                connection.execute(schema_table.insert().values(**row))
        assert schema_rows(store) == [(1, SCHEMA_VERSION)]


def test_a_store_from_a_newer_workbench_is_refused(store_url: str) -> None:
    with HistoryStore(store_url, project_name=PROJECT) as store, store.engine.begin() as connection:
        connection.execute(schema_table.update().values(version=SCHEMA_VERSION + 1))
    with pytest.raises(StoreError) as caught:
        HistoryStore(store_url, project_name=PROJECT)
    assert f"has schema version {SCHEMA_VERSION + 1}, newer than this workbench" in one_line(caught)
    assert "upgrade contract-workbench" in str(caught.value)


def test_migrations_bring_an_older_store_forward_in_one_transaction(
    store_url: str, another_store_url: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Registers fake versions N+1 and N+2 over the real N (monkeypatch restores the registry)."""
    base = SCHEMA_VERSION
    applied: list[int] = []

    def add_label(connection: sa.Connection) -> None:
        connection.exec_driver_sql("ALTER TABLE runs ADD COLUMN label VARCHAR(32)")
        applied.append(base + 1)

    def broken(connection: sa.Connection) -> None:
        connection.exec_driver_sql("ALTER TABLE results ADD COLUMN doomed INTEGER")
        raise RuntimeError(f"migration {base + 2} failed")

    HistoryStore(store_url, project_name=PROJECT).close()  # a store at the real version
    monkeypatch.setitem(schema_module.MIGRATIONS, base + 1, add_label)
    monkeypatch.setitem(schema_module.MIGRATIONS, base + 2, broken)

    monkeypatch.setattr(store_module, "SCHEMA_VERSION", base + 2)
    with pytest.raises(RuntimeError, match=f"migration {base + 2} failed"):
        HistoryStore(store_url, project_name=PROJECT)
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", base)
    with HistoryStore(store_url, project_name=PROJECT) as store:  # all or nothing: neither N+1 nor N+2 stayed
        assert schema_rows(store) == [(1, base)]
        assert "label" not in {column["name"] for column in sa.inspect(store.engine).get_columns("runs")}
        assert "doomed" not in {column["name"] for column in sa.inspect(store.engine).get_columns("results")}

    applied.clear()
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", base + 1)
    with HistoryStore(store_url, project_name=PROJECT) as store:
        assert applied == [base + 1]
        assert schema_rows(store) == [(1, base + 1)]
        assert "label" in {column["name"] for column in sa.inspect(store.engine).get_columns("runs")}
    with HistoryStore(store_url, project_name=PROJECT) as store:  # applied once
        assert applied == [base + 1]

    # a fresh store is created at the current version directly, without migrations
    with HistoryStore(another_store_url(store_url), project_name=PROJECT) as store:
        assert schema_rows(store) == [(1, base + 1)]
    assert applied == [base + 1]


def test_a_version_1_store_learns_which_runs_were_complete(store_url: str) -> None:
    """Version 2 records whether a run planned the whole catalog; a version 1 run is complete when
    every one of its environments has a result for each probe version 1 knew."""
    started = "2026-11-27T04:35:00.000Z"
    oldstores.create_v2_store(
        store_url,
        {
            "runs": [oldstores.run_row(name, ["staging"], started) for name in ("whole", "partial")],
            "results": [
                *(
                    oldstores.result_row("whole", "staging", probe, "pass", started)
                    for probe in schema_module.V1_CATALOG
                ),
                oldstores.result_row("partial", "staging", "auth.missing_key", "pass", started),
            ],
        },
    )
    oldstores.downgrade_v2_to_v1(store_url)  # as an older workbench left it
    with HistoryStore(store_url, project_name=PROJECT) as store:
        assert schema_rows(store) == [(1, SCHEMA_VERSION)]
        store.claim_legacy()
        complete = {run.run_id: run.complete for run in store.runs()}
        assert complete == {"whole": True, "partial": False}


def test_a_pre_release_sqlite_store_is_named_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE workbench_schema (version INTEGER NOT NULL)")
        connection.exec_driver_sql("INSERT INTO workbench_schema VALUES (1)")
    engine.dispose()
    with pytest.raises(StoreError) as caught:
        HistoryStore(f"sqlite:///{path}", project_name=PROJECT)
    assert "pre-release workbench: move it aside" in one_line(caught)


# -- URLs and connection errors ----------------------------------------------------------------


def test_display_url_hides_the_password(store: HistoryStore, store_url: str) -> None:
    shown = sa.make_url(store.display_url)
    assert shown.password in (None, "***")
    assert store.display_url == sa.make_url(store.url).render_as_string(hide_password=True)
    if store_url.startswith("postgres"):
        assert shown.password == "***" and shown.drivername == "postgresql+psycopg"


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_a_postgres_url_without_a_driver_uses_psycopg(store_url: str, scheme: str) -> None:
    plain = sa.make_url(store_url).set(drivername=scheme).render_as_string(hide_password=False)
    assert plain.startswith(f"{scheme}://")
    with HistoryStore(plain, project_name=PROJECT) as store:
        assert store.url.startswith("postgresql+psycopg://")
        store.append(result())
        assert store.results() == [result()]


def test_without_psycopg_a_postgres_url_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # `import psycopg` now fails
    with pytest.raises(StoreError) as caught:
        HistoryStore(f"postgresql://wb:{CANARY}@127.0.0.1:5432/wb", project_name=PROJECT)
    assert POSTGRES_EXTRA in one_line(caught)
    assert "pip install 'contract-workbench[postgres]'" in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("not a url", id="not-a-url"),
        pytest.param(f"postgresql://wb:{CANARY}@127.0.0.1:port/wb", id="bad-port"),
        pytest.param(f"nosuchdb://wb:{CANARY}@127.0.0.1/wb", id="unknown-dialect"),
    ],
)
def test_a_bad_url_is_a_one_line_store_error(url: str) -> None:
    with pytest.raises(StoreError) as caught:
        HistoryStore(url, project_name=PROJECT)
    message = one_line(caught)
    assert "--store" in message or "cannot use store URL" in message


def test_an_unreachable_postgres_is_a_one_line_error_naming_the_host() -> None:
    with socket.socket() as probe:  # a port nothing listens on: connecting is refused at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(StoreError) as caught:
        HistoryStore(f"postgresql://wb:{CANARY}@127.0.0.1:{port}/wb", project_name=PROJECT)
    message = one_line(caught)
    assert message.startswith(
        f"cannot open the history store postgresql+psycopg://wb:***@127.0.0.1:{port}/wb: "
    )
    assert "refused" in message.lower()
    assert time.monotonic() - started < 5  # a refused connection is not retried


@pytest.mark.parametrize("parameter", ["password", "sslpassword"])
def test_every_libpq_password_parameter_is_hidden_in_messages(parameter: str) -> None:
    # Issue 20: `?sslpassword=` (the passphrase of a client key) was shown in `display_url`, in
    # errors, and passed to the report notebooks as a parameter.
    url = f"postgresql://wb@127.0.0.1:9/wb?sslmode=require&{parameter}={CANARY}"
    assert url_has_password(url)
    assert CANARY not in store_module.display_url(url)
    assert f"{parameter}=***" in store_module.display_url(url)
    with pytest.raises(StoreError) as caught:
        HistoryStore(url, project_name=PROJECT)
    one_line(caught)  # no canary in it


def test_a_password_in_the_query_is_hidden_like_one_in_the_userinfo() -> None:
    # libpq takes `?password=` as well as `user:password@`; psycopg passes the query through, so
    # a team may write either (observed: psycopg.conninfo.conninfo_to_dict accepts both forms).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://wb@127.0.0.1:{port}/wb?password={CANARY}"
    assert url_has_password(url)
    assert CANARY not in store_module.display_url(url)
    with pytest.raises(StoreError) as caught:
        HistoryStore(url, project_name=PROJECT)
    assert "password=***" in one_line(caught)  # one_line also checks the canary is not there


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_a_real_postgres_takes_the_password_from_the_query(store_url: str) -> None:
    # Observed against PostgreSQL 15 with scram-sha-256 (as .ci/run sets it up): psycopg sends
    # `?password=` to the server, the connection succeeds, and a wrong one is refused.
    userinfo = sa.make_url(store_url)
    without = userinfo._replace(password=None)  # URL.set(password=None) keeps the old one
    in_query = without.update_query_dict({"password": userinfo.password or ""})
    with HistoryStore(in_query.render_as_string(hide_password=False), project_name=PROJECT) as store:
        store.append(result())
        assert store.has_password and store.results() == [result()]
        assert "password=***" in store.display_url and ":***@" not in store.display_url
    wrong = in_query.update_query_dict({"password": CANARY}).render_as_string(hide_password=False)
    with pytest.raises(StoreError) as caught:
        HistoryStore(wrong, project_name=PROJECT)
    assert "password authentication failed" in one_line(caught)


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("sqlite:///data/history.sqlite", False),
        ("postgresql://wb@db.internal/wb", False),
        ("postgresql://wb:pw@db.internal/wb", True),
        ("postgresql://wb@db.internal/wb?password=pw", True),
        ("postgresql://wb@db.internal/wb?sslmode=require&password=pw", True),
        # issue 20: libpq's other password parameter (a client key's passphrase) was passed on
        ("postgresql://wb@db.internal/wb?sslmode=verify-full&sslkey=k.pem&sslpassword=pw", True),
        ("postgresql://wb@db.internal/wb?sslmode=require&sslkey=k.pem", False),
        ("not a url at all", True),  # withheld rather than passed on
    ],
)
def test_url_has_password_sees_every_place_a_url_carries_one(url: str, secret: bool) -> None:
    assert url_has_password(url) is secret


def test_local_files_are_the_sqlite_file_and_its_wal(tmp_path: Path) -> None:
    database = tmp_path / "history.sqlite"
    with HistoryStore(f"sqlite:///{database}", project_name=PROJECT) as store:
        store.append(result())
        assert store.local_files()[:2] == [database, Path(f"{database}-wal")]
        assert not store.has_password
        assert store.absolute_url == f"sqlite:///{database}"


def test_a_relative_sqlite_path_is_made_absolute_for_other_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()  # a folder named in a URL must exist (issue 13)
    with HistoryStore("sqlite:///data/h.sqlite", project_name=PROJECT) as store:
        assert store.absolute_url == f"sqlite:///{tmp_path / 'data' / 'h.sqlite'}"


# -- runs whose process is gone ----------------------------------------------------------------


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_this_hosts_runs_of_dead_processes_become_interrupted(store: HistoryStore) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    here = socket.gethostname()
    try:
        time.sleep(0.2)  # the sleeper started before the run it stands for
        now = now_iso()
        store.begin_run(run_record("dead", host=here, pid=dead_pid()))
        store.begin_run(run_record("alive", started_at=now, host=here, pid=sleeper.pid))
        store.begin_run(run_record("elsewhere", host="another-machine", pid=dead_pid()))
        store.begin_run(run_record("ours", host=here))  # this process, still running it
        store.begin_run(run_record("done", host=here, pid=dead_pid(), status="complete"))
        store.finish_run("done", status="complete", finished_at=now, requests={})

        assert store.mark_stale_runs() == []  # each begin_run already marked "dead"
        statuses = {run.run_id: run.status for run in store.runs()}
        assert statuses == {
            "dead": "interrupted",
            "alive": "running",
            "elsewhere": "running",
            "ours": "running",
            "done": "complete",
        }
        assert store.run("dead").finished_at is None  # when it died is unknown
    finally:
        sleeper.kill()
        sleeper.wait()
    assert store.mark_stale_runs() == ["alive"]


def test_a_run_left_running_by_this_pid_in_an_earlier_life_is_stale(store: HistoryStore) -> None:
    """A restarted container reuses its pids: our own pid on a run we did not begin is not us."""
    with store.engine.begin() as connection:
        row = store_module._run_row(run_record("earlier", host=socket.gethostname(), pid=os.getpid()))
        connection.execute(runs_table.insert().values(**row))
    assert store.begin_run(run_record("now")) == ["earlier"]
    assert store.run("now").status == "running"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_a_reused_pid_or_a_zombie_does_not_keep_a_run_alive(store: HistoryStore) -> None:
    here = socket.gethostname()
    younger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        time.sleep(0.5)  # the zombie has exited; nobody has reaped it yet
        # a run begun long before the process now holding its pid was started
        store.begin_run(
            run_record("reused", started_at="2020-01-01T00:00:00.000Z", host=here, pid=younger.pid)
        )
        store.begin_run(run_record("zombie", host=here, pid=zombie.pid))  # marks "reused"
        assert store.mark_stale_runs() == ["zombie"]
        assert {run.status for run in store.runs()} == {"interrupted"}
    finally:
        younger.kill()
        younger.wait()
        zombie.wait()


def test_find_text_searches_every_text_column_taking_like_wildcards_literally(store: HistoryStore) -> None:
    store.append(result(detail="echoed sk_live%ab", facts={"note": "x"}))
    store.add_confirmation(
        Confirmation(
            env="staging", item="quota", by="ops", note="key sk_live%ab pasted here", confirmed_at=now_iso()
        )
    )
    found = {(hit.column, hit.needle, hit.rows) for hit in store.find_text(["sk_live%ab", "sk_liveXab", "%"])}
    assert ("results.detail", "sk_live%ab", 1) in found
    assert ("confirmations.note", "sk_live%ab", 1) in found
    assert not any(needle == "sk_liveXab" for _, needle, _ in found)  # `_` is not a wildcard
    assert not any(column == "results.facts" and needle == "%" for column, needle, _ in found)
    assert store.find_text([]) == []


def _rollups(store: HistoryStore) -> dict[str, list[tuple[object, ...]]]:
    with store._engine.connect() as connection:
        return {
            table.name: sorted(tuple(row) for row in connection.execute(sa.select(table)))
            for table in (daily_outcomes_table, daily_latency_table, series_table)
        }


def test_a_batch_counts_into_the_rollups_as_one_result_at_a_time_would(store: HistoryStore) -> None:
    """`append_many` (the engine's writer under load) keeps the rollups equal to a rebuild."""
    store.begin_run(run_record("r1"))
    batch = [
        result(env=env, probe=probe, outcome=outcome, latency_ms=latency)
        for env in ("staging", "prod")
        for probe, outcome, latency in (
            ("endpoint.minimal", Outcome.PASS, 120.0),
            ("auth.missing_key", Outcome.FAIL, 121.0),
            ("streaming.sse", Outcome.PASS, None),
            ("response.fixture_replay", Outcome.SKIP, None),
        )
    ]
    store.append_many(batch[:5])
    store.append_many(batch[5:])
    batched = _rollups(store)
    store.rebuild_rollups()
    assert batched == _rollups(store)
    assert len(store.results(["r1"])) == len(batch)


def test_a_malformed_row_is_skipped_with_one_warning_naming_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Issue 20: one crafted row (an unknown outcome, `runs.environments` that is not JSON) made
    # `workbench runs` crash with a traceback, and every later audit on that store exit 2.
    url = f"sqlite:///{tmp_path / 'data' / 'history.sqlite'}"
    (tmp_path / "data").mkdir()
    with HistoryStore(url, project=tmp_path) as store:
        store.begin_run(run_record("good", environments=("staging",)))
        store.append(result("good"))
        store.append(result("good", probe="auth.missing_key", outcome=Outcome.PASS, symptom=Symptom.NONE))
        with store.engine.begin() as connection:
            connection.execute(
                results_table.update().where(results_table.c.id == 1).values(outcome="exploded")
            )
            row = store_module._run_row(run_record("bad", started_at="2026-11-26T00:00:00.000Z"))
            connection.execute(
                runs_table.insert().values(
                    **{**row, "environments": "\x1b[2Jnot json", "project": store.project_name.name}
                )
            )
        store.add_confirmation(Confirmation("staging", "billing", "ops", "", "2026-11-26T00:00:00Z", "soon"))
        store.save_readiness(
            "good", "staging", ready=False, steps_json="{oops", assessed_at="2026-11-26T00:00:00Z"
        )
        with caplog.at_level(logging.WARNING, logger="workbench.history"):
            assert [run.run_id for run in store.runs()] == ["good"]
            assert [r.probe for r in store.results()] == ["auth.missing_key"]
            assert store.confirmations() == [] and store.readiness("good") == {}
            store.runs()  # each row is named once
        warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 4, warnings
    assert "runs 'bad' (environments is not JSON)" in warnings[0]
    assert "results id 1 ('exploded' is not a valid Outcome)" in warnings[1]
    assert "confirmations id 1 (a time that is not ISO 8601" in warnings[2]
    assert "readiness of 'good'/'staging' (steps is not JSON)" in warnings[3]
    listed = cli("runs", "--format", "json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert [row["run_id"] for row in json.loads(listed.stdout)] == ["good"]
    warned = [line for line in listed.error_lines if line.startswith("warning: skipped")]
    assert len(warned) == 2 and "runs 'bad' (environments is not JSON)" in warned[0], listed.stderr
    assert "\x1b" not in listed.stderr
