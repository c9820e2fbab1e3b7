"""The conformant endpoint answers tool calls, structured outputs and reasoning like the documented contract.

Asserted on the wire with httpx (SSE read by hand), the arguments and JSON judged by jsonschema against
the schema the request offered, and read once more by the official `openai` client to show what an
SDK sees.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

import httpx
import jsonschema
import pydantic
import pytest
from openai import OpenAI

from tests.reference.exchange import MODEL, Endpoints, chat, chunks, sse_data
from workbench.core.scenarios import REASONING_TOKENS, Scenario
from workbench.reference.answers import FRAGMENT, JSON_REPLY, REASONING_TEXT, REPLIES
from workbench.reference.endpoint import EmbeddedEndpoint

WEATHER_PARAMETERS = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "description": "zebra-quokka-4471"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 14},
    },
    "required": ["city"],
}
ORDER_PARAMETERS = {  # nested, strict-style: everything required, nothing more allowed
    "type": "object",
    "properties": {
        "items": {
            "type": "array",
            "minItems": 2,
            "items": {
                "type": "object",
                "properties": {"sku": {"type": "string"}, "quantity": {"type": "integer", "minimum": 1}},
                "required": ["sku", "quantity"],
                "additionalProperties": False,
            },
        },
        "express": {"type": "boolean"},
    },
    "required": ["items", "express"],
    "additionalProperties": False,
}
WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "description": "d", "parameters": WEATHER_PARAMETERS},
}
ORDER = {
    "type": "function",
    "function": {"name": "place_order", "parameters": ORDER_PARAMETERS, "strict": True},
}
CLOCK = {"type": "function", "function": {"name": "get_time"}}  # no parameters at all
SCHEMAS = {"get_weather": WEATHER_PARAMETERS, "place_order": ORDER_PARAMETERS, "get_time": {}}
USER = {"role": "user", "content": "What is the weather in zebra-quokka-4471?"}
CALL_ID = re.compile(r"^call_[0-9a-f]{24}$")
PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": ["integer", "null"]},
        "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}},
    },
    "required": ["name", "age", "tags"],
    "additionalProperties": False,
}


def ask(http: httpx.Client, endpoint: EmbeddedEndpoint, **fields: Any) -> httpx.Response:
    return chat(http, endpoint, {"model": MODEL, "messages": [USER], **fields})


def message_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    [choice] = response.json()["choices"]
    return dict(choice["message"]) | {"finish_reason": choice["finish_reason"]}


def assert_valid_call(call: dict[str, Any]) -> dict[str, Any]:
    """The documented call shape, with arguments that parse and validate against the offered schema."""
    assert list(call) == ["id", "type", "function"]
    assert CALL_ID.match(call["id"]) and call["type"] == "function"
    assert list(call["function"]) == ["name", "arguments"]
    arguments = call["function"]["arguments"]
    assert isinstance(arguments, str)
    value = json.loads(arguments)
    jsonschema.Draft202012Validator(SCHEMAS[call["function"]["name"]]).validate(value)
    return dict(value)


def reassemble(parsed: list[dict[str, Any]]) -> dict[int, dict[str, str]]:
    """Tool calls put back together by `index`, as the contract says a client must."""
    calls: dict[int, dict[str, str]] = {}
    for chunk in parsed:
        for choice in chunk["choices"]:
            for delta in choice["delta"].get("tool_calls") or ():
                slot = calls.setdefault(delta["index"], {"id": "", "name": "", "arguments": ""})
                slot["id"] += delta.get("id", "")
                slot["name"] += delta.get("function", {}).get("name", "")
                slot["arguments"] += delta.get("function", {}).get("arguments", "")
    return calls


# --- which answer ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tool_choice", "name"),
    [
        pytest.param("required", "get_weather", id="required-first-tool"),
        pytest.param({"type": "function", "function": {"name": "place_order"}}, "place_order", id="named"),
        pytest.param(
            {"type": "function", "function": {"name": "get_time"}}, "get_time", id="named-no-schema"
        ),
        pytest.param("auto", "get_weather", id="auto"),
        pytest.param(None, "get_weather", id="absent-is-auto"),
    ],
)
def test_a_call_is_forced_or_chosen_with_arguments_valid_for_the_schema(
    http: httpx.Client, conformant: EmbeddedEndpoint, tool_choice: Any, name: str
) -> None:
    fields = {"tools": [WEATHER, ORDER, CLOCK]} | (
        {} if tool_choice is None else {"tool_choice": tool_choice}
    )
    response = ask(http, conformant, **fields)
    message = message_of(response)
    assert message == {
        "role": "assistant", "content": None, "tool_calls": message["tool_calls"], "refusal": None,
        "finish_reason": "tool_calls",
    }  # fmt: skip
    [call] = message["tool_calls"]
    assert call["function"]["name"] == name
    value = assert_valid_call(call)
    assert "zebra-quokka-4471" not in response.text  # nothing of the request is echoed
    if name == "get_weather":
        assert value == {"city": "example", "unit": "celsius", "days": 1}  # optional ones too: a small schema
    if name == "get_time":
        assert call["function"]["arguments"] == "{}"
    usage = response.json()["usage"]
    assert usage["completion_tokens"] == math.ceil(len(call["function"]["arguments"]) / FRAGMENT)


def test_choice_none_answers_prose(http: httpx.Client, conformant: EmbeddedEndpoint) -> None:
    message = message_of(ask(http, conformant, tools=[WEATHER], tool_choice="none"))
    assert (
        "tool_calls" not in message and message["content"] in REPLIES and message["finish_reason"] == "stop"
    )


def test_auto_after_a_system_or_assistant_message_answers_prose(
    http: httpx.Client, conformant: EmbeddedEndpoint
) -> None:
    messages = [
        USER,
        {"role": "assistant", "content": "Which city?"},
        {"role": "system", "content": "Be brief."},
    ]
    message = message_of(chat(http, conformant, {"model": MODEL, "messages": messages, "tools": [WEATHER]}))
    assert message["content"] in REPLIES and "tool_calls" not in message


@pytest.mark.parametrize("parallel", [False, True, None], ids=["parallel-off", "parallel-on", "unset"])
def test_the_conformant_endpoint_makes_one_call_whatever_parallel_tool_calls_says(
    http: httpx.Client, conformant: EmbeddedEndpoint, parallel: bool | None
) -> None:
    fields: dict[str, Any] = {"tools": [WEATHER, ORDER], "tool_choice": "required"}
    if parallel is not None:
        fields["parallel_tool_calls"] = parallel
    [call] = message_of(ask(http, conformant, **fields))["tool_calls"]
    assert call["function"]["name"] == "get_weather"


def test_each_choice_calls_with_its_own_id(http: httpx.Client, conformant: EmbeddedEndpoint) -> None:
    body = ask(http, conformant, tools=[WEATHER], tool_choice="required", n=2).json()
    ids = [c["message"]["tool_calls"][0]["id"] for c in body["choices"]]
    assert len(set(ids)) == 2 and all(CALL_ID.match(i) for i in ids)
    again = ask(http, conformant, tools=[WEATHER], tool_choice="required").json()
    assert again["choices"][0]["message"]["tool_calls"][0]["id"] not in ids  # fresh per request


def test_arguments_cut_at_the_budget_end_with_length(
    http: httpx.Client, conformant: EmbeddedEndpoint
) -> None:
    whole = message_of(ask(http, conformant, tools=[ORDER], tool_choice="required"))
    cut = message_of(ask(http, conformant, tools=[ORDER], tool_choice="required", max_tokens=2))
    arguments = whole["tool_calls"][0]["function"]["arguments"]
    assert cut["finish_reason"] == "length"
    assert cut["tool_calls"][0]["function"]["arguments"] == arguments[: 2 * FRAGMENT]


# --- the round trip ----------------------------------------------------------------------------------


@pytest.mark.parametrize("tool_choice", ["auto", "required", None])
def test_the_round_trip_is_answered_in_prose(
    http: httpx.Client, conformant: EmbeddedEndpoint, tool_choice: str | None
) -> None:
    """Call, then answer: the conversation that ends with the tool results gets prose, `stop`."""
    first = message_of(ask(http, conformant, tools=[WEATHER], tool_choice="required"))
    assistant = {"role": "assistant", "content": None, "tool_calls": first["tool_calls"]}
    results = [
        {"role": "tool", "tool_call_id": call["id"], "content": "sunny"} for call in first["tool_calls"]
    ]
    fields: dict[str, Any] = {"tools": [WEATHER]} | ({"tool_choice": tool_choice} if tool_choice else {})
    body = {"model": MODEL, "messages": [USER, assistant, *results], **fields}
    second = message_of(chat(http, conformant, body))
    assert second["content"] in REPLIES and second["finish_reason"] == "stop" and "tool_calls" not in second
    streamed = chunks(sse_data(chat(http, conformant, {**body, "stream": True})))
    assert streamed[-1]["choices"][0]["finish_reason"] == "stop"
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in streamed) == second["content"]


# --- streams -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("tools", [[WEATHER], [ORDER], [CLOCK]], ids=["weather", "nested-order", "no-schema"])
def test_streamed_deltas_are_realistic_and_reassemble_to_the_non_streaming_call(
    http: httpx.Client, conformant: EmbeddedEndpoint, tools: list[dict[str, Any]]
) -> None:
    whole = message_of(ask(http, conformant, tools=tools, tool_choice="required"))["tool_calls"][0]
    payloads = sse_data(ask(http, conformant, tools=tools, tool_choice="required", stream=True))
    assert payloads[-1] == "[DONE]"
    parsed = chunks(payloads)
    role, first, *fragments, finish = (c["choices"][0] for c in parsed)
    assert role["delta"] == {"role": "assistant", "content": None, "refusal": None}
    [opening] = first["delta"]["tool_calls"]
    assert list(first["delta"]) == ["tool_calls"]
    assert opening == {
        "index": 0, "id": opening["id"], "type": "function", "function": {"name": whole["function"]["name"],
                                                                          "arguments": ""},
    }  # fmt: skip
    assert CALL_ID.match(opening["id"]) and opening["id"] != whole["id"]  # a fresh id per request
    pieces = [c["delta"]["tool_calls"] for c in fragments]
    assert all(len(p) == 1 and p[0].keys() == {"index", "function"} for p in pieces)
    assert all(p[0]["index"] == 0 and p[0]["function"].keys() == {"arguments"} for p in pieces)
    texts = [p[0]["function"]["arguments"] for p in pieces]
    assert all(0 < len(t) <= FRAGMENT for t in texts)
    assert len(texts) == math.ceil(len(whole["function"]["arguments"]) / FRAGMENT)
    assert finish == {"index": 0, "delta": {}, "finish_reason": "tool_calls", "logprobs": None}
    [call] = reassemble(parsed).values()
    assert (call["name"], call["arguments"]) == (whole["function"]["name"], whole["function"]["arguments"])


def test_fragments_split_inside_keys_and_strings(http: httpx.Client, conformant: EmbeddedEndpoint) -> None:
    parsed = chunks(sse_data(ask(http, conformant, tools=[WEATHER], tool_choice="required", stream=True)))
    texts = [
        d["function"]["arguments"] for c in parsed for d in c["choices"][0]["delta"].get("tool_calls", [])
    ]
    assert texts[1:4] == ['{"city"', ':"examp', 'le","un']  # a key whole, then a string cut in two


def test_stream_usage_counts_the_same_as_the_body(http: httpx.Client, conformant: EmbeddedEndpoint) -> None:
    fields: dict[str, Any] = {"tools": [ORDER], "tool_choice": "required"}
    usage = ask(http, conformant, **fields).json()["usage"]
    parsed = chunks(
        sse_data(ask(http, conformant, **fields, stream=True, stream_options={"include_usage": True}))
    )
    *answer, last = parsed
    assert all(c["usage"] is None and c["choices"] for c in answer)
    assert last["choices"] == [] and last["usage"] == usage


# --- structured outputs ------------------------------------------------------------------------------


def test_json_object_content_is_a_json_object(http: httpx.Client, conformant: EmbeddedEndpoint) -> None:
    response = ask(http, conformant, response_format={"type": "json_object"})
    message = message_of(response)
    assert json.loads(message["content"]) == JSON_REPLY and message["finish_reason"] == "stop"
    assert message["content"] == '{"acknowledgement": "contract probe received"}'
    assert response.json()["usage"]["completion_tokens"] == math.ceil(len(message["content"]) / FRAGMENT)


@pytest.mark.parametrize("strict", [True, False, None])
def test_json_schema_content_validates(
    http: httpx.Client, conformant: EmbeddedEndpoint, strict: bool | None
) -> None:
    spec: dict[str, Any] = {"name": "person", "schema": PERSON} | (
        {} if strict is None else {"strict": strict}
    )
    message = message_of(ask(http, conformant, response_format={"type": "json_schema", "json_schema": spec}))
    value = json.loads(message["content"])
    jsonschema.Draft202012Validator(PERSON).validate(value)
    assert set(value) == {"name", "age", "tags"}  # no more properties than the schema has
    assert value == {"name": "example", "age": 1, "tags": ["a"]}


def test_json_schema_without_a_schema_answers_the_json_object(
    http: httpx.Client, conformant: EmbeddedEndpoint
) -> None:
    format_ = {"type": "json_schema", "json_schema": {"name": "anything"}}
    assert json.loads(message_of(ask(http, conformant, response_format=format_))["content"]) == JSON_REPLY


def test_text_format_is_prose(http: httpx.Client, conformant: EmbeddedEndpoint) -> None:
    assert message_of(ask(http, conformant, response_format={"type": "text"}))["content"] in REPLIES


@pytest.mark.parametrize("kind", ["json_object", "json_schema"])
def test_json_content_streams_in_fragments(
    http: httpx.Client, conformant: EmbeddedEndpoint, kind: str
) -> None:
    format_: dict[str, Any] = {"type": kind} | (
        {"json_schema": {"name": "person", "schema": PERSON}} if kind == "json_schema" else {}
    )
    whole = message_of(ask(http, conformant, response_format=format_))["content"]
    parsed = chunks(sse_data(ask(http, conformant, response_format=format_, stream=True)))
    role, *pieces, finish = (c["choices"][0] for c in parsed)
    assert role["delta"] == {"role": "assistant", "content": "", "refusal": None}
    texts = [p["delta"]["content"] for p in pieces]
    assert len(texts) > 1 and all(0 < len(t) <= FRAGMENT for t in texts)
    assert "".join(texts) == whole and finish["finish_reason"] == "stop"


def test_json_content_cut_at_the_budget_ends_with_length(
    http: httpx.Client, conformant: EmbeddedEndpoint
) -> None:
    message = message_of(ask(http, conformant, response_format={"type": "json_object"}, max_tokens=3))
    assert (
        message["finish_reason"] == "length"
        and message["content"] == '{"acknowledgement": "contract'[: 3 * FRAGMENT]
    )


def test_a_tool_call_wins_over_json_content(http: httpx.Client, conformant: EmbeddedEndpoint) -> None:
    message = message_of(ask(http, conformant, tools=[WEATHER], tool_choice="required",
                             response_format={"type": "json_object"}))  # fmt: skip
    assert message["content"] is None and message["tool_calls"]


# --- reasoning ---------------------------------------------------------------------------------------


def test_reasoning_model_sends_its_reasoning_before_the_answer(
    http: httpx.Client, endpoints: Endpoints
) -> None:
    endpoint = endpoints(Scenario.REASONING_MODEL)
    response = ask(http, endpoint, max_tokens=200)
    message = message_of(response)
    assert message["reasoning_content"] == REASONING_TEXT and message["content"] in REPLIES
    assert response.json()["usage"]["completion_tokens_details"] == {"reasoning_tokens": REASONING_TOKENS}
    parsed = chunks(sse_data(ask(http, endpoint, max_tokens=200, stream=True)))
    deltas = [c["choices"][0]["delta"] for c in parsed]
    keys = [next(iter(d)) for d in deltas[1:-1]]
    assert keys == sorted(keys, key=["reasoning_content", "content"].index)  # all reasoning, then the answer
    assert "".join(d.get("reasoning_content", "") for d in deltas) == REASONING_TEXT
    assert "".join(d.get("content") or "" for d in deltas) == message["content"]


def test_reasoning_model_cut_while_reasoning_has_reasoning_but_no_content(
    http: httpx.Client, endpoints: Endpoints
) -> None:
    message = message_of(ask(http, endpoints(Scenario.REASONING_MODEL), max_tokens=16))
    assert (message["content"], message["finish_reason"]) == ("", "length")
    assert message["reasoning_content"] == REASONING_TEXT


# --- the official client -----------------------------------------------------------------------------


def test_the_sdk_reads_a_forced_call_and_reassembles_the_streamed_one(
    sdk: Callable[[EmbeddedEndpoint], OpenAI], conformant: EmbeddedEndpoint
) -> None:
    client = sdk(conformant)
    completion = client.chat.completions.create(
        model=MODEL,
        messages=[USER],
        tools=[WEATHER],
        tool_choice="required",
    )
    [call] = completion.choices[0].message.tool_calls or []
    assert call.type == "function" and call.function.name == "get_weather"
    with client.chat.completions.stream(
        model=MODEL,
        messages=[USER],
        tools=[WEATHER],
        tool_choice="required",
    ) as stream:
        events = [event.type for event in stream]
        final = stream.get_final_completion()
    assert "tool_calls.function.arguments.delta" in events and "tool_calls.function.arguments.done" in events
    [streamed] = final.choices[0].message.tool_calls or []
    assert streamed.function.arguments == call.function.arguments
    assert streamed.function.name == call.function.name and streamed.id.startswith("call_")
    assert final.choices[0].finish_reason == "tool_calls"


class Person(pydantic.BaseModel):
    name: str
    age: int | None
    tags: list[str]


def test_the_sdk_parses_a_strict_json_schema_answer(
    sdk: Callable[[EmbeddedEndpoint], OpenAI], conformant: EmbeddedEndpoint
) -> None:
    """`parse()` sends a strict json_schema built from the model; the answer validates into it."""
    completion = sdk(conformant).chat.completions.parse(model=MODEL, messages=[USER], response_format=Person)
    assert completion.choices[0].message.parsed == Person(name="example", age=1, tags=["example"])
