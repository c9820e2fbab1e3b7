"""Run every benchmark, print one line per figure, and write them as JSON under reports/bench/."""

from __future__ import annotations

import json
import platform
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from . import (
    client_overhead,
    concurrency,
    history_scale,
    install_size,
    report_cost,
    resource_bodies,
    spec_cost,
    timing_truth,
)
from ._common import Figure

BENCHMARKS = (
    ("probe client overhead", client_overhead.run),
    ("concurrency", concurrency.run),
    ("timing truth", timing_truth.run),
    ("report cost", report_cost.run),
    ("history scale", history_scale.run),
    ("spec conformance", spec_cost.run),
    ("worst-case bodies", resource_bodies.run),
    ("installed tool", install_size.run),
)


def main() -> int:
    selected = set(sys.argv[1:])
    figures: list[Figure] = []
    started = time.perf_counter()
    for name, bench in BENCHMARKS:
        if selected and not any(word in name for word in selected):
            continue
        print(f"... {name}", file=sys.stderr, flush=True)
        produced = bench()
        for figure in produced if isinstance(produced, list) else [produced]:
            figures.append(figure)
            print(figure.line(), flush=True)
    elapsed = time.perf_counter() - started
    folder = Path("reports/bench")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{datetime.now(UTC):%Y-%m-%dT%H%M%SZ}.json"
    record = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(elapsed, 1),
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
        "figures": [{**asdict(f), "ok": f.ok} for f in figures],
    }
    path.write_text(json.dumps(record, indent=2) + "\n")
    missed = [f.name for f in figures if not f.ok]
    print(
        f"{len(figures)} figures in {elapsed:.0f} s, written to {path}"
        + (f"; MISSED: {', '.join(missed)}" if missed else "; every target met")
    )
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
