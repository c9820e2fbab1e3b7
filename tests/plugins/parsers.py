"""Application parsers and acceptance checks as teams write them, good and bad, for plug-in tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workbench import ParserError


def fragile(body: Mapping[str, Any]) -> str | None:
    """Assumes usage is always there (it is optional): throws KeyError when it is not."""
    tokens = body["usage"]["total_tokens"]
    return str(body["choices"][0]["message"]["content"]) if tokens >= 0 else None


def careful(body: Mapping[str, Any]) -> str | None:
    """Reads only what it needs and says so when it cannot."""
    choices = body.get("choices") or []
    if not choices or not isinstance(choices[0], Mapping):
        raise ParserError("no choices")
    message = choices[0].get("message") or {}
    content = message.get("content")
    return content if isinstance(content, str) else None


def no_colons(body: Mapping[str, Any], content: str | None) -> str | None:
    """A product rule: answers are single plain phrases (every reference reply has a colon, so it fails)."""
    if content and ":" in content:
        return "the answer is not a single plain phrase, which the product forbids"
    return None


def whole_answers(body: Mapping[str, Any], content: str | None) -> str | None:
    """A product rule teams write: an answer cut at the token limit is not acceptable."""
    choices = body.get("choices") or []
    if choices and isinstance(choices[0], Mapping) and choices[0].get("finish_reason") == "length":
        return "the answer was cut at the token limit"
    return None
