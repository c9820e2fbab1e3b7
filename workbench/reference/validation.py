"""The reference endpoint's request checks: the documented contract, in the order a client meets them.

Required fields first, then types and values, each rejected with a 400 in OpenAI's envelope and, where
OpenAI's wording is known, in its words, naming the parameter (`param`). The checks read the body
as sent and never echo request text beyond the parameter's name.
"""

from __future__ import annotations

import re
from typing import Any, TypeGuard

ROLES = ("system", "developer", "user", "assistant", "tool")
NUMBER_RANGES: dict[str, tuple[float, float]] = {
    "temperature": (0, 2),
    "top_p": (0, 1),
    "presence_penalty": (-2, 2),
    "frequency_penalty": (-2, 2),
}
INTEGER_RANGES: dict[str, tuple[int, int | None]] = {
    "n": (1, 128),
    "max_tokens": (1, None),
    "max_completion_tokens": (1, None),
    "top_logprobs": (0, 20),
}

TOOL_CHOICES = ("none", "auto", "required")
RESPONSE_FORMATS = ("text", "json_object", "json_schema")
NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")  # a function's name, a response format's name

JSONObject = dict[str, Any]


class RequestError(Exception):
    """A request the contract rejects; carries the fields of the error envelope."""

    def __init__(
        self, status: int, message: str, *, param: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code


def _missing(param: str) -> RequestError:
    return RequestError(
        400, f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter"
    )


def _bad_type(param: str, expected: str) -> RequestError:
    return RequestError(
        400, f"Invalid type for '{param}': expected {expected}.", param=param, code="invalid_type"
    )


def _bad_value(param: str, message: str) -> RequestError:
    return RequestError(400, f"Invalid '{param}': {message}", param=param, code="invalid_value")


def _is_number(value: object) -> bool:
    """JSON numbers only: `True` is an int in Python but never a temperature."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _validate_messages(messages: object) -> None:
    if messages is None:
        raise _missing("messages")
    if not isinstance(messages, list):
        raise _bad_type("messages", "an array of message objects")
    if not messages:
        raise _bad_value("messages", "empty array. Expected an array with minimum length 1.")
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise _bad_type(where, "a message object with `role` and `content`")
        role = message.get("role")
        if role is None:
            raise _missing(f"{where}.role")
        if role not in ROLES:
            raise _bad_value(f"{where}.role", f"supported values are {', '.join(repr(r) for r in ROLES)}.")
        if role == "assistant":
            _validate_tool_calls(message.get("tool_calls"), where)
        content = message.get("content")
        if content is None and not (role == "assistant" and message.get("tool_calls")):
            raise _missing(f"{where}.content")  # only an assistant message that calls tools may omit it
        if not (isinstance(content, str | list) or content is None):
            raise _bad_type(f"{where}.content", "a string or an array of content parts")
        if isinstance(content, list) and not all(isinstance(part, dict) for part in content):
            raise _bad_type(f"{where}.content", "an array of content-part objects")
        if role == "tool" and not isinstance(message.get("tool_call_id"), str):
            raise _missing(f"{where}.tool_call_id")
    _validate_tool_turns(messages)


def _validate_tool_calls(calls: object, where: str) -> None:
    """An assistant message's `tool_calls`, as the app sends them back: each a whole function call."""
    if calls is None:
        return
    if not isinstance(calls, list):
        raise _bad_type(f"{where}.tool_calls", "an array of tool calls")
    for j, call in enumerate(calls):
        at = f"{where}.tool_calls[{j}]"
        if not isinstance(call, dict):
            raise _bad_type(at, "a tool call object")
        for field in ("id", "type", "function"):
            if call.get(field) is None:
                raise _missing(f"{at}.{field}")
        if not isinstance(call["id"], str):
            raise _bad_type(f"{at}.id", "a string")
        if call["type"] != "function":
            raise _bad_value(f"{at}.type", "supported values are 'function'.")
        function = call["function"]
        if not isinstance(function, dict):
            raise _bad_type(f"{at}.function", "an object with `name` and `arguments`")
        for field in ("name", "arguments"):
            if function.get(field) is None:
                raise _missing(f"{at}.function.{field}")
            if not isinstance(function[field], str):
                raise _bad_type(f"{at}.function.{field}", "a string")


def _validate_tool_turns(messages: list[Any]) -> None:
    """Each `tool` message answers a call of the assistant turn before it, and every call is answered
    before any other message (or the end), in OpenAI's words, with `param` "messages"."""
    turn: list[str] | None = None  # the call ids of the assistant turn the tool messages answer
    pending: list[str] = []  # those not answered yet
    for message in messages:
        if message["role"] == "tool":
            call_id = message["tool_call_id"]
            if turn is None:
                raise _turn_error(
                    "Invalid parameter: messages with role 'tool' must be a response to a preceeding "
                    "message with 'tool_calls'."
                )
            if call_id not in turn:
                raise _turn_error(
                    f"Invalid parameter: 'tool_call_id' of '{call_id}' not found in 'tool_calls' of "
                    "previous message."
                )
            pending = [waiting for waiting in pending if waiting != call_id]
            continue
        _no_pending(pending)
        calls = message.get("tool_calls") if message["role"] == "assistant" else None
        turn = [call["id"] for call in calls] if calls else None
        pending = list(turn or [])
    _no_pending(pending)


def _no_pending(pending: list[str]) -> None:
    if pending:
        raise _turn_error(
            "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
            "'tool_call_id'. The following tool_call_ids did not have response messages: "
            + ", ".join(pending)
        )


def _turn_error(message: str) -> RequestError:
    """OpenAI names no field for these (`code` null): the conversation as a whole is wrong."""
    return RequestError(400, message, param="messages")


def validate(body: JSONObject) -> None:
    """The documented request checks, in the order a client meets them: required, then values."""
    model = body.get("model")
    if model is None:
        raise _missing("model")
    if not isinstance(model, str):
        raise _bad_type("model", "a string")
    if not model:
        raise _bad_value("model", "must be a non-empty model name.")
    _validate_messages(body.get("messages"))
    for field, (low, high) in NUMBER_RANGES.items():
        value = body.get(field)
        if value is not None and not _is_number(value):
            raise _bad_type(field, f"a number between {low} and {high}")
        if value is not None and not low <= value <= high:
            raise _bad_value(field, f"must be between {low} and {high}.")
    for field, (lowest, highest) in INTEGER_RANGES.items():
        value = body.get(field)
        allowed = f"an integer >= {lowest}" if highest is None else f"an integer from {lowest} to {highest}"
        if value is not None and not is_int(value):
            raise _bad_type(field, allowed)
        if value is not None and (value < lowest or (highest is not None and value > highest)):
            raise _bad_value(field, f"must be {allowed}.")
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise _bad_type("stream", "a boolean")
    options = body.get("stream_options")
    if options is not None:
        if not isinstance(options, dict):
            raise _bad_type("stream_options", "an object")
        if options.get("include_usage") is not None and not isinstance(options["include_usage"], bool):
            raise _bad_type("stream_options.include_usage", "a boolean")
        if stream is not True:
            raise _bad_value("stream_options", "only allowed when 'stream' is true.")
    stop = body.get("stop")
    if stop is not None and not isinstance(stop, str):
        if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
            raise _bad_type("stop", "a string or an array of up to 4 strings")
        if len(stop) > 4:
            raise _bad_value("stop", "must be a string or an array of up to 4 strings.")
    _validate_tools(body.get("tools"))
    _validate_tool_choice(body.get("tool_choice"), body.get("tools"))
    parallel = body.get("parallel_tool_calls")
    if parallel is not None and not isinstance(parallel, bool):
        raise _bad_type("parallel_tool_calls", "a boolean")
    _validate_response_format(body.get("response_format"))


def _validate_tools(tools: object) -> None:
    """Function tools only: `{type: "function", function: {name, description?, parameters?, strict?}}`."""
    if tools is None:
        return
    if not isinstance(tools, list):
        raise _bad_type("tools", "an array of tool objects")
    for i, tool in enumerate(tools):
        at = f"tools[{i}]"
        if not isinstance(tool, dict):
            raise _bad_type(at, "a tool object")
        if tool.get("type") is None:
            raise _missing(f"{at}.type")
        if tool["type"] != "function":
            raise _bad_value(f"{at}.type", "supported values are 'function'.")
        function = tool.get("function")
        if function is None:
            raise _missing(f"{at}.function")
        if not isinstance(function, dict):
            raise _bad_type(f"{at}.function", "a function object")
        name = function.get("name")
        if name is None:
            raise _missing(f"{at}.function.name")
        if not isinstance(name, str):
            raise _bad_type(f"{at}.function.name", "a string")
        if not NAME.match(name):
            raise _bad_value(f"{at}.function.name", _pattern_message())
        if function.get("description") is not None and not isinstance(function["description"], str):
            raise _bad_type(f"{at}.function.description", "a string")
        if function.get("parameters") is not None and not isinstance(function["parameters"], dict):
            raise _bad_type(f"{at}.function.parameters", "an object (a JSON Schema)")
        if function.get("strict") is not None and not isinstance(function["strict"], bool):
            raise _bad_type(f"{at}.function.strict", "a boolean")


def _validate_tool_choice(choice: object, tools: object) -> None:
    """A mode, or a named function among the offered tools; never without tools. Param: `tool_choice`."""
    if choice is None:
        return
    if not isinstance(tools, list) or not tools:
        raise _choice_error("'tool_choice' is only allowed when 'tools' are specified.")
    if isinstance(choice, str):
        if choice not in TOOL_CHOICES:
            raise _choice_error("supported values are 'none', 'auto', 'required' or a named function tool.")
        return
    if not isinstance(choice, dict):
        raise _choice_error("expected a string or an object naming a function tool.", code="invalid_type")
    if choice.get("type") != "function":
        raise _choice_error("'tool_choice.type' must be 'function'.")
    function = choice.get("function")
    name = function.get("name") if isinstance(function, dict) else None
    if not isinstance(name, str):
        raise _choice_error("'tool_choice.function.name' is required.", code="missing_required_parameter")
    offered = {
        tool["function"].get("name")
        for tool in tools
        if isinstance(tool, dict) and isinstance(tool.get("function"), dict)
    }
    if name not in offered:
        raise _choice_error("'tool_choice.function.name' names a function that is not among 'tools'.")


def _choice_error(message: str, *, code: str = "invalid_value") -> RequestError:
    return RequestError(400, f"Invalid 'tool_choice': {message}", param="tool_choice", code=code)


def _validate_response_format(value: object) -> None:
    """`{type: text}`, `{type: json_object}` or `{type: json_schema, json_schema: {name, description?,
    schema?, strict?}}`. Param: `response_format` for every part, the message names which."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise _format_error("expected an object with a `type`.", code="invalid_type")
    kind = value.get("type")
    if kind is None:
        raise _format_error(
            "missing required parameter 'response_format.type'.", code="missing_required_parameter"
        )
    if kind not in RESPONSE_FORMATS:
        raise _format_error("'response_format.type' must be one of 'text', 'json_object' or 'json_schema'.")
    if kind != "json_schema":
        return
    spec = value.get("json_schema")
    if not isinstance(spec, dict):
        raise _format_error(
            "missing required parameter 'response_format.json_schema'.", code="missing_required_parameter"
        )
    name = spec.get("name")
    if name is None:
        raise _format_error(
            "missing required parameter 'response_format.json_schema.name'.",
            code="missing_required_parameter",
        )
    if not isinstance(name, str) or not NAME.match(name):
        raise _format_error(f"'response_format.json_schema.name': {_pattern_message()}")
    if spec.get("description") is not None and not isinstance(spec["description"], str):
        raise _format_error(
            "'response_format.json_schema.description' must be a string.", code="invalid_type"
        )
    if spec.get("schema") is not None and not isinstance(spec["schema"], dict):
        raise _format_error("'response_format.json_schema.schema' must be an object.", code="invalid_type")
    if spec.get("strict") is not None and not isinstance(spec["strict"], bool):
        raise _format_error("'response_format.json_schema.strict' must be a boolean.", code="invalid_type")


def _format_error(message: str, *, code: str = "invalid_value") -> RequestError:
    return RequestError(400, f"Invalid 'response_format': {message}", param="response_format", code=code)


def _pattern_message() -> str:
    return f"string does not match pattern. Expected a string that matches the pattern '{NAME.pattern}'."
