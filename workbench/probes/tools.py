"""Tool calls, when the app offers tools: a forced call whole and streamed, and the round trip that
sends the call's result back.

A call is forced with the app's own `tool_choice` when it forces one; otherwise the workbench forces
`"required"` (its choice: a rejection of it is asked again without, and an answer that ignores it is
information, because the app never forces). Which tool a model picks is never judged unless the
app names one.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from workbench.core.config import Environment
from workbench.core.models import Area, Outcome, Symptom
from workbench.probes.answers import Asked, asked_of, dumps_call, request_fields
from workbench.probes.base import (
    PROBE_PROMPT,
    Finding,
    Probe,
    ProbeContext,
    app_budget,
    ask_within_budget,
    judge_completion,
)
from workbench.probes.streaming import judge_stream, stream_overrides
from workbench.wire.classify import classify_exchange
from workbench.wire.toolcalls import ToolCall, calls_in_message, names_of

TOOL_CALL = "request.tool_call"
STREAMED_TOOL_CALL = "streaming.tool_call"
ROUND_TRIP = "request.tool_round_trip"
# The tool result the round trip sends back: neutral, never production data.
TOOL_RESULT = '{"status": "ok", "note": "contract probe tool result"}'


def offers_tools(env: Environment, requested: frozenset[str]) -> str | None:
    if env.app.tools:
        return None
    return "the app offers no tools (no app_request.tools): tool calls are not part of its contract"


def streams_tools(env: Environment, requested: frozenset[str]) -> str | None:
    if not env.app.tools:
        return offers_tools(env, requested)
    if env.stream or STREAMED_TOOL_CALL in requested:
        return None
    return (
        "the app does not stream (stream = false): skipped; run `workbench probe --probe "
        f"{STREAMED_TOOL_CALL}` to check streamed tool calls anyway"
    )


def forcing(ctx: ProbeContext) -> dict[str, Any]:
    """The app's `tool_choice` when it forces a call; else the workbench's `"required"`."""
    return {} if ctx.env.app.forces_tool else {"tool_choice": "required"}


async def tool_call(ctx: ProbeContext) -> Finding:
    finding, _calls = await _forced_call(ctx)
    return finding


async def _forced_call(ctx: ProbeContext) -> tuple[Finding, list[ToolCall]]:
    """The app's request (not streamed, no response_format) with a call forced; its calls as read."""
    app_fields = request_fields(ctx.env.app_request, stream=False)
    changes = {**forcing(ctx), "response_format": None}
    overrides = {**app_fields, **changes}
    asked = asked_of(ctx.env.app, changes)
    overrides.update(ctx.budget_fields(app_fields, asked))
    ours = ["tool_choice"] if asked.forced_by == "workbench" else []
    if ctx.budget(app_fields).owner != "app":
        ours.append(ctx.token_param)
    exchange, budget, still_empty = await ask_within_budget(
        ctx, overrides, app_fields=app_fields, ours=ours, asked=asked
    )
    finding = still_empty or judge_completion(
        ctx, exchange, f"forced tool call ({_forced(asked)})", budget, asked
    )
    result = classify_exchange(exchange)
    calls: list[ToolCall] = []
    if result.completion is not None:
        message = (result.decoded.get("choices") or [{}])[0].get("message") or {}
        calls, _ = calls_in_message(message, "choices[0].message")
    if ctx.learned is not None:
        ctx.learned.tool_names = names_of(calls)
    return replace(finding, facts={**finding.facts, "called": names_of(calls)}), calls


async def streamed_tool_call(ctx: ProbeContext) -> Finding:
    changes = {**forcing(ctx), "response_format": None}
    overrides = stream_overrides(ctx, **changes)
    app_fields = request_fields(ctx.env.app_request, stream=True)
    asked = asked_of(ctx.env.app, {**changes, "stream_options": overrides.get("stream_options")})
    overrides.update(ctx.budget_fields(app_fields, asked))
    ours = ["tool_choice"] if asked.forced_by == "workbench" else []
    if ctx.budget(app_fields).owner != "app":
        ours.append(ctx.token_param)
    if "stream_options" not in ctx.env.app_request:
        ours.append("stream_options")
    exchange, budget, still_empty = await ask_within_budget(
        ctx, overrides, app_fields=app_fields, ours=ours, stream=True, asked=asked
    )
    finding = judge_stream(
        ctx, exchange, f"streamed forced tool call ({_forced(asked)})", budget, asked, still_empty
    )
    stream = classify_exchange(exchange).stream
    streamed = names_of(stream.tool_calls()) if stream is not None else []
    whole = ctx.learned.tool_names if ctx.learned is not None else None
    if finding.outcome is Outcome.PASS and whole is not None and streamed != whole:
        ctx.note(
            f"the streamed call(s) {streamed} differ from the non-streamed {whole} (information: unless the "
            "app names the tool, which one a model picks is not judged)"
        )
    return replace(finding, facts={**finding.facts, "called": streamed})


async def round_trip(ctx: ProbeContext) -> Finding:
    """A forced call, then its result sent back as the app does: the assistant message with
    `tool_calls` (and `content: null`) plus a `tool` message with its `tool_call_id`; accepted."""
    first, calls = await _forced_call(ctx)
    usable = [call for call in calls if isinstance(call.name, str) and call.name]
    if not usable:
        return Finding(
            Outcome.SKIP,
            Symptom.NONE,
            f"not judged: the forced call gave no tool call to send back ({TOOL_CALL} says why: "
            f"{first.detail[:200]})",
        )
    sent_back = [dumps_call(call, f"call_wbprobe{index}") for index, call in enumerate(usable)]
    if any(not (isinstance(call.id, str) and call.id) for call in usable):
        ctx.note("a call came without an id: sent back with one the workbench made up")
    messages = [
        {"role": "user", "content": PROBE_PROMPT},
        {"role": "assistant", "content": None, "tool_calls": sent_back},
        *({"role": "tool", "tool_call_id": call["id"], "content": TOOL_RESULT} for call in sent_back),
    ]
    app_fields = request_fields(ctx.env.app_request, stream=False)
    # the follow-up of an agent loop: the app's tools, and no forced call (it would loop)
    changes: dict[str, Any] = {"messages": messages, "tool_choice": None, "response_format": None}
    asked = Asked(tools=ctx.env.app.tools)
    overrides = {**app_fields, **changes}
    ours = [] if ctx.budget(app_fields).owner == "app" else [ctx.token_param]
    exchange, budget, still_empty = await ask_within_budget(
        ctx, overrides, app_fields=app_fields, ours=ours, asked=asked
    )
    what = f"tool round trip ({len(sent_back)} result(s) sent back, content null)"
    finding = still_empty or judge_completion(ctx, exchange, what, budget, asked)
    return replace(
        finding, facts={**finding.facts, "sent_back": [call["function"]["name"] for call in sent_back]}
    )


def _forced(asked: Asked) -> str:
    if asked.forced == "required":
        return f'tool_choice "required", the {asked.forced_by}\'s'
    return f"tool_choice {asked.forced!r}, the {asked.forced_by}'s"


def _budget(env: Environment) -> int:
    return app_budget(env, structured=True)


_TRAITS: dict[str, Any] = {
    "judges_answer": True,
    "steps": (3, 5),
    "shaped": True,
    "exercises": frozenset({"tool_calls"}),
    "budget": _budget,
}

PROBES = (
    Probe(
        TOOL_CALL,
        Area.REQUEST,
        "Forced tool call",
        "a forced call has an id, type function, an offered name, and JSON-string arguments that "
        "validate against the tool's parameters",
        tool_call,
        also=(Area.RESPONSE,),
        applies=offers_tools,
        **_TRAITS,
    ),
    Probe(
        STREAMED_TOOL_CALL,
        Area.STREAMING,
        "Forced tool call, streamed",
        "tool-call deltas carry an index, the id and name in the first one; the arguments, split "
        "anywhere, reassemble into a call as valid as a non-streamed one",
        streamed_tool_call,
        also=(Area.REQUEST, Area.RESPONSE),
        applies=streams_tools,
        **_TRAITS,
    ),
    Probe(
        ROUND_TRIP,
        Area.REQUEST,
        "Tool round trip",
        "the call sent back with `content: null` and a `tool` message with its tool_call_id is "
        "accepted and answered",
        round_trip,
        also=(Area.RESPONSE,),
        applies=offers_tools,
        sends=2,
        **_TRAITS,
    ),
)
