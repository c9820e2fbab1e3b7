"""The reference response parser, and loading a team's own parser or acceptance check.

A parser maps a decoded chat-completion body to the assistant's text. A *safe* parser either
returns the text (or None when the answer is only tool calls or a refusal) or raises
`ParserError`; any other exception is an unhandled failure, which is exactly what
`response.optional_fields` looks for. Teams plug in their application's parser with
`parser = "package.module:function"` so the audit tests the code that really runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core.errors import ConfigError, ParserError

ResponseParser = Callable[[Mapping[str, Any]], "str | None"]


@dataclass(frozen=True, slots=True)
class Completion:
    """What the reference parser understood of a non-streaming response (choice 0)."""

    content: str | None
    refusal: str | None
    tool_calls: int
    finish_reason: str | None
    choices: int
    usage: Mapping[str, Any] | None
    reasoning: str | None


def text_of(content: Any) -> str | None:
    """Message content as text: a string as is; an array of parts, its text parts joined."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            part.get("text")
            for part in content
            if isinstance(part, Mapping) and part.get("type") in ("text", "output_text", None)
        ]
        strings = [text for text in texts if isinstance(text, str)]
        if strings or not content:
            return "".join(strings)
    raise ParserError(f"message.content is {_kind(content)}, not a string or an array of text parts")


def parse_completion(body: Any) -> Completion:
    """Map a chat.completion body, or raise `ParserError` saying what is not where the contract puts it."""
    if not isinstance(body, Mapping):
        raise ParserError(f"response is {_kind(body)}, not a JSON object")
    choices = body.get("choices")
    if choices is None:
        hint = " (looks like a Responses-API body)" if "output" in body else ""
        raise ParserError(f"no 'choices' in the response{hint}")
    if not isinstance(choices, list):
        raise ParserError(f"'choices' is {_kind(choices)}, not an array")
    if not choices:
        raise ParserError("'choices' is empty: no answer to map")
    first = choices[0]
    if not isinstance(first, Mapping):
        raise ParserError(f"choices[0] is {_kind(first)}, not an object")
    message = first.get("message")
    if message is None:
        moved = " (text found at choices[0].text: legacy completions shape)" if "text" in first else ""
        raise ParserError(f"no choices[0].message{moved}")
    if not isinstance(message, Mapping):
        raise ParserError(f"choices[0].message is {_kind(message)}, not an object")
    content = text_of(message.get("content"))
    refusal = message.get("refusal")
    tool_calls = message.get("tool_calls") or []
    if not isinstance(tool_calls, list):
        raise ParserError(f"choices[0].message.tool_calls is {_kind(tool_calls)}, not an array")
    if content is None and not tool_calls and not refusal:
        raise ParserError("choices[0].message has no content, no tool calls and no refusal")
    usage = body.get("usage")
    reasoning = message.get("reasoning_content", message.get("reasoning"))
    finish = first.get("finish_reason")
    return Completion(
        content=content,
        refusal=refusal if isinstance(refusal, str) else None,
        tool_calls=len(tool_calls),
        finish_reason=finish if isinstance(finish, str) else None,
        choices=len(choices),
        usage=usage if isinstance(usage, Mapping) else None,
        reasoning=reasoning if isinstance(reasoning, str) else None,
    )


def reference_parser(body: Mapping[str, Any]) -> str | None:
    """The workbench's own parser: the assistant text of choice 0 (None for tool calls or a refusal)."""
    return parse_completion(body).content


def load_callable(
    reference: str | None, *, default: Callable[..., Any], field: str, source: Path | str | None = None
) -> Callable[..., Any]:
    """Import `package.module:function` (already validated in form); the default when None.

    Errors name `source` (the configuration file) and `field`."""
    if reference is None:
        return default
    module_name, _, attribute = reference.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import module {module_name!r}: {exc}", path=source, field=field) from None
    target = getattr(module, attribute, None)
    if not callable(target):
        raise ConfigError(f"{module_name!r} has no callable {attribute!r}", path=source, field=field)
    return target  # type: ignore[no-any-return]


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), f"a {type(value).__name__}"
    )
