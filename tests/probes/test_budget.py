"""The probe's own budget and request fields are the auditor's choices, never the endpoint's fault.

Each case runs the real probes over HTTP against the embedded endpoint in a scenario that behaves
as real models do (OpenAI's reasoning models reject `max_tokens` and non-default sampling values
and spend hidden tokens first; verbose models use any small budget whole). Before issue 10 each of
these failed the endpoint: `quality` for a budget the probe chose, `validation` for a parameter it
chose.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench import HistoryStore, Outcome, ProbeResult, RunSummary, Symptom, run_probes
from workbench.core.config import parse_config


def run(tmp_path: Path, table: str, *probes: str) -> tuple[RunSummary, dict[str, ProbeResult]]:
    config = parse_config(f'[environments.ref]\nbase_url = "embedded"\nstream = true\n{table}', source=None)
    with HistoryStore(f"sqlite:///{tmp_path / 'history.sqlite'}") as store:
        summary = run_probes(config, probe_ids=list(probes), store=store)
    return summary, {result.probe: result for result in summary.results}


def test_an_answer_cut_at_the_probes_budget_passes_with_a_note(tmp_path: Path) -> None:
    summary, results = run(tmp_path, 'scenario = "verbose-model"\n', "endpoint.minimal", "streaming.sse")
    minimal = results["endpoint.minimal"]
    assert (minimal.outcome, minimal.symptom) == (Outcome.PASS, Symptom.NONE), minimal.detail
    assert "cut at the workbench's own budget (max_tokens = 16)" in minimal.detail
    assert minimal.facts["finish_reason"] == "length"
    assert results["streaming.sse"].outcome is Outcome.PASS
    assert summary.requests == {"ref": 2}


def test_an_empty_answer_cut_at_the_budget_is_asked_once_more_with_a_larger_one(tmp_path: Path) -> None:
    answering = ("endpoint.minimal", "request.app_realistic", "streaming.sse")
    summary, results = run(tmp_path, 'scenario = "reasoning-model"\n', *answering)
    for probe in answering:
        result = results[probe]
        assert (result.outcome, result.symptom) == (Outcome.PASS, Symptom.NONE), result.detail
        assert "empty at max_tokens = 16" in result.detail
        assert "asked again with max_tokens = 1024" in result.detail
    assert summary.requests == {"ref": 6}  # each asked twice: retries are counted


def test_still_empty_at_the_larger_budget_is_a_finding_naming_both_budgets(tmp_path: Path) -> None:
    table = 'scenario = "reasoning-model"\nmax_tokens_retry = 32\n'  # below its 64 hidden tokens
    _, results = run(tmp_path, table, "endpoint.minimal", "streaming.sse")
    for probe in ("endpoint.minimal", "streaming.sse"):
        result = results[probe]
        assert (result.outcome, result.symptom) == (Outcome.FAIL, Symptom.QUALITY), result.detail
        assert "max_tokens = 16 and 32" in result.detail


def test_a_rejected_token_parameter_is_asked_again_with_the_other_and_reported_as_a_fix(
    tmp_path: Path,
) -> None:
    summary, results = run(tmp_path, 'scenario = "max-completion-tokens-only"\n')
    assert {r.probe: (r.outcome, r.symptom) for r in summary.results if r.outcome is Outcome.FAIL} == {}
    minimal = results["endpoint.minimal"]
    assert 'set token_param = "max_completion_tokens"' in minimal.detail
    assert summary.requests == {"ref": 11}  # learned once: the later probes send the right parameter


def test_the_configured_token_parameter_is_sent_without_a_retry(tmp_path: Path) -> None:
    table = 'scenario = "max-completion-tokens-only"\ntoken_param = "max_completion_tokens"\n'
    summary, results = run(tmp_path, table)
    assert all(r.outcome is not Outcome.FAIL for r in summary.results)
    assert "token_param" not in results["endpoint.minimal"].detail
    assert summary.requests == {"ref": 10}


def test_sampling_fields_the_workbench_chose_are_dropped_when_rejected(tmp_path: Path) -> None:
    _, results = run(tmp_path, 'scenario = "fixed-sampling"\n', "request.app_realistic")
    result = results["request.app_realistic"]
    assert (result.outcome, result.symptom) == (Outcome.PASS, Symptom.NONE), result.detail
    assert "rejected temperature" in result.detail and "asked again without" in result.detail


def test_the_apps_own_rejected_fields_stay_a_validation_finding(tmp_path: Path) -> None:
    table = 'scenario = "fixed-sampling"\n[environments.ref.app_request]\ntemperature = 0.2\n'
    _, results = run(tmp_path, table, "request.app_realistic")
    result = results["request.app_realistic"]
    assert (result.outcome, result.symptom) == (Outcome.FAIL, Symptom.VALIDATION), result.detail


def test_an_answer_cut_at_the_apps_own_budget_is_a_quality_finding(tmp_path: Path) -> None:
    table = 'scenario = "verbose-model"\n[environments.ref.app_request]\nmax_tokens = 8\n'
    _, results = run(tmp_path, table, "endpoint.minimal", "request.app_realistic")
    assert results["endpoint.minimal"].outcome is Outcome.PASS
    app = results["request.app_realistic"]
    assert (app.outcome, app.symptom) == (Outcome.FAIL, Symptom.QUALITY), app.detail
    assert "the app's own max_tokens = 8" in app.detail


def test_the_apps_own_budget_replaces_the_workbench_s_whatever_its_name() -> None:
    """One budget per request: the app's `max_tokens` is not sent beside the probe's own
    `max_completion_tokens` (an endpoint would take the smaller one: the wrong budget judged)."""
    from workbench.probes.base import ProbeContext
    from workbench.wire.client import ProbeClient
    from workbench.wire.parser import reference_parser

    config = parse_config(
        '[environments.ref]\nbase_url = "embedded"\ntoken_param = "max_completion_tokens"\n', source=None
    )
    ctx = ProbeContext(
        env=config.environments["ref"],
        client=ProbeClient(timeout_s=1, max_bytes=1024),
        url="http://127.0.0.1:9/v1/chat/completions",
        key=lambda: None,
        parser=reference_parser,
    )
    assert ctx.request_body()["max_completion_tokens"] == 16
    app_body = ctx.request_body(max_tokens=40)
    assert app_body["max_tokens"] == 40 and "max_completion_tokens" not in app_body


def test_a_custom_acceptance_check_never_judges_an_answer_cut_at_the_probes_budget(tmp_path: Path) -> None:
    table = 'scenario = "verbose-model"\nacceptance = "tests.plugins.parsers:whole_answers"\n'
    _, results = run(tmp_path, table, "endpoint.minimal")
    minimal = results["endpoint.minimal"]
    assert minimal.outcome is Outcome.PASS, minimal.detail
    assert "acceptance not judged" in minimal.detail


@pytest.mark.parametrize(
    ("table", "field"),
    [
        ("max_tokens_retry = 8\n", "max_tokens_retry"),  # not larger than max_tokens (16)
        ('token_param = "max_new_tokens"\n', "token_param"),
    ],
)
def test_bad_budget_settings_are_configuration_errors(table: str, field: str) -> None:
    from workbench import ConfigError

    with pytest.raises(ConfigError, match=field):
        parse_config(f'[environments.ref]\nbase_url = "embedded"\n{table}', source=None)
