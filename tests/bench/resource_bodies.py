"""Figures (issue 20, item 2): the three worst-case bodies under the 8 MiB cap, each against ordinary
answers of its kind, measured side by side in one run.

- `deep_long_keys` (120 levels of 60,000-character keys) and `many_keys` (350,000 flat keys) as the
  answer to `endpoint.minimal`, against an ordinary completion of 7.2 MB (prose) and an everyday one;
- `tiny_events` (900,000 `data: {}` events) as the answer to `streaming.sse`, against an ordinary
  8 MB stream (18 chunks of prose) and an everyday 18-chunk stream.

Each sample is one probe run in a fresh process (`run_probes` on a SQLite store of its own, after one
warm-up run there, as an audit's process is warm after its first probes), with the server in this
process, so the child's CPU and peak memory (`getrusage`) are the client's alone: the read, the
redaction, the judging and the store. Targets: CPU at most 5x the ordinary
body's, peak memory at most 200 MB above the ordinary run's, and at most 64 KB stored per probe,
every table together (the run's row and its rollup rows shared among its results). Ordinary and
hostile samples alternate; medians of `ROUNDS`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile

from tests.hostile import HostileServer

from ._common import Figure, median

ROUNDS = 3
CPU_TARGET = 5.0
MEMORY_TARGET_MB = 200.0
STORED_TARGET = 64 * 1024
CASES = (  # (hostile body, an ordinary body of its kind as large, the probe that reads them)
    ("deep_long_keys", "ordinary_json_large", "endpoint.minimal"),
    ("many_keys", "ordinary_json_large", "endpoint.minimal"),
    ("tiny_events", "ordinary_stream_large", "streaming.sse"),
)
SMALL = {"endpoint.minimal": "ordinary_json", "streaming.sse": "ordinary_stream"}  # an everyday answer

# One probe against `url`, in this fresh process: its CPU (user + system, threads included) over the
# run, its peak RSS, and the bytes the run left in the store per probe.
_CHILD = """
import json, os, resource, sqlite3, sys
from workbench.core.startup import skip_slow_optional_imports
skip_slow_optional_imports()  # as the workbench's own processes do (the command, the report kernel)
from workbench import HistoryStore, run_probes
from workbench.core.config import parse_config

url, probe, folder = sys.argv[1:4]
os.environ["WB_BENCH_BODY_KEY"] = "bench-body-key-0123456789abcdef"
config = parse_config(
    f'[workbench]\\nproject = "bench"\\n[environments.body]\\nbase_url = "{url}"\\n'
    'api_key_env = "WB_BENCH_BODY_KEY"\\nmodel = "m"\\ntimeout_s = 60\\nstream = true\\n',
    source=None,
)
database = os.path.join(folder, "h.sqlite")
with HistoryStore(f"sqlite:///{os.path.join(folder, 'warm.sqlite')}", project_name="bench") as store:
    run_probes(config, probe_ids=[probe], store=store)  # warm: imports, the checker, as in an audit
with HistoryStore(f"sqlite:///{database}", project_name="bench") as store:
    before = resource.getrusage(resource.RUSAGE_SELF)
    summary = run_probes(config, probe_ids=[probe], store=store)
    after = resource.getrusage(resource.RUSAGE_SELF)
cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def peak_mb():
    # VmHWM: this process's own peak (ru_maxrss keeps the forking parent's, a server full of bodies)
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024
with sqlite3.connect(database) as db:
    def size(table):
        rows = db.execute(f"SELECT * FROM {table}").fetchall()
        return sum(len(str(value)) for row in rows for value in row if value is not None), len(rows)
    results, count = size("results")
    shared = sum(size(table)[0] for table in ("runs", "series", "daily_outcomes", "daily_latency"))
    largest = max(
        sum(len(str(value)) for value in row if value is not None)
        for row in db.execute("SELECT * FROM results").fetchall()
    )
print(json.dumps({
    "cpu_s": cpu,
    "peak_mb": peak_mb(),
    "stored_per_probe": max(largest, (results + shared) / count),
    "outcome": str(summary.results[0].outcome),
}))
"""


def _sample(url: str, probe: str) -> dict[str, float | str]:
    with tempfile.TemporaryDirectory() as folder:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, url, probe, folder],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"the probe process failed: {done.stderr.strip().splitlines()[-1:]}")
    sample: dict[str, float | str] = json.loads(done.stdout.strip().splitlines()[-1])
    return sample


def _case(hostile: str, large: str, probe: str, rounds: int) -> Figure:
    """One worst-case body against the ordinary answers of its kind: an everyday one, and one as large."""
    samples: dict[str, list[dict[str, float | str]]] = {"hostile": [], "large": [], "small": []}
    with (
        HostileServer("resource_body", kind=hostile) as bad,
        HostileServer("resource_body", kind=large) as big,
        HostileServer("resource_body", kind=SMALL[probe]) as everyday,
    ):
        urls = {"hostile": bad.base_url, "large": big.base_url, "small": everyday.base_url}
        for index in range(rounds):
            order = list(urls.items())
            for name, url in order if index % 2 == 0 else order[::-1]:
                samples[name].append(_sample(url, probe))

    def middle(name: str, field: str) -> float:
        return median([float(sample[field]) for sample in samples[name]])

    cpu = {name: middle(name, "cpu_s") for name in samples}
    peak = {name: middle(name, "peak_mb") for name in samples}
    stored = max(float(sample["stored_per_probe"]) for sample in samples["hostile"])
    ratios = {
        "cpu": cpu["hostile"] / cpu["large"] / CPU_TARGET,
        "memory": max(peak["hostile"] - peak["small"], 0.0) / MEMORY_TARGET_MB,
        "stored": stored / STORED_TARGET,
    }
    outcome = samples["hostile"][0]["outcome"]
    return Figure(
        f"worst-case body: {hostile.replace('_', ' ')} ({probe})",
        max(ratios.values()),
        1.0,
        {
            "CPU hostile (s)": cpu["hostile"],
            "CPU ordinary as large (s)": cpu["large"],
            "CPU everyday (s)": cpu["small"],
            "peak hostile (MB)": peak["hostile"],
            "peak everyday run (MB)": peak["small"],
            "stored per probe (KB)": stored / 1024,
        },
        unit="",
        notes=(
            f"ratio = the largest of CPU {cpu['hostile'] / cpu['large']:.2f}x an ordinary body as large "
            f"/ 5x, peak memory +{peak['hostile'] - peak['small']:.0f} MB over an everyday run / 200 MB, "
            f"stored {stored / 1024:.1f} KB / 64 KB per probe; against an everyday answer the CPU is "
            f"{cpu['hostile'] / cpu['small']:.0f}x; the probe {outcome}"
        ),
        extra={"ratios": ratios, "cpu_vs_everyday": cpu["hostile"] / cpu["small"]},
    )


def run(rounds: int = ROUNDS) -> list[Figure]:
    return [_case(hostile, ordinary, probe, rounds) for hostile, ordinary, probe in CASES]
