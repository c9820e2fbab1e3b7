"""Figure 2: 50 environments on 50 ports x the whole catalog, one request at a time per host (the
default), against an endpoint that answers in 100 ms: wall time against the ideal critical path.

The ideal is what one environment's probes take the endpoint when nothing else runs, one after
another; environments on different hosts run side by side, so a run can be no shorter. What the
workbench adds beyond it is its own CPU per request (building, reading, classifying, storing),
which every environment's requests share one interpreter for: it is measured and printed too.
The old default (one host, 4 requests at a time per environment) stays as an informational line.
"""

from __future__ import annotations

import heapq
import tempfile
import time
from pathlib import Path

from workbench import HistoryStore, RunSummary, run_probes
from workbench.core.config import parse_config
from workbench.probes.catalog import CATALOG

from ._common import Figure, median, reference_endpoints

ENVIRONMENTS = 50
OLD_ENVIRONMENTS = 20
LATENCY_MS = 100.0
PROBES = tuple(CATALOG)  # the whole catalog (the operator confirmation sends nothing)


def _config(urls: list[str], variable: str, limit: int) -> str:
    head = f"[workbench]\nconcurrency_per_env = {limit}\n\n"
    return head + "".join(
        f'[environments.env{i:02d}]\nbase_url = "{url}"\napi_key_env = "{variable}"\n'
        f'model = "wb-reference-1"\nstream = true\n\n'
        for i, url in enumerate(urls)
    )


def ideal_ms(durations: dict[str, float], limit: int) -> float:
    """The critical path: one environment's probes packed onto `limit` slots, longest first, each
    taking what it takes the endpoint when nothing else runs; environments run side by side."""
    slots = [0.0] * limit
    for duration in sorted(durations.values(), reverse=True):
        heapq.heapreplace(slots, slots[0] + duration)
    return max(slots)


def _timed(
    config_text: str, store: HistoryStore, env_names: tuple[str, ...] = ()
) -> tuple[float, float, RunSummary]:
    """(wall ms, this process's CPU ms, summary) of one run."""
    config = parse_config(config_text, source=None)
    started, cpu = time.perf_counter(), time.process_time()
    summary = run_probes(config, env_names, PROBES, store=store)
    return (time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000, summary


def run(rounds: int = 5, warmup: int = 1) -> list[Figure]:
    figures = [_default(rounds, warmup), _old_default(rounds, warmup)]
    return figures


def _measure(
    environments: int, limit: int, rounds: int, warmup: int
) -> tuple[float, float, dict[str, float]]:
    """(median wall ms, median harness CPU ms per request, each probe's unloaded duration) of runs of
    `environments` environments on as many ports, `limit` requests at a time each."""
    with (
        reference_endpoints(environments, latency_ms=LATENCY_MS) as (urls, served),
        tempfile.TemporaryDirectory() as folder,
    ):
        store = HistoryStore(f"sqlite:///{Path(folder) / 'history.sqlite'}")
        text = _config(urls, served.key_variable, limit)
        walls, cpus = [], []
        for index in range(warmup + rounds):
            wall, cpu, summary = _timed(text, store)
            if index >= warmup:
                walls.append(wall)
                cpus.append(cpu / sum(summary.requests.values()))
        # What each probe takes the endpoint alone: one environment, one probe at a time.
        _, _, alone = _timed(_config(urls[:1], served.key_variable, 1), store, ("env00",))
        durations = _durations(store, alone.run_id)
        store.close()
    return median(walls), median(cpus), durations


def _default(rounds: int, warmup: int) -> Figure:
    measured, cpu_per_request, durations = _measure(ENVIRONMENTS, 1, rounds, warmup)
    ideal = ideal_ms(durations, 1)
    return Figure(
        f"concurrency ({ENVIRONMENTS} envs on {ENVIRONMENTS} ports x catalog, 1 at a time each, "
        "100 ms endpoint)",
        measured / ideal,
        1.15,
        {"wall": measured, "ideal critical path": ideal, "harness CPU per request": cpu_per_request},
        notes=f"ideal = one environment's probes one after another, unloaded; harness CPU = this process's "
        f"CPU time / requests (the endpoint runs in another process); {ENVIRONMENTS} x "
        f"{cpu_per_request:.2f} ms of CPU per wave of requests is what bounds the ratio",
    )


def _old_default(rounds: int, warmup: int) -> Figure:
    """The previous default for comparison: 20 environments, 4 requests at a time each."""
    measured, _, durations = _measure(OLD_ENVIRONMENTS, 4, rounds, warmup)
    ideal = ideal_ms(durations, 4)
    return Figure(
        f"concurrency, old default ({OLD_ENVIRONMENTS} envs, 4 at a time each)",
        measured / ideal,
        1.25,
        {"wall": measured, "ideal critical path": ideal},
        notes="informational: the default before issue 10 (concurrency_per_env = 4), on a well-behaved "
        "endpoint; ideal = each probe's unloaded time packed on 4 slots",
        informational=True,
    )


def _durations(store: HistoryStore, run_id: str) -> dict[str, float]:
    """Each probe's unloaded time from a sequential run: its latency times the requests it sends."""
    requests = {probe.id: probe.sends for probe in CATALOG.values()}
    return {
        result.probe: (result.latency_ms or 0.0) * requests.get(result.probe, 1)
        for result in store.results([run_id])
    }
