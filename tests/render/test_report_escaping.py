"""No script runs and no element is injected when a reviewer opens a report, whatever the text in it.

Script payloads are planted through every source of text a report shows. A loopback endpoint
(`tests.hostile`, behaviour `script_payloads`) says them in flat, FastAPI, OpenAI-envelope and
in-stream error messages, the <title> of an HTML error page, an SSE finish_reason, JSON keys and
usage keys; the configuration carries them in `model`, `path` and a manifest note; an operator types
them into `workbench confirm --by/--note`. All of it is read back from the history store, as from a
shared one. Then a real `workbench audit` writes the four reports, and headless Chromium (offline,
as in test_report.py) opens each one.

Observed on the code before the fix (this test, Chromium 156): contract_audit and rollback_readiness
came back with document.title 'pwned' (a planted handler ran), injected <img src=x onerror> and
<svg onload> elements, and 49 and 6 planted <script> elements; drift_explorer and symptom_trends held
(plain DataFrames, which pandas escapes; no text from elsewhere).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from tests.browser import dump_dom
from tests.commands import cli
from tests.hostile import HostileServer
from tests.paths import REPO

pytestmark = pytest.mark.slow

PAYLOADS = (
    "<img src=x onerror=\"document.title='pwned'\">",
    "<script>document.title='pwned'</script>",
    '"><svg onload="document.title=\'pwned\'">',
    "[click](javascript:document.title='pwned')",
    "</style><script>document.title='pwned'</script>",
)
KEY = "evil-test-key"  # the endpoint's one accepted key (a test value, not a secret)
PATH = "/v1/chat/completions/path:\"><svg/onload=document.title='pwned'>"  # no whitespace: a valid path


def planted(source: str) -> str:
    """Every payload, labelled with where it was planted (so a report can be shown to carry it)."""
    return f"{source}: " + " ".join(PAYLOADS)


# Where each report shows planted text (the label `tests.hostile` or `planted` put before it): proof that
# the payloads reached the page. Seen in the reports of this test; the symptom_trends report shows no
# text from elsewhere (trigger rule names are validated: letters, digits, '.', '_', '-').
ENDPOINT = ("title", "message", "fastapi", "flat", "envelope", "finish_reason", "usage_key", "stream_error")
SHOWN = {
    "contract_audit": (*ENDPOINT, "json_key"),
    "rollback_readiness": ("title", "model", "path", "by", "note", "manifest"),
    "symptom_trends": (),
    "drift_explorer": ("usage_key", "json_key"),
}
INJECTED = "img[src=x], svg[onload], [onerror], [onload], iframe, a[href^='javascript:' i]"


def toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Reports:
    workdir: Path
    audit: subprocess.CompletedProcess[str]

    def html(self, report: str) -> Path:
        (path,) = self.workdir.glob(f"reports/*/*-{report}.html")
        return path


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reports]:
    workdir = tmp_path_factory.mktemp("escaping")
    data = workdir / "data"
    shutil.copytree(REPO / "data", data, ignore=shutil.ignore_patterns("*.sqlite*"))
    manifest = (data / "integration" / "manifest.toml").read_text().split("[notes]")[0]
    manifest += f"[notes]\noperator = {toml_string(planted('manifest'))}\n"
    (data / "integration" / "evil.toml").write_text(manifest)
    with HostileServer("script_payloads", payload=" ".join(PAYLOADS), key=KEY) as server:
        (data / "environments.toml").write_text(
            "[environments.reference]\n"
            'base_url = "embedded"\nstream = true\nmanifest = "integration/manifest.toml"\n\n'
            "[environments.evil]\n"
            f'base_url = "{server.base_url}"\npath = {toml_string(PATH)}\napi_key_env = "WB_EVIL_KEY"\n'
            f'model = {toml_string(planted("model"))}\nstream = true\nmanifest = "integration/evil.toml"\n\n'
            "[environments.evil-stream]\n"
            f'base_url = "{server.base_url}"\npath = "/stream-error/v1/chat/completions"\n'
            'api_key_env = "WB_EVIL_KEY"\nmodel = "m"\nstream = true\n'
        )
        env = {"WB_EVIL_KEY": KEY}
        confirmed = cli(
            *("confirm", "rate-limits", "--env", "evil", "--by", planted("by"), "--note", planted("note")),
            cwd=workdir,
            env=env,
        )
        assert confirmed.returncode == 0, confirmed.stdout + confirmed.stderr
        captured = cli("bundle", "capture", "--env", "evil", "--release", "r1", cwd=workdir, env=env)
        assert captured.returncode == 0, captured.stdout + captured.stderr
        audit = cli("audit", "--notebooks", str(REPO / "notebooks"), cwd=workdir, env=env)
        assert server.errors == []
    yield Reports(workdir, audit)


def test_the_audit_ran_every_report(reports: Reports) -> None:
    assert reports.audit.returncode == 1, reports.audit.stdout + reports.audit.stderr
    for report in SHOWN:
        assert reports.html(report).is_file()


@pytest.mark.parametrize("report", list(SHOWN))
def test_a_report_shows_planted_text_as_text_and_runs_none_of_it(reports: Reports, report: str) -> None:
    page = reports.html(report)
    title = BeautifulSoup(page.read_text(), "html.parser").title
    dom = BeautifulSoup(dump_dom(page), "html.parser")
    assert dom.title is not None and title is not None
    assert dom.title.get_text() == title.get_text() and "pwned" not in dom.title.get_text(), "a script ran"
    injected = [str(element)[:200] for element in dom.select(INJECTED)]
    assert not injected, f"elements injected into {report}: {injected}"
    ran = [s.get_text()[:200] for s in dom.find_all("script") if "pwned" in s.get_text()]
    assert not ran, f"planted scripts in {report}: {ran}"
    text = dom.get_text(" ")
    for source in SHOWN[report]:
        # the start of a payload: some views quote a value (JSON, repr), which escapes its quotes
        shown = (f"{source}: <img src=x onerror=", f'{source}:"><svg')
        assert any(start in text for start in shown), f"{source}'s text is missing from {report}"
