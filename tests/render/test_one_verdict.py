"""One verdict per environment, said the same way on every surface (issue 22, item 1).

Observed before: the index showed a green "env-01: ready" chip beside a red "not rollback-ready"
one, the report said "contract READY; not rollback-ready", and a reviewer could not tell which one
counted. Here one real audit holds an environment in each state:

- `reference` is READY (the repository ships its fixtures and bundle);
- `reference-drifted` is NOT READY (its contract fails);
- `stage`, a reference endpoint served on loopback under a real URL, is WAITING FOR AN OPERATOR:
  its fixtures and bundle were captured, so only confirmations an operator records are missing;
- `gone`, a port nothing listens on, is COULD NOT JUDGE.

The CLI, the index, the contract audit and readiness reports (as Chromium renders them), the
audit's JSON record and JUnit must all say the same state, in the same words.
"""

from __future__ import annotations

import json
import socket
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from tests.browser import dump_dom
from tests.canary import canary_key
from tests.commands import cli, workbench
from tests.paths import REPO
from workbench import EmbeddedEndpoint
from workbench.rollback.headline import WORDS, State

pytestmark = pytest.mark.slow

KEY = canary_key("verdict")
EXPECTED = {
    "reference": State.READY,
    "reference-drifted": State.NOT_READY,
    "stage": State.WAITING,
    "gone": State.COULD_NOT_JUDGE,
}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Audited:
    workdir: Path
    stdout: str
    exit_code: int

    def one(self, pattern: str) -> Path:
        (path,) = self.workdir.glob(pattern)
        return path


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Audited]:
    import shutil

    workdir = tmp_path_factory.mktemp("one-verdict")
    shutil.copytree(REPO / "data", workdir / "data", ignore=shutil.ignore_patterns("*.sqlite*"))
    env = {"WB_STAGE_KEY": KEY}
    with EmbeddedEndpoint(api_key=KEY) as endpoint:
        config = workdir / "data" / "environments.toml"
        config.write_text(
            config.read_text()
            + f'\n[environments.stage]\nbase_url = "{endpoint.base_url}"\napi_key_env = "WB_STAGE_KEY"\n'
            'model = "wb-reference-1"\nstream = true\nmanifest = "integration/manifest.toml"\n'
            f'\n[environments.gone]\nbase_url = "http://127.0.0.1:{closed_port()}"\n'
            'api_key_env = "WB_STAGE_KEY"\nmodel = "m"\n'
        )
        for args in (
            ("probe", "--env", "stage"),
            ("fixtures", "capture", "--env", "stage", "--release", "r1"),
            ("bundle", "capture", "--env", "stage", "--release", "r1"),
        ):
            done = cli(*args, cwd=workdir, env=env)
            assert done.returncode in (0, 1), f"{args}: {done.stdout}{done.stderr}"
        audit = workbench(
            "audit",
            "--notebooks",
            str(REPO / "notebooks"),
            "--junit",
            "reports/junit.xml",
            cwd=workdir,
            env=env,
        )
    yield Audited(workdir, audit.stdout, audit.returncode)


def test_the_audit_holds_one_environment_in_each_state_and_exits_1(audited: Audited) -> None:
    assert audited.exit_code == 1, audited.stdout
    assert "1 of 4 READY; 1 WAITING FOR AN OPERATOR; 1 NOT READY; 1 COULD NOT JUDGE" in audited.stdout


def test_the_cli_says_each_verdict_in_its_words(audited: Audited) -> None:
    for env, state in EXPECTED.items():
        assert f"{env}: {WORDS[state]}" in audited.stdout, env
    assert "stage: WAITING FOR AN OPERATOR: confirm " in audited.stdout


def test_the_audit_record_and_junit_carry_the_same_states(audited: Audited) -> None:
    record = json.loads(audited.one("reports/*/*-audit.json").read_text())
    assert {line["env"]: line["verdict"] for line in record["headlines"]} == {
        env: str(state) for env, state in EXPECTED.items()
    }
    suites = ET.parse(audited.workdir / "reports" / "junit.xml").getroot()
    properties = {
        suite.get("name"): {p.get("name"): p.get("value") for p in suite.iter("property")} for suite in suites
    }
    for env, state in EXPECTED.items():
        assert properties[env]["verdict"] == str(state), env
        assert properties[env]["verdict_line"].startswith(f"{env}: {WORDS[state]}"), env


@pytest.mark.parametrize("page", ["reports/index.html", "reports/*/*-contract_audit.html"])
def test_the_index_and_the_report_say_the_same_words_as_rendered(audited: Audited, page: str) -> None:
    text = " ".join(BeautifulSoup(dump_dom(audited.one(page)), "html.parser").get_text(" ").split())
    assert "1 of 4 READY; 1 WAITING FOR AN OPERATOR; 1 NOT READY; 1 COULD NOT JUDGE" in text
    for env, state in EXPECTED.items():
        assert f"{env}: {WORDS[state]}" in text.replace(" : ", ": "), env
    for rival in ("rollback-ready", "contract READY"):
        assert rival not in text, rival


def test_probe_json_says_contract_passes_never_ready(audited: Audited) -> None:
    done = cli("probe", "--env", "reference", "--format", "json", cwd=audited.workdir)
    assert done.returncode == 0, done.stderr
    assert {record["verdict"] for record in json.loads(done.stdout)} == {"contract_passes"}
    shown = cli("probe", "--env", "reference", cwd=audited.workdir)
    assert "1 of 1 CONTRACT PASSES" in shown.stdout and "reference: CONTRACT PASSES" in shown.stdout
    assert "READY" not in shown.stdout
