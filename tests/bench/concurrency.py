"""Figure 2: 20 environments x 10 probes against one endpoint that answers in 100 ms, with the
per-environment limit the workbench uses to stay polite: wall time against the ideal critical path."""

from __future__ import annotations

import asyncio
import heapq
import tempfile
import time
from pathlib import Path

import httpx

from workbench import HistoryStore, run_probes
from workbench.core.config import parse_config
from workbench.probes.catalog import CATALOG

from ._common import Figure, median, reference_endpoint

ENVIRONMENTS = 20
LATENCY_MS = 100.0
# Ten probes of the catalog (the operator-confirmation one sends nothing, so it is left out).
PROBES = tuple(probe for probe in CATALOG if probe != "limits.operator_confirmation")


def _config(base_url: str, variable: str, limit: int) -> str:
    head = f"[workbench]\nconcurrency_per_env = {limit}\n\n"
    return head + "".join(
        f'[environments.env{i:02d}]\nbase_url = "{base_url}"\napi_key_env = "{variable}"\n'
        f'model = "wb-reference-1"\nstream = true\n\n'
        for i in range(ENVIRONMENTS)
    )


def ideal_ms(durations: dict[str, float], limit: int) -> float:
    """The critical path: one environment's probes packed onto `limit` slots, longest first, each
    taking what it takes the endpoint when nothing else runs; environments run side by side."""
    slots = [0.0] * limit
    for duration in sorted(durations.values(), reverse=True):
        heapq.heapreplace(slots, slots[0] + duration)
    return max(slots)


def run(rounds: int = 5, warmup: int = 1) -> Figure:
    with reference_endpoint(latency_ms=LATENCY_MS) as endpoint, tempfile.TemporaryDirectory() as folder:
        store = HistoryStore(f"sqlite:///{Path(folder) / 'history.sqlite'}")
        config = parse_config(_config(endpoint.base_url, endpoint.key_variable, 4), source=None)
        walls: list[float] = []
        for index in range(warmup + rounds):
            started = time.perf_counter()
            run_probes(config, probe_ids=PROBES, store=store)
            if index >= warmup:
                walls.append((time.perf_counter() - started) * 1000)
        # What each probe takes the endpoint alone: one environment, one probe at a time.
        sequential_config = parse_config(_config(endpoint.base_url, endpoint.key_variable, 1), source=None)
        started = time.perf_counter()
        alone = run_probes(sequential_config, ["env00"], PROBES, store=store)
        one_env_sequential = (time.perf_counter() - started) * 1000
        durations = _durations(store, alone.run_id)
        store.close()
        requests = round(sum(d / LATENCY_MS for d in durations.values()))
        bare = median([_bare_httpx(endpoint.base_url, endpoint.key, requests) for _ in range(rounds)])
    ideal = ideal_ms(durations, 4)
    measured = median(walls)
    return Figure(
        "concurrency (20 envs x 10 probes, 100 ms endpoint)",
        measured / ideal,
        1.25,
        {
            "wall": measured,
            "ideal critical path": ideal,
            "bare httpx, same request count": bare,
            "sequential": one_env_sequential * ENVIRONMENTS,
        },
        notes=f"{ENVIRONMENTS} environments, 4 requests at a time each; ideal = each probe's unloaded time "
        f"packed on 4 slots; sequential = one environment at limit 1, measured, x {ENVIRONMENTS}",
    )


def _bare_httpx(base_url: str, key: str, requests: int) -> float:
    """The floor of this machine: plain POSTs with httpx's transport, same environments, same limit."""
    url, body = (
        base_url + "/v1/chat/completions",
        b'{"model": "wb-reference-1", "messages": [{"role": "user", "content": "hi"}]}',
    )
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    context = httpx.create_ssl_context()

    async def environment() -> None:
        limit = asyncio.Semaphore(4)
        async with httpx.AsyncClient(
            verify=context, trust_env=False, limits=httpx.Limits(max_connections=4)
        ) as client:

            async def one() -> None:
                async with limit:
                    (await client.post(url, content=body, headers=headers)).json()

            await asyncio.gather(*(one() for _ in range(requests)))

    async def everything() -> None:
        await asyncio.gather(*(environment() for _ in range(ENVIRONMENTS)))

    started = time.perf_counter()
    asyncio.run(everything())
    return (time.perf_counter() - started) * 1000


def _durations(store: HistoryStore, run_id: str) -> dict[str, float]:
    """Each probe's unloaded time from a sequential run: its latency times the requests it sends."""
    requests = {"errors.missing_field": 2, "response.fixture_replay": 0}
    return {
        result.probe: (result.latency_ms or 0.0) * requests.get(result.probe, 1)
        for result in store.results([run_id])
    }
