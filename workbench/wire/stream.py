"""Assembling a chat-completion SSE stream into the message it carries.

The wire format follows the OpenAI SDK: SSE events whose `data` is a `chat.completion.chunk`,
ended by `data: [DONE]`; a chunk with a truthy top-level `error` (or an `event: error`) is an
error even on HTTP 200. What real providers add is valid and must not fail the audit: a
usage-only final chunk with `choices: []`, usage on every chunk (vLLM) or on the finish chunk
(Groq, DeepSeek), keep-alive comments (dropped by the SSE decoder), reasoning deltas.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import httpx
from httpx_sse import EventSource

from workbench.core.errors import ParserError
from workbench.wire import boundedjson
from workbench.wire.errorbody import ErrorInfo, read_error
from workbench.wire.parser import text_of


class SSEEvent(Protocol):
    """What assembly needs of an event: its type and data (httpx-sse's events and ours both fit)."""

    @property
    def event(self) -> str: ...

    @property
    def data(self) -> str: ...


@dataclass(slots=True)
class ChoiceAssembly:
    """One choice put back together from its deltas."""

    content: str = ""
    saw_content: bool = False
    refusal: str = ""
    reasoning: str = ""
    tool_calls: dict[int, dict[str, str]] = field(default_factory=dict)
    finish_reason: str | None = None


@dataclass(slots=True)
class StreamAssembly:
    """The message a stream carried, and how the stream behaved."""

    choices: dict[int, ChoiceAssembly] = field(default_factory=dict)
    chunks: int = 0
    done: bool = False
    usage: Mapping[str, Any] | None = None
    usage_chunks: int = 0
    error: ErrorInfo | None = None
    garbage: str | None = None  # the first data that was not JSON
    over_limits: str | None = None  # why the first chunk past the JSON limits was not decoded
    unmapped: str | None = None  # the first chunk the contract cannot map
    first_content_index: int | None = None  # index of the event that carried the first token

    @property
    def content(self) -> str | None:
        """Choice 0's text, or None when it carried none."""
        choice = self.choices.get(0)
        if choice is None or not choice.saw_content:
            return None
        return choice.content

    @property
    def finish_reason(self) -> str | None:
        choice = self.choices.get(0)
        return choice.finish_reason if choice else None

    @property
    def terminated(self) -> bool:
        return self.done


def assemble(events: Iterable[SSEEvent], *, on_chunk: Callable[[Any], None] | None = None) -> StreamAssembly:
    """Fold events into a `StreamAssembly`; stops at `[DONE]`, an error, garbage or JSON past its limits.

    `on_chunk` sees every decoded chunk once, as it is folded (the spec check reads the same decode).
    """
    result = StreamAssembly()
    for index, sse in enumerate(events):
        data = sse.data
        if data.strip() == "[DONE]":
            result.done = True
            break
        if sse.event == "error":
            result.error = _error_event(data)
            break
        if not data.strip():
            continue
        try:
            chunk = boundedjson.loads(data)
        except boundedjson.JSONBoundsError as exc:
            result.over_limits = str(exc)
            break
        except ValueError:
            result.garbage = data[:200]
            break
        error = read_error(chunk) if isinstance(chunk, Mapping) and chunk.get("error") else None
        if error is not None:
            result.error = error
            break
        result.chunks += 1
        if on_chunk is not None:
            on_chunk(chunk)
        try:
            carried = _fold_chunk(result, chunk)
        except ParserError as exc:
            result.unmapped = result.unmapped or str(exc)
            continue
        if carried and result.first_content_index is None:
            result.first_content_index = index
    return result


# A last `data: [DONE]` line with no blank line after it: SSE would drop the unfinished event, but
# it is common in saved bodies and behind some proxies, and clients treat the stream as ended.
_UNCLOSED_DONE = re.compile(r"(?:^|[\r\n])data: ?\[DONE\][ \t]*(?:\r\n|\r|\n)?$")
_TAIL = 64  # characters kept to recognise the last line


def ends_with_unclosed_done(tail: str) -> bool:
    """Whether a stream's text ends on a `data: [DONE]` line whose closing blank line is missing."""
    return bool(_UNCLOSED_DONE.search(tail[-_TAIL:]))


def events_from_bytes(body: bytes) -> list[SSEEvent]:
    """Decode a saved SSE body with httpx-sse's decoder (the same one the live probe uses)."""
    if ends_with_unclosed_done(body[-_TAIL:].decode("utf-8", "replace")):
        body += b"\n\n"
    response = httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)
    return list(EventSource(response).iter_sse())


class _DoneClosed:
    """A live response as httpx-sse reads it, with the blank line an unclosed final [DONE] lacks."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.headers = response.headers

    async def aiter_text(self) -> AsyncIterator[str]:
        tail = ""
        async for text in self._response.aiter_text():
            tail = (tail + text)[-_TAIL:]
            yield text
        if ends_with_unclosed_done(tail):
            yield "\n\n"


def event_source(response: httpx.Response) -> EventSource:
    """httpx-sse's reader over a live response, taking a final unclosed `data: [DONE]` as the end."""
    return EventSource(cast(httpx.Response, _DoneClosed(response)))


def _error_event(data: str) -> ErrorInfo:
    try:
        decoded = boundedjson.loads(data)
    except ValueError:
        return ErrorInfo(message=data.strip()[:300] or "error event without data", shape="event")
    return (
        read_error(decoded) or read_error({"error": decoded}) or ErrorInfo(message=data[:300], shape="event")
    )


def _fold_chunk(result: StreamAssembly, chunk: Any) -> bool:
    """Apply one chunk; returns whether it carried assistant output (for time to first token)."""
    if not isinstance(chunk, Mapping):
        raise ParserError(f"a chunk is {type(chunk).__name__}, not an object")
    usage = chunk.get("usage")
    if isinstance(usage, Mapping):
        result.usage = usage
        result.usage_chunks += 1
    x_groq = chunk.get("x_groq")
    if isinstance(x_groq, Mapping) and isinstance(x_groq.get("usage"), Mapping):
        result.usage = x_groq["usage"]
        result.usage_chunks += 1
    choices = chunk.get("choices")
    if choices is None:
        if usage is None:
            raise ParserError("a chunk has no 'choices'")
        return False
    if not isinstance(choices, list):
        raise ParserError("a chunk's 'choices' is not an array")
    carried = False
    for position, item in enumerate(choices):
        if not isinstance(item, Mapping):
            raise ParserError("a chunk's choice is not an object")
        index = item.get("index", position)
        choice = result.choices.setdefault(index if isinstance(index, int) else position, ChoiceAssembly())
        delta = item.get("delta")
        if delta is None:
            if "text" in item:
                raise ParserError("chunk text at choices[].text, not choices[].delta (legacy shape)")
            delta = {}
        if not isinstance(delta, Mapping):
            raise ParserError("a chunk's delta is not an object")
        carried = _fold_delta(choice, delta) or carried
        finish = item.get("finish_reason")
        if isinstance(finish, str):
            choice.finish_reason = finish
    return carried


def _fold_delta(choice: ChoiceAssembly, delta: Mapping[str, Any]) -> bool:
    carried = False
    if "text" in delta and "content" not in delta:
        raise ParserError("delta carries 'text' instead of 'content'")
    content = text_of(delta.get("content"))
    if content:
        choice.content += content
        choice.saw_content = True
        carried = True
    refusal = delta.get("refusal")
    if isinstance(refusal, str) and refusal:
        choice.refusal += refusal
        carried = True
    for key in ("reasoning_content", "reasoning"):
        reasoning = delta.get(key)
        if isinstance(reasoning, str) and reasoning:
            choice.reasoning += reasoning
    for fragment in delta.get("tool_calls") or ():
        if not isinstance(fragment, Mapping):
            raise ParserError("a tool-call fragment is not an object")
        slot = choice.tool_calls.setdefault(
            int(fragment.get("index", 0)), {"id": "", "name": "", "arguments": ""}
        )
        function = fragment.get("function") or {}
        slot["id"] = slot["id"] or str(fragment.get("id") or "")
        slot["name"] += str(function.get("name") or "")
        slot["arguments"] += str(function.get("arguments") or "")
        carried = True
    return carried
