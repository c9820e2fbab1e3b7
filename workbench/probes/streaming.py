"""`streaming.sse`: the app's own request streamed; the answer assembles, terminates properly, and
says how it arrived.

A non-streaming parser proves nothing about streams (the checklist's "what not to assume"), so
this probe reads the stream the way the OpenAI SDK does: SSE events, JSON chunks, `data: [DONE]`,
and an `error` inside an HTTP-200 stream is an error. Keep-alive comments, usage on every chunk,
chunks with empty choices and a usage-only final chunk with `choices: []` are all valid.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from workbench.core.config import Environment
from workbench.core.models import Area, Outcome, Symptom
from workbench.probes.answers import Asked, asked_of, judge_answer, request_fields
from workbench.probes.base import (
    Budget,
    Finding,
    Probe,
    ProbeContext,
    answer_is_cut,
    app_budget,
    ask_within_budget,
    finding_from,
)
from workbench.wire.classify import Classification, classify_exchange
from workbench.wire.client import Exchange

PROBE_ID = "streaming.sse"
USAGE_CHUNK = {"include_usage": True}  # the workbench's own ask when the app sends no stream_options


def applies(env: Environment, requested: frozenset[str]) -> str | None:
    """Streaming is probed when the app streams, or when asked for by name."""
    if env.stream or PROBE_ID in requested:
        return None
    return (
        "the app does not stream (stream = false): skipped; run `workbench probe --probe streaming.sse` "
        "to check the endpoint's streaming anyway"
    )


def stream_overrides(ctx: ProbeContext, **changes: Any) -> dict[str, Any]:
    """The app's own request, streamed: its fields as they are, `stream_options` the app's (else the
    workbench asks for the usage chunk), then `changes` (None removes a field)."""
    app_fields = request_fields(ctx.env.app_request, stream=True)
    overrides: dict[str, Any] = {**app_fields, "stream": True}
    overrides.setdefault("stream_options", dict(USAGE_CHUNK))
    overrides.update(changes)
    return overrides


async def sse(ctx: ProbeContext) -> Finding:
    overrides = stream_overrides(ctx)
    asked = asked_of(ctx.env.app, overrides)
    app_fields = request_fields(ctx.env.app_request, stream=True)
    overrides.update(ctx.budget_fields(app_fields, asked))
    ours = [] if ctx.budget(app_fields).owner == "app" else [ctx.token_param]
    if "stream_options" not in ctx.env.app_request:
        ours.append("stream_options")
    exchange, budget, still_empty = await ask_within_budget(
        ctx, overrides, app_fields=app_fields, stream=True, ours=ours, asked=asked
    )
    return judge_stream(ctx, exchange, "stream", budget, asked, still_empty)


def judge_stream(
    ctx: ProbeContext,
    exchange: Exchange,
    what: str,
    budget: Budget,
    asked: Asked,
    still_empty: Finding | None = None,
) -> Finding:
    """A streamed answer that must arrive whole: assembled, ended by [DONE], and whatever the app
    uses of it (tool-call deltas by index, JSON, reasoning, usage) as `probes.answers` judges it."""
    result = classify_exchange(exchange)
    facts = stream_facts(exchange, result)
    if still_empty is not None:
        finding = replace(still_empty, facts=facts, detail=f"{what}: {still_empty.detail}")
    elif exchange.failure is None and not exchange.is_stream and exchange.status == 200:
        got = exchange.content_type or "no content type"
        detail = f"asked for a stream, got {got}: the endpoint ignores stream = true"
        finding = finding_from(
            exchange, result, Outcome.FAIL, symptom=Symptom.PARSER, facts=facts, detail=detail
        )
    elif result.symptom is not Symptom.NONE:
        finding = finding_from(exchange, result, Outcome.FAIL, facts=facts, detail=f"{what}: {result.detail}")
    else:
        cut = answer_is_cut(result)
        if cut and budget.owner == "app":
            detail = (
                f"{what}: the answer was cut at the app's own {budget} (finish_reason length): the app's "
                "users would get cut answers; raise it in app_request, or check the prompt and model"
            )
            finding = finding_from(
                exchange, result, Outcome.FAIL, symptom=Symptom.QUALITY, facts=facts, detail=detail
            )
        else:
            judged = judge_answer(result, asked, ctx.env.app, cut=cut, strict=ctx.env.strict_schema)
            for note in judged.notes:
                ctx.note(note)
            if judged.problems:
                facts["problems"] = judged.facts()
                finding = finding_from(
                    exchange,
                    result,
                    Outcome.FAIL,
                    symptom=judged.symptom,
                    facts=facts,
                    detail=f"{what}: {judged.detail()}",
                )
            else:
                finding = finding_from(
                    exchange, result, Outcome.PASS, facts=facts, detail=_passed(what, exchange, facts, budget)
                )
    # Streams carry the chunks' shape (`finding_from` takes it from the classification) and the time
    # to first token.
    return replace(finding, ttft_ms=facts["ttft_ms"])


def _passed(what: str, exchange: Exchange, facts: dict[str, Any], budget: Budget) -> str:
    usage = "usage arrived" if facts["usage"] else "no usage"
    calls = f", {facts['tool_calls']} tool call(s)" if facts["tool_calls"] else ""
    detail = (
        f"{what}: {facts['chunks']} chunk(s) over {exchange.elapsed_ms:.0f} ms, first token after "
        f"{_ms(facts['ttft_ms'])}, finish_reason {facts['finish_reason'] or 'absent'}{calls}, {usage}, "
        "ended with [DONE]"
    )
    if facts["finish_reason"] == "length":
        detail += f"; cut at the workbench's own budget ({budget}): not a finding"
    return detail


def stream_facts(exchange: Exchange, result: Classification) -> dict[str, Any]:
    """How the stream arrived: chunks, time to first token, finish reason, usage, termination."""
    stream = result.stream
    ttft: float | None = None
    if stream is not None and stream.first_content_index is not None:
        ttft = round(exchange.events[stream.first_content_index].at_ms, 3)
    return {
        "chunks": stream.chunks if stream else 0,
        "events": len(exchange.events),
        "ttft_ms": ttft,
        "finish_reason": stream.finish_reason if stream else None,
        "usage": bool(stream and stream.usage is not None),
        "usage_chunks": stream.usage_chunks if stream else 0,
        "done": bool(stream and stream.done),
        "choices": len(stream.choices) if stream else 0,
        "tool_calls": sum(len(c.tool_calls) for c in stream.choices.values()) if stream else 0,
        "usage_chunk_choices": stream.last_usage_choices if stream else 0,
    }


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} ms"


def _app_budget(env: Environment) -> int:
    return app_budget(env, structured=bool(env.app.forces_tool or env.app.response_format))


PROBES = (
    Probe(
        PROBE_ID,
        Area.STREAMING,
        "Streaming (SSE)",
        "the app's own request streamed: chunks assemble to its answer (tool calls by index, JSON, "
        "usage where asked) and end with [DONE]; skipped when the app does not stream",
        sse,
        judges_answer=True,
        applies=applies,
        also=(Area.REQUEST, Area.RESPONSE),
        steps=(3, 5),
        shaped=True,
        exercises=frozenset({"content", "tool_calls", "json", "usage", "reasoning"}),
        version=2,
        budget=_app_budget,
    ),
)
