"""One planned answer in its two wire forms: the chat.completion body and the SSE chunks, drifting on demand.

The conformant forms follow the documented contract: a tool call is `{id, type: "function", function:
{name, arguments: "<JSON text>"}}` beside `content: null`; streamed, each call's first delta carries
`index`, `id`, `type` and `function: {name, arguments: ""}` and the arguments follow in fragments,
each `{index, function: {arguments}}` (the calls of `parallel-tool-calls` interleaved, 0, 1, 0, 1, ...);
reasoning text goes under `reasoning_content` before the answer; with `stream_options.include_usage`
every chunk carries `usage: null` and a last `choices: []` chunk carries the usage. Each scenario that
changes only *how* an answer is sent is applied here; what is answered was decided in `answers`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from workbench.core.scenarios import Scenario
from workbench.reference.answers import Answer, Plan, ToolCall
from workbench.reference.validation import JSONObject

FINGERPRINT = "fp_wb_reference"
STREAM_ERROR_AFTER_PIECES = 2  # `stream-error-in-200` fails mid-answer, once the client has some of it
STREAM_ERROR = {
    "error": {
        "message": "The upstream model failed while generating the response.",
        "type": "server_error",
        "code": "upstream_error",
    }
}
# Azure OpenAI's first chunk: no choices yet, the prompt's content-filter verdicts (pydantic-ai #164).
PROMPT_FILTER_RESULTS = [
    {
        "prompt_index": 0,
        "content_filter_results": {
            category: {"filtered": False, "severity": "safe"}
            for category in ("hate", "self_harm", "sexual", "violence")
        },
    }
]


class Forms:
    """Renders plans for one scenario set; stateless between requests."""

    def __init__(self, scenarios: frozenset[Scenario]) -> None:
        self.scenarios = scenarios
        renamed = Scenario.REASONING_RENAMED in scenarios
        self.reasoning_key = "reasoning" if renamed else "reasoning_content"
        self.text_key = "text" if Scenario.CONTENT_MOVED in scenarios else "content"

    def completion(self, plan: Plan, completion_id: str, created: int) -> JSONObject:
        """`content-moved` wins over `content-array` and tool calls: the legacy shape has no message."""
        choices = [self._choice(index, answer) for index, answer in enumerate(plan.choices)]
        body: JSONObject = {"id": completion_id, "object": "chat.completion", "created": created}
        body.update(model=plan.model, choices=choices)
        if Scenario.MISSING_USAGE not in self.scenarios:
            body["usage"] = plan.usage
        body.update(system_fingerprint=FINGERPRINT, service_tier="default")
        return body

    def _choice(self, index: int, answer: Answer) -> JSONObject:
        if Scenario.CONTENT_MOVED in self.scenarios:
            return {
                "index": index,
                "text": answer.content or "",
                "finish_reason": answer.finish,
                "logprobs": None,
            }
        content: Any = answer.content
        if content and Scenario.CONTENT_ARRAY in self.scenarios:
            content = _text_parts(content)
        message: JSONObject = {"role": "assistant", "content": content}
        if answer.reasoning:
            message[self.reasoning_key] = "".join(answer.reasoning)
        if answer.tool_calls:
            message["tool_calls"] = [self._call(call) for call in answer.tool_calls]
        message["refusal"] = None
        return {"index": index, "message": message, "finish_reason": answer.finish, "logprobs": None}

    def _call(self, call: ToolCall) -> JSONObject:
        arguments = call.value if Scenario.TOOL_ARGUMENTS_OBJECT in self.scenarios else call.arguments
        body: JSONObject = {
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": arguments},
        }
        if Scenario.TOOL_CALL_WITHOUT_ID in self.scenarios:
            del body["id"]
        return body

    def events(self, plan: Plan, completion_id: str, created: int) -> Iterator[bytes]:
        """One SSE event per chunk: role, reasoning, answer pieces, finish; usage chunk and [DONE].

        Usage: `missing-usage` sends none; `usage-missing-with-include` none when the request asked
        for it (not even `usage: null`); otherwise `usage-every-chunk` puts running counts on every
        chunk instead of the usage-only last chunk. `stream-error-in-200` cuts the first choice after
        two answer pieces with a Groq-style `event: error` and ends there, with no [DONE].
        `empty-choices-chunks` sends Azure's `choices: []` chunk first and another after the first
        answer piece (with the stream's own id, object and created).
        """
        scenarios = self.scenarios
        head = {"id": completion_id, "object": "chat.completion.chunk", "created": created}
        head.update(model=plan.model, system_fingerprint=FINGERPRINT)
        usage_off = Scenario.MISSING_USAGE in scenarios or (
            plan.include_usage and Scenario.USAGE_MISSING_WITH_INCLUDE in scenarios
        )
        running = not usage_off and Scenario.USAGE_EVERY_CHUNK in scenarios
        with_usage = plan.include_usage and not usage_off and not running
        fails = Scenario.STREAM_ERROR_IN_200 in scenarios
        empty_chunk_due = Scenario.EMPTY_CHOICES_CHUNKS in scenarios
        out = 0  # answer tokens sent so far: the running usage counts them

        def event(choices: list[JSONObject], usage: JSONObject | None = None, **extra: Any) -> bytes:
            chunk: JSONObject = {**head, "choices": choices, **extra}
            if running:
                chunk["usage"] = plan.usage_after(out)
            elif with_usage:
                chunk["usage"] = usage
            return _sse(chunk)

        def delta(index: int, body: JSONObject, finish: str | None = None) -> bytes:
            return event([{"index": index, "delta": body, "finish_reason": finish, "logprobs": None}])

        if empty_chunk_due:
            yield event([], prompt_filter_results=PROMPT_FILTER_RESULTS)
        for index, answer in enumerate(plan.choices):
            role_content = None if answer.pieces is None else ""
            yield delta(index, {"role": "assistant", self.text_key: role_content, "refusal": None})
            for piece in () if Scenario.CONTENT_MOVED in scenarios else answer.reasoning:
                yield delta(index, {self.reasoning_key: piece})
            sent = 0
            for body, tokens in self._answer_deltas(answer):
                out, sent = out + tokens, sent + tokens
                yield delta(index, body)
                if empty_chunk_due:
                    yield event([])
                    empty_chunk_due = False
                if fails and sent >= STREAM_ERROR_AFTER_PIECES:
                    break
            if fails:
                yield f"event: error\ndata: {json.dumps(STREAM_ERROR, separators=(',', ':'))}\n\n".encode()
                return
            if empty_chunk_due:
                yield event([])
                empty_chunk_due = False
            yield delta(index, {}, answer.finish)
        if with_usage:
            yield event([], plan.usage)
        if Scenario.DONE_WITHOUT_BLANK_LINE in scenarios:
            yield b"data: [DONE]\n"
        elif Scenario.STREAM_WITHOUT_DONE not in scenarios:
            yield b"data: [DONE]\n\n"

    def _answer_deltas(self, answer: Answer) -> list[tuple[JSONObject, int]]:
        """(delta, tokens it carries) for the content pieces, then the tool calls."""
        deltas = [({self.text_key: piece}, 1) for piece in answer.pieces or ()]
        if Scenario.CONTENT_MOVED in self.scenarios or not answer.tool_calls:
            return deltas
        per_call = [self._call_deltas(position, call) for position, call in enumerate(answer.tool_calls)]
        firsts, rests = [calls[0] for calls in per_call], [calls[1:] for calls in per_call]
        if len(per_call) == 1:
            return deltas + per_call[0]
        deltas += firsts  # parallel calls: every call opens, then their fragments interleave
        for step in range(max(len(rest) for rest in rests)):
            deltas += [rest[step] for rest in rests if step < len(rest)]
        return deltas

    def _call_deltas(self, index: int, call: ToolCall) -> list[tuple[JSONObject, int]]:
        """A call's first delta (index, id, type, name, arguments "") and its argument fragments."""
        scenarios = self.scenarios
        whole = len(call.fragments)
        first_arguments: Any = ""
        fragments: list[str | None] = list(call.fragments)
        first_tokens = 0
        if Scenario.TOOL_ARGUMENTS_OBJECT in scenarios:
            first_arguments, fragments, first_tokens = call.value, [], whole
        elif Scenario.TOOL_ARGUMENTS_NULL_IN_STREAM in scenarios:
            first_arguments = None
            fragments = [None] * (0 if Scenario.TOOL_ARGUMENTS_ONE_CHUNK in scenarios else whole)
            first_tokens = whole - len(fragments)
        elif Scenario.TOOL_ARGUMENTS_DUPLICATED in scenarios:
            first_arguments = call.arguments  # and the fragments follow all the same
        elif Scenario.TOOL_ARGUMENTS_ONE_CHUNK in scenarios:
            first_arguments, fragments, first_tokens = call.arguments, [], whole
        first: JSONObject = {
            "index": index,
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": first_arguments},
        }
        deltas = [first] + [{"index": index, "function": {"arguments": fragment}} for fragment in fragments]
        for body in deltas:
            if Scenario.TOOL_DELTAS_WITHOUT_INDEX in scenarios:
                del body["index"]
            if Scenario.TOOL_CALL_WITHOUT_ID in scenarios:
                body.pop("id", None)
        tokens = [first_tokens] + [1] * len(fragments)
        return [({"tool_calls": [body]}, count) for body, count in zip(deltas, tokens, strict=True)]


def _sse(chunk: JSONObject) -> bytes:
    return f"data: {json.dumps(chunk, separators=(',', ':'))}\n\n".encode()


def _text_parts(text: str) -> list[JSONObject]:
    """`content-array`: two text parts that join back to `text` exactly (cut at the middle space)."""
    spaces = [i for i, char in enumerate(text) if char == " "]
    cut = spaces[len(spaces) // 2] + 1 if spaces else len(text) // 2
    return [{"type": "text", "text": text[:cut]}, {"type": "text", "text": text[cut:]}]
