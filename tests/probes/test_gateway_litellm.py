"""A real gateway: LiteLLM's proxy (pinned) in front of the reference endpoint, audited by the workbench.

What the gateway does was observed first, by hand with curl (and a byte-logging relay between the
gateway and the reference endpoint, to see what it sends upstream), then recorded with `python -m
tests.gateway` into tests/data/gateway/litellm-1.108.7/ (its README has the table of answers).
LiteLLM 1.108.7 conforms on the minimal request, malformed JSON, a missing field and an
out-of-range value (400 `invalid_request_error`), and the verdicts pass. It deviates in these places:

- no key: 500 `text/plain` "Internal Server Error" (its auth error handler imports `prisma`, which
  `litellm[proxy]` does not install): a client sees a retryable transport failure, not auth;
- a wrong key: 400 `no_db_connection` "No connected db." (without a database every key but the
  master key is looked up in one): a client sees a non-retryable request error (validation);
- every stream: it drops `finish_reason: null` (and `logprobs: null`) from each chunk's choice, so
  `finish_reason`, which the spec requires on every streamed choice (nullable), is absent from all
  but the finishing one. Absent where the spec allows null reads as null (the OpenAI SDK reads it so),
  so the workbench notes it as a spec deviation and passes; with `strict_schema = true` it fails
  (a parser that indexes the key breaks on it: brainlid/langchain #367, alfredapp/openai-workflow #52);
- streaming with `include_usage`: usage arrives on a last chunk that carries a choice with an
  empty delta, where the documented usage chunk has `choices: []`: tolerated, noted.

The app's contract (issue 19) otherwise passes through intact: `tools`, `tool_choice` ("required" or
named) and `response_format` reach the upstream as sent; tool calls come back with their id, name
and JSON-string arguments, streamed deltas keep their `index` and the upstream's argument fragments
one for one; JSON content is untouched. The round trip's assistant `content: null` is dropped before
it goes upstream, so an upstream that refuses it (mistral-common #324) accepts the round trip through
the gateway. So through this gateway auth triggers would never fire, and an app that streams is not
ready but for auth (and, under `strict_schema`, the missing finish_reason).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.gateway import (
    CASES,
    LITELLM_VERSION,
    MODEL,
    STRICT_MODEL,
    TOOLS,
    TRANSCRIPTS,
    Case,
    Gateway,
    argument_fragments,
    litellm_bin,
    read_transcript,
    running_gateway,
    send,
    send_upstream,
    structure,
)
from tests.probes.test_app_contract import AGENT, JSON_APP, TIME, WEATHER
from workbench import HistoryStore, Outcome, RunSummary, Symptom, run_probes
from workbench.core.config import parse_config
from workbench.core.models import VerdictStatus
from workbench.wire.classify import classify

KEY_VAR = "WB_TEST_GATEWAY_KEY"

# The class each stored answer reads as (what an app's client would log), and whether it is retryable.
CLASSIFIED: dict[str, tuple[Symptom, bool]] = {
    "minimal": (Symptom.NONE, False),
    "missing_key": (Symptom.TRANSPORT, True),
    "invalid_key": (Symptom.VALIDATION, False),
    "malformed_json": (Symptom.VALIDATION, False),
    "missing_messages": (Symptom.VALIDATION, False),
    "missing_model": (Symptom.VALIDATION, False),
    "invalid_value": (Symptom.VALIDATION, False),
    "stream_include_usage": (Symptom.NONE, False),
    **{case.name: (Symptom.NONE, False) for case in CASES if case.name.startswith(("tool_", "json_"))},
}
# Every stream the gateway sends lacks `finish_reason` on each choice but the finishing one; nothing
# else it sends departs from the pinned spec (the extra `provider_specific_fields` is allowed).
STREAMED = frozenset(case.name for case in CASES if case.stream)

# probe -> (outcome, symptom, retryable, words its detail must contain)
VERDICTS: dict[str, tuple[Outcome, Symptom, bool, tuple[str, ...]]] = {
    "endpoint.minimal": (Outcome.PASS, Symptom.NONE, False, ("HTTP 200",)),
    "request.app_realistic": (Outcome.PASS, Symptom.NONE, False, ("HTTP 200",)),
    "auth.missing_key": (
        Outcome.FAIL,
        Symptom.TRANSPORT,
        True,
        ("expected the auth class, got transport", "HTTP 500", "plain text"),
    ),
    "auth.invalid_key": (
        Outcome.FAIL,
        Symptom.VALIDATION,
        False,
        ("expected the auth class, got validation", "HTTP 400", "no_db_connection"),
    ),
    "errors.malformed_json": (Outcome.PASS, Symptom.NONE, False, ("rejected as expected", "request_body")),
    "errors.missing_field": (Outcome.PASS, Symptom.NONE, False, ("without 'messages'", "without 'model'")),
    "errors.invalid_value": (
        Outcome.PASS,
        Symptom.NONE,
        False,
        ("rejected as expected", "param temperature"),
    ),
    "response.optional_fields": (Outcome.PASS, Symptom.NONE, False, ("degrades safely",)),
    "response.fixture_replay": (Outcome.SKIP, Symptom.NONE, False, ("no known-good fixtures",)),
    "streaming.sse": (
        Outcome.PASS,
        Symptom.NONE,
        False,
        (
            "choices[0].finish_reason: required by the spec, absent",
            "where the spec allows null: read as null",
            "usage chunk carries 1 choice(s)",
        ),
    ),
    "limits.operator_confirmation": (Outcome.NEEDS_OPERATOR, Symptom.NONE, False, ()),
}


def _transcript(name: str) -> Path:
    return TRANSCRIPTS / f"{name}.http"


# -- the stored transcripts (no gateway needed) ------------------------------------------------------


def test_every_case_has_a_transcript_and_nothing_else_is_there() -> None:
    assert sorted(path.stem for path in TRANSCRIPTS.glob("*.http")) == sorted(case.name for case in CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_transcript_says_how_it_was_made_and_holds_no_key(case: Case) -> None:
    text = _transcript(case.name).read_text(encoding="utf-8")
    header = [line for line in text.splitlines() if line.startswith("# ")][:5]
    assert f"LiteLLM proxy {LITELLM_VERSION}" in header[0]
    assert any("captured 20" in line and "python -m tests.gateway" in line for line in header)
    authorization = [line for line in text.splitlines() if line.lower().startswith("authorization:")]
    expected = {
        "master": ["Authorization: Bearer <MASTER_KEY>"],
        "wrong": ["Authorization: Bearer <WRONG_KEY>"],
    }
    assert authorization == expected.get(case.key, [])
    assert "sk-" not in text


@pytest.mark.parametrize("name", sorted(CLASSIFIED))
def test_stored_answer_classifies_as_observed(name: str) -> None:
    """The workbench's classifier on the exact bytes the gateway sent (the live probes below agree)."""
    stored = read_transcript(_transcript(name))
    result = classify(stored.status, stored.body, content_type=stored.headers.get("content-type", ""))
    assert (result.symptom, result.retryable) == CLASSIFIED[name], result.detail
    if name == "stream_include_usage":
        assert result.stream is not None and result.stream.done and result.stream.usage is not None


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_stored_answer_departs_from_the_spec_only_in_the_streamed_finish_reason(case: Case) -> None:
    """The pinned spec on the exact bytes: a stream lacks `finish_reason` on every choice the gateway
    sent without one (counted from the bytes); no body, error body or other chunk field departs."""
    stored = read_transcript(_transcript(case.name))
    result = classify(stored.status, stored.body, content_type=stored.headers.get("content-type", ""))
    found = [(d.path, d.field, d.got, d.count) for d in result.deviations]
    if case.name not in STREAMED:
        assert found == []
        return
    choices = [choice for chunk in _chunks(stored.body) for choice in chunk["choices"]]
    absent = sum("finish_reason" not in choice for choice in choices)
    assert absent == len(choices) - 1  # only the finishing choice carries it
    assert found == [("choices[0].finish_reason", "choices[].finish_reason", "absent", absent)]


@pytest.mark.parametrize("name", sorted(c.name for c in CASES if c.name.startswith("tool_call_")))
def test_stored_tool_calls_reassemble_into_a_valid_call(name: str) -> None:
    """Whole or streamed (deltas placed by index), the call has an id, an offered name and arguments
    that are a JSON string valid against the tool's parameters; a named choice gets its tool."""
    stored = read_transcript(_transcript(name))
    result = classify(stored.status, stored.body, content_type=stored.headers.get("content-type", ""))
    if result.stream is not None:
        assert result.stream.call_problems == []
        calls = [(c.id, c.name, c.arguments) for c in result.stream.tool_calls()]
    else:
        message = result.decoded["choices"][0]["message"]
        assert message["content"] is None
        calls = [(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in message["tool_calls"]]
    ((call_id, tool, arguments),) = calls
    assert isinstance(call_id, str) and call_id.startswith("call_")
    assert tool == ("get_time" if "named" in name else "get_weather")
    parameters = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}[tool]
    assert isinstance(arguments, str)
    jsonschema.validate(json.loads(arguments), parameters)


def _chunks(body: bytes) -> list[dict[str, Any]]:
    lines = body.decode("utf-8").split("\n")
    data = [line[len("data:") :].strip() for line in lines if line.startswith("data:")]
    return [json.loads(item) for item in data if item != "[DONE]"]


# -- the live gateway --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    with running_gateway(litellm_bin()) as running:
        yield running


@pytest.mark.slow
@pytest.mark.third_party
def test_the_pinned_version_runs(gateway: Gateway) -> None:
    assert gateway.version == LITELLM_VERSION


@pytest.mark.slow
@pytest.mark.third_party
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_gateway_still_answers_as_transcribed(gateway: Gateway, case: Case) -> None:
    """Status, media type, envelope keys, error type/code/param, stream framing as stored; no ids or text."""
    live = send(gateway, case)
    stored = read_transcript(_transcript(case.name))
    assert structure(live.status, dict(live.headers), live.body) == structure(
        stored.status, stored.headers, stored.body
    )


REPEATS = 3  # the verdicts must not depend on the run (issue 10): compared across repeated runs


@pytest.fixture(scope="module")
def audits(gateway: Gateway, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RunSummary]]:
    """Full probe runs of the gateway, as `workbench probe` would do them (the app streams)."""
    config = parse_config(
        f'[environments.litellm]\nbase_url = "{gateway.base_url}"\napi_key_env = "{KEY_VAR}"\n'
        f'model = "{MODEL}"\nstream = true\n',
        source=None,
    )
    store = HistoryStore(f"sqlite:///{tmp_path_factory.mktemp('gateway') / 'history.sqlite'}")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_VAR, gateway.master_key)
        summaries = [run_probes(config, store=store) for _ in range(REPEATS)]
    store.close()
    yield summaries


@pytest.fixture(scope="module")
def audit(audits: list[RunSummary]) -> RunSummary:
    return audits[0]


@pytest.mark.slow
@pytest.mark.third_party
def test_every_run_of_the_gateway_gets_the_same_verdicts(audits: list[RunSummary]) -> None:
    def outcomes(summary: RunSummary) -> list[tuple[str, str, str, bool]]:
        return [(r.probe, str(r.outcome), str(r.symptom), r.retryable) for r in summary.results]

    assert all(outcomes(summary) == outcomes(audits[0]) for summary in audits[1:])
    assert len({str(summary.verdicts[0].status) for summary in audits}) == 1


@pytest.mark.slow
@pytest.mark.third_party
@pytest.mark.parametrize("probe", sorted(VERDICTS))
def test_workbench_verdict_on_the_gateway(audit: RunSummary, probe: str) -> None:
    (result,) = [r for r in audit.results if r.probe == probe]
    outcome, symptom, retryable, words = VERDICTS[probe]
    assert (result.outcome, result.symptom, result.retryable) == (outcome, symptom, retryable), result.detail
    for word in words:
        assert word in result.detail
    if outcome is Outcome.FAIL:
        assert result.action


@pytest.mark.slow
@pytest.mark.third_party
def test_gateway_is_not_ready_for_its_auth_deviations_and_the_streamed_finish_reason(
    audit: RunSummary,
) -> None:
    (verdict,) = audit.verdicts
    assert str(verdict.status) == "not_ready"
    failing = sorted(r.probe for r in audit.results if r.outcome is Outcome.FAIL)
    assert failing == ["auth.invalid_key", "auth.missing_key"]
    assert audit.exit_code == 1


# -- what the gateway changes on the way: the same request sent to it and to its upstream --------


@pytest.mark.slow
@pytest.mark.third_party
@pytest.mark.parametrize("name", ["tool_call_required_stream", "tool_call_named_stream"])
def test_gateway_passes_tool_argument_fragments_through_one_for_one(gateway: Gateway, name: str) -> None:
    """Neither split nor merged, each delta keeps its `index` (LiteLLM #7621 and #20711 reported
    arguments garbled on the way): what the upstream streamed is what the app receives."""
    (case,) = [c for c in CASES if c.name == name]
    direct, through = send_upstream(gateway, case), send(gateway, case)
    assert (direct.status, through.status) == (200, 200)
    upstream = argument_fragments(direct.body)
    assert len(upstream) > 2 and all(index == 0 for index, _ in upstream)
    assert argument_fragments(through.body) == upstream


@pytest.mark.slow
@pytest.mark.third_party
@pytest.mark.parametrize("name", sorted(STREAMED))
def test_the_streamed_departures_are_the_gateways_not_the_upstreams(gateway: Gateway, name: str) -> None:
    """The reference endpoint sends `finish_reason` (null until the end) on every choice and its usage
    chunk with `choices: []`; through LiteLLM the key is only where set and the usage chunk has a choice.
    The content, the calls' deltas (but one key) and the termination arrive as the upstream sent them."""
    (case,) = [c for c in CASES if c.name == name]
    direct, through = send_upstream(gateway, case), send(gateway, case)
    upstream = structure(direct.status, dict(direct.headers), direct.body)
    gateway_side = structure(through.status, dict(through.headers), through.body)
    assert (upstream["finish_reason_key"], gateway_side["finish_reason_key"]) == (
        "on every choice",
        "only where set",
    )
    asked_usage = b'"include_usage": true' in case.body
    assert upstream["usage_chunk_choices"] == ([0] if asked_usage else [])
    assert gateway_side["usage_chunk_choices"] == ([1] if asked_usage else [])
    for same in ("content", "done", "finish_reasons"):
        assert gateway_side[same] == upstream[same], same
    if upstream["tool_deltas"] is not None:
        # LiteLLM adds `"type": "function"` to the deltas after a call's first (the spec allows it there)
        added = {
            **upstream["tool_deltas"],
            "rest_keys": sorted([*upstream["tool_deltas"]["rest_keys"], "type"]),
        }
        assert gateway_side["tool_deltas"] == added


@pytest.mark.slow
@pytest.mark.third_party
def test_gateway_drops_null_content_so_a_strict_upstream_takes_the_round_trip(gateway: Gateway) -> None:
    """The upstream refuses an assistant `content: null` (400, param messages[1].content); through
    LiteLLM the same round trip is answered, because the gateway forwards the message without it."""
    (case,) = [c for c in CASES if c.name == "tool_round_trip_strict_upstream"]
    direct, through = send_upstream(gateway, case), send(gateway, case)
    assert direct.status == 400
    assert json.loads(direct.body)["error"]["param"] == "messages[1].content"
    assert through.status == 200
    assert json.loads(through.body)["choices"][0]["message"]["content"]


# -- the app's contract through the gateway (issue 19) ----------------------------------------------

NAMED_AGENT = (
    'tool_choice = { type = "function", function = { name = "get_time" } }\n'
    f"tools = [{WEATHER}, {TIME}]\n"
)
# env -> (model it is routed to, stream, app_request)
APPS: dict[str, tuple[str, bool, str]] = {
    "agent": (MODEL, True, AGENT),  # tools, tool_choice "required", include_usage; streams
    "extractor": (MODEL, True, JSON_APP),  # response_format json_schema; streams
    "named-agent": (MODEL, False, NAMED_AGENT),  # names its tool; does not stream
}
NEW_PROBES = (
    "request.tool_call",
    "request.tool_round_trip",
    "request.structured_output",
    "streaming.tool_call",
    "streaming.sse",
)
FINISH_ABSENT = (
    "choices[0].finish_reason: required by the spec, absent",
    "where the spec allows null: read as null",
)
# (env, probe) -> (outcome, symptom, words its detail must contain)
APP_VERDICTS: dict[tuple[str, str], tuple[Outcome, Symptom, tuple[str, ...]]] = {
    ("agent", "request.app_realistic"): (Outcome.PASS, Symptom.NONE, ("1 tool call(s)", "tool_calls")),
    ("agent", "request.tool_call"): (
        Outcome.PASS,
        Symptom.NONE,
        ('tool_choice "required", the app\'s', "1 tool call(s)", "finish_reason tool_calls"),
    ),
    ("agent", "request.tool_round_trip"): (Outcome.PASS, Symptom.NONE, ("content null", "HTTP 200")),
    ("agent", "request.structured_output"): (Outcome.SKIP, Symptom.NONE, ("no JSON answer",)),
    ("agent", "streaming.tool_call"): (
        Outcome.PASS,
        Symptom.NONE,
        (*FINISH_ABSENT, "usage chunk carries 1 choice(s)"),
    ),
    ("agent", "streaming.sse"): (
        Outcome.PASS,
        Symptom.NONE,
        (*FINISH_ABSENT, "usage chunk carries 1 choice(s)"),
    ),
    ("extractor", "request.app_realistic"): (Outcome.PASS, Symptom.NONE, ("response_format",)),
    ("extractor", "request.structured_output"): (
        Outcome.PASS,
        Symptom.NONE,
        ("structured output (json_schema)", "HTTP 200"),
    ),
    ("extractor", "request.tool_call"): (Outcome.SKIP, Symptom.NONE, ("offers no tools",)),
    ("extractor", "request.tool_round_trip"): (Outcome.SKIP, Symptom.NONE, ("offers no tools",)),
    ("extractor", "streaming.tool_call"): (Outcome.SKIP, Symptom.NONE, ("offers no tools",)),
    ("extractor", "streaming.sse"): (Outcome.PASS, Symptom.NONE, FINISH_ABSENT),
    ("named-agent", "request.tool_call"): (
        Outcome.PASS,
        Symptom.NONE,
        ("tool_choice 'get_time', the app's", "1 tool call(s)"),
    ),
    ("named-agent", "request.tool_round_trip"): (Outcome.PASS, Symptom.NONE, ("content null",)),
    ("named-agent", "request.structured_output"): (Outcome.SKIP, Symptom.NONE, ("no JSON answer",)),
    ("named-agent", "streaming.tool_call"): (Outcome.SKIP, Symptom.NONE, ("does not stream",)),
    ("named-agent", "streaming.sse"): (Outcome.SKIP, Symptom.NONE, ("does not stream",)),
}
# env -> the probes that fail, each with its class: the auth deviations, for every app
AUTH_FAILING = {"auth.invalid_key": Symptom.VALIDATION, "auth.missing_key": Symptom.TRANSPORT}
APP_FAILING: dict[str, dict[str, Symptom]] = dict.fromkeys(
    ("agent", "extractor", "named-agent"), AUTH_FAILING
)
APP_REPEATS = 2


def _app_config(gateway: Gateway) -> str:
    text = ""
    for env, (model, stream, app_request) in APPS.items():
        text += (
            f'[environments.{env}]\nbase_url = "{gateway.base_url}"\napi_key_env = "{KEY_VAR}"\n'
            f'model = "{model}"\nstream = {str(stream).lower()}\n'
            f"[environments.{env}.app_request]\n{app_request}\n"
        )
    return text


@pytest.fixture(scope="module")
def app_audits(gateway: Gateway, tmp_path_factory: pytest.TempPathFactory) -> list[RunSummary]:
    """Full probe runs of an agent app, a JSON app and a non-streaming app that names its tool."""
    config = parse_config(_app_config(gateway), source=None)
    url = f"sqlite:///{tmp_path_factory.mktemp('gateway-apps') / 'history.sqlite'}"
    with pytest.MonkeyPatch.context() as patch, HistoryStore(url) as store:
        patch.setenv(KEY_VAR, gateway.master_key)
        return [run_probes(config, store=store) for _ in range(APP_REPEATS)]


@pytest.mark.slow
@pytest.mark.third_party
def test_every_run_of_the_apps_gets_the_same_verdicts(app_audits: list[RunSummary]) -> None:
    def outcomes(summary: RunSummary) -> list[tuple[str, str, str, str]]:
        return [(r.env, r.probe, str(r.outcome), str(r.symptom)) for r in summary.results]

    assert all(outcomes(summary) == outcomes(app_audits[0]) for summary in app_audits[1:])


@pytest.mark.slow
@pytest.mark.third_party
@pytest.mark.parametrize(("env", "probe"), sorted(APP_VERDICTS), ids="{0[0]}/{0[1]}".format)
def test_app_contract_verdict_through_the_gateway(app_audits: list[RunSummary], env: str, probe: str) -> None:
    (result,) = [r for r in app_audits[0].results if (r.env, r.probe) == (env, probe)]
    outcome, symptom, words = APP_VERDICTS[env, probe]
    assert (result.outcome, result.symptom) == (outcome, symptom), result.detail
    for word in words:
        assert word in result.detail, result.detail
    if outcome is Outcome.FAIL:
        assert result.action
    if probe in ("request.tool_call", "streaming.tool_call") and outcome is not Outcome.SKIP:
        assert result.facts["called"] == ["get_time" if env == "named-agent" else "get_weather"]


@pytest.mark.slow
@pytest.mark.third_party
def test_every_new_probe_has_a_verdict_for_every_app(app_audits: list[RunSummary]) -> None:
    """No new probe of any app is left out of the table above (a skip is a verdict too)."""
    ran = {(r.env, r.probe) for r in app_audits[0].results if r.probe in NEW_PROBES}
    expected = {(env, probe) for env in APPS for probe in NEW_PROBES}
    assert ran == expected
    assert expected <= set(APP_VERDICTS)


@pytest.mark.slow
@pytest.mark.third_party
def test_the_streams_depart_from_the_spec_only_in_the_missing_finish_reason_noted_not_failed(
    app_audits: list[RunSummary],
) -> None:
    """The call reassembled whole, the JSON valid, usage arrived, [DONE] came: the one departure of each
    streamed answer is the spec's `finish_reason`, absent from every chunk but the finishing one, where
    the spec allows null: information, noted with its count."""
    streamed = [
        r for r in app_audits[0].results if r.probe.startswith("streaming.") and r.outcome is not Outcome.SKIP
    ]
    assert {(r.env, r.probe) for r in streamed} == {
        ("agent", "streaming.sse"),
        ("agent", "streaming.tool_call"),
        ("extractor", "streaming.sse"),
    }
    for result in streamed:
        facts = result.facts
        assert result.outcome is Outcome.PASS and "problems" not in facts, result.detail
        assert facts["spec_deviations"] == [
            {
                "path": "choices[0].finish_reason",
                "field": "choices[].finish_reason",
                "required": "a required field",
                "got": "absent",
                "count": facts["chunks"] - 1,
                "absent_nullable": True,
            }
        ]
        assert facts["done"] and facts["usage"] and facts["usage_chunk_choices"] == 1
        assert facts["tool_calls"] == (1 if result.env == "agent" else 0)


@pytest.mark.slow
@pytest.mark.third_party
def test_no_whole_answer_of_the_gateway_departs_from_the_spec(app_audits: list[RunSummary]) -> None:
    """`provider_specific_fields` on each choice is an extra field, allowed: the non-streamed answers
    (tool calls, round trip, JSON) carry no spec deviation."""
    whole = [
        r for r in app_audits[0].results if r.probe in NEW_PROBES and not r.probe.startswith("streaming.")
    ]
    assert [r for r in whole if r.outcome is Outcome.PASS]
    assert {
        (r.env, r.probe): r.facts.get("spec_deviations") for r in whole if r.facts.get("spec_deviations")
    } == {}


@pytest.mark.slow
@pytest.mark.third_party
@pytest.mark.parametrize("env", sorted(APPS))
def test_each_app_is_not_ready_for_the_auth_deviations_only(app_audits: list[RunSummary], env: str) -> None:
    summary = app_audits[0]
    (verdict,) = [v for v in summary.verdicts if v.env == env]
    assert verdict.status is VerdictStatus.NOT_READY
    failing = {r.probe: r.symptom for r in summary.results if r.env == env and r.outcome is Outcome.FAIL}
    assert failing == APP_FAILING[env]
    for probe, symptom in failing.items():
        assert any(reason.startswith(f"{probe}: {symptom}") for reason in verdict.reasons), verdict.reasons


@pytest.mark.slow
@pytest.mark.third_party
def test_round_trip_through_the_gateway_passes_where_the_upstream_alone_refuses(
    gateway: Gateway, tmp_path: Path
) -> None:
    """The same agent app: through LiteLLM to an upstream that refuses `content: null`, and straight
    to that upstream (the embedded scenario). The gateway's answer is what the app gets: a pass."""
    text = (
        f'[environments.via-gateway]\nbase_url = "{gateway.base_url}"\napi_key_env = "{KEY_VAR}"\n'
        f'model = "{STRICT_MODEL}"\n[environments.via-gateway.app_request]\n{AGENT}\n'
        '[environments.upstream]\nbase_url = "embedded"\nscenario = "tool-result-content-null-rejected"\n'
        f"[environments.upstream.app_request]\n{AGENT}\n"
    )
    with pytest.MonkeyPatch.context() as patch, HistoryStore(f"sqlite:///{tmp_path / 'h.sqlite'}") as store:
        patch.setenv(KEY_VAR, gateway.master_key)
        summary = run_probes(
            parse_config(text, source=None), probe_ids=["request.tool_round_trip"], store=store
        )
    results = {r.env: r for r in summary.results}
    assert results["via-gateway"].outcome is Outcome.PASS, results["via-gateway"].detail
    upstream = results["upstream"]
    assert (upstream.outcome, upstream.symptom) == (Outcome.FAIL, Symptom.VALIDATION), upstream.detail
    assert "param messages[1].content" in upstream.detail


# -- the streaming note, on the reference endpoint ---------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "note"),
    [("conformant", False), ("usage-every-chunk", True)],
)
def test_usage_on_a_chunk_with_choices_is_noted_not_failed(tmp_path: Path, scenario: str, note: bool) -> None:
    """The documented usage chunk has `choices: []` (conformant); usage on the finish chunk: a pass, noted."""
    config = parse_config(
        f'[environments.ref]\nbase_url = "embedded"\nscenario = "{scenario}"\nstream = true\n', source=None
    )
    with HistoryStore(f"sqlite:///{tmp_path / 'h.sqlite'}") as store:
        summary = run_probes(config, probe_ids=["streaming.sse"], store=store)
    (result,) = summary.results
    assert result.outcome is Outcome.PASS, result.detail
    assert result.facts["usage_chunk_choices"] == (1 if note else 0)
    assert ("documented one has `choices: []`" in result.detail) is note
