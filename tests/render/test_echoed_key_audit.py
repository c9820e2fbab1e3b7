"""Acceptance (issues 11 and 20): a key the endpoint echoes back in every way is in nothing an audit
writes or says, on a SQLite and on a PostgreSQL store: the store, the notebooks, the HTML, the JUnit
file, stdout, `workbench scan` and readiness step 6.

Observed before the fix with this very audit: the raw key, its base64 and URL-encoded forms and the
first half of a key cut at 300 characters were in `history.sqlite`, the verdict lines on stdout, the
contract_audit and rollback_readiness notebooks and HTML, and (base64 form) the JUnit file. Issue 20
added the echo modes whose key slipped past that redaction: its first character written `\\u0073`
before a cut (a 4xx message, a refusal), lower-case percent-encoding, and a key split over two SSE
`data:` lines; step 6 passed and `workbench scan` said "no secret" while they were stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.commands import Ran, cli
from tests.hostile import ECHO_MODES, HostileServer
from tests.probes.test_echoed_key import KEY, VARIABLE, echo_config, leaks_in
from tests.render.test_report import NOTEBOOKS, copy_project_data
from workbench import HistoryStore
from workbench.core.config import load_config
from workbench.core.redaction import marker
from workbench.rollback.evidence import stored_readiness

pytestmark = pytest.mark.slow
pytest_plugins = ("tests.pg",)


@dataclass(frozen=True)
class Echoed:
    workdir: Path
    done: Ran
    env: dict[str, str]  # what the audit's environment held: the key, and a PostgreSQL store's URL

    def store(self) -> HistoryStore:
        """The store the audit wrote, opened for its project."""
        config = load_config(self.workdir / "data" / "environments.toml")
        return HistoryStore.for_config(config, self.env.get("WORKBENCH_STORE"))


@pytest.fixture(scope="module")
def echoed_audit(tmp_path_factory: pytest.TempPathFactory, module_store_url: str) -> Iterator[Echoed]:
    workdir = tmp_path_factory.mktemp("echoed")
    copy_project_data(workdir)
    env = {VARIABLE: KEY}
    if module_store_url.startswith("postgresql"):
        env["WORKBENCH_STORE"] = module_store_url
    with ExitStack() as stack:
        servers = {mode: stack.enter_context(HostileServer("echo_key", mode=mode)) for mode in ECHO_MODES}
        config = echo_config(servers, workdir / "data").replace(
            "[workbench]\n", '[workbench]\nproject = "echo"\n'
        )
        (workdir / "data" / "environments.toml").write_text(config)
        done = cli("audit", "--notebooks", str(NOTEBOOKS), "--junit", "junit.xml", cwd=workdir, env=env)
        assert all(server.requests for server in servers.values())
    yield Echoed(workdir, done, env)


def test_the_audit_ran_and_wrote_its_reports(echoed_audit: Echoed) -> None:
    workdir, done = echoed_audit.workdir, echoed_audit.done
    assert done.returncode == 1, done.stdout + done.stderr  # every environment fails: not ready
    written = {path.suffix for path in workdir.rglob("*") if path.is_file()}
    assert {".ipynb", ".html", ".xml"} <= written
    assert "[redacted $WB_ECHO_KEY]" in (workdir / "junit.xml").read_text()
    # the audit's own scan of what it wrote found nothing (before: the wrong key auth.invalid_key
    # sends, echoed back, read as a bearer token: "a secret was written", status "secret found")
    assert "a secret was written" not in done.stderr, done.stderr
    (manifest,) = workdir.glob("reports/*/*-audit.json")
    assert json.loads(manifest.read_text())["status"] == "complete"


def test_every_echo_mode_was_redacted_not_dropped(echoed_audit: Echoed) -> None:
    """Each environment's stored results carry the marker: its server echoed the key, in its own
    form, and the redactor replaced it (a mode that echoed nothing would prove nothing)."""
    with echoed_audit.store() as store:
        (run,) = store.runs()
        results = store.results([run.run_id])
    # a marker cut short by a later cut (`[redacted $WB_ECHO_K`) still shows the key was replaced
    redacted = {result.env for result in results if marker(VARIABLE)[:11] in result.detail}
    assert redacted == {mode.replace("_", "-") for mode in ECHO_MODES}


def test_no_form_of_the_echoed_key_in_any_output(echoed_audit: Echoed) -> None:
    assert leaks_in(echoed_audit.done.stdout) == []
    assert leaks_in(echoed_audit.done.stderr) == []


def test_no_form_of_the_echoed_key_in_any_file_the_audit_wrote(echoed_audit: Echoed) -> None:
    workdir = echoed_audit.workdir
    leaking = {
        str(path.relative_to(workdir)): leaks_in(path.read_bytes())
        for path in sorted(workdir.rglob("*"))
        if path.is_file() and leaks_in(path.read_bytes())
    }
    assert leaking == {}


def test_step_6_and_workbench_scan_find_nothing_in_the_store_or_the_files(echoed_audit: Echoed) -> None:
    with echoed_audit.store() as store:
        (run,) = store.runs()
        readiness = stored_readiness(store, run.run_id)
    assert set(readiness) == {mode.replace("_", "-") for mode in ECHO_MODES}
    for env, verdict in readiness.items():
        step = verdict.steps[5]
        assert step.status == "pass", (env, step.evidence)
    if "WORKBENCH_STORE" in echoed_audit.env:  # step 6 searched the tables (no file to scan)
        assert "and the history store postgresql" in step.evidence, step.evidence
    scanned = cli("scan", cwd=echoed_audit.workdir, env=echoed_audit.env)
    assert scanned.returncode == 0, scanned.stdout  # reports/, data/ and the store
    assert "no secret in" in scanned.stdout and leaks_in(scanned.stdout) == []
