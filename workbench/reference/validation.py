"""The reference endpoint's request checks: the documented contract, in the order a client meets them.

Required fields first, then types and values, each rejected with a 400 in OpenAI's envelope and, where
OpenAI's wording is known, in its words, naming the parameter (`param`). The checks read the body
as sent and never echo request text beyond the parameter's name.
"""

from __future__ import annotations

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
        content = message.get("content")
        if content is None and role != "assistant":
            raise _missing(f"{where}.content")
        if not (isinstance(content, str | list) or (content is None and role == "assistant")):
            raise _bad_type(f"{where}.content", "a string or an array of content parts")
        if isinstance(content, list) and not all(isinstance(part, dict) for part in content):
            raise _bad_type(f"{where}.content", "an array of content-part objects")
        if role == "tool" and not isinstance(message.get("tool_call_id"), str):
            raise _missing(f"{where}.tool_call_id")


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
