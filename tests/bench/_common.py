"""What every benchmark shares: medians after a warm-up, a loopback reference endpoint in its own
process (so its work never competes with the measured client for the GIL), and one result shape."""

from __future__ import annotations

import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Figure:
    """One line of the benchmark report: a ratio against its target, with the raw medians."""

    name: str
    ratio: float
    target: float
    medians: dict[str, float]
    unit: str = "ms"
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    lower_is_better: bool = True
    informational: bool = False  # printed for comparison, never a target

    @property
    def ok(self) -> bool:
        if self.informational:
            return True
        return self.ratio <= self.target if self.lower_is_better else self.ratio >= self.target

    def line(self) -> str:
        raw = ", ".join(f"{key} {value:,.2f} {self.unit}" for key, value in self.medians.items())
        if self.informational:
            return f"{self.name}: {self.ratio:.3f}x [info]  {raw}" + (
                f"  ({self.notes})" if self.notes else ""
            )
        verdict = "ok" if self.ok else "MISSED"
        return f"{self.name}: {self.ratio:.3f}x (target <= {self.target}x) [{verdict}]  {raw}" + (
            f"  ({self.notes})" if self.notes else ""
        )


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    rank = max(1, int(-(-share * len(ordered) // 1)))
    return ordered[min(rank, len(ordered)) - 1]


def interleaved(rounds: int, warmup: int, **contenders: Callable[[], float]) -> dict[str, list[float]]:
    """Run each contender once per round, alternating order, after `warmup` unrecorded rounds."""
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for index in range(warmup + rounds):
        order = names if index % 2 == 0 else names[::-1]
        for name in order:
            value = contenders[name]()
            if index >= warmup:
                samples[name].append(value)
    return samples


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class ServedEndpoint:
    base_url: str
    key: str
    key_variable: str


@contextmanager
def reference_endpoint(*scenarios: str, latency_ms: float = 0.0) -> Iterator[ServedEndpoint]:
    """`workbench serve` in a child process on a free port; yields once it answers."""
    port, key = free_port(), "bench-" + secrets.token_hex(16)
    variable = "WB_BENCH_KEY"
    command = [
        sys.executable,
        "-m",
        "workbench",
        "serve",
        "--port",
        str(port),
        "--latency-ms",
        str(latency_ms),
        "--api-key-env",
        variable,
    ]
    for scenario in scenarios or ("conformant",):
        command += ["--scenario", scenario]
    child = subprocess.Popen(
        command, env={**os.environ, variable: key}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline or child.poll() is not None:
                    raise RuntimeError("the reference endpoint did not start") from None
                time.sleep(0.05)
        os.environ[variable] = key
        yield ServedEndpoint(f"http://127.0.0.1:{port}", key, variable)
    finally:
        child.terminate()
        child.wait(timeout=10)


_MULTI_PORT_SERVER = """
import os, socket, sys
import uvicorn
from workbench.core.scenarios import Scenario
from workbench.reference.server import create_app
count, latency_ms, nodelay = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3] == "nodelay"
sockets = [socket.create_server(("127.0.0.1", 0), backlog=256) for _ in range(count)]
for sock in sockets if nodelay else ():  # accepted sockets inherit it, as EmbeddedEndpoint binds
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
print(" ".join(str(s.getsockname()[1]) for s in sockets), flush=True)
app = create_app(frozenset({Scenario.CONFORMANT}), api_key=os.environ["WB_BENCH_KEY"], latency_ms=latency_ms)
uvicorn.Server(uvicorn.Config(app, lifespan="off", log_config=None, access_log=False)).run(sockets=sockets)
"""


@contextmanager
def reference_endpoints(
    count: int, *, latency_ms: float, nodelay: bool = False
) -> Iterator[tuple[list[str], ServedEndpoint]]:
    """One reference server in a child process listening on `count` ports: `count` hosts to the probes.

    Without `nodelay` (the figures' endpoint since issue 10) its sockets keep Nagle's algorithm, and
    a response on a kept-alive connection arrives ~40 ms after the configured latency, as Nagle and
    the client's delayed ACKs make it (measured with a raw socket: 144 ms for 100 ms, 103 ms on a
    fresh connection, 101 ms with `nodelay`)."""
    key, variable = "bench-" + secrets.token_hex(16), "WB_BENCH_KEY"
    child = subprocess.Popen(
        [sys.executable, "-c", _MULTI_PORT_SERVER, str(count), str(latency_ms), "nodelay" if nodelay else ""],
        env={**os.environ, variable: key},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert child.stdout is not None
        ports = child.stdout.readline().split()
        if len(ports) != count:
            raise RuntimeError("the multi-port reference endpoint did not start")
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url in urls[:1]:
            deadline = time.monotonic() + 20
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=0.2):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the multi-port reference endpoint did not answer") from None
                    time.sleep(0.05)
        os.environ[variable] = key
        yield urls, ServedEndpoint(urls[0], key, variable)
    finally:
        child.terminate()
        child.wait(timeout=10)
