"""Figure: a 2,000-chunk tool-call stream parsed, reassembled and schema-checked, against parsing it alone.

The body is what OpenAI streams for one forced tool call: a role chunk, the call's first delta
(id, type, name), about 2,000 argument fragments carrying only `index` and `function.arguments`,
the finish chunk, the usage chunk (`stream_options.include_usage`) and `data: [DONE]`. Baseline:
the SSE events decoded and each chunk's JSON decoded with the bounded decoder. Measured: the same
events through `stream.assemble`, whose `on_chunk` hook runs `spec.check_chunk` on each decoded
chunk (the decode is shared, as in the probes); assembly without the check is shown beside them.
They alternate over the rounds, warm: the checker's shape cache is the process's own, as
in an audit. A second, informational line gives the cost of `check_chunk` alone per chunk, warm,
and cold (a new checker: every shape validated once).
"""

from __future__ import annotations

import json
import time
from typing import Any

from workbench.wire import boundedjson
from workbench.wire.spec import SpecChecker, check_chunk
from workbench.wire.stream import assemble, events_from_bytes

from ._common import Figure, interleaved, median

FRAGMENTS = 2_000
ROUNDS, WARMUP = 15, 3
HEAD = {
    "id": "chatcmpl-BvH6xKQZ2c5nT8rYw3uJ1mLp0aE9s",
    "object": "chat.completion.chunk",
    "created": 1767225600,
    "model": "gpt-4.1-2025-04-14",
    "system_fingerprint": "fp_b376dfbbd5",
    "service_tier": "default",
}


def tool_call_stream(fragments: int = FRAGMENTS) -> bytes:
    """The SSE body of one streamed tool call whose arguments arrive in `fragments` pieces."""

    def event(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> str:
        chunk = {**HEAD, "choices": choices, "usage": usage, "obfuscation": "q7Z"}
        return f"data: {json.dumps(chunk, separators=(',', ':'))}\n\n"

    def choice(delta: dict[str, Any], finish: str | None = None) -> list[dict[str, Any]]:
        return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]

    arguments = json.dumps({"city": "Paris", "notes": " ".join(f"w{n}" for n in range(fragments))})
    step = max(1, len(arguments) // fragments)
    pieces = [arguments[start : start + step] for start in range(0, len(arguments), step)]
    pieces[fragments - 1 :] = ["".join(pieces[fragments - 1 :])]
    function = {"name": "get_weather", "arguments": ""}
    call = {"index": 0, "id": "call_Qm3x8", "type": "function", "function": function}
    events = [event(choice({"role": "assistant", "content": None, "refusal": None}))]
    events.append(event(choice({"tool_calls": [call]})))
    events += [event(choice({"tool_calls": [{"index": 0, "function": {"arguments": p}}]})) for p in pieces]
    events.append(event(choice({}, "tool_calls")))
    usage = {"prompt_tokens": 81, "completion_tokens": fragments, "total_tokens": fragments + 81}
    events.append(event([], usage))
    events.append("data: [DONE]\n\n")
    return "".join(events).encode()


def run() -> list[Figure]:
    body = tool_call_stream()
    chunks = [boundedjson.loads(e.data) for e in events_from_bytes(body) if e.data != "[DONE]"]
    assembly = assemble(events_from_bytes(body), on_chunk=check_chunk)
    assert assembly.done and len(assembly.choices[0].tool_calls[0].arguments) > FRAGMENTS
    assert not [d for chunk in chunks for d in check_chunk(chunk)], "the bench stream must conform"

    def parse_alone() -> float:
        started = time.perf_counter()
        [boundedjson.loads(e.data) for e in events_from_bytes(body) if e.data != "[DONE]"]
        return (time.perf_counter() - started) * 1000

    def parse_assemble() -> float:  # shown beside the two: what assembly alone adds
        started = time.perf_counter()
        assemble(events_from_bytes(body))
        return (time.perf_counter() - started) * 1000

    def parse_assemble_check() -> float:
        started = time.perf_counter()
        assemble(events_from_bytes(body), on_chunk=check_chunk)
        return (time.perf_counter() - started) * 1000

    def check_alone() -> float:
        started = time.perf_counter()
        for chunk in chunks:
            check_chunk(chunk)
        return (time.perf_counter() - started) * 1e6 / len(chunks)

    def check_cold() -> float:
        fresh = SpecChecker("chunk")  # compiling it is not measured: only the first check of each shape
        started = time.perf_counter()
        for chunk in chunks:
            fresh.check(chunk)
        return (time.perf_counter() - started) * 1e6 / len(chunks)

    samples = interleaved(
        ROUNDS, WARMUP, parse=parse_alone, assembled=parse_assemble, checked=parse_assemble_check
    )
    medians = {name: median(values) for name, values in samples.items()}
    per_chunk = interleaved(ROUNDS, WARMUP, warm=check_alone, cold=check_cold)
    micro = {name: median(values) for name, values in per_chunk.items()}
    return [
        Figure(
            "spec conformance",
            medians["checked"] / medians["parse"],
            2.0,
            medians,
            notes=f"{len(chunks):,} chunks, {len(body) / 1e6:.2f} MB; parsed, assembled and every chunk "
            "schema-checked vs parsed alone",
        ),
        Figure(
            "spec conformance per chunk",
            micro["warm"] / (medians["parse"] * 1000 / len(chunks)),
            0.0,
            micro,
            unit="µs/chunk",
            notes="check_chunk alone, warm (shapes cached) and cold (a new checker); ratio: warm vs "
            "parsing one chunk",
            informational=True,
        ),
    ]
