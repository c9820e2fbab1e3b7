"""Figure 3: the latency and time to first token the workbench reports, against delays the server
injects (fixed, and from 10 ms to 2 s). The error is measured against each delay plus the endpoint's
own time at zero delay, so it is the client's timing error, not the server's work."""

from __future__ import annotations

import asyncio
import json

from workbench.probes.streaming import stream_facts
from workbench.wire.classify import classify_exchange
from workbench.wire.client import ProbeClient

from ._common import Figure, median, percentile, reference_endpoint

DELAYS_MS = (0.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2000.0)
SAMPLES = 8
BODY = {
    "model": "wb-reference-1",
    "messages": [{"role": "user", "content": "Return a short acknowledgement."}],
    "max_tokens": 16,
}


async def _measure(base_url: str, key: str) -> tuple[list[float], list[float]]:
    url = base_url + "/v1/chat/completions"
    latencies, ttfts = [], []
    async with ProbeClient(timeout_s=30, max_bytes=8 * 1024 * 1024, trust_env=False) as client:
        for stream in (False, True) * SAMPLES:
            body = {
                **BODY,
                "stream": stream,
                **({"stream_options": {"include_usage": True}} if stream else {}),
            }
            request = client.build(
                url,
                content=json.dumps(body).encode(),
                key=lambda: key,
                accept="text/event-stream" if stream else "application/json",
            )
            exchange = await client.exchange(request)
            if stream:
                ttft = stream_facts(exchange, classify_exchange(exchange))["ttft_ms"]
                ttfts.append(float(ttft))
            else:
                latencies.append(exchange.elapsed_ms)
    return latencies, ttfts


def run() -> Figure:
    measured: dict[float, tuple[list[float], list[float]]] = {}
    for delay in DELAYS_MS:
        with reference_endpoint(latency_ms=delay) as endpoint:
            asyncio.run(_measure(endpoint.base_url, endpoint.key))  # warm-up: connections, code paths
            measured[delay] = asyncio.run(_measure(endpoint.base_url, endpoint.key))
    base_latency, base_ttft = (median(values) for values in measured[0.0])
    errors = []
    for delay, (latencies, ttfts) in measured.items():
        if delay == 0.0:
            continue
        errors += [abs(value - delay - base_latency) for value in latencies]
        errors += [abs(value - delay - base_ttft) for value in ttfts]
    p99 = percentile(errors, 0.99)
    return Figure(
        "timing truth (latency and TTFT vs injected delay)",
        p99 / 5.0,
        1.0,
        {"p99 abs error": p99, "median abs error": median(errors), "endpoint time at 0 delay": base_latency},
        notes=f"{len(errors)} samples over delays {', '.join(f'{d:g}' for d in DELAYS_MS[1:])} ms; "
        "ratio = p99 error / 5 ms target",
    )
