"""The workbench's own traffic never decides a verdict: turns per host, one try for an unreachable
host, spend caps, and a dry run that sends nothing (issue 10)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.canary import canary_key
from tests.commands import cli
from tests.oneslot import OneSlotServer
from workbench import HistoryStore, Outcome, RunSummary, Symptom, run_probes
from workbench.core.config import parse_config
from workbench.core.scenarios import Scenario
from workbench.reference.endpoint import EmbeddedEndpoint

KEY_VAR = "WB_ONESLOT_KEY"
KEY = canary_key("oneslot")  # built at run time: no key-shaped text is ever committed


@pytest.fixture
def one_slot(monkeypatch: pytest.MonkeyPatch) -> Iterator[OneSlotServer]:
    """A one-slot dropping server in front of a conformant reference endpoint answering in 30 ms."""
    monkeypatch.setenv(KEY_VAR, KEY)
    upstream = EmbeddedEndpoint(frozenset({Scenario.CONFORMANT}), api_key=KEY, latency_ms=30).start()
    try:
        with OneSlotServer(upstream.base_url) as server:
            yield server
    finally:
        upstream.stop()


def _config(base_url: str, *, envs: tuple[str, ...] = ("staging",), workbench_table: str = "") -> str:
    tables = "".join(
        f'[environments.{name}]\nbase_url = "{base_url}"\napi_key_env = "{KEY_VAR}"\n'
        f'model = "wb-reference-1"\nstream = true\n\n'
        for name in envs
    )
    return (f"[workbench]\n{workbench_table}\n" if workbench_table else "") + tables


def _run(tmp_path: Path, text: str, name: str = "history.sqlite") -> RunSummary:
    with HistoryStore(f"sqlite:///{tmp_path / name}") as store:
        return run_probes(parse_config(text, source=None), store=store)


def _outcomes(summary: RunSummary) -> list[tuple[str, str, str, str]]:
    return [(r.env, r.probe, str(r.outcome), str(r.symptom)) for r in summary.results]


def test_a_one_slot_server_that_drops_gets_the_same_verdicts_on_five_runs(
    tmp_path: Path, one_slot: OneSlotServer
) -> None:
    """Two environments behind one host (staging and production behind one gateway) share its turn."""
    text = _config(one_slot.base_url, envs=("staging", "production"))
    runs = [_run(tmp_path, text, f"h{attempt}.sqlite") for attempt in range(5)]
    assert one_slot.dropped == 0
    first = _outcomes(runs[0])
    assert all(_outcomes(run) == first for run in runs[1:])
    assert {str(verdict.status) for run in runs for verdict in run.verdicts} == {"needs_operator"}
    failed = [row for row in first if row[2] not in ("pass", "skip", "needs_operator")]
    assert failed == [], failed


def test_the_old_four_at_a_time_default_made_that_server_drop_requests(
    tmp_path: Path, one_slot: OneSlotServer
) -> None:
    """The control: with 4 in flight the server resets requests and probes fail for the auditor's burst."""
    summary = _run(tmp_path, _config(one_slot.base_url, workbench_table="concurrency_per_env = 4"))
    assert one_slot.dropped > 0
    assert any(r.outcome in (Outcome.FAIL, Outcome.ERROR) for r in summary.results), _outcomes(summary)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_host_is_tried_once_and_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_VAR, KEY)
    port = _closed_port()
    summary = _run(tmp_path, _config(f"http://127.0.0.1:{port}", envs=("staging", "production")))
    tried = [r for r in summary.results if r.outcome is Outcome.FAIL]
    assert len(tried) == 1, _outcomes(summary)
    assert tried[0].symptom is Symptom.TRANSPORT and f"127.0.0.1:{port}" in tried[0].detail
    not_sent = [r for r in summary.results if r.detail.startswith("not sent:")]
    assert len(not_sent) == 2 * 9 - 1  # every other request-sending probe of both environments
    assert all(f"127.0.0.1:{port}" in r.detail and r.outcome is Outcome.SKIP for r in not_sent)
    assert summary.requests == {"staging": 0, "production": 0}  # nothing reached a server


def test_a_request_past_the_spend_cap_is_not_sent(tmp_path: Path, one_slot: OneSlotServer) -> None:
    summary = _run(tmp_path, _config(one_slot.base_url, workbench_table="max_requests_per_env = 3"))
    assert one_slot.requests == 3 and summary.requests == {"staging": 3}
    capped = [r for r in summary.results if "spend cap reached" in r.detail]
    assert capped and all(r.outcome is Outcome.ERROR for r in capped)
    assert "max_requests_per_env" in capped[0].detail


def test_the_token_cap_counts_what_each_request_asks_for(tmp_path: Path, one_slot: OneSlotServer) -> None:
    summary = _run(tmp_path, _config(one_slot.base_url, workbench_table="max_requested_tokens_per_env = 40"))
    # minimal and app-realistic (16 + 16); then every request asking for 16 more is refused, but the
    # malformed body asks for none and is sent
    assert one_slot.requests == 3
    capped = [r for r in summary.results if "spend cap reached" in r.detail]
    assert capped and "max_requested_tokens_per_env" in capped[0].detail


def test_the_dry_run_lists_what_would_be_sent_and_sends_nothing(
    tmp_path: Path, one_slot: OneSlotServer
) -> None:
    config = tmp_path / "environments.toml"
    config.write_text(_config(one_slot.base_url) + "production = true\n")
    result = cli(
        "probe", "--dry-run", "--format", "json", "--config", str(config), cwd=tmp_path, env={KEY_VAR: ""}
    )
    assert result.returncode == 0, result.stderr
    (plan,) = json.loads(result.stdout)
    assert one_slot.requests == 0 and not (tmp_path / "data").exists()  # no request, no store
    assert plan["key_set"] is False and plan["token_param"] == "max_tokens"
    planned = {row["probe"]: row for row in plan["probes"]}
    assert planned["auth.missing_key"]["requests"] == 0  # production: negative probes are skipped
    assert "--allow-production-negatives" in planned["auth.missing_key"]["skipped"]
    assert plan["requests"] == 4  # minimal, app-realistic, one fresh response to ablate, the stream
    assert plan["requested_tokens"] == 4 * 16
    table = cli("probe", "--dry-run", "--config", str(config), cwd=tmp_path, env={KEY_VAR: ""})
    assert "nothing was sent" in table.stdout and f"${KEY_VAR} (NOT SET" in table.stdout


def test_the_dry_run_lists_the_probes_the_apps_contract_adds_and_the_cap_counts_them(tmp_path: Path) -> None:
    """Issue 19: an agent app's environment plans the tool probes, each with the budget it will ask
    for (256 tokens when the app sets none: 16 cuts arguments), and the default cap covers them."""
    tools = 'tools = [{ type = "function", function = { name = "f", parameters = { type = "object" } } }]\n'
    config = tmp_path / "environments.toml"
    config.write_text(
        '[environments.agent]\nbase_url = "embedded"\nstream = true\n[environments.agent.app_request]\n'
        + 'tool_choice = "required"\n'
        + tools
    )
    result = cli("probe", "--dry-run", "--format", "json", "--config", str(config), cwd=tmp_path)
    (plan,) = json.loads(result.stdout)
    planned = {row["probe"]: row for row in plan["probes"]}
    for probe, requests in (
        ("request.tool_call", 1),
        ("streaming.tool_call", 1),
        ("request.tool_round_trip", 2),
    ):
        assert (planned[probe]["requests"], planned[probe]["tokens"]) == (requests, requests * 256), probe
    assert planned["request.structured_output"]["requests"] == 0  # the app asks for no JSON
    assert "no app_request.response_format" in planned["request.structured_output"]["skipped"]
    assert (
        plan["max_requests"] >= 2 * plan["requests"]
        and plan["max_requested_tokens"] >= plan["requested_tokens"]
    )
