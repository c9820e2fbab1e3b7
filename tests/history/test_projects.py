"""Evidence scoped to a project name (issue 20, item 1), on SQLite and on a real PostgreSQL.

Observed before the fix, with two teams' `[environments.staging]` on one store: team B's four
confirmations passed team A's steps 1 and 8; three of team B's failing runs fired team A's trigger
rule (step 9); team C's newer passing run of its own `staging` became team A's baseline (steps 5 and
10 measured drift from another team's endpoint). A store from before project names keeps its rows
as project `legacy` until `workbench store claim` adopts them.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.canary import canary_key
from tests.commands import cli
from tests.history import oldstores
from workbench import HistoryStore
from workbench.core.config import Config, parse_config
from workbench.core.errors import ConfigError, StoreError
from workbench.core.models import ProbeResult
from workbench.core.projectname import LEGACY, ProjectNameError, check_name, resolve
from workbench.core.scenarios import Scenario
from workbench.history import store as store_module
from workbench.history.confirmations import OPERATOR_ITEMS, new_confirmation
from workbench.history.schema import (
    SCHEMA_VERSION,
    confirmations_table,
    daily_outcomes_table,
    results_table,
    runs_table,
    series_table,
)
from workbench.probes.engine import run_probes
from workbench.reference.endpoint import EmbeddedEndpoint
from workbench.rollback.evidence import assess_run
from workbench.rollback.readiness import StepStatus
from workbench.signals.trends import evaluate
from workbench.signals.triggers import load_rules

pytest_plugins = ("tests.pg",)

KEY = canary_key("projects")
KEY_VAR = "WB_PROJECTS_KEY"
PARSER_THREE = '[[rule]]\nsymptom = "parser"\nconsecutive = 3\n'


@dataclass(frozen=True)
class Endpoints:
    good: EmbeddedEndpoint  # conformant
    broken: EmbeddedEndpoint  # content moved: endpoint.minimal fails with `parser`


@pytest.fixture(scope="module")
def endpoints() -> Iterator[Endpoints]:
    with (
        EmbeddedEndpoint(api_key=KEY) as good,
        EmbeddedEndpoint(frozenset({Scenario.CONTENT_MOVED}), api_key=KEY) as broken,
    ):
        yield Endpoints(good, broken)


def team(tmp_path: Path, project: str, endpoint: EmbeddedEndpoint) -> Config:
    """A team's configuration: its own project name, and an environment named `staging` like everyone's."""
    folder = tmp_path / project
    folder.mkdir(exist_ok=True)
    (folder / "triggers.toml").write_text(PARSER_THREE)
    return parse_config(
        f"""
        [workbench]
        project = "{project}"
        fixtures_dir = "{folder / "fixtures"}"
        bundles_dir = "{folder / "bundles"}"
        triggers = "{folder / "triggers.toml"}"
        [environments.staging]
        base_url = "{endpoint.base_url}"
        api_key_env = "{KEY_VAR}"
        model = "wb-reference-1"
        """,
        source=None,
    )


def test_two_projects_with_the_same_environment_names_keep_their_own_evidence(
    store_url: str, tmp_path: Path, endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_VAR, KEY)
    team_a = team(tmp_path, "team-a", endpoints.good)
    team_b = team(tmp_path, "team-b", endpoints.broken)
    team_c = team(tmp_path, "team-c", endpoints.good)
    with (
        HistoryStore.for_config(team_a, store_url) as a,
        HistoryStore.for_config(team_b, store_url) as b,
        HistoryStore.for_config(team_c, store_url) as c,
    ):
        baseline = run_probes(team_a, store=a)
        for item in OPERATOR_ITEMS:  # team B confirms, claiming to be team A's on-call
            b.add_confirmation(new_confirmation("staging", item, by="alice (team A on-call)"))
        failing = [run_probes(team_b, ["staging"], ["endpoint.minimal"], store=b) for _ in range(3)]
        # `workbench trends` now: team B's three failures fire team B's rule, never team A's
        assert any(firing.fired for firing in evaluate(b, load_rules(team_b.settings.triggers)))
        assert not any(firing.fired for firing in evaluate(a, load_rules(team_a.settings.triggers)))
        newer = run_probes(team_c, store=c)  # another team's passing `staging`, newer than team A's
        audited = run_probes(team_a, store=a)
        steps = assess_run(team_a, audited, a)["staging"].steps
        assess_run(team_b, failing[-1], b)

        assert steps[0].status is StepStatus.NEEDS_OPERATOR, steps[0]  # team B's confirmations are not A's
        assert steps[7].status is StepStatus.NEEDS_OPERATOR, steps[7]
        assert steps[8].status is StepStatus.PASS, steps[8]  # team B's failures fire no rule of team A
        assert steps[9].status is StepStatus.PASS and baseline.run_id in steps[9].evidence, steps[9]
        assert newer.run_id not in steps[9].evidence
        assert "of project team-a" in steps[9].evidence  # where the baseline came from

        started = a.run(audited.run_id).started_at
        assert a.last_passing_run("staging", before=started) == baseline.run_id
        assert c.last_passing_run("staging", before="9999") == newer.run_id
        assert b.last_passing_run("staging", before="9999") is None
        assert a.confirmations() == [] and len(b.confirmations(["staging"])) == len(OPERATOR_ITEMS)
        assert {run.run_id for run in a.runs()} == {baseline.run_id, audited.run_id}
        assert {run.run_id for run in b.runs(env="staging")} == {run.run_id for run in failing}
        assert {result.run_id for result in c.results(envs=["staging"])} == {newer.run_id}
        assert set(a.readiness(audited.run_id)) == {"staging"} and b.readiness(audited.run_id) == {}
        assert set(b.readiness(failing[-1].run_id)) == {"staging"} and a.readiness(failing[-1].run_id) == {}
        with pytest.raises(StoreError, match="no run"):
            a.run(newer.run_id)
        samples = {
            store.project_name.name: sum(row[-1] for row in store.trend_counts("day").outcomes)
            for store in (a, b, c)
        }
        assert samples["team-b"] == 3  # one sample per failing run, counted for team B alone
        assert samples["team-a"] == 2 * samples["team-c"]  # two runs of the catalog against one
        assert a.environments() == b.environments() == ["staging"]


@pytest.mark.parametrize("reindex", [False, True], ids=["indexes-updated", "indexes-rebuilt"])
def test_a_store_from_before_project_names_keeps_its_rows_as_legacy_until_claimed(
    store_url: str, reindex: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if reindex:  # a claim of many results builds the project's indexes again instead of updating them
        monkeypatch.setattr(store_module, "_REINDEX_ABOVE", 0)
    day = "2026-11-20T06:17:00.000Z"
    oldstores.create_v2_store(
        store_url,
        {
            "runs": [
                oldstores.run_row("passed", ["staging"], day),
                oldstores.run_row("both", ["staging", "prod"], "2026-11-21T06:17:00.000Z"),
            ],
            "results": [
                oldstores.result_row("passed", "staging", "endpoint.minimal", "pass", day),
                oldstores.result_row(
                    "both", "staging", "endpoint.minimal", "fail", "2026-11-21T06:17:01.000Z"
                ),
                oldstores.result_row("both", "prod", "endpoint.minimal", "pass", "2026-11-21T06:17:02.000Z"),
            ],
            "confirmations": [
                {"env": env, "item": "billing", "confirmed_by": "bob", "note": "", "confirmed_at": day}
                for env in ("staging", "prod")
            ],
            "readiness": [
                {"run_id": "both", "env": env, "ready": False, "steps": "[]", "assessed_at": day}
                for env in ("staging", "prod")
            ],
        },
    )
    with HistoryStore(store_url, project_name="team-a") as store:
        with store.engine.connect() as connection:
            projects = {
                table.name: set(connection.execute(sa.select(table.c.project).distinct()).scalars())
                for table in (
                    runs_table,
                    results_table,
                    confirmations_table,
                    series_table,
                    daily_outcomes_table,
                )
            }
            version = connection.exec_driver_sql("SELECT version FROM workbench_schema").scalar()
        assert version == SCHEMA_VERSION
        assert projects == {name: {LEGACY} for name in projects}  # every old row is legacy: nobody's yet
        assert store.runs() == [] and store.confirmations() == [] and store.environments() == []
        assert store.last_passing_run("staging", before="9999") is None

        claimed = store.claim_legacy(["staging"])
        assert claimed.rows == {"results": 2, "confirmations": 1, "readiness": 1, "runs": 1}
        assert [run.run_id for run in store.runs()] == ["both", "passed"]  # "both" holds team A's results
        assert store.last_passing_run("staging", before="9999") == "passed"
        assert [c.env for c in store.confirmations()] == ["staging"]
        assert set(store.readiness("both")) == {"staging"}
        assert store.environments() == ["staging"]
        counts = sorted(store.trend_counts("day").outcomes)
        store.rebuild_rollups()  # the counts that moved with the rows are what the results say
        assert sorted(store.trend_counts("day").outcomes) == counts
        assert counts == [
            ("2026-11-20", "staging", "pass", "none", 1),
            ("2026-11-21", "staging", "fail", "parser", 1),
        ]

    with HistoryStore(store_url, project_name="team-b") as other:  # prod is still legacy: nobody's
        assert other.environments() == [] and other.results() == []
        assert other.claim_legacy().rows == {"results": 1, "confirmations": 1, "readiness": 1, "runs": 1}
        assert other.environments() == ["prod"]
        assert [run.run_id for run in other.runs()] == ["both"]


def test_on_postgresql_the_name_is_required_and_on_sqlite_derived(tmp_path: Path) -> None:
    config = parse_config('[environments.staging]\nbase_url = "embedded"\n', source=tmp_path / "env.toml")
    with pytest.raises(ConfigError) as caught:
        config.project_name("postgresql://wb@db.example/wb")
    assert "workbench.project" in str(caught.value) and "env.toml" in str(caught.value)
    derived = config.project_name(f"sqlite:///{tmp_path / 'h.sqlite'}")
    assert derived.name == tmp_path.name and derived.derived
    assert "derived from the project folder's name" in derived.describe()
    with pytest.raises(StoreError, match=r"\[workbench\] project"):
        HistoryStore("postgresql://wb@db.example/wb")  # before any connection is tried


@pytest.mark.parametrize("name", ["legacy", "", "-x", "a b", "x" * 65, "../up", "ünï"])
def test_a_project_name_that_cannot_be_used_is_refused(name: str) -> None:
    with pytest.raises(ProjectNameError):
        check_name(name)
    with pytest.raises(ConfigError, match=r"workbench\.project"):
        parse_config(
            f'[workbench]\nproject = "{name}"\n[environments.s]\nbase_url = "embedded"\n', source=None
        )


def test_a_folder_name_is_made_a_project_name(tmp_path: Path) -> None:
    odd = tmp_path / " My Project (2026)! "
    odd.mkdir()
    assert resolve(None, backend="sqlite", folder=odd).name == "My-Project-2026"
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    with pytest.raises(ProjectNameError, match=r"\[workbench\] project"):
        resolve(None, backend="sqlite", folder=legacy)


def test_results_carry_no_project_field_of_their_own(tmp_path: Path) -> None:
    """The project is the store's, stamped on every row it writes: a result read back is unchanged."""
    row = oldstores.result_row("r", "staging", "endpoint.minimal", "pass", "2026-11-20T06:17:00.000Z")
    result = ProbeResult.from_dict(row)
    with HistoryStore(f"sqlite:///{tmp_path / 'h.sqlite'}", project_name="team-a") as store:
        store.append(result)
        assert store.results() == [result]


# -- from the command line --------------------------------------------------------------------------


def test_store_claim_adopts_an_older_stores_rows_from_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "environments.toml").write_text(
        '[workbench]\nproject = "team-a"\n\n[environments.staging]\nbase_url = "embedded"\n'
    )
    day = "2026-11-20T06:17:00.000Z"
    oldstores.create_v2_store(
        f"sqlite:///{tmp_path / 'data' / 'history.sqlite'}",
        {
            "runs": [oldstores.run_row("old-run", ["staging"], day)],
            "results": [oldstores.result_row("old-run", "staging", "endpoint.minimal", "pass", day)],
        },
    )
    before = cli("runs", "--format", "json", cwd=tmp_path)
    assert before.returncode == 0 and json.loads(before.stdout) == [], before.stderr  # legacy: nobody's
    claimed = cli("store", "claim", "--project", "team-a", "--env", "staging", cwd=tmp_path)
    assert claimed.returncode == 0, claimed.stderr
    assert "claimed for project team-a from legacy (staging): 1 result(s), 1 run(s)" in claimed.stdout
    assert "next:" not in claimed.stdout  # the configuration already names team-a
    after = cli("runs", "--format", "json", cwd=tmp_path)
    assert [row["run_id"] for row in json.loads(after.stdout)] == ["old-run"]
    refused = cli("store", "claim", "--project", "legacy", cwd=tmp_path)
    assert refused.returncode == 2 and len(refused.error_lines) == 1, refused.stderr


def test_a_confirmation_records_the_os_user_host_and_config_beside_by(tmp_path: Path) -> None:
    config = tmp_path / "env.toml"
    config.write_text(
        '[workbench]\nproject = "team-a"\n\n[environments.staging]\nbase_url = "https://api.example.com"\n'
        'api_key_env = "WB_UNSET_KEY"\nmodel = "m-1"\n'
    )
    done = cli(
        "confirm", "billing", "--env", "staging", "--by", "alice", "--config", str(config), cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    user, host = getpass.getuser(), socket.gethostname()
    assert f"confirmed by alice (declared; OS user {user} on {host}" in done.stdout
    with HistoryStore(f"sqlite:///{tmp_path / 'data' / 'history.sqlite'}", project_name="team-a") as store:
        (recorded,) = store.confirmations()
    digest = hashlib.sha256(config.read_bytes()).hexdigest()
    assert (recorded.by, recorded.os_user, recorded.host, recorded.config_digest) == (
        "alice",
        user,
        host,
        digest,
    )


def test_a_postgresql_store_without_a_project_name_is_one_line_naming_the_key(tmp_path: Path) -> None:
    (tmp_path / "env.toml").write_text('[environments.staging]\nbase_url = "embedded"\n')
    for verb in (("runs",), ("probe",), ("trends",), ("confirm", "billing", "--env", "staging", "--by", "x")):
        done = cli(*verb, "--config", "env.toml", "--store", "postgresql://wb@127.0.0.1:9/wb", cwd=tmp_path)
        assert done.returncode == 2, (verb, done.stdout)
        (line,) = done.error_lines
        assert "env.toml: workbench.project: a postgresql store is shared" in line, line
