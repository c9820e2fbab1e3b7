"""An endpoint no request reaches, as the command line shows it (issue 13, item 7).

Observed before the fix, with `base_url` on a host whose name does not resolve: the audit printed
the same "could not connect ... Name or service not known" once per probe across steps 3 and 4,
"requests sent: bad: 0" (the count was already of requests that reached a server, the words were
not), "next: fix or roll back what the failures name", and step 2 advised rolling back the HTTP
client, base URL or proxy for what was a failure on the auditor's side. Here the host is a closed
port on 127.0.0.1 (connection refused: the same connect failure, and loopback only).
"""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest

from tests.canary import canary_key
from tests.commands import cli

KEY = canary_key("unreachable")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed when the block ends: connections are refused


@pytest.fixture
def dead(workdir: Path) -> str:
    port = _closed_port()
    (workdir / "env.toml").write_text(
        f'[environments.dead]\nbase_url = "http://127.0.0.1:{port}"\napi_key_env = "WB_TEST_KEY"\n'
        'model = "wb-reference-1"\n'
    )
    return f"127.0.0.1:{port}"


def test_an_unreachable_host_is_one_line_naming_it_and_nothing_counts_as_sent(
    workdir: Path, dead: str
) -> None:
    done = cli("probe", "--config", "env.toml", cwd=workdir, env={"WB_TEST_KEY": KEY})
    assert done.returncode == 1, done.stdout + done.stderr
    connect_lines = [line for line in done.stdout.splitlines() if "could not connect" in line]
    assert len(connect_lines) == 1 and dead in connect_lines[0], done.stdout
    assert "requests that reached a server: dead: 0" in done.stdout
    hint = next(line for line in done.stdout.splitlines() if line.startswith("next:"))
    assert "nothing reached dead" in hint and "DNS, network and proxy" in hint, hint
    assert "roll back" not in hint, hint


def test_the_unreachable_failure_says_to_check_this_side_first(workdir: Path, dead: str) -> None:
    done = cli("probe", "--config", "env.toml", "--format", "json", cwd=workdir, env={"WB_TEST_KEY": KEY})
    failed = [record for record in json.loads(done.stdout) if record["outcome"] == "fail"]
    assert [record["probe"] for record in failed] == ["endpoint.minimal"]
    assert failed[0]["facts"]["unreachable"] is True
    assert failed[0]["action"].startswith("Nothing reached the host: check the base_url, then this machine's")


@pytest.mark.slow
def test_the_readiness_steps_name_the_unreachable_host_once_per_step(workdir: Path, dead: str) -> None:
    done = cli("audit", "--config", "env.toml", "-v", cwd=workdir, env={"WB_TEST_KEY": KEY})  # -v: the steps
    assert done.returncode == 1, done.stdout + done.stderr
    steps = {
        match.group(1): line
        for line in done.stdout.splitlines()
        if (match := re.match(r"  dead step (\d+)\. ", line))
    }
    assert steps["4"].count("could not connect") == 1, steps["4"]  # five probes, one line
    assert "auth.missing_key, auth.invalid_key" in steps["4"]
    assert "this machine's DNS, network and proxy" in steps["2"], steps["2"]
    assert "nothing reached dead" in done.stdout.splitlines()[-1]


def test_a_second_environment_on_the_unreachable_host_could_not_run(workdir: Path) -> None:
    # Observed: staging and production behind one unreachable gateway; production's probes were
    # not sent (the host was already found unreachable), so only its operator item "ran" and its
    # verdict read "needs operator", as if the endpoint were fine.
    port = _closed_port()
    table = f'base_url = "http://127.0.0.1:{port}"\napi_key_env = "WB_TEST_KEY"\nmodel = "wb-reference-1"\n'
    (workdir / "env.toml").write_text(f"[environments.staging]\n{table}[environments.production]\n{table}")
    done = cli("probe", "--config", "env.toml", cwd=workdir, env={"WB_TEST_KEY": KEY})
    assert done.returncode == 1, done.stdout + done.stderr
    verdicts = {
        line.split(":")[0]: line
        for line in done.stdout.splitlines()
        if line.startswith(("staging:", "production:"))
    }
    # nothing reached either: no verdict on the contract (stored not_ready; exit 1 as ever)
    assert verdicts["staging"] == "staging: COULD NOT JUDGE: nothing reached its server", done.stdout
    assert verdicts["production"].startswith("production: COULD NOT JUDGE"), done.stdout
    assert f"probe(s) not sent: could not connect to 127.0.0.1:{port}" in done.stdout
    assert done.stdout.count("could not connect") == 2  # one line per environment, not one per probe
    hint = next(line for line in done.stdout.splitlines() if line.startswith("next:"))
    assert "nothing reached production, staging" in hint and "needs" not in hint, hint
