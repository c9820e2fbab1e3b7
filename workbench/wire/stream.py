"""Assembling a chat-completion SSE stream into the message it carries.

The wire format follows the OpenAI SDK: SSE events whose `data` is a `chat.completion.chunk`,
ended by `data: [DONE]`; a chunk with a truthy top-level `error` (or an `event: error`) is an
error even on HTTP 200. What real providers add is valid and must not fail the audit: a
usage-only final chunk with `choices: []`, usage on every chunk (vLLM) or on the finish chunk
(Groq, DeepSeek), keep-alive comments (dropped by the SSE decoder), reasoning deltas.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import httpx
from httpx_sse import EventSource

from workbench.core.appcontract import REASONING_FIELDS
from workbench.core.errors import ParserError
from workbench.wire import boundedjson
from workbench.wire.errorbody import ErrorInfo, read_error
from workbench.wire.parser import text_of
from workbench.wire.toolcalls import ToolCall


class SSEEvent(Protocol):
    """What assembly needs of an event: its type and data (httpx-sse's events and ours both fit)."""

    @property
    def event(self) -> str: ...

    @property
    def data(self) -> str: ...


@dataclass(slots=True)
class CallAssembly:
    """One tool call put back together from the deltas that carried its `index`."""

    index: int
    id: Any = None
    type: Any = None
    name: Any = None
    arguments: Any = None  # the fragments joined; an object (never a string fragment) stays as sent
    null_fragments: int = 0

    def as_call(self, choice: int) -> ToolCall:
        where = f"choices[{choice}].delta.tool_calls[index {self.index}]"
        return ToolCall(where, self.id, self.type, self.name, self.arguments)


@dataclass(slots=True)
class ChoiceAssembly:
    """One choice put back together from its deltas."""

    content: str = ""
    saw_content: bool = False
    refusal: str = ""
    reasoning: str = ""
    reasoning_fields: set[str] = field(default_factory=set)  # which reasoning field names carried text
    tool_calls: dict[int, CallAssembly] = field(default_factory=dict)
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
    # tool-call deltas that could not be placed (no index, an index that is not an integer, an
    # arguments fragment that is not a string): (JSON path, what is wrong), the first few only
    call_problems: list[tuple[str, str]] = field(default_factory=list)
    usage_with_choices: int = 0  # usage chunks that still carry a choice (the documented one has none)
    last_usage_choices: int = 0  # choices on the last chunk with usage (0 as documented)
    empty_choice_chunks: int = 0  # chunks with `choices: []` and no usage (Azure's filter results)

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

    def tool_calls(self, choice: int = 0) -> list[ToolCall]:
        """Choice `choice`'s reassembled calls, in index order."""
        assembled = self.choices.get(choice)
        if assembled is None:
            return []
        return [assembled.tool_calls[index].as_call(choice) for index in sorted(assembled.tool_calls)]

    def call_problem(self, path: str, text: str) -> None:
        if len(self.call_problems) < _MAX_PROBLEMS and (path, text) not in self.call_problems:
            self.call_problems.append((path, text))


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


_MAX_PROBLEMS = 10  # per stream: an endpoint decides how many deltas it sends

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
    """A live SSE body as httpx-sse reads it (its headers, its text), with the blank line an unclosed
    final [DONE] lacks. The text is decoded here from the bytes the client read (capped and
    decompressed by it): httpx's own text path stacks four more generators on every network read."""

    def __init__(self, headers: httpx.Headers, chunks: AsyncIterator[bytes], encoding: str) -> None:
        self.headers = headers
        self._chunks = chunks
        self._encoding = encoding

    async def aiter_text(self) -> AsyncIterator[str]:
        decoder = codecs.getincrementaldecoder(self._encoding)(errors="replace")  # as httpx decodes
        tail = ""
        async for data in self._chunks:
            text = decoder.decode(data)
            if text:
                tail = (tail + text)[-_TAIL:]
                yield text
        text = decoder.decode(b"", True)
        if text:
            tail = (tail + text)[-_TAIL:]
            yield text
        if ends_with_unclosed_done(tail):
            yield "\n\n"


def event_source(response: httpx.Response, chunks: AsyncIterator[bytes]) -> EventSource:
    """httpx-sse's reader over a live response whose body `chunks` yields (decoded bytes), taking a
    final unclosed `data: [DONE]` as the end; text in the response's charset, else UTF-8."""
    return EventSource(
        cast(httpx.Response, _DoneClosed(response.headers, chunks, response.encoding or "utf-8"))
    )


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
    choices = chunk.get("choices")
    has_usage = isinstance(usage, Mapping)
    if has_usage:
        result.usage = usage
        result.usage_chunks += 1
    x_groq = chunk.get("x_groq")
    if isinstance(x_groq, Mapping) and isinstance(x_groq.get("usage"), Mapping):
        result.usage = x_groq["usage"]
        result.usage_chunks += 1
        has_usage = True
    if has_usage:
        result.last_usage_choices = len(choices) if isinstance(choices, list) else 0
        result.usage_with_choices += bool(result.last_usage_choices)
    if choices is None:
        if usage is None:
            raise ParserError("a chunk has no 'choices'")
        return False
    if not isinstance(choices, list):
        raise ParserError("a chunk's 'choices' is not an array")
    if not choices and not has_usage:
        result.empty_choice_chunks += 1
    carried = False
    for position, item in enumerate(choices):
        if not isinstance(item, Mapping):
            raise ParserError("a chunk's choice is not an object")
        index = item.get("index", position)
        number = index if isinstance(index, int) and not isinstance(index, bool) else position
        choice = result.choices.setdefault(number, ChoiceAssembly())
        delta = item.get("delta")
        if delta is None:
            if "text" in item:
                raise ParserError("chunk text at choices[].text, not choices[].delta (legacy shape)")
            delta = {}
        if not isinstance(delta, Mapping):
            raise ParserError("a chunk's delta is not an object")
        carried = _fold_delta(result, number, choice, delta) or carried
        finish = item.get("finish_reason")
        if isinstance(finish, str):
            choice.finish_reason = finish
    return carried


def _fold_delta(
    result: StreamAssembly, number: int, choice: ChoiceAssembly, delta: Mapping[str, Any]
) -> bool:
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
    for key in REASONING_FIELDS:
        reasoning = delta.get(key)
        if isinstance(reasoning, str) and reasoning:
            choice.reasoning += reasoning
            choice.reasoning_fields.add(key)
        elif reasoning:  # reasoning_details: a list of objects
            choice.reasoning_fields.add(key)
    fragments = delta.get("tool_calls")
    if fragments is None:
        return carried
    if not isinstance(fragments, list):
        result.call_problem(f"choices[{number}].delta.tool_calls", "is not an array")
        return carried
    for position, fragment in enumerate(fragments):
        carried = _fold_call(result, number, choice, position, fragment) or carried
    return carried


def _fold_call(
    result: StreamAssembly, number: int, choice: ChoiceAssembly, position: int, fragment: Any
) -> bool:
    """One tool-call delta, placed by its `index`: a delta without one is never taken as 0, which
    would silently merge parallel calls (openai-python #2806)."""
    where = f"choices[{number}].delta.tool_calls[{position}]"
    if not isinstance(fragment, Mapping):
        result.call_problem(where, "a tool-call delta that is not an object")
        return False
    index = fragment.get("index")
    if index is None:
        result.call_problem(f"{where}.index", "absent: a tool-call delta without an index cannot be placed")
        return False
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        result.call_problem(
            f"{where}.index", f"is {_json_kind(index)}, not an integer: the delta cannot be placed"
        )
        return False
    call = choice.tool_calls.get(index)
    if call is None:
        if len(choice.tool_calls) >= _MAX_CALLS:
            result.call_problem(
                f"{where}.index", f"more than {_MAX_CALLS} tool calls in one choice: not read"
            )
            return False
        call = choice.tool_calls[index] = CallAssembly(index)
    for key in ("id", "type"):
        value = fragment.get(key)
        if value is not None and getattr(call, key) is None:
            setattr(call, key, value)
    function = fragment.get("function")
    if function is None:
        return True
    if not isinstance(function, Mapping):
        result.call_problem(f"{where}.function", f"is {_json_kind(function)}, not an object")
        return True
    name = function.get("name")
    if isinstance(name, str):
        call.name = name if call.name is None else f"{call.name}{name}" if call.name != name else call.name
    if "arguments" in function:
        arguments = function["arguments"]
        if arguments is None:
            call.null_fragments += 1
        elif isinstance(arguments, str):
            if call.arguments is None or isinstance(call.arguments, str):
                call.arguments = (call.arguments or "") + arguments
        else:
            call.arguments = arguments  # an object (or number): what the app would be handed, judged later
            result.call_problem(
                f"{where}.function.arguments", f"is {_json_kind(arguments)}, not a string fragment"
            )
    return True


_MAX_CALLS = 64  # per choice: more is an endpoint's loop, not an answer


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if value is None:
        return "null"
    return "a number"
