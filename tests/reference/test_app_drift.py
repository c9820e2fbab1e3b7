"""The app-contract scenarios (issue 19): what each sends on the wire, and what the official client sees.

Breaks first (each a report real gateways produced), then the valid variants (what real servers
legitimately send), then which scenario wins when two conflict. What the `openai` client (3.63) did
with each is observed and written beside the test: it validates nothing, so most breaks pass through
it silently and only its stream helper (`chat.completions.stream`) trips on some.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from tests.paths import REPO
from tests.reference.exchange import MODEL, Endpoints, assert_error, chat, chunks, sse_data
from tests.reference.test_tools_and_formats import ORDER, PERSON, USER, WEATHER, message_of, reassemble
from workbench.core.scenarios import REASONING_TOKENS, Scenario
from workbench.reference.answers import FRAGMENT, JSON_REPLY, REASONING_TEXT, REPLIES
from workbench.reference.endpoint import EmbeddedEndpoint

CLOCK = {"type": "function", "function": {"name": "get_time"}}
FORCED: dict[str, Any] = {"tools": [WEATHER], "tool_choice": "required"}
WHOLE = '{"city":"example","unit":"celsius","days":1}'  # the conformant arguments for WEATHER
JSON_SCHEMA = {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON, "strict": True}}

SDK = Callable[[EmbeddedEndpoint], OpenAI]


def ask(http: httpx.Client, endpoint: EmbeddedEndpoint, **fields: Any) -> httpx.Response:
    return chat(http, endpoint, {"model": MODEL, "messages": [USER], **fields})


def stream(http: httpx.Client, endpoint: EmbeddedEndpoint, **fields: Any) -> list[dict[str, Any]]:
    payloads = sse_data(ask(http, endpoint, stream=True, **fields))
    assert payloads[-1] == "[DONE]"
    return chunks(payloads)


def tool_deltas(parsed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for c in parsed for choice in c["choices"] for d in choice["delta"].get("tool_calls") or ()]


def finish_of(parsed: list[dict[str, Any]]) -> str | None:
    return [c for c in parsed if c["choices"]][-1]["choices"][0]["finish_reason"]


def test_conformant_arguments_are_the_ones_these_tests_expect(
    http: httpx.Client, endpoints: Endpoints
) -> None:
    assert message_of(ask(http, endpoints(), **FORCED))["tool_calls"][0]["function"]["arguments"] == WHOLE


# --- breaks: tool calls ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "choice",
    ["required", {"type": "function", "function": {"name": "get_weather"}}, "auto"],
    ids=["required", "named", "auto"],
)
def test_tools_ignored_answers_prose_even_when_forced(
    http: httpx.Client, endpoints: Endpoints, choice: Any
) -> None:
    endpoint = endpoints(Scenario.TOOLS_IGNORED)
    message = message_of(ask(http, endpoint, tools=[WEATHER], tool_choice=choice))
    assert (
        "tool_calls" not in message and message["content"] in REPLIES and message["finish_reason"] == "stop"
    )
    parsed = stream(http, endpoint, tools=[WEATHER], tool_choice=choice)
    assert tool_deltas(parsed) == [] and finish_of(parsed) == "stop"
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in parsed) == message["content"]


def test_tool_deltas_without_index(http: httpx.Client, endpoints: Endpoints, sdk: SDK) -> None:
    endpoint = endpoints(Scenario.TOOL_DELTAS_WITHOUT_INDEX)
    assert message_of(ask(http, endpoint, **FORCED))["tool_calls"][0]["function"]["arguments"] == WHOLE
    deltas = tool_deltas(stream(http, endpoint, **FORCED))
    assert deltas and all("index" not in d for d in deltas)
    assert deltas[0].keys() == {"id", "type", "function"} and deltas[0]["function"] == {
        "name": "get_weather", "arguments": ""
    }  # fmt: skip
    assert "".join(d["function"]["arguments"] for d in deltas) == WHOLE  # only `index` is missing
    client = sdk(endpoint)
    # Observed: iterating the raw stream, the SDK fills the missing `index` with None (no error) ...
    raw = client.chat.completions.create(model=MODEL, messages=[USER], stream=True, **FORCED)
    indexes = [tc.index for c in raw if c.choices for tc in c.choices[0].delta.tool_calls or ()]
    assert indexes == [None] * len(deltas)
    # ... and its stream helper, which reassembles by index, fails with a TypeError.
    helper = client.chat.completions.stream(model=MODEL, messages=[USER], **FORCED)
    with pytest.raises(TypeError, match="list indices must be integers"), helper as events:
        for _ in events:
            pass


def test_tool_deltas_without_index_merge_parallel_calls_for_a_client_that_assumes_zero(
    http: httpx.Client, endpoints: Endpoints
) -> None:
    """What the issue warns of: taking a missing index as 0 silently merges the parallel calls."""
    endpoint = endpoints(Scenario.TOOL_DELTAS_WITHOUT_INDEX, Scenario.PARALLEL_TOOL_CALLS)
    deltas = tool_deltas(stream(http, endpoint, tools=[WEATHER, CLOCK], tool_choice="required"))
    assert len([d for d in deltas if "id" in d]) == 2 and all("index" not in d for d in deltas)
    merged = "".join(d["function"]["arguments"] for d in deltas)
    assert merged == '{"city"{}:"example","unit":"celsius","days":1}'  # interleaved: not JSON
    with pytest.raises(json.JSONDecodeError):
        json.loads(merged)


def test_tool_arguments_object(http: httpx.Client, endpoints: Endpoints, sdk: SDK) -> None:
    endpoint = endpoints(Scenario.TOOL_ARGUMENTS_OBJECT)
    [call] = message_of(ask(http, endpoint, **FORCED))["tool_calls"]
    assert call["function"]["arguments"] == json.loads(WHOLE)  # an object, not its text
    parsed = stream(http, endpoint, **FORCED)
    [first] = tool_deltas(parsed)  # the whole object in the first delta, no fragments
    assert first["index"] == 0 and first["function"] == {
        "name": "get_weather",
        "arguments": json.loads(WHOLE),
    }
    assert finish_of(parsed) == "tool_calls"
    # Observed: the SDK does not validate; `arguments` (typed str) holds a dict, in both forms.
    client = sdk(endpoint)
    with pytest.warns(UserWarning, match="serializ"):  # pydantic warns only when the model is dumped
        completion = client.chat.completions.create(model=MODEL, messages=[USER], **FORCED)
        completion.model_dump()
    assert completion.choices[0].message.tool_calls[0].function.arguments == json.loads(WHOLE)


def test_tool_arguments_invalid_json(http: httpx.Client, endpoints: Endpoints) -> None:
    endpoint = endpoints(Scenario.TOOL_ARGUMENTS_INVALID_JSON)
    [call] = message_of(ask(http, endpoint, **FORCED))["tool_calls"]
    assert call["function"]["arguments"] == WHOLE[:-1]  # the closing brace never comes
    with pytest.raises(json.JSONDecodeError):
        json.loads(call["function"]["arguments"])
    parsed = stream(http, endpoint, **FORCED)
    [streamed] = reassemble(parsed).values()
    assert streamed["arguments"] == WHOLE[:-1] and finish_of(parsed) == "tool_calls"


def test_tool_arguments_duplicated(http: httpx.Client, endpoints: Endpoints, sdk: SDK) -> None:
    endpoint = endpoints(Scenario.TOOL_ARGUMENTS_DUPLICATED)
    assert message_of(ask(http, endpoint, **FORCED))["tool_calls"][0]["function"]["arguments"] == WHOLE
    deltas = tool_deltas(stream(http, endpoint, **FORCED))
    assert deltas[0]["function"]["arguments"] == WHOLE  # whole in the first delta ...
    assert len(deltas) == 1 + math.ceil(len(WHOLE) / FRAGMENT)  # ... and the fragments all the same
    assert "".join(d["function"]["arguments"] for d in deltas) == WHOLE * 2
    # Observed: the SDK's stream helper concatenates both: the JSON twice, which no parser takes.
    with sdk(endpoint).chat.completions.stream(model=MODEL, messages=[USER], **FORCED) as helper:
        final = helper.get_final_completion()
    assert final.choices[0].message.tool_calls[0].function.arguments == WHOLE * 2


def test_tool_arguments_null_in_stream(http: httpx.Client, endpoints: Endpoints, sdk: SDK) -> None:
    endpoint = endpoints(Scenario.TOOL_ARGUMENTS_NULL_IN_STREAM)
    assert message_of(ask(http, endpoint, **FORCED))["tool_calls"][0]["function"]["arguments"] == WHOLE
    deltas = tool_deltas(stream(http, endpoint, **FORCED))
    assert deltas[0]["function"] == {"name": "get_weather", "arguments": None} and "id" in deltas[0]
    assert [d["function"]["arguments"] for d in deltas[1:]] == [None] * math.ceil(len(WHOLE) / FRAGMENT)
    # Observed: the SDK's stream helper ends with `arguments` None (no error).
    with sdk(endpoint).chat.completions.stream(model=MODEL, messages=[USER], **FORCED) as helper:
        final = helper.get_final_completion()
    assert final.choices[0].message.tool_calls[0].function.arguments is None


def test_tool_call_without_id(http: httpx.Client, endpoints: Endpoints, sdk: SDK) -> None:
    endpoint = endpoints(Scenario.TOOL_CALL_WITHOUT_ID)
    [call] = message_of(ask(http, endpoint, **FORCED))["tool_calls"]
    assert list(call) == ["type", "function"]
    deltas = tool_deltas(stream(http, endpoint, **FORCED))
    assert all("id" not in d for d in deltas) and deltas[0]["function"]["name"] == "get_weather"
    # Observed: the SDK hands the app `id=None`, which it cannot send back as `tool_call_id`.
    completion = sdk(endpoint).chat.completions.create(model=MODEL, messages=[USER], **FORCED)
    assert completion.choices[0].message.tool_calls[0].id is None


def test_tool_result_content_null_rejected(http: httpx.Client, endpoints: Endpoints, sdk: SDK) -> None:
    endpoint = endpoints(Scenario.TOOL_RESULT_CONTENT_NULL_REJECTED)
    [call] = message_of(ask(http, endpoint, **FORCED))["tool_calls"]  # calling works
    turn = [USER, {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call["id"], "content": "sunny"}]  # fmt: skip
    rejected = chat(http, endpoint, {"model": MODEL, "messages": turn, "tools": [WEATHER]})
    message = assert_error(rejected, 400, param="messages[1].content", code="invalid_type")
    assert "messages.1.content" in message and "None" in message
    turn[1] = {**turn[1], "content": ""}  # the workaround apps ship: an empty string
    assert chat(http, endpoint, {"model": MODEL, "messages": turn, "tools": [WEATHER]}).status_code == 200
    assert chat(http, endpoints(), {"model": MODEL, "messages": [*turn[:1], {**turn[1], "content": None},
                                                                  turn[2]]}).status_code == 200  # fmt: skip
    with pytest.raises(openai.BadRequestError) as failure:
        sdk(endpoint).chat.completions.create(
            model=MODEL, messages=[*turn[:1], {**turn[1], "content": None}, turn[2]]
        )
    assert failure.value.param == "messages[1].content"


# --- breaks: structured outputs ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "format_", [{"type": "json_object"}, JSON_SCHEMA], ids=["json_object", "json_schema"]
)
def test_format_ignored(http: httpx.Client, endpoints: Endpoints, format_: dict[str, Any]) -> None:
    endpoint = endpoints(Scenario.FORMAT_IGNORED)
    message = message_of(ask(http, endpoint, response_format=format_))
    assert message["content"] in REPLIES and message["finish_reason"] == "stop"
    with pytest.raises(json.JSONDecodeError):
        json.loads(message["content"])
    parsed = stream(http, endpoint, response_format=format_)
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in parsed) == message["content"]


@pytest.mark.parametrize(
    "format_", [{"type": "json_object"}, JSON_SCHEMA], ids=["json_object", "json_schema"]
)
def test_format_invalid_json(http: httpx.Client, endpoints: Endpoints, format_: dict[str, Any]) -> None:
    valid = message_of(ask(http, endpoints(), response_format=format_))["content"]
    endpoint = endpoints(Scenario.FORMAT_INVALID_JSON)
    message = message_of(ask(http, endpoint, response_format=format_))
    assert message["content"] == valid[:-1] and valid.endswith("}") and message["finish_reason"] == "stop"
    with pytest.raises(json.JSONDecodeError):
        json.loads(message["content"])
    parsed = stream(http, endpoint, response_format=format_)
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in parsed) == valid[:-1]
    assert finish_of(parsed) == "stop"


def test_format_rejected(http: httpx.Client, endpoints: Endpoints, sdk: SDK) -> None:
    endpoint = endpoints(Scenario.FORMAT_REJECTED)
    message = assert_error(
        ask(http, endpoint, response_format=JSON_SCHEMA), 400, param="response_format", code=None
    )
    assert "'json_schema' is not supported" in message and "supported formats: json_object" in message
    assert (
        json.loads(message_of(ask(http, endpoint, response_format={"type": "json_object"}))["content"])
        == JSON_REPLY
    )
    assert message_of(ask(http, endpoint))["content"] in REPLIES
    with pytest.raises(openai.BadRequestError) as failure:  # what `parse()` meets
        sdk(endpoint).chat.completions.parse(model=MODEL, messages=[USER], response_format=JSON_SCHEMA)
    assert failure.value.param == "response_format"


# --- breaks: reasoning, usage, finish reason ---------------------------------------------------------


def test_reasoning_renamed(http: httpx.Client, endpoints: Endpoints) -> None:
    endpoint = endpoints(Scenario.REASONING_RENAMED)
    response = ask(http, endpoint, max_tokens=200)
    message = message_of(response)
    assert message["reasoning"] == REASONING_TEXT and "reasoning_content" not in message
    assert message["content"] in REPLIES
    assert response.json()["usage"]["completion_tokens_details"] == {"reasoning_tokens": REASONING_TOKENS}
    deltas = [c["choices"][0]["delta"] for c in stream(http, endpoint, max_tokens=200)]
    assert "".join(d.get("reasoning", "") for d in deltas) == REASONING_TEXT
    assert not any("reasoning_content" in d for d in deltas)
    cut = message_of(ask(http, endpoint, max_tokens=16))  # like reasoning-model: hidden tokens first
    assert (cut["content"], cut["finish_reason"]) == ("", "length")


@pytest.mark.parametrize("format_", [None, {"type": "json_object"}], ids=["prose", "json_object"])
def test_reasoning_only_answer(
    http: httpx.Client, endpoints: Endpoints, format_: dict[str, Any] | None
) -> None:
    fields = {} if format_ is None else {"response_format": format_}
    answer = message_of(ask(http, endpoints(), **fields))["content"]
    endpoint = endpoints(Scenario.REASONING_ONLY_ANSWER)
    message = message_of(ask(http, endpoint, **fields))
    assert (message["content"], message["finish_reason"]) == ("", "stop")
    assert message["reasoning_content"] == answer
    deltas = [c["choices"][0]["delta"] for c in stream(http, endpoint, **fields)]
    assert deltas[0] == {"role": "assistant", "content": "", "refusal": None}
    assert not any(d.get("content") for d in deltas)
    assert "".join(d.get("reasoning_content", "") for d in deltas) == answer


def test_reasoning_only_answer_leaves_tool_calls_alone(http: httpx.Client, endpoints: Endpoints) -> None:
    message = message_of(ask(http, endpoints(Scenario.REASONING_ONLY_ANSWER), **FORCED))
    assert message["tool_calls"][0]["function"]["arguments"] == WHOLE and "reasoning_content" not in message


def test_usage_missing_with_include(http: httpx.Client, endpoints: Endpoints, sdk: SDK) -> None:
    endpoint = endpoints(Scenario.USAGE_MISSING_WITH_INCLUDE)
    assert ask(http, endpoint).json()["usage"]["completion_tokens"] > 0  # non-streaming usage stays
    parsed = stream(http, endpoint, stream_options={"include_usage": True})
    assert all("usage" not in c and c["choices"] for c in parsed)  # not even `usage: null`
    assert all(
        "usage" not in c for c in stream(http, endpoint, **FORCED, stream_options={"include_usage": True})
    )
    # Observed: the SDK's last chunk is the finish chunk, with `usage` None; nothing says it is missing.
    received = list(sdk(endpoint).chat.completions.create(
        model=MODEL, messages=[USER], stream=True, stream_options={"include_usage": True}))  # fmt: skip
    assert received[-1].choices[0].finish_reason == "stop" and all(c.usage is None for c in received)


def test_finish_reason_empty(http: httpx.Client, endpoints: Endpoints, sdk: SDK) -> None:
    endpoint = endpoints(Scenario.FINISH_REASON_EMPTY)
    assert message_of(ask(http, endpoint))["finish_reason"] == ""
    assert message_of(ask(http, endpoint, **FORCED))["finish_reason"] == ""
    assert message_of(ask(http, endpoint, max_tokens=1))["finish_reason"] == ""  # even when cut
    for fields in ({}, FORCED):
        parsed = stream(http, endpoint, **fields)
        assert [c["choices"][0]["finish_reason"] for c in parsed] == [None] * (len(parsed) - 1) + [""]
    # Observed: the SDK passes "" through (its Literal type is not enforced).
    assert sdk(endpoint).chat.completions.create(model=MODEL, messages=[USER]).choices[0].finish_reason == ""


# --- valid variants ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fields", [{}, FORCED], ids=["prose", "tool-call"])
def test_empty_choices_chunks(
    http: httpx.Client, endpoints: Endpoints, sdk: SDK, fields: dict[str, Any]
) -> None:
    endpoint = endpoints(Scenario.EMPTY_CHOICES_CHUNKS)
    conformant = stream(http, endpoints(), **fields)
    parsed = stream(http, endpoint, **fields, stream_options={"include_usage": True})
    first, role, piece, between, *rest = parsed
    assert first["choices"] == [] and first["prompt_filter_results"][0]["prompt_index"] == 0
    assert first["id"] == role["id"] and first["object"] == "chat.completion.chunk"  # the stream's own head
    assert role["choices"][0]["delta"]["role"] == "assistant" and piece["choices"]
    assert between["choices"] == [] and between["usage"] is None  # amid the answer, not the usage chunk
    assert rest[-1]["choices"] == [] and rest[-1]["usage"]["total_tokens"] > 0  # the usage chunk, last
    answer = [c for c in parsed if c["choices"]]
    assert len(answer) == len(conformant)  # every chunk of the answer is there, in order
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in answer)
    assert text == "".join(c["choices"][0]["delta"].get("content") or "" for c in conformant)
    assert [(v["name"], v["arguments"]) for v in reassemble(answer).values()] == [
        (v["name"], v["arguments"]) for v in reassemble(conformant).values()
    ]
    # Observed: the SDK yields the empty-choices chunks as they are; `chunk.choices[0]` would raise.
    received = list(
        sdk(endpoint).chat.completions.create(model=MODEL, messages=[USER], stream=True, **fields)
    )
    assert [len(c.choices) for c in received][:4] == [0, 1, 1, 0]


def test_parallel_tool_calls(http: httpx.Client, endpoints: Endpoints, sdk: SDK) -> None:
    endpoint = endpoints(Scenario.PARALLEL_TOOL_CALLS)
    fields: dict[str, Any] = {"tools": [WEATHER, ORDER, CLOCK], "tool_choice": "required"}
    calls = message_of(ask(http, endpoint, **fields))["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_weather", "place_order"]
    assert len({c["id"] for c in calls}) == 2
    deltas = tool_deltas(stream(http, endpoint, **fields))
    order = [d["index"] for d in deltas]
    assert order[:2] == [0, 1] and "id" in deltas[0] and "id" in deltas[1]  # both open ...
    fragments = order[2:]
    shortest = min(fragments.count(0), fragments.count(1))
    assert fragments[: 2 * shortest] == [0, 1] * shortest  # ... then interleave, 0, 1, 0, 1, ...
    streamed = reassemble(stream(http, endpoint, **fields))
    assert [(s["name"], s["arguments"]) for s in streamed.values()] == [
        (c["function"]["name"], c["function"]["arguments"]) for c in calls
    ]
    # Observed: the SDK's stream helper reassembles both calls by index in its final completion, but
    # it takes a call as done when another index appears: interleaved, each `arguments.done` event
    # carries "" and, for a `strict` tool (place_order), it parses that "" and raises.
    client = sdk(endpoint)
    loose: dict[str, Any] = {"tools": [WEATHER, CLOCK], "tool_choice": "required"}
    with client.chat.completions.stream(model=MODEL, messages=[USER], **loose) as helper:
        done = [(e.index, e.arguments) for e in helper if e.type == "tool_calls.function.arguments.done"]
        final = helper.get_final_completion()
    assert [c.function.arguments for c in final.choices[0].message.tool_calls or []] == [
        message_of(ask(http, endpoint, **loose))["tool_calls"][i]["function"]["arguments"] for i in (0, 1)
    ]
    assert done == [(0, ""), (1, "")]
    strict = client.chat.completions.stream(model=MODEL, messages=[USER], **fields)
    with pytest.raises(json.JSONDecodeError), strict as events:
        for _ in events:
            pass


@pytest.mark.parametrize(
    "fields",
    [
        {"tools": [WEATHER, ORDER], "tool_choice": "required", "parallel_tool_calls": False},
        {"tools": [WEATHER, ORDER], "tool_choice": {"type": "function", "function": {"name": "place_order"}}},
        {"tools": [WEATHER], "tool_choice": "required"},
    ],
    ids=["parallel-off", "named", "one-tool"],
)
def test_parallel_tool_calls_makes_one_call_when_asked_for_one(
    http: httpx.Client, endpoints: Endpoints, fields: dict[str, Any]
) -> None:
    assert len(message_of(ask(http, endpoints(Scenario.PARALLEL_TOOL_CALLS), **fields))["tool_calls"]) == 1


def test_tool_calls_finish_stop(http: httpx.Client, endpoints: Endpoints) -> None:
    endpoint = endpoints(Scenario.TOOL_CALLS_FINISH_STOP)
    message = message_of(ask(http, endpoint, **FORCED))
    assert message["finish_reason"] == "stop" and message["tool_calls"][0]["function"]["arguments"] == WHOLE
    parsed = stream(http, endpoint, **FORCED)
    assert finish_of(parsed) == "stop" and reassemble(parsed)[0]["arguments"] == WHOLE


def test_tool_calls_empty_content(http: httpx.Client, endpoints: Endpoints) -> None:
    endpoint = endpoints(Scenario.TOOL_CALLS_EMPTY_CONTENT)
    message = message_of(ask(http, endpoint, **FORCED))
    assert message["content"] == "" and message["tool_calls"] and message["finish_reason"] == "tool_calls"
    parsed = stream(http, endpoint, **FORCED)
    assert parsed[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    assert reassemble(parsed)[0]["arguments"] == WHOLE


def test_tool_arguments_one_chunk(http: httpx.Client, endpoints: Endpoints) -> None:
    endpoint = endpoints(Scenario.TOOL_ARGUMENTS_ONE_CHUNK)
    parsed = stream(http, endpoint, **FORCED)
    [only] = tool_deltas(parsed)
    assert only == {"index": 0, "id": only["id"], "type": "function",
                    "function": {"name": "get_weather", "arguments": WHOLE}}  # fmt: skip
    assert finish_of(parsed) == "tool_calls"
    usage = stream(http, endpoint, **FORCED, stream_options={"include_usage": True})[-1]["usage"]
    assert usage == ask(http, endpoint, **FORCED).json()["usage"]  # the same tokens, sent at once


# --- which wins --------------------------------------------------------------------------------------


def test_precedence_of_the_app_contract_scenarios(http: httpx.Client, endpoints: Endpoints) -> None:
    ignored = endpoints(Scenario.TOOLS_IGNORED, Scenario.TOOL_ARGUMENTS_OBJECT, Scenario.TOOL_CALL_WITHOUT_ID)
    assert message_of(ask(http, ignored, **FORCED))["content"] in REPLIES
    as_object = endpoints(Scenario.TOOL_ARGUMENTS_OBJECT, Scenario.TOOL_ARGUMENTS_INVALID_JSON)
    assert message_of(ask(http, as_object, **FORCED))["tool_calls"][0]["function"]["arguments"] == json.loads(
        WHOLE
    )
    twice = endpoints(Scenario.TOOL_ARGUMENTS_DUPLICATED, Scenario.TOOL_ARGUMENTS_ONE_CHUNK)
    assert (
        "".join(d["function"]["arguments"] for d in tool_deltas(stream(http, twice, **FORCED))) == WHOLE * 2
    )
    nulls = endpoints(Scenario.TOOL_ARGUMENTS_NULL_IN_STREAM, Scenario.TOOL_ARGUMENTS_ONE_CHUNK)
    assert [d["function"]["arguments"] for d in tool_deltas(stream(http, nulls, **FORCED))] == [None]
    empty = endpoints(Scenario.FINISH_REASON_EMPTY, Scenario.TOOL_CALLS_FINISH_STOP)
    assert message_of(ask(http, empty, **FORCED))["finish_reason"] == ""
    usage = endpoints(Scenario.USAGE_MISSING_WITH_INCLUDE, Scenario.USAGE_EVERY_CHUNK)
    assert all("usage" not in c for c in stream(http, usage, stream_options={"include_usage": True}))
    assert all(c["usage"] for c in stream(http, usage))  # not asked: the running usage as before
    renamed = endpoints(Scenario.REASONING_RENAMED, Scenario.REASONING_MODEL, Scenario.REASONING_ONLY_ANSWER)
    message = message_of(ask(http, renamed, max_tokens=200))
    assert message["content"] == "" and message["reasoning"].startswith(REASONING_TEXT + " ")
    assert message["reasoning"].removeprefix(REASONING_TEXT + " ") in REPLIES
    formats = endpoints(Scenario.FORMAT_REJECTED, Scenario.FORMAT_IGNORED, Scenario.FORMAT_INVALID_JSON)
    assert ask(http, formats, response_format=JSON_SCHEMA).status_code == 400
    assert message_of(ask(http, formats, response_format={"type": "json_object"}))["content"] in REPLIES
    lenient = endpoints(Scenario.LENIENT_VALIDATION, Scenario.FORMAT_REJECTED)
    assert ask(http, lenient, response_format=JSON_SCHEMA, temperature=9).status_code == 400


def test_stream_error_in_200_cuts_tool_arguments_after_two_fragments(
    http: httpx.Client, endpoints: Endpoints
) -> None:
    response = ask(http, endpoints(Scenario.STREAM_ERROR_IN_200), stream=True, **FORCED)
    blocks = [b for b in response.text.split("\n\n") if b]
    assert blocks[-1].startswith("event: error") and "[DONE]" not in response.text
    deltas = [json.loads(b.removeprefix("data: ")) for b in blocks[:-1]]
    assert "".join(d["function"]["arguments"] for d in tool_deltas(deltas)) == WHOLE[: 2 * FRAGMENT]


def test_the_readme_names_every_scenario() -> None:
    section = (REPO / "README.md").read_text().split("Scenarios of the embedded endpoint")[1].split("\n\n")[0]
    assert [s.value for s in Scenario if f"`{s.value}`" not in section] == []
