"""`streaming.sse`: the streamed answer assembles, terminates properly, and says how it arrived.

A non-streaming parser proves nothing about streams (the checklist's "what not to assume"), so
this probe reads the stream the way the OpenAI SDK does: SSE events, JSON chunks, `data: [DONE]`,
and an `error` inside an HTTP-200 stream is an error. Keep-alive comments, usage on every chunk
and a usage-only final chunk with `choices: []` are all valid.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from workbench.core.config import Environment
from workbench.core.models import Area, Outcome, Symptom
from workbench.probes.base import Finding, Probe, ProbeContext, ask_within_budget, finding_from
from workbench.wire import boundedjson
from workbench.wire.classify import Classification, classify_exchange
from workbench.wire.client import Exchange
from workbench.wire.shape import merge_shapes, shape_of

PROBE_ID = "streaming.sse"


def applies(env: Environment, requested: frozenset[str]) -> str | None:
    """Streaming is probed when the app streams, or when asked for by name."""
    if env.stream or PROBE_ID in requested:
        return None
    return (
        "the app does not stream (stream = false): skipped; run `workbench probe --probe streaming.sse` "
        "to check the endpoint's streaming anyway"
    )


async def sse(ctx: ProbeContext) -> Finding:
    overrides = {"stream": True, "stream_options": {"include_usage": True}}
    exchange, budget, still_empty = await ask_within_budget(ctx, overrides, stream=True)
    result = classify_exchange(exchange)
    facts = stream_facts(exchange, result)
    if still_empty is not None:
        finding = replace(still_empty, facts=facts, detail=f"stream: {still_empty.detail}")
    elif exchange.failure is None and not exchange.is_stream and exchange.status == 200:
        got = exchange.content_type or "no content type"
        detail = f"asked for a stream, got {got}: the endpoint ignores stream = true"
        finding = finding_from(
            exchange, result, Outcome.FAIL, symptom=Symptom.PARSER, facts=facts, detail=detail
        )
    elif result.symptom is not Symptom.NONE:
        finding = finding_from(exchange, result, Outcome.FAIL, facts=facts, detail=f"stream: {result.detail}")
    else:
        usage = "usage arrived" if facts["usage"] else "usage did NOT arrive although include_usage was asked"
        detail = (
            f"stream: {facts['chunks']} chunk(s) over {exchange.elapsed_ms:.0f} ms, first token after "
            f"{_ms(facts['ttft_ms'])}, finish_reason {facts['finish_reason'] or 'absent'}, {usage}, "
            "ended with [DONE]"
        )
        if facts["finish_reason"] == "length":
            detail += f"; cut at the workbench's own budget ({budget}): not a finding"
        if facts["usage_chunk_choices"]:
            detail += (
                f"; note: the last usage chunk carries {facts['usage_chunk_choices']} choice(s) where the "
                "documented one has `choices: []` (tolerated: usage is read wherever it arrives)"
            )
        finding = finding_from(exchange, result, Outcome.PASS, facts=facts, detail=detail)
    # Streams carry the chunks' shape (not a body's) and the time to first token.
    shape = stream_shape(exchange) if exchange.events else finding.shape
    return replace(finding, shape=shape, ttft_ms=facts["ttft_ms"])


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
        "usage_chunk_choices": usage_chunk_choices(exchange),
    }


def usage_chunk_choices(exchange: Exchange) -> int:
    """How many choices the last chunk with a usage object carries: 0 as documented (`choices: []`),
    more where a gateway puts usage on a chunk with choices (LiteLLM, Groq, DeepSeek, vLLM)."""
    count = 0
    for event in exchange.events:
        try:
            chunk = boundedjson.loads(event.data)
        except ValueError:
            continue
        if isinstance(chunk, dict) and isinstance(chunk.get("usage"), dict):
            choices = chunk.get("choices")
            count = len(choices) if isinstance(choices, list) else 0
    return count


def stream_shape(exchange: Exchange) -> tuple[str, ...]:
    """The union of every chunk's shape, under `chunk.` (the [DONE] marker and non-JSON data skipped)."""
    shapes = []
    for event in exchange.events:
        try:
            shapes.append(shape_of(boundedjson.loads(event.data), prefix="chunk"))
        except ValueError:
            continue
    return merge_shapes(shapes)


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} ms"


PROBES = (
    Probe(
        PROBE_ID,
        Area.STREAMING,
        "Streaming (SSE)",
        "chunks assemble to a message and end with [DONE]; skipped when the app does not stream",
        sse,
        judges_answer=True,
        applies=applies,
    ),
)
