"""What the app's own request uses (tools, tool choice, response format, stream usage), checked when
the configuration loads, and what the app reads of the answer: the parts of the contract judged.

An environment's `app_request` is sent as is; its `tools` with `tool_choice`, its `response_format`
and its `stream_options.include_usage` each switch on their checks. `uses` names what the app reads
even when it does not ask for it (`usage` on every answer, `reasoning` fields). A field the app
consumes that breaks fails the gate; a deviation in a field it does not consume is information.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# What an app may read of an answer (`uses = [...]`): interface, written in configuration.
USES: Mapping[str, str] = {
    "content": "the assistant's text (always read)",
    "tool_calls": "tool calls: id, name and JSON arguments",
    "json": "structured output: the content is JSON (json_object or json_schema)",
    "usage": "token usage, in answers and at the end of streams",
    "reasoning": "reasoning text (reasoning_content, reasoning or reasoning_details)",
    "refusal": "the refusal field",
    "logprobs": "log probabilities",
}
REASONING_FIELDS = ("reasoning_content", "reasoning", "reasoning_details")
TOOL_CHOICES = ("none", "auto", "required")
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_FORMATS = ("text", "json_object", "json_schema")


class AppRequestError(ValueError):
    """What in an `app_request` no endpoint could be judged by: `path` inside it, and why."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path, self.message = path, message


@dataclass(frozen=True, slots=True)
class AppContract:
    """One environment's app contract, derived once from its `app_request` and `uses`."""

    tools: Mapping[str, Mapping[str, Any]]  # offered function name -> its parameters schema
    tool_choice: str | None  # "none" | "auto" | "required" | a function name | None (not sent)
    response_format: str | None  # "json_object" | "json_schema" | None (none, or "text")
    format_schema: Mapping[str, Any] | None  # json_schema's schema
    format_strict: bool
    include_usage: bool  # the app asks for the usage chunk of streams
    uses: frozenset[str]  # what the app reads: declared, plus what its request asks for

    @property
    def forces_tool(self) -> bool:
        """The app's own request forces a call ("required" or a named function)."""
        return self.tool_choice is not None and self.tool_choice not in ("none", "auto")

    def reads(self, what: str) -> bool:
        return what in self.uses


def app_contract(app_request: Mapping[str, Any], uses: Sequence[str] = ()) -> AppContract:
    """The contract of an `app_request` already checked by `check_app_request`."""
    tools = {
        str(tool["function"]["name"]): dict(tool["function"].get("parameters") or {})
        for tool in app_request.get("tools") or ()
    }
    choice = app_request.get("tool_choice")
    tool_choice = choice["function"]["name"] if isinstance(choice, Mapping) else choice
    fmt = app_request.get("response_format") or {}
    kind = fmt.get("type") if fmt.get("type") in ("json_object", "json_schema") else None
    schema_block = fmt.get("json_schema") or {}
    options = app_request.get("stream_options") or {}
    include_usage = options.get("include_usage") is True
    derived = {"content"}
    if tools:
        derived.add("tool_calls")
    if kind:
        derived.add("json")
    if include_usage:
        derived.add("usage")
    if app_request.get("logprobs") is True:
        derived.add("logprobs")
    return AppContract(
        tools=tools,
        tool_choice=tool_choice if tools else None,
        response_format=kind,
        format_schema=schema_block.get("schema") if kind == "json_schema" else None,
        format_strict=schema_block.get("strict") is True,
        include_usage=include_usage,
        uses=frozenset(derived | set(uses)),
    )


def check_uses(uses: Sequence[str]) -> None:
    """Every `uses` value is one the workbench knows (a typo would silently judge nothing)."""
    for value in uses:
        if value not in USES:
            raise ValueError(f"unknown value {value!r} (known: {', '.join(USES)})")


def check_app_request(app_request: Mapping[str, Any], uses: Sequence[str] = ()) -> None:
    """Refuse what no endpoint could be judged by: the first problem as an `AppRequestError`.

    Function tools with a name and an object `parameters` schema; a `tool_choice` naming an offered
    tool; `response_format` one of the documented three; every schema a valid JSON Schema with local
    `$ref`s only (a remote one would be fetched while judging, from a place an endpoint can choose).
    """
    tools = app_request.get("tools")
    names: list[str] = []
    if tools is not None:
        if not isinstance(tools, list) or not tools:
            raise AppRequestError("tools", "must be a non-empty array of function tools")
        for index, tool in enumerate(tools):
            names.append(_check_tool(tool, f"tools[{index}]"))
        duplicated = sorted({name for name in names if names.count(name) > 1})
        if duplicated:
            raise AppRequestError("tools", f"the function name {duplicated[0]!r} is offered twice")
    _check_tool_choice(app_request.get("tool_choice"), names, has_tools=tools is not None)
    if "response_format" in app_request:
        _check_response_format(app_request["response_format"])
    options = app_request.get("stream_options")
    if options is not None and not (
        isinstance(options, Mapping) and isinstance(options.get("include_usage", False), bool)
    ):
        raise AppRequestError("stream_options", "must be a table such as { include_usage = true }")
    if "tool_calls" in uses and not names:
        raise AppRequestError(
            "tools", 'uses names "tool_calls", but app_request offers no tools: add the tools your app sends'
        )


def _check_tool(tool: Any, where: str) -> str:
    if not isinstance(tool, Mapping) or tool.get("type") != "function":
        raise AppRequestError(where, 'must be a function tool, { type = "function", function = { ... } }')
    function = tool.get("function")
    if not isinstance(function, Mapping):
        raise AppRequestError(f"{where}.function", "must be a table with a name and parameters")
    name = function.get("name")
    if not isinstance(name, str) or not _TOOL_NAME.match(name):
        raise AppRequestError(f"{where}.function.name", "must be 1-64 letters, digits, '_' or '-'")
    parameters = function.get("parameters")
    if not isinstance(parameters, Mapping) or parameters.get("type") != "object":
        raise AppRequestError(f"{where}.function.parameters", 'must be a JSON Schema with type = "object"')
    check_schema(parameters, f"{where}.function.parameters")
    return name


def _check_tool_choice(choice: Any, names: Sequence[str], *, has_tools: bool) -> None:
    if choice is None:
        return
    if not has_tools:
        raise AppRequestError("tool_choice", "set without tools: offer the tools it chooses from")
    if isinstance(choice, str):
        if choice not in TOOL_CHOICES:
            raise AppRequestError(
                "tool_choice", f"must be one of {', '.join(TOOL_CHOICES)} or a named function"
            )
        return
    function = choice.get("function") if isinstance(choice, Mapping) else None
    name = function.get("name") if isinstance(function, Mapping) else None
    if not isinstance(choice, Mapping) or choice.get("type") != "function" or not isinstance(name, str):
        raise AppRequestError(
            "tool_choice", 'a named choice is { type = "function", function = { name = "..." } }'
        )
    if name not in names:
        raise AppRequestError(
            "tool_choice", f"names {name!r}, which is not among the tools offered ({', '.join(names)})"
        )


def _check_response_format(fmt: Any) -> None:
    kind = fmt.get("type") if isinstance(fmt, Mapping) else None
    if kind not in _FORMATS:
        raise AppRequestError("response_format", f"type must be one of {', '.join(_FORMATS)}")
    if kind != "json_schema":
        return
    block = fmt.get("json_schema")
    if not isinstance(block, Mapping) or not isinstance(block.get("name"), str):
        raise AppRequestError("response_format.json_schema", "must be a table with a name and a schema")
    schema = block.get("schema")
    if not isinstance(schema, Mapping):
        raise AppRequestError("response_format.json_schema.schema", "must be a JSON Schema (a table)")
    check_schema(schema, "response_format.json_schema.schema")


def check_schema(schema: Mapping[str, Any], where: str) -> None:
    """A valid JSON Schema (its own dialect, default 2020-12) whose `$ref`s are all local (`#...`)."""
    for path, ref in _refs(schema, where):
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise AppRequestError(
                path, f"a remote $ref ({str(ref)[:80]!r}) is not allowed: inline the schema"
            )
    import jsonschema  # validating schemas is rare: the library loads only for a configuration that has one

    validator = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        at = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in exc.path)
        raise AppRequestError(f"{where}{at}", f"not a valid JSON Schema: {exc.message[:200]}") from None


def _refs(value: Any, path: str, depth: int = 0) -> Iterator[tuple[str, Any]]:
    if depth > 64:
        raise AppRequestError(path, "a schema nested deeper than 64 levels")
    if isinstance(value, Mapping):
        for key, child in value.items():
            if key == "$ref":
                yield f"{path}.$ref", child
            else:
                yield from _refs(child, f"{path}.{key}", depth + 1)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _refs(child, f"{path}[{index}]", depth + 1)
