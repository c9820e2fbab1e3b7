"""The probing process of the concurrency figures: runs the whole catalog over the environments it is
given, several rounds, and reports its own wall time, CPU time and peak memory as one JSON line.

A process of its own so that its peak resident memory is the probing's alone (the endpoints run
in another process, and `make bench`'s other figures load pandas and papermill into the parent).
Read from stdin: {"config", "store", "rounds", "warmup", "alone_config"}.
"""

from __future__ import annotations

import json
import resource
import sys
import time

from workbench import HistoryStore, run_probes
from workbench.core.config import parse_config
from workbench.probes.catalog import CATALOG


def main() -> int:
    spec = json.loads(sys.stdin.read())
    store = HistoryStore(spec["store"])
    config = parse_config(spec["config"], source=None)
    probes = tuple(CATALOG)  # the whole catalog (the operator confirmation sends nothing)
    walls: list[float] = []
    cpus: list[float] = []
    requests = 0
    for index in range(spec["warmup"] + spec["rounds"]):
        started, cpu = time.perf_counter(), time.process_time()
        summary = run_probes(config, (), probes, store=store)
        wall, spent = time.perf_counter() - started, time.process_time() - cpu
        requests = sum(summary.requests.values())
        if index >= spec["warmup"]:
            walls.append(wall * 1000)
            cpus.append(spent * 1000 / requests)
    # What each probe takes the endpoint alone: one environment, one probe at a time.
    alone = run_probes(parse_config(spec["alone_config"], source=None), ("env00",), probes, store=store)
    sends = {probe.id: probe.sends for probe in CATALOG.values()}
    durations = {
        result.probe: (result.latency_ms or 0.0) * sends.get(result.probe, 1)
        for result in store.results([alone.run_id])
    }
    store.close()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(
        json.dumps(
            {
                "walls_ms": walls,
                "cpu_ms_per_request": cpus,
                "requests": requests,
                "durations_ms": durations,
                "peak_mib": peak_kib / 1024,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
