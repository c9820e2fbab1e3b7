"""The request checks for tools, tool choice, response formats and tool turns, over real loopback HTTP.

Every rejection is a 400 in OpenAI's envelope naming its `param`: `tools[i]...` for a tool, `tool_choice`,
`response_format` (the message names which part) and `messages` for a conversation whose tool turns
do not add up (OpenAI's own words; its `code` is null there).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.reference.exchange import MESSAGES, MODEL, assert_error, chat
from workbench.reference.endpoint import EmbeddedEndpoint

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"x"}'}}
USER = {"role": "user", "content": "What is the weather?"}
ANSWER = {"role": "assistant", "content": "It is sunny."}


def calling(*calls: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "content": None, "tool_calls": list(calls)}


def result(call_id: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": "sunny"}


def tool(**function: Any) -> dict[str, Any]:
    return {"type": "function", "function": function}


def with_call(**changes: Any) -> dict[str, Any]:
    """CALL with top-level keys replaced (None deletes) or `function` keys changed."""
    function: dict[str, Any] = {**CALL["function"], **changes.pop("function", {})}
    function = {k: v for k, v in function.items() if v is not None}
    merged = {**CALL, "function": function, **changes}
    return {k: v for k, v in merged.items() if v is not None}


CASES = [
    # id, request fields, param, code, text the message must contain
    ("tools-not-array", {"tools": {"type": "function"}}, "tools", "invalid_type", "array"),
    ("tool-not-object", {"tools": ["get_weather"]}, "tools[0]", "invalid_type", "tools[0]"),
    ("tool-type-missing", {"tools": [{"function": {"name": "f"}}]}, "tools[0].type",
     "missing_required_parameter", "tools[0].type"),
    ("tool-type-custom", {"tools": [{"type": "custom", "custom": {"name": "f"}}]}, "tools[0].type",
     "invalid_value", "'function'"),
    ("tool-function-missing", {"tools": [{"type": "function"}]}, "tools[0].function",
     "missing_required_parameter", "function"),
    ("tool-name-missing", {"tools": [{"type": "function", "function": {}}]}, "tools[0].function.name",
     "missing_required_parameter", "name"),
    ("tool-name-not-string", {"tools": [{"type": "function", "function": {"name": 7}}]},
     "tools[0].function.name", "invalid_type", "string"),
    ("tool-name-with-space", {"tools": [{"type": "function", "function": {"name": "get weather"}}]},
     "tools[0].function.name", "invalid_value", "^[a-zA-Z0-9_-]{1,64}$"),
    ("tool-name-65-chars", {"tools": [{"type": "function", "function": {"name": "a" * 65}}]},
     "tools[0].function.name", "invalid_value", "pattern"),
    ("tool-parameters-not-object", {"tools": [tool(name="f", parameters="x")]},
     "tools[0].function.parameters", "invalid_type", "JSON Schema"),
    ("tool-strict-not-bool", {"tools": [tool(name="f", strict="yes")]},
     "tools[0].function.strict", "invalid_type", "boolean"),
    ("second-tool-bad", {"tools": [WEATHER, {"type": "function", "function": {"name": ""}}]},
     "tools[1].function.name", "invalid_value", "pattern"),
    ("tool-choice-without-tools", {"tool_choice": "auto"}, "tool_choice", "invalid_value",
     "only allowed when 'tools' are specified"),
    ("tool-choice-with-empty-tools", {"tools": [], "tool_choice": "required"}, "tool_choice", "invalid_value",
     "only allowed"),
    ("tool-choice-unknown-mode", {"tools": [WEATHER], "tool_choice": "any"}, "tool_choice", "invalid_value",
     "'required'"),
    ("tool-choice-number", {"tools": [WEATHER], "tool_choice": 1}, "tool_choice", "invalid_type",
     "tool_choice"),
    ("tool-choice-wrong-type", {"tools": [WEATHER], "tool_choice": {"type": "custom", "custom": {}}},
     "tool_choice", "invalid_value", "'function'"),
    ("tool-choice-no-name", {"tools": [WEATHER], "tool_choice": {"type": "function", "function": {}}},
     "tool_choice", "missing_required_parameter", "name"),
    ("tool-choice-not-offered", {"tools": [WEATHER],
                                 "tool_choice": {"type": "function", "function": {"name": "get_time"}}},
     "tool_choice", "invalid_value", "not among 'tools'"),
    ("parallel-not-bool", {"parallel_tool_calls": "true"}, "parallel_tool_calls", "invalid_type", "boolean"),
    ("format-not-object", {"response_format": "json"}, "response_format", "invalid_type", "response_format"),
    ("format-no-type", {"response_format": {}}, "response_format", "missing_required_parameter",
     "response_format.type"),
    ("format-unknown-type", {"response_format": {"type": "xml"}}, "response_format", "invalid_value",
     "'json_schema'"),
    ("json-schema-missing", {"response_format": {"type": "json_schema"}}, "response_format",
     "missing_required_parameter", "response_format.json_schema"),
    ("json-schema-no-name", {"response_format": {"type": "json_schema", "json_schema": {"schema": {}}}},
     "response_format", "missing_required_parameter", "json_schema.name"),
    ("json-schema-bad-name", {"response_format": {"type": "json_schema", "json_schema": {"name": "a b"}}},
     "response_format", "invalid_value", "pattern"),
    ("json-schema-schema-not-object", {"response_format": {"type": "json_schema",
                                                           "json_schema": {"name": "n", "schema": []}}},
     "response_format", "invalid_type", "json_schema.schema"),
    ("json-schema-strict-not-bool", {"response_format": {"type": "json_schema",
                                                         "json_schema": {"name": "n", "strict": 1}}},
     "response_format", "invalid_type", "strict"),
    # messages: the assistant's tool calls, as the app sends them back
    ("assistant-null-content-without-calls", {"messages": [USER, {"role": "assistant", "content": None}]},
     "messages[1].content", "missing_required_parameter", "content"),
    ("assistant-empty-calls-null-content", {"messages": [USER, calling()]}, "messages[1].content",
     "missing_required_parameter", "content"),
    ("tool-calls-not-array", {"messages": [USER, {"role": "assistant", "content": None, "tool_calls": CALL}]},
     "messages[1].tool_calls", "invalid_type", "array"),
    ("call-without-id", {"messages": [USER, calling(with_call(id=None))]}, "messages[1].tool_calls[0].id",
     "missing_required_parameter", "id"),
    ("call-type-not-function", {"messages": [USER, calling(with_call(type="custom"))]},
     "messages[1].tool_calls[0].type", "invalid_value", "'function'"),
    ("call-arguments-object", {"messages": [USER, calling(with_call(function={"arguments": {"city": "x"}}))]},
     "messages[1].tool_calls[0].function.arguments", "invalid_type", "string"),
    ("call-without-name", {"messages": [USER, calling(with_call(function={"name": None}))]},
     "messages[1].tool_calls[0].function.name", "missing_required_parameter", "name"),
]  # fmt: skip

TURNS = [
    # id, messages, text the message must contain (param `messages`, code null: as OpenAI answers)
    ("tool-without-a-call", [USER, result("call_1")],
     "messages with role 'tool' must be a response to a preceeding message with 'tool_calls'"),
    ("tool-after-a-plain-answer", [USER, calling(CALL), result("call_1"), ANSWER, result("call_1")],
     "preceeding message with 'tool_calls'"),
    ("unknown-call-id", [USER, calling(CALL), result("call_9")],
     "'tool_call_id' of 'call_9' not found in 'tool_calls' of previous message"),
    ("unanswered-before-user", [USER, calling(CALL), USER],
     "The following tool_call_ids did not have response messages: call_1"),
    ("one-of-two-unanswered", [USER, calling(CALL, with_call(id="call_2")), result("call_2"), USER],
     "did not have response messages: call_1"),
    ("unanswered-at-the-end", [USER, calling(CALL)], "must be followed by tool messages responding to each"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "param", "code", "mentions"), [pytest.param(*case[1:], id=case[0]) for case in CASES]
)
def test_tool_and_format_fields_are_checked(
    http: httpx.Client,
    conformant: EmbeddedEndpoint,
    fields: dict[str, Any],
    param: str,
    code: str,
    mentions: str,
) -> None:
    message = assert_error(chat(http, conformant, **fields), 400, param=param, code=code)
    assert mentions in message


@pytest.mark.parametrize(("messages", "mentions"), [pytest.param(*case[1:], id=case[0]) for case in TURNS])
def test_tool_turns_must_add_up(
    http: httpx.Client, conformant: EmbeddedEndpoint, messages: list[dict[str, Any]], mentions: str
) -> None:
    response = chat(http, conformant, {"model": MODEL, "messages": messages})
    assert mentions in assert_error(response, 400, param="messages", code=None)


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"tools": [WEATHER]}, id="tools"),
        pytest.param({"tools": [WEATHER], "tool_choice": "none"}, id="choice-none"),
        pytest.param({"tools": [WEATHER], "tool_choice": "auto", "parallel_tool_calls": False}, id="auto"),
        pytest.param(
            {"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
            id="named",
        ),
        pytest.param({"tools": [{"type": "function", "function": {"name": "now"}}]}, id="no-parameters"),
        pytest.param({"tools": [], "parallel_tool_calls": None}, id="empty-tools"),
        pytest.param({"response_format": {"type": "text"}}, id="format-text"),
        pytest.param({"response_format": {"type": "json_object"}}, id="format-json-object"),
        pytest.param(
            {"response_format": {"type": "json_schema", "json_schema": {"name": "reply"}}},
            id="format-schema-without-schema",
        ),
        pytest.param(
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {
                        "name": "reply",
                        "description": "d",
                        "schema": {"type": "object"},
                        "strict": None,
                    },
                }
            },
            id="format-schema-whole",
        ),
    ],
)
def test_valid_tool_and_format_fields_are_accepted(
    http: httpx.Client, conformant: EmbeddedEndpoint, fields: dict[str, Any]
) -> None:
    assert chat(http, conformant, **fields).status_code == 200


@pytest.mark.parametrize(
    "messages",
    [
        pytest.param([USER, calling(CALL), result("call_1")], id="one-call"),
        pytest.param(
            [USER, calling(CALL, with_call(id="call_2")), result("call_2"), result("call_1")], id="two-calls"
        ),
        pytest.param(
            [
                USER,
                calling(CALL),
                result("call_1"),
                {"role": "assistant", "content": "sunny"},
                USER,
                calling(with_call(id="call_7")),
                result("call_7"),
            ],
            id="two-rounds",
        ),
        pytest.param(
            [USER, {"role": "assistant", "content": "Let me look.", "tool_calls": [CALL]}, result("call_1")],
            id="text-beside-calls",
        ),
    ],
)
def test_the_round_trip_is_accepted(
    http: httpx.Client, conformant: EmbeddedEndpoint, messages: list[dict[str, Any]]
) -> None:
    response = chat(http, conformant, {"model": MODEL, "messages": messages, "tools": [WEATHER]})
    assert response.status_code == 200, response.text


def test_messages_are_checked_before_tools(http: httpx.Client, conformant: EmbeddedEndpoint) -> None:
    body = {"model": MODEL, "messages": [USER, result("call_1")], "tools": "none"}
    assert_error(chat(http, conformant, body), 400, param="messages", code=None)
    body = {"model": MODEL, "messages": MESSAGES, "temperature": 5, "tools": "none"}
    assert_error(chat(http, conformant, body), 400, param="temperature", code="invalid_value")
