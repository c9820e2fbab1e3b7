"""Bounded by construction (issue 20, items 2 and 3): whatever body an endpoint sends under the byte cap,
what is stored of it stays small, the work after the exchange stays within its bounds, and a healthy
environment probed beside it keeps its verdict and its timing.

Observed before the fix, with these three bodies: `deep_long_keys` wrote a 436 MB shape row and
peaked at 2.4 GB RSS; `many_keys` added 62 MB to the history per audit; `tiny_events` took 82 s of
wall time and 42 s of CPU for one probe, and a healthy endpoint beside it failed
`request.app_realistic` with "no complete response within the 10 s total deadline".
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.canary import canary_key
from tests.hostile import HostileServer, hostile_process
from workbench import HistoryStore, Outcome, run_probes
from workbench.core.config import parse_config

KEY_VAR = "WB_BOUNDED_KEY"
KEY = canary_key("bounded")
STORED_LIMIT = 64 * 1024  # bytes per probe result, every column together


def stored_bytes(store_path: Path, run_id: str) -> dict[str, int]:
    import sqlite3

    with sqlite3.connect(store_path) as db:
        rows = db.execute("SELECT * FROM results WHERE run_id = ?", (run_id,)).fetchall()
        names = [column[0] for column in db.execute("SELECT * FROM results LIMIT 0").description]
    sizes = {}
    for row in rows:
        record = dict(zip(names, row, strict=True))
        sizes[f"{record['env']}/{record['probe']}"] = sum(
            len(str(value)) for value in row if value is not None
        )
    return sizes


@pytest.mark.parametrize("kind", ["deep_long_keys", "many_keys", "tiny_events"])
def test_what_is_stored_of_a_hostile_body_stays_small(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    monkeypatch.setenv(KEY_VAR, KEY)
    with HostileServer("resource_body", kind=kind) as server:
        config = parse_config(
            f'[environments.hostile]\nbase_url = "{server.base_url}"\napi_key_env = "{KEY_VAR}"\n'
            'model = "m"\ntimeout_s = 30\nstream = true\n',
            source=None,
        )
        database = tmp_path / "h.sqlite"
        with HistoryStore(f"sqlite:///{database}") as store:
            started = time.process_time()
            summary = run_probes(config, probe_ids=["endpoint.minimal", "streaming.sse"], store=store)
            cpu = time.process_time() - started
    sizes = stored_bytes(database, summary.run_id)
    assert max(sizes.values()) <= STORED_LIMIT, sizes
    results = {r.probe: r for r in summary.results}
    judged = results["streaming.sse" if kind == "tiny_events" else "endpoint.minimal"]
    if kind == "many_keys":  # a completion with 350,000 unknown fields: valid, its shape cut and said so
        assert judged.outcome is Outcome.PASS, judged.detail
    else:  # a finding that names the bound, never silently passed or stored whole
        words = {
            "deep_long_keys": "key of 60,000 characters",
            "tiny_events": "events, more than an answer of the tokens asked for takes",
        }[kind]
        assert judged.outcome is Outcome.FAIL and words in judged.detail, judged.detail
    assert json.dumps(judged.to_dict())  # storable and printable
    assert cpu < 30, cpu  # a sanity bound only; the ratios live in `make bench`


def test_a_body_with_many_keys_is_judged_with_its_shape_truncated_and_said_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_VAR, KEY)
    with HostileServer("resource_body", kind="many_keys") as server:
        config = parse_config(
            f'[environments.wide]\nbase_url = "{server.base_url}"\napi_key_env = "{KEY_VAR}"\nmodel = "m"\n',
            source=None,
        )
        with HistoryStore(f"sqlite:///{tmp_path / 'h.sqlite'}") as store:
            (result,) = run_probes(config, probe_ids=["endpoint.minimal"], store=store).results
    assert any(entry.startswith("(truncated)") for entry in result.shape), result.shape[-3:]
    assert len(result.shape) <= 1001


def test_a_healthy_environment_beside_a_hostile_one_keeps_its_verdict_and_its_timing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hostile stream is read to its cap and judged off the event loop, so the healthy endpoint's
    requests, timed on that loop, measure what they measure alone (within 100 ms, the issue's bound)."""
    monkeypatch.setenv(KEY_VAR, KEY)
    healthy = '[environments.healthy]\nbase_url = "embedded"\nlatency_ms = 300\nstream = true\n'
    probes = ["endpoint.minimal", "request.app_realistic", "streaming.sse"]

    def latencies(text: str) -> tuple[str, dict[str, float]]:
        with HistoryStore(f"sqlite:///{tmp_path / 'h.sqlite'}") as store:
            summary = run_probes(parse_config(text, source=None), probe_ids=probes, store=store)
        (verdict,) = [v for v in summary.verdicts if v.env == "healthy"]
        return str(verdict.status), {
            r.probe: r.latency_ms or 0.0 for r in summary.results if r.env == "healthy"
        }

    latencies(healthy)  # warm: the first run pays for imports and the endpoint's start
    alone_status, alone = latencies(healthy)
    # The hostile server runs in a process of its own, as a real one would be on another machine,
    # never competing with the harness for the interpreter lock. Observed once in CI (2 cores under
    # the whole suite) with the server as a thread of this process and no warm-up run:
    # endpoint.minimal +405 ms beside it; not reproduced here, quiet or with two busy cores
    # (-84 to +10 ms either way), so the cause was not isolated. Here, out of process and warm:
    # -80 to +10 ms.
    with hostile_process("resource_body", kind="tiny_events") as base_url:
        hostile = (
            f'[environments.hostile]\nbase_url = "{base_url}"\napi_key_env = "{KEY_VAR}"\n'
            'model = "m"\ntimeout_s = 30\nstream = true\n'
        )
        beside_status, beside = latencies(healthy + hostile)
    assert beside_status == alone_status == "ready"
    slower = {probe: round(beside[probe] - alone[probe]) for probe in probes}
    assert all(delta < 100 for delta in slower.values()), slower
