"""The contract an app actually uses (issue 19): every break the embedded endpoint reproduces makes its
environment not ready, naming the probe, the class and the JSON path; every valid variant stays ready.

Observed before (issue 19): with tools forced (`tool_choice = "required"`), `response_format` and
`include_usage` in app_request, `request.app_realistic` against an endpoint that ignored all three
passed and the environment read "ready"; 0 of 9 breaks were caught.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench import HistoryStore, Outcome, RunSummary, Symptom, run_probes
from workbench.core.config import parse_config
from workbench.core.models import VerdictStatus
from workbench.probes.drift import compare

WEATHER = (
    '{ type = "function", function = { name = "get_weather", parameters = { type = "object", properties = '
    '{ city = { type = "string" }, unit = { type = "string", enum = ["celsius", "fahrenheit"] } }, '
    'required = ["city"] } } }'
)
TIME = (
    '{ type = "function", function = { name = "get_time", parameters = { type = "object", properties = '
    '{ zone = { type = "string" } }, required = ["zone"] } } }'
)
AGENT = (
    f'tool_choice = "required"\nstream_options = {{ include_usage = true }}\ntools = [{WEATHER}, {TIME}]\n'
)
JSON_APP = (
    'response_format = { type = "json_schema", json_schema = { name = "ack", schema = { type = "object", '
    'properties = { acknowledgement = { type = "string" } }, required = ["acknowledgement"] } } }\n'
)

# scenario -> the app it is audited as, and {probe: (class, words of the JSON path in the detail)}
BREAKS: dict[str, tuple[str, dict[str, tuple[Symptom, str]]]] = {
    "tools-ignored": (
        AGENT,
        {
            "request.tool_call": (Symptom.QUALITY, "choices[0].message.tool_calls: absent"),
            "streaming.tool_call": (Symptom.QUALITY, "choices[0].delta.tool_calls: absent"),
        },
    ),
    "tool-deltas-without-index": (
        AGENT,
        {"streaming.tool_call": (Symptom.PARSER, "choices[0].delta.tool_calls[0].index: absent")},
    ),
    "tool-arguments-object": (
        AGENT,
        {
            "request.tool_call": (Symptom.PARSER, "tool_calls[0].function.arguments: is an object"),
            "streaming.tool_call": (Symptom.PARSER, "function.arguments: is an object"),
        },
    ),
    "tool-arguments-invalid-json": (
        AGENT,
        {"request.tool_call": (Symptom.PARSER, "tool_calls[0].function.arguments: is not valid JSON")},
    ),
    "tool-arguments-duplicated": (
        AGENT,
        {"streaming.tool_call": (Symptom.PARSER, "function.arguments: is not valid JSON (Extra data)")},
    ),
    "tool-arguments-null-in-stream": (
        AGENT,
        {"streaming.tool_call": (Symptom.PARSER, "function.arguments: is absent or null")},
    ),
    "tool-call-without-id": (
        AGENT,
        {"request.tool_call": (Symptom.PARSER, "choices[0].message.tool_calls[0].id: is absent")},
    ),
    "tool-result-content-null-rejected": (
        AGENT,
        {"request.tool_round_trip": (Symptom.VALIDATION, "param messages[1].content")},
    ),
    "format-ignored": (
        JSON_APP,
        {"request.structured_output": (Symptom.QUALITY, "choices[0].message.content: is prose, not JSON")},
    ),
    "format-invalid-json": (
        JSON_APP,
        {"request.structured_output": (Symptom.PARSER, "choices[0].message.content: is not valid JSON")},
    ),
    "format-rejected": (
        JSON_APP,
        {"request.structured_output": (Symptom.VALIDATION, "param response_format")},
    ),
    "reasoning-only-answer": (
        "",
        {"endpoint.minimal": (Symptom.PARSER, "choices[0].message.content: empty: the answer arrived only")},
    ),
    "usage-missing-with-include": (
        AGENT,
        {"streaming.sse": (Symptom.PARSER, "usage: absent from the stream")},
    ),
    "finish-reason-empty": (
        "",
        {
            "endpoint.minimal": (
                Symptom.PARSER,
                "choices[0].finish_reason: the spec requires one of stop, length",
            )
        },
    ),
}
# What real servers legitimately do: never flagged.
VALID = {
    "conformant": AGENT,
    "parallel-tool-calls": AGENT,
    "tool-calls-finish-stop": AGENT,
    "tool-calls-empty-content": AGENT,
    "tool-arguments-one-chunk": AGENT,
    "empty-choices-chunks": AGENT,
    "conformant-json": JSON_APP,
}


def environment(name: str, scenario: str, app_request: str) -> str:
    text = f'[environments.{name}]\nbase_url = "embedded"\nscenario = "{scenario}"\nstream = true\n'
    return text + (f"[environments.{name}.app_request]\n{app_request}" if app_request else "") + "\n"


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunSummary]:
    """One run over one embedded environment per scenario, each audited as the app it breaks."""
    text = "".join(environment(name, name, app) for name, (app, _) in BREAKS.items())
    text += "".join(environment(name, name.removesuffix("-json"), app) for name, app in VALID.items())
    with HistoryStore(f"sqlite:///{tmp_path_factory.mktemp('store') / 'history.sqlite'}") as store:
        yield run_probes(parse_config(text, source=None), store=store)


@pytest.mark.parametrize("scenario", list(BREAKS))
def test_each_break_makes_its_environment_not_ready_naming_probe_class_and_path(
    audited: RunSummary, scenario: str
) -> None:
    results = {r.probe: r for r in audited.results if r.env == scenario}
    (verdict,) = [v for v in audited.verdicts if v.env == scenario]
    assert verdict.status is VerdictStatus.NOT_READY, verdict
    for probe, (symptom, path) in BREAKS[scenario][1].items():
        result = results[probe]
        assert (result.outcome, result.symptom) == (Outcome.FAIL, symptom), result.detail
        assert path in result.detail, result.detail
        assert any(reason.startswith(f"{probe}: {symptom}") for reason in verdict.reasons), verdict.reasons


@pytest.mark.parametrize("scenario", list(VALID))
def test_no_valid_variant_is_ever_flagged(audited: RunSummary, scenario: str) -> None:
    (verdict,) = [v for v in audited.verdicts if v.env == scenario]
    failed = [
        f"{r.probe}: {r.detail}"
        for r in audited.results
        if r.env == scenario and r.outcome is not Outcome.PASS and r.outcome is not Outcome.SKIP
    ]
    assert verdict.status is VerdictStatus.READY and not failed, failed
    judged = {r.probe for r in audited.results if r.env == scenario and r.outcome is Outcome.PASS}
    expected = (
        {"request.structured_output"}
        if scenario.endswith("json")
        else {
            "request.tool_call",
            "request.tool_round_trip",
            "streaming.tool_call",
            "streaming.sse",
        }
    )
    assert expected <= judged


def test_the_conformant_endpoint_deviates_from_the_spec_nowhere(audited: RunSummary) -> None:
    """Every body, chunk and error body of the conformant runs is checked: none departs from the spec."""
    for scenario in ("conformant", "conformant-json"):
        deviations = {
            r.probe: r.facts["spec_deviations"]
            for r in audited.results
            if r.env == scenario and r.facts.get("spec_deviations")
        }
        assert deviations == {}, json.dumps(deviations, indent=1)


def test_a_forced_call_that_only_the_workbench_added_is_information(tmp_path: Path) -> None:
    """The app lets the model choose (`auto`): the probe forces `required`, its choice; an endpoint
    that ignores it is noted, never failed."""
    app = f'tool_choice = "auto"\ntools = [{WEATHER}]\n'
    config = parse_config(environment("auto-app", "tools-ignored", app), source=None)
    with HistoryStore(f"sqlite:///{tmp_path / 'h.sqlite'}") as store:
        summary = run_probes(config, probe_ids=["request.tool_call"], store=store)
    (result,) = summary.results
    assert result.outcome is Outcome.PASS, result.detail
    assert "the workbench forced the call, the app does not: information" in result.detail


@pytest.mark.parametrize(("uses", "drifted"), [('uses = ["reasoning"]\n', True), ("", False)])
def test_a_renamed_reasoning_field_is_drift_only_for_an_app_that_reads_it(
    tmp_path: Path, uses: str, drifted: bool
) -> None:
    """reasoning_content renamed to reasoning between releases (vLLM #27752): contract drift when the
    app reads reasoning, information otherwise (the one exception to "a removed field is drift")."""
    runs = []
    with HistoryStore(f"sqlite:///{tmp_path / 'h.sqlite'}") as store:
        for scenario in ("reasoning-model", "reasoning-renamed"):
            text = f'[environments.r]\nbase_url = "embedded"\nscenario = "{scenario}"\n{uses}'
            runs.append(
                run_probes(parse_config(text, source=None), probe_ids=["endpoint.minimal"], store=store)
            )
    (drift,) = compare(runs[0].results, runs[1].results, "r", "r")
    assert "choices[].message.reasoning_content" in drift.summary()
    assert drift.drifted is drifted, drift.summary()
    assert all(r.outcome is Outcome.PASS for run in runs for r in run.results)
