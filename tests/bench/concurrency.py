"""Figure 2: many environments on as many ports x the whole catalog, one request at a time per host
(the default), against endpoints that answer after a fixed delay: wall time against the ideal
critical path, the harness CPU per request, and the probing process's peak memory.

The ideal is what one environment's probes take the endpoint when nothing else runs, one after
another; environments on different hosts run side by side, so a run can be no shorter. What the
workbench adds beyond it is its own CPU per request (building, reading, classifying, storing),
which every environment's requests share one interpreter for: a wave of N responses costs N times
that CPU before the last of them is judged and its host's next request leaves. So the CPU per
request is the bound, and is a figure of its own (<= 1.5 ms).

- 50 environments at 100 ms (the issue 10 figure): a wave's CPU must stay well under 100 ms.
- 200 environments at 500 ms (issue 22): the same bound at four times the width, and the peak
  resident memory of the probing process (< 400 MB). The probing runs in a child process of its
  own (`_probing.py`), so its peak is its own: the endpoints run in a third process.

The old default (one host, 4 requests at a time per environment), the 50 environments against an
endpoint without Nagle's delay, and `workbench probe` of 60 embedded environments are informational.

NOTES, where the CPU and the time went (issue 22, item 4; cProfile with `time.thread_time`,
pyinstrument, gc.callbacks, a 5 ms ticker on the loop and micro-benchmarks, on the 50- and
200-environment runs, 2-core machine, Python 3.11):
- before: 2.3-2.6 ms of CPU per request on a loaded machine (1.6-1.7 ms on a quiet one). httpx's
  transport (httpcore's pool plus anyio: a lock, a shielded cancel scope and a deadline scope
  per read and write, and the socket attributes rebuilt on every pool check) was about 0.8 ms of
  it: `wire/transport.py` now speaks HTTP/1.1 with h11 on an `asyncio.Protocol` for a direct
  origin (about 0.1 ms a request for h11 itself); proxied origins keep httpx's transport. Bare
  asyncio streams take 0.12-0.18 ms a request here: the floor of wake-ups and system calls.
- httpx's header normalisation in `ProbeClient.build`: 42 -> 10 µs (headers given as bytes).
- a stream of 8 events: 3.4 -> 2.1 ms (SSE text decoded from the capped bytes, not through a
  second httpx.Response); about 1 ms of it is the loop's wake-ups, one per event.
- the last redaction of every result (its shape and facts, looked at whole as JSON) cost 75 µs
  for a shape: `KeyMatcher` now remembers short texts that held no key (a run repeats them), and
  looks for fragments only where an aligned piece of a form is (a body: 14 -> 4-7 µs).
- the store's writer: a transaction costs about 0.45 ms of CPU before its first row (0.07 ms a
  row after); results wait up to 10 ms for the rest of their wave (80 -> 25-35 transactions a run).
- the cycle collector: 260-390 ms a run at 200 environments, full passes stopping the loop for
  85-127 ms; frozen before the run and run a tenth as often: 15-75 ms.
- time, not CPU: each probe was a task handed the host's gate by the previous one, one loop
  iteration later, after every response of the wave had been judged; so the waves never spread
  out and each cost a whole wave's judgements (200 x 500 ms: 8.0-8.8 s a run). An environment's
  probes now follow each other in one task: 6.1 s (ideal 5.4 s).
- the run's last 30 ms: asyncio.run (3.11) restoring the Ctrl-C handler formatted the repr of its
  task's result, the whole RunSummary (20-25 ms at 50 environments); and the last results waited
  the 10 ms commit window for others that could not come.
- shape signatures (19 -> 14 µs), ablation variants decoded from one dump: small.
- 60 embedded environments: 10 of the 12 s of `workbench probe` were the endpoints stopping one
  after another; they stop at once now (2.5 s).
Measured at the end (load average 1.3): CPU per request 1.07 ms at 50 environments, 0.88 at 200;
50 x 100 ms 1.10x; 200 x 500 ms 1.09x; peak 94 MiB; the TCP_NODELAY endpoint 1.12x.
What is left per request, roughly: the loop's wake-ups and system calls 0.15-0.2 ms, h11 0.1,
classification 0.07, the store's writer 0.15, a stream's extra events 0.13 on average, the rest
spread thin (probe logic, redaction, results).
"""

from __future__ import annotations

import heapq
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ._common import Figure, reference_endpoints

ROOT = Path(__file__).resolve().parents[2]
CPU_TARGET_MS = 1.5
PEAK_TARGET_MB = 400.0


@dataclass(frozen=True)
class Case:
    environments: int
    latency_ms: float
    limit: int  # requests at a time per host
    target: float  # ratio of wall time to the ideal
    rounds: int
    warmup: int = 1
    nodelay: bool = False  # the endpoint's sockets set TCP_NODELAY (see `reference_endpoints`)


DEFAULT = Case(50, 100.0, 1, 1.15, rounds=5)
WIDE = Case(200, 500.0, 1, 1.2, rounds=3)
NODELAY = Case(50, 100.0, 1, 1.15, rounds=3, nodelay=True)
OLD_DEFAULT = Case(20, 100.0, 4, 1.25, rounds=3)
EMBEDDED = 60  # `workbench probe` of this many embedded environments, five broken (tests/many.py)


@dataclass(frozen=True)
class Measured:
    wall_ms: float  # median
    ideal_ms: float
    cpu_ms_per_request: float  # median
    requests: int
    peak_mib: float

    @property
    def ratio(self) -> float:
        return self.wall_ms / self.ideal_ms


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


def measure(case: Case) -> Measured:
    """Runs of `case.environments` environments on as many ports, probed by a child process."""
    with (
        reference_endpoints(case.environments, latency_ms=case.latency_ms, nodelay=case.nodelay) as (
            urls,
            served,
        ),
        tempfile.TemporaryDirectory() as folder,
    ):
        spec = {
            "config": _config(urls, served.key_variable, case.limit),
            "alone_config": _config(urls[:1], served.key_variable, 1),
            "store": f"sqlite:///{Path(folder) / 'history.sqlite'}",
            "rounds": case.rounds,
            "warmup": case.warmup,
        }
        done = subprocess.run(
            [sys.executable, "-m", "tests.bench._probing"],
            input=json.dumps(spec),
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={
                **os.environ,
                "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            },
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"the probing process failed: {done.stderr.strip()[-2000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return Measured(
        wall_ms=statistics.median(report["walls_ms"]),
        ideal_ms=ideal_ms(report["durations_ms"], case.limit),
        cpu_ms_per_request=statistics.median(report["cpu_ms_per_request"]),
        requests=report["requests"],
        peak_mib=report["peak_mib"],
    )


def run() -> list[Figure]:
    load = os.getloadavg()[0]
    default, wide = measure(DEFAULT), measure(WIDE)
    nodelay, old = measure(NODELAY), measure(OLD_DEFAULT)
    machine = f"load average {load:.1f} on {os.cpu_count()} cores at the start"
    return [
        Figure(
            "harness CPU per request (50 envs x catalog)",
            default.cpu_ms_per_request / CPU_TARGET_MS,
            1.0,
            {
                "50 envs": default.cpu_ms_per_request,
                "200 envs": wide.cpu_ms_per_request,
                "target": CPU_TARGET_MS,
            },
            unit="ms",
            notes=f"ratio = CPU ms per request / {CPU_TARGET_MS} ms; the probing process's CPU time "
            f"(every thread) / requests sent; {machine}",
        ),
        _ratio_figure(DEFAULT, default),
        _ratio_figure(WIDE, wide),
        Figure(
            f"peak memory of the probing process ({WIDE.environments} envs x catalog)",
            wide.peak_mib / PEAK_TARGET_MB,
            1.0,
            {"peak RSS": wide.peak_mib, "target": PEAK_TARGET_MB},
            unit="MiB",
            notes=f"ratio = peak resident MiB / {PEAK_TARGET_MB:.0f}; a child process that only probes "
            "(ru_maxrss); the endpoints run in another",
        ),
        _ratio_figure(NODELAY, nodelay, informational=True),
        Figure(
            f"concurrency, old default ({OLD_DEFAULT.environments} envs, 4 at a time each)",
            old.ratio,
            OLD_DEFAULT.target,
            {"wall": old.wall_ms, "ideal critical path": old.ideal_ms},
            notes="informational: the default before issue 10 (concurrency_per_env = 4), on a "
            "well-behaved endpoint; ideal = each probe's unloaded time packed on 4 slots",
            informational=True,
        ),
        _embedded(),
    ]


def _embedded() -> Figure:
    """`workbench probe` of EMBEDDED embedded environments, five broken: each endpoint a uvicorn server
    in a thread of the probing process (their CPU is that process's too). Informational: the
    issue's 46 s audit spent ten of them stopping the endpoints one after another."""
    from tests.many import write_project

    with tempfile.TemporaryDirectory() as folder:
        write_project(Path(folder), EMBEDDED)
        command = [sys.executable, "-m", "workbench", "--project-dir", folder, "probe"]
        walls = []
        for _ in range(2):
            started = time.perf_counter()
            subprocess.run(command, capture_output=True, cwd=folder, check=False, env=_child_env())
            walls.append(time.perf_counter() - started)
    return Figure(
        f"workbench probe, {EMBEDDED} embedded environments x catalog (five broken)",
        min(walls),
        0.0,
        {"wall (best of 2)": min(walls)},
        unit="s",
        notes="informational: the whole command (start-up, endpoints started and stopped, probes, store)",
        informational=True,
    )


def _child_env() -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def _ratio_figure(case: Case, measured: Measured, *, informational: bool = False) -> Figure:
    endpoint = "TCP_NODELAY endpoint" if case.nodelay else "endpoint"
    return Figure(
        f"concurrency ({case.environments} envs on {case.environments} ports x catalog, 1 at a time "
        f"each, {case.latency_ms:.0f} ms {endpoint})",
        measured.ratio,
        case.target,
        {
            "wall": measured.wall_ms,
            "ideal critical path": measured.ideal_ms,
            "harness CPU per request": measured.cpu_ms_per_request,
        },
        notes=("informational: " if informational else "")
        + f"ideal = one environment's probes one after another, unloaded; {measured.requests:,} "
        f"requests a run; {case.environments} x {measured.cpu_ms_per_request:.2f} ms of CPU per wave "
        f"of requests against {case.latency_ms:.0f} ms",
        informational=informational,
    )
