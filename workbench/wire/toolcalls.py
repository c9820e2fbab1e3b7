"""Tool calls as an app reads them: each call's id, type, name and JSON-string arguments, judged
against the tools the app offered.

A malformed call (no id, arguments not a string, arguments that are not JSON) is a `parser`
finding: the app cannot map it. Arguments that are JSON but break the tool's own schema, a forced
choice the answer ignored, or a tool the app never offered are `quality` findings: the shape is
valid and the route ignored the request. What is valid and must never be flagged: several calls at
once, `finish_reason: "stop"` beside calls, `content: ""` instead of `null`, arguments in one piece.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.core.models import Symptom
from workbench.wire import boundedjson


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One call as it arrived: `arguments` as sent (a string when it is right), `path` where it was."""

    path: str  # e.g. "choices[0].message.tool_calls[0]" or "choices[0].delta.tool_calls[index 0]"
    id: Any
    type: Any
    name: Any
    arguments: Any


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong with one part of an answer: where (a JSON path), the class, in words."""

    path: str
    symptom: Symptom
    text: str

    def describe(self) -> str:
        return f"{self.path}: {self.text}"


def calls_in_message(message: Mapping[str, Any], where: str) -> tuple[list[ToolCall], list[Problem]]:
    """The tool calls of a non-streamed `message` (at JSON path `where`), and what keeps one unreadable."""
    raw = message.get("tool_calls")
    if raw is None:
        return [], []
    if not isinstance(raw, list):
        return [], [Problem(f"{where}.tool_calls", Symptom.PARSER, f"is {_kind(raw)}, not an array")]
    calls: list[ToolCall] = []
    problems: list[Problem] = []
    for position, item in enumerate(raw):
        path = f"{where}.tool_calls[{position}]"
        if not isinstance(item, Mapping):
            problems.append(Problem(path, Symptom.PARSER, f"is {_kind(item)}, not an object"))
            continue
        function = item.get("function")
        if not isinstance(function, Mapping):
            problems.append(
                Problem(f"{path}.function", Symptom.PARSER, f"is {_kind(function)}, not an object")
            )
            continue
        calls.append(
            ToolCall(path, item.get("id"), item.get("type"), function.get("name"), function.get("arguments"))
        )
    return calls, problems


def judge_calls(
    calls: Sequence[ToolCall],
    offered: Mapping[str, Mapping[str, Any]],
    *,
    forced: str | None = None,
    streamed: bool = False,
) -> list[Problem]:
    """Every call readable and within the offered tools; `forced` ("required" or a function name),
    when the request forced a call, must be honoured."""
    problems: list[Problem] = []
    for call in calls:
        problems += _judge_call(call, offered)
    if forced and not calls:
        problems.append(
            Problem(
                "choices[0].message.tool_calls" if not streamed else "choices[0].delta.tool_calls",
                Symptom.QUALITY,
                f"absent: the request forced a tool call (tool_choice {_choice_words(forced)}) and the "
                "answer has none (the route ignored tool_choice)",
            )
        )
    elif forced and forced != "required" and not any(call.name == forced for call in calls):
        names = ", ".join(repr(call.name) for call in calls)
        problems.append(
            Problem(
                calls[0].path + ".function.name",
                Symptom.QUALITY,
                f"the request forced {forced!r}, the answer called {names}",
            )
        )
    return problems


def arguments_of(call: ToolCall) -> Any:
    """The decoded arguments of a call already judged readable (None when they are not)."""
    if not isinstance(call.arguments, str):
        return None
    try:
        return boundedjson.loads(call.arguments)
    except ValueError:
        return None


def schema_errors(schema: Mapping[str, Any], instance: Any, *, limit: int = 3) -> list[tuple[str, str]]:
    """(JSON path inside the instance, message) of the first `limit` ways `instance` breaks `schema`."""
    validator = _validator(json.dumps(schema, sort_keys=True))
    found = []
    for error in validator.iter_errors(instance):
        path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path)
        found.append((path, error.message[:160]))
        if len(found) >= limit:
            break
    return found


@functools.lru_cache(maxsize=64)
def _validator(schema_text: str) -> Any:
    """One compiled validator per distinct schema (the app's tools and format: a handful per run)."""
    import jsonschema

    schema = json.loads(schema_text)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema)


def unreadable(calls: Iterable[ToolCall]) -> list[Problem]:
    """What keeps a call from being read at all, whatever tools were offered (`workbench classify`)."""
    return [problem for call in calls for problem in _judge_call(call, None)]


def _judge_call(call: ToolCall, offered: Mapping[str, Mapping[str, Any]] | None) -> list[Problem]:
    """A call's problems; with `offered` None, only those that keep it unreadable."""
    problems = []
    if not isinstance(call.id, str) or not call.id:
        problems.append(
            Problem(
                f"{call.path}.id",
                Symptom.PARSER,
                f"is {_kind(call.id)}: the app cannot send the tool result back without the call's id",
            )
        )
    if call.type != "function":
        problems.append(
            Problem(f"{call.path}.type", Symptom.PARSER, f'is {_kind(call.type)}, not "function"')
        )
    if not isinstance(call.name, str) or not call.name:
        problems.append(Problem(f"{call.path}.function.name", Symptom.PARSER, f"is {_kind(call.name)}"))
        return problems
    arguments_path = f"{call.path}.function.arguments"
    if not isinstance(call.arguments, str):
        problems.append(
            Problem(arguments_path, Symptom.PARSER, f"is {_kind(call.arguments)}, not a JSON string")
        )
        return problems
    try:
        decoded = boundedjson.loads(call.arguments)
    except ValueError as exc:
        problems.append(
            Problem(
                arguments_path,
                Symptom.PARSER,
                f"is not valid JSON ({_short(str(exc))}): {_excerpt(call.arguments)}",
            )
        )
        return problems
    if not isinstance(decoded, dict):
        problems.append(Problem(arguments_path, Symptom.PARSER, f"is JSON {_kind(decoded)}, not an object"))
        return problems
    if offered is None:
        return problems
    if call.name not in offered:
        problems.append(
            Problem(
                f"{call.path}.function.name",
                Symptom.QUALITY,
                f"calls {call.name!r}, a tool the app did not offer ({', '.join(offered) or 'none'})",
            )
        )
        return problems
    for inner, message in schema_errors(offered[call.name], decoded, limit=1):
        problems.append(
            Problem(
                f"{arguments_path}{inner}",
                Symptom.QUALITY,
                f"breaks the {call.name!r} tool's parameters schema: {message}",
            )
        )
    return problems


def _choice_words(forced: str) -> str:
    return '"required"' if forced == "required" else f"naming {forced!r}"


def _kind(value: Any) -> str:
    if value is None:
        return "absent or null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "an empty string" if not value else "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return f"a {type(value).__name__}"


def _excerpt(text: str, limit: int = 60) -> str:
    """A short, printable piece of what an endpoint sent (never the whole of it)."""
    shown = text if len(text) <= limit else text[:limit] + "..."
    return json.dumps(shown, ensure_ascii=True)


def _short(message: str) -> str:
    return message.split(":")[0][:80]


def names_of(calls: Iterable[ToolCall]) -> list[str]:
    """The called tools' names, in order (for comparing a streamed answer with a non-streamed one)."""
    return [str(call.name) for call in calls]
