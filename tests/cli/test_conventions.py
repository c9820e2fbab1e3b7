"""What a new user meets at the shell: options on either side of the verb, help in words, the serve banner.

Observed before the fix (issue 13): `workbench probe -v` failed with "No such option: -v"; help
showed `--env <list[str]>`, `{file}`, `{run_a}`; `serve --help` named no scenario; the serve banner
named no model id, and a first request naming another model got 404.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.canary import canary_key
from tests.commands import cli
from workbench.core.scenarios import SCENARIO_HELP

VERBS = (
    ("probe",),
    ("audit",),
    ("serve",),
    ("classify",),
    ("runs",),
    ("compare",),
    ("confirm",),
    ("fixtures", "capture"),
    ("trends",),
    ("watch",),
    ("bundle", "capture"),
    ("bundle", "verify"),
    ("bundle", "diff"),
    ("bundle", "plan"),
    ("reports", "prune"),
    ("reports", "html"),
    ("scan",),
)
# what typer prints when a parameter has no metavar: `<list[str]>`, `<int>`, `{file}`, `{run_a}`
PYTHON_TYPES = re.compile(r"<(list\[|str>|int>|float>|path>)|\{[a-z_]+\}")


@pytest.mark.parametrize("verb", VERBS, ids=" ".join)
def test_help_is_in_words_with_an_example(workdir: Path, verb: tuple[str, ...]) -> None:
    done = cli(*verb, "--help", cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert not PYTHON_TYPES.search(done.stdout), done.stdout
    assert "Examples:" in done.stdout
    assert f"workbench {' '.join(verb)}" in done.stdout.split("Examples:")[1]
    assert "Environment to audit" not in done.stdout  # trends --env and others: what it filters


def test_serve_help_lists_every_scenario_with_what_it_does(workdir: Path) -> None:
    done = cli("serve", "--help", cwd=workdir)
    for scenario, text in SCENARIO_HELP.items():
        assert f"{scenario}: {text}" in done.stdout


def test_verbose_and_common_options_work_before_or_after_the_verb(workdir: Path) -> None:
    (workdir / "env.toml").write_text('[environments.only]\nbase_url = "embedded"\n')
    select = ("--probe", "endpoint.minimal", "--format", "json")
    after = cli("probe", *select, "--config", "env.toml", "-v", cwd=workdir)
    before = cli("--config", "env.toml", "-v", "probe", *select, cwd=workdir)
    for done in (after, before):
        assert done.returncode == 0, done.stderr
        assert [r["env"] for r in json.loads(done.stdout)] == ["only"]
        assert "POST http://127.0.0.1:" in done.stderr  # the request log -v turns on
    quiet = cli("probe", *select, "--config", "env.toml", cwd=workdir)
    assert "POST http://127.0.0.1:" not in quiet.stderr


def test_an_option_value_that_looks_like_a_flag_stays_a_value(workdir: Path) -> None:
    done = cli("confirm", "docs-reviewed", "--env", "reference", "--by", "me", "--note", "-v", cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert "-v" in done.stdout  # recorded as the note, not taken as --verbose


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_serve_banner_names_base_url_model_and_where_the_key_comes_from(workdir: Path) -> None:
    key, port = canary_key("serve"), _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "workbench", "serve", "--port", str(port)],
        cwd=workdir,
        stderr=subprocess.PIPE,
        text=True,
        env={**__import__("os").environ, "WORKBENCH_REFERENCE_KEY": key},
    )
    try:
        assert server.stderr is not None
        banner = [server.stderr.readline() for _ in range(4)]
        base = re.search(r"base URL (http://127\.0\.0\.1:\d+)", banner[0])
        model = re.search(r"model: (\S+)", banner[1])
        assert base and model, banner
        assert "$WORKBENCH_REFERENCE_KEY" in banner[2] and key not in "".join(banner)

        def ask(name: str) -> int:
            request = urllib.request.Request(
                f"{base.group(1)}/v1/chat/completions",
                data=json.dumps({"model": name, "messages": [{"role": "user", "content": "hi"}]}).encode(),
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            )
            for _ in range(50):
                try:
                    with urllib.request.urlopen(request, timeout=5) as response:
                        return int(response.status)
                except urllib.error.HTTPError as exc:
                    return exc.code
                except urllib.error.URLError:
                    time.sleep(0.1)  # still binding
            raise AssertionError("the server never answered")

        assert ask(model.group(1)) == 200  # the model the banner names is the one it serves
        assert ask("gpt-4o") == 404  # as the banner warns
    finally:
        server.terminate()
        server.wait(timeout=30)
