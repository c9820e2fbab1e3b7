"""What the reference endpoint answers, decided once per request: prose, JSON content or tool calls.

The JSON body and the SSE stream render the same `Plan`, so a stream reassembles to exactly the
non-streaming answer (call ids aside: each request gets fresh ones, as real servers give). Which
answer, for a valid request:

- `tools` offered and `tool_choice` "required" (the first tool), named (that tool), or "auto" or
  absent (the first tool) when the last message is the user's: a tool call whose arguments are
  built from the tool's `parameters` schema (`instances.instance_for`), so they validate. "none", or
  a conversation that ends with tool results (the agent loop's second turn, whatever `tool_choice`
  says), gets prose: the round trip ends with an answer, `finish_reason` stop.
- `response_format` json_object or json_schema: the content is JSON (a fixed object, or one built
  from the schema); prose otherwise. Text is fixed and never built from the request.

A token is one streamed piece: a word of prose, or `FRAGMENT` characters of JSON (content or tool
arguments). A budget (`max_tokens`, `max_completion_tokens`) counts pieces after the hidden reasoning
tokens of the reasoning scenarios; an answer cut by it ends with `finish_reason` length (cut tool
arguments included, as real models cut them). The scenarios that change *what* is answered are
applied here; those that change only *how* it is sent are applied where it is rendered (server.py).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.core.scenarios import REASONING_TOKENS, Scenario
from workbench.reference.instances import instance_for
from workbench.reference.validation import JSONObject, is_int

# Fixed replies: deterministic, short, and never built from request text, so nothing sent is echoed.
REPLIES = (
    "Acknowledged: contract probe received.",
    "Reference endpoint ready: request accepted.",
    "Contract check complete: reply delivered.",
)
# `verbose-model`: one long answer, so any small budget cuts it (48 words).
VERBOSE_REPLY = " ".join(
    ["Acknowledged: this contract probe was received, and here is a deliberately long answer"]
    + ["that keeps going well past any small token budget a probe may choose"] * 3
)
JSON_REPLY: Mapping[str, str] = {"acknowledgement": "contract probe received"}  # json_object's answer
# What the reasoning scenarios send before the answer, as DeepSeek and vLLM do (a short neutral text).
REASONING_TEXT = "The request asks for a short acknowledgement, so a brief reply will do."
FRAGMENT = 7  # characters per streamed piece of JSON: small, so cuts land inside keys and strings
REASONING_SCENARIOS = frozenset({Scenario.REASONING_MODEL, Scenario.REASONING_RENAMED})


@dataclass(frozen=True)
class ToolCall:
    """One function call: its arguments as streamed fragments and as the value they encode."""

    id: str
    name: str
    fragments: tuple[str, ...]
    value: Any  # what the arguments encode (`tool-arguments-object` sends this instead of the text)

    @property
    def arguments(self) -> str:
        return "".join(self.fragments)


@dataclass(frozen=True)
class Answer:
    """One choice: content as streamed pieces (None: the answer is tool calls), calls, reasoning."""

    pieces: tuple[str, ...] | None
    finish: str
    tool_calls: tuple[ToolCall, ...] = ()
    reasoning: tuple[str, ...] = ()  # streamed before the answer (the reasoning scenarios)
    tokens: int = 0  # completion tokens of the answer, hidden reasoning aside

    @property
    def content(self) -> str | None:
        return None if self.pieces is None else "".join(self.pieces)


@dataclass(frozen=True)
class Plan:
    """What to answer, decided once so the JSON and the SSE forms carry the same thing."""

    model: str
    choices: tuple[Answer, ...]
    prompt_tokens: int
    stream: bool
    include_usage: bool
    reasoning_tokens: int = 0  # hidden tokens spent before the answer (the reasoning scenarios)

    @property
    def usage(self) -> JSONObject:
        return self.usage_after(sum(answer.tokens for answer in self.choices))

    def usage_after(self, completion: int) -> JSONObject:
        """The counts once `completion` pieces are out: the running usage of `usage-every-chunk`."""
        completion += self.reasoning_tokens
        total = self.prompt_tokens + completion
        usage: JSONObject = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": total,
        }
        if self.reasoning_tokens:
            usage["completion_tokens_details"] = {"reasoning_tokens": self.reasoning_tokens}
        return usage


def plan(body: JSONObject, model: str, scenarios: frozenset[Scenario] = frozenset()) -> Plan:
    """Tolerates any body (lenient-validation sends garbage here): bad values fall back to defaults."""
    requested = body.get("n")
    n = requested if is_int(requested) and 1 <= requested <= 128 else 1
    limits = [v for key in ("max_tokens", "max_completion_tokens") if is_int(v := body.get(key)) and v >= 1]
    hidden = REASONING_TOKENS if scenarios & REASONING_SCENARIOS else 0
    if limits:
        hidden = min(hidden, min(limits))
    budget = min(limits) - hidden if limits else None
    messages = body.get("messages")
    items = [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []
    digest = hashlib.sha256(json.dumps(messages, sort_keys=True, default=str).encode()).digest()
    tools = _called_tools(body, items, scenarios)
    json_value = _json_value(body, scenarios)
    choices = []
    for i in range(n):
        if tools:
            answer = _tool_answer(tools, budget, scenarios)
        elif json_value is not None:
            answer = _json_answer(json_value, budget, scenarios)
        else:
            verbose = Scenario.VERBOSE_MODEL in scenarios
            reply = VERBOSE_REPLY if verbose else REPLIES[(digest[0] + i) % len(REPLIES)]
            answer = _cut(_words_as_pieces(reply), budget, scenarios)
        choices.append(_with_reasoning(answer, scenarios))
    prompt = sum(_words(m.get("content")) for m in items)
    options = body.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    return Plan(model, tuple(choices), prompt, body.get("stream") is True, include_usage, hidden * n)


def _called_tools(
    body: JSONObject, messages: Sequence[JSONObject], scenarios: frozenset[Scenario]
) -> list[tuple[str, object]]:
    """(name, parameters) of the tools to call; empty for a prose (or JSON) answer."""
    offered = _offered(body.get("tools"))
    if not offered or Scenario.TOOLS_IGNORED in scenarios:
        return []
    if messages and messages[-1].get("role") == "tool":
        return []  # the results are in: answer them
    choice = body.get("tool_choice")
    if choice == "none":
        return []
    if isinstance(choice, dict):
        function = choice.get("function")
        name = function.get("name") if isinstance(function, dict) else None
        return [tool for tool in offered if tool[0] == name][:1]
    if choice != "required" and not (messages and messages[-1].get("role") == "user"):
        return []  # auto: call when the user has just spoken
    parallel = Scenario.PARALLEL_TOOL_CALLS in scenarios and body.get("parallel_tool_calls") is not False
    return offered[: 2 if parallel else 1]


def _offered(tools: object) -> list[tuple[str, object]]:
    if not isinstance(tools, list):
        return []
    functions = [tool.get("function") for tool in tools if isinstance(tool, dict)]
    named = [f for f in functions if isinstance(f, dict) and isinstance(f.get("name"), str)]
    return [(f["name"], f.get("parameters")) for f in named]


def _json_value(body: JSONObject, scenarios: frozenset[Scenario]) -> object | None:
    """What JSON content to answer with, or None for prose (no JSON format, or `format-ignored`)."""
    requested = body.get("response_format")
    if not isinstance(requested, dict) or Scenario.FORMAT_IGNORED in scenarios:
        return None
    if requested.get("type") == "json_object":
        return dict(JSON_REPLY)
    if requested.get("type") == "json_schema":
        spec = requested.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        return instance_for(schema) if isinstance(schema, dict) else dict(JSON_REPLY)
    return None


def _tool_answer(
    tools: Sequence[tuple[str, object]], budget: int | None, scenarios: frozenset[Scenario]
) -> Answer:
    calls, spent, cut = [], 0, False
    for name, parameters in tools:
        value = instance_for(parameters)
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        if Scenario.TOOL_ARGUMENTS_INVALID_JSON in scenarios:
            text = text[:-1]  # the closing brace never comes
        fragments = _fragments(text)
        if budget is not None and spent + len(fragments) > budget:
            fragments, cut = fragments[: budget - spent], True
        if cut and not fragments:
            break
        calls.append(ToolCall(f"call_{secrets.token_hex(12)}", name, fragments, value))
        spent += len(fragments)
        if cut:
            break
    if not calls:  # the budget ran out before any call began: an empty answer, cut
        return Answer((), "length")
    finish = "length" if cut else "stop" if Scenario.TOOL_CALLS_FINISH_STOP in scenarios else "tool_calls"
    pieces = () if Scenario.TOOL_CALLS_EMPTY_CONTENT in scenarios else None
    return Answer(pieces, _finish(finish, scenarios), tuple(calls), tokens=spent)


def _json_answer(value: object, budget: int | None, scenarios: frozenset[Scenario]) -> Answer:
    text = json.dumps(value, ensure_ascii=False)
    if Scenario.FORMAT_INVALID_JSON in scenarios:
        text = text[:-1]  # cut before its closing brace, and still "stop"
    return _cut(_fragments(text), budget, scenarios)


def _cut(pieces: tuple[str, ...], budget: int | None, scenarios: frozenset[Scenario]) -> Answer:
    if budget is not None and budget < len(pieces):
        return Answer(pieces[:budget], _finish("length", scenarios), tokens=budget)
    return Answer(pieces, _finish("stop", scenarios), tokens=len(pieces))


def _finish(reason: str, scenarios: frozenset[Scenario]) -> str:
    return "" if Scenario.FINISH_REASON_EMPTY in scenarios else reason


def _with_reasoning(answer: Answer, scenarios: frozenset[Scenario]) -> Answer:
    """The reasoning scenarios' text before the answer; `reasoning-only-answer` moves the content there."""
    reasoning = _words_as_pieces(REASONING_TEXT) if scenarios & REASONING_SCENARIOS else ()
    pieces = answer.pieces
    if Scenario.REASONING_ONLY_ANSWER in scenarios and pieces:
        first = f" {pieces[0]}" if reasoning else pieces[0]
        reasoning, pieces = (*reasoning, first, *pieces[1:]), ()
    return Answer(pieces, answer.finish, answer.tool_calls, reasoning, answer.tokens)


def _words_as_pieces(text: str) -> tuple[str, ...]:
    return tuple(word if i == 0 else f" {word}" for i, word in enumerate(text.split()))


def _fragments(text: str) -> tuple[str, ...]:
    return tuple(text[i : i + FRAGMENT] for i in range(0, len(text), FRAGMENT))


def _words(value: object) -> int:
    """Whitespace-separated words of a message's text: the endpoint's notion of a prompt token."""
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, list):
        return sum(_words(part.get("text")) for part in value if isinstance(part, dict))
    return 0
