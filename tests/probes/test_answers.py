"""An answer judged by what the app uses (probes.answers): every break of issue 19 found, naming the
JSON path and the class; every valid variant left alone."""

from __future__ import annotations

import json
from typing import Any

import pytest

from workbench.core.appcontract import AppContract, app_contract
from workbench.core.models import Symptom
from workbench.probes.answers import Asked, asked_of, judge_answer
from workbench.wire.classify import classify

WEATHER = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
    "required": ["city"],
}
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER}}]
AGENT = app_contract({"tools": TOOLS, "tool_choice": "required"})
AGENT_AUTO = app_contract({"tools": TOOLS})
JSON_APP = app_contract(
    {
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "t", "schema": {"type": "object", "required": ["summary"]}},
        }
    }
)
PLAIN = app_contract({})


def completion(message: dict[str, Any], finish: str = "stop", **extra: Any) -> bytes:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        **extra,
    }
    return json.dumps(body).encode()


def call(arguments: Any = '{"city": "Paris"}', **fields: Any) -> dict[str, Any]:
    return {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": arguments},
        **fields,
    }


def judged(
    body: bytes, app: AppContract, asked: Asked | None = None
) -> tuple[list[tuple[str, Symptom]], list[str]]:
    result = classify(200, body, content_type="application/json")
    judgement = judge_answer(result, asked or asked_of(app, {}), app, cut=False)
    return [(p.path, p.symptom) for p in judgement.problems], judgement.notes


@pytest.mark.parametrize(
    "message",
    [
        pytest.param({"content": None, "tool_calls": [call()]}, id="one-call"),
        pytest.param(
            {"content": None, "tool_calls": [call(), call('{"city": "Rome"}', id="call_2")]}, id="parallel"
        ),
        pytest.param({"content": "", "tool_calls": [call()]}, id="empty-string-content"),
    ],
)
def test_valid_tool_calls_are_never_flagged(message: dict[str, Any]) -> None:
    problems, _ = judged(completion(message, "tool_calls"), AGENT)
    assert problems == []


def test_finish_reason_stop_beside_calls_is_a_note() -> None:
    problems, notes = judged(completion({"content": None, "tool_calls": [call()]}, "stop"), AGENT)
    assert problems == [] and any('finish_reason "stop"' in note for note in notes)


def test_arguments_that_break_the_tools_schema_are_quality_with_the_path() -> None:
    problems, _ = judged(
        completion({"content": None, "tool_calls": [call('{"unit": "k"}')]}, "tool_calls"), AGENT
    )
    ((path, symptom),) = problems  # the first way they break it: here the enum of `unit`
    assert path == "choices[0].message.tool_calls[0].function.arguments.unit" and symptom is Symptom.QUALITY


def test_a_forced_call_answered_with_prose_is_quality_when_the_app_forces_it() -> None:
    problems, _ = judged(completion({"content": "Sunny."}), AGENT)
    assert problems == [("choices[0].message.tool_calls", Symptom.QUALITY)]


def test_a_forced_call_the_workbench_added_and_the_model_ignored_is_information() -> None:
    asked = asked_of(AGENT_AUTO, {"tool_choice": "required"})
    assert (asked.forced, asked.forced_by) == ("required", "workbench")
    problems, notes = judged(completion({"content": "Sunny."}), AGENT_AUTO, asked)
    assert problems == [] and any("the workbench forced the call" in note for note in notes)


def test_an_unforced_answer_without_calls_is_fine() -> None:
    problems, _ = judged(completion({"content": "Sunny."}), AGENT_AUTO)
    assert problems == []


def test_a_tool_the_app_did_not_offer_is_quality() -> None:
    other = {"id": "c", "type": "function", "function": {"name": "delete_all", "arguments": "{}"}}
    problems, _ = judged(completion({"content": None, "tool_calls": [other]}, "tool_calls"), AGENT)
    assert problems == [("choices[0].message.tool_calls[0].function.name", Symptom.QUALITY)]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param('{"summary": "x"}', [], id="valid"),
        pytest.param(
            "The ticket is about billing.", [("choices[0].message.content", Symptom.QUALITY)], id="prose"
        ),
        pytest.param('{"summary": "x"', [("choices[0].message.content", Symptom.PARSER)], id="cut-json"),
        pytest.param('{"title": "x"}', [("choices[0].message.content (JSON)", Symptom.QUALITY)], id="schema"),
        pytest.param("[1, 2]", [("choices[0].message.content", Symptom.PARSER)], id="array"),
    ],
)
def test_structured_output(content: str, expected: list[tuple[str, Symptom]]) -> None:
    problems, _ = judged(completion({"content": content}), JSON_APP)
    assert problems == expected


def test_json_only_in_the_reasoning_field_is_a_parser_finding() -> None:
    body = completion({"content": "", "reasoning_content": '{"summary": "x"}'})
    problems, _ = judged(body, JSON_APP)
    assert ("choices[0].message.content", Symptom.PARSER) in problems


def test_the_answer_only_in_reasoning_fails_an_app_that_reads_content() -> None:
    problems, notes = judged(completion({"content": "", "reasoning_content": "The answer is 4."}), PLAIN)
    assert problems == [("choices[0].message.content", Symptom.PARSER)]
    assert "reasoning in reasoning_content" in notes


def test_an_app_that_reads_reasoning_fails_when_none_arrives() -> None:
    reader = app_contract({}, ["reasoning"])
    problems, _ = judged(completion({"content": "4"}), reader)
    assert [symptom for _path, symptom in problems] == [Symptom.PARSER]
    assert judged(completion({"content": "4", "reasoning": "2+2"}), reader)[0] == []


def test_usage_absent_fails_only_an_app_that_reads_it() -> None:
    body = json.loads(completion({"content": "hi"}))
    del body["usage"]
    bare = json.dumps(body).encode()
    assert judged(bare, PLAIN)[0] == []
    assert judged(bare, app_contract({}, ["usage"]))[0] == [("usage", Symptom.PARSER)]


def test_a_streamed_choice_without_finish_reason_is_a_note_unless_strict() -> None:
    """The spec requires `finish_reason` on every streamed choice but allows null there; left out (as
    LiteLLM's proxy does on every chunk but the last) it reads as null: information, or a failure
    under `strict_schema`."""

    def chunk(delta: dict[str, Any], finish: str | None = None, *, keep: bool = True) -> str:
        choice: dict[str, Any] = {"index": 0, "delta": delta}
        if keep or finish:
            choice["finish_reason"] = finish
        body = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [choice]}
        return f"data: {json.dumps(body)}\n\n"

    body = chunk({"role": "assistant", "content": "hi"}, keep=False) + chunk({}, "stop") + "data: [DONE]\n\n"
    result = classify(200, body.encode(), content_type="text/event-stream")
    (deviation,) = result.deviations
    assert (deviation.field, deviation.got, deviation.absent_nullable) == (
        "choices[].finish_reason",
        "absent",
        True,
    )
    relaxed = judge_answer(result, Asked(), PLAIN, cut=False)
    assert relaxed.problems == [] and any("read as null" in note for note in relaxed.notes)
    strict = judge_answer(result, Asked(), PLAIN, cut=False, strict=True)
    assert [(p.path, p.symptom) for p in strict.problems] == [("choices[0].finish_reason", Symptom.PARSER)]
