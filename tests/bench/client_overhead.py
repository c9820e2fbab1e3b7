"""Figure 1: the workbench's request path (build, bounded exchange under a total deadline, classify)
against bare httpx (post, read, json) sending the same requests to the same endpoint.

Both clients live in one event loop and stay warm; they alternate in small batches (A B B A ...),
so the endpoint's and the machine's drift land on both sides alike."""

from __future__ import annotations

import asyncio
import json
import time

import httpx

from workbench.wire.classify import classify_exchange
from workbench.wire.client import ProbeClient

from ._common import Figure, median, reference_endpoint

BATCH = 20
BATCHES = 60  # per contender, after a warm-up of 5
BODY = {
    "model": "wb-reference-1",
    "messages": [{"role": "user", "content": "Return a short acknowledgement."}],
    "max_tokens": 16,
}


async def _compare(url: str, key: str) -> dict[str, list[float]]:
    content = json.dumps(BODY).encode()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    samples: dict[str, list[float]] = {"workbench": [], "httpx": []}
    async with (
        httpx.AsyncClient(trust_env=False, timeout=30) as bare,
        ProbeClient(timeout_s=30, max_bytes=8 * 1024 * 1024, trust_env=False) as workbench,
    ):

        async def bare_batch() -> float:
            started = time.perf_counter()
            for _ in range(BATCH):
                (await bare.post(url, content=content, headers=headers)).json()
            return (time.perf_counter() - started) * 1000 / BATCH

        async def workbench_batch() -> float:
            started = time.perf_counter()
            for _ in range(BATCH):
                classify_exchange(
                    await workbench.exchange(workbench.build(url, content=content, key=lambda: key))
                )
            return (time.perf_counter() - started) * 1000 / BATCH

        for index in range(5 + BATCHES):
            order = [("httpx", bare_batch), ("workbench", workbench_batch)]
            for name, batch in order if index % 2 else order[::-1]:
                value = await batch()
                if index >= 5:
                    samples[name].append(value)
    return samples


def run() -> Figure:
    with reference_endpoint() as endpoint:
        samples = asyncio.run(_compare(endpoint.base_url + "/v1/chat/completions", endpoint.key))
    medians = {name: median(values) for name, values in samples.items()}
    return Figure(
        "probe client overhead",
        medians["workbench"] / medians["httpx"],
        1.15,
        medians,
        unit="ms/request",
        notes=f"{BATCHES} alternating batches of {BATCH} sequential keep-alive requests each",
    )
