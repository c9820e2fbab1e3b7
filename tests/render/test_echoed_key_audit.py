"""Acceptance (issue 11): a key the endpoint echoes back in every way is in nothing an audit writes or says.

Observed before the fix with this very audit: the raw key, its base64 and URL-encoded forms and the
first half of a key cut at 300 characters were in `history.sqlite`, the verdict lines on stdout, the
contract_audit and rollback_readiness notebooks and HTML, and (base64 form) the JUnit file.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.commands import cli
from tests.hostile import ECHO_MODES, HostileServer
from tests.probes.test_echoed_key import KEY, VARIABLE, echo_config, leaks_in
from tests.render.test_report import NOTEBOOKS, copy_project_data

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def echoed_audit(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, subprocess.CompletedProcess[str]]]:
    workdir = tmp_path_factory.mktemp("echoed")
    copy_project_data(workdir)
    with ExitStack() as stack:
        servers = {mode: stack.enter_context(HostileServer("echo_key", mode=mode)) for mode in ECHO_MODES}
        (workdir / "data" / "environments.toml").write_text(echo_config(servers, workdir / "data"))
        done = cli(
            "audit",
            "--notebooks",
            str(NOTEBOOKS),
            "--junit",
            "junit.xml",
            cwd=workdir,
            env={VARIABLE: KEY},
        )
        assert all(server.requests for server in servers.values())
    yield workdir, done


def test_the_audit_ran_and_wrote_its_reports(
    echoed_audit: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    workdir, done = echoed_audit
    assert done.returncode == 1, done.stdout + done.stderr  # every environment fails: not ready
    written = {path.suffix for path in workdir.rglob("*") if path.is_file()}
    assert {".ipynb", ".html", ".sqlite", ".xml"} <= written
    assert "[redacted $WB_ECHO_KEY]" in (workdir / "junit.xml").read_text()


def test_no_form_of_the_echoed_key_in_any_output(
    echoed_audit: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    _workdir, done = echoed_audit
    assert leaks_in(done.stdout) == []
    assert leaks_in(done.stderr) == []


def test_no_form_of_the_echoed_key_in_any_file_the_audit_wrote(
    echoed_audit: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    workdir, _done = echoed_audit
    leaking = {
        str(path.relative_to(workdir)): leaks_in(path.read_bytes())
        for path in sorted(workdir.rglob("*"))
        if path.is_file() and leaks_in(path.read_bytes())
    }
    assert leaking == {}
