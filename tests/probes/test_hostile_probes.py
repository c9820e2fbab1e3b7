"""Probes against misbehaving servers: no crash, bounded time and memory, every result in the right class."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.canary import canary_key
from tests.hostile import CHAT_COMPLETION, HostileServer, refused_url
from tests.paths import REPO
from workbench import HistoryStore, Outcome, ProbeResult, Symptom, run_probes
from workbench.core.config import parse_config

KEY = canary_key("hostile")


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WB_HOSTILE_KEY", KEY)


def probe(tmp_path: Path, base_url: str, *probes: str, timeout_s: float = 1.0) -> dict[str, ProbeResult]:
    text = (
        f'[workbench]\nmax_body_bytes = {4 * 1024 * 1024}\n[environments.hostile]\nbase_url = "{base_url}"\n'
        f'api_key_env = "WB_HOSTILE_KEY"\nmodel = "m"\ntimeout_s = {timeout_s}\nstream = true\n'
    )
    with HistoryStore(f"sqlite:///{tmp_path / 'h.sqlite'}") as store:
        summary = run_probes(parse_config(text, source=None), probe_ids=probes, store=store)
        assert len(store.results([summary.run_id])) == len(probes)
    return {r.probe: r for r in summary.results}


CASES: dict[str, tuple[str, dict[str, Any], Symptom, bool]] = {
    "trickle": ("trickle", {"interval_s": 0.3}, Symptom.TRANSPORT, True),
    "silent": ("silent", {}, Symptom.TRANSPORT, True),
    "endless-body": ("endless", {}, Symptom.TRANSPORT, False),
    "gzip-bomb": ("gzip_bomb", {}, Symptom.TRANSPORT, False),
    "truncated-json": ("truncated_json", {}, Symptom.TRANSPORT, True),
    "invalid-utf8": ("invalid_utf8", {}, Symptom.TRANSPORT, True),
    "empty-200": ("empty_200", {}, Symptom.TRANSPORT, False),
    "html-200": ("html_200", {}, Symptom.TRANSPORT, False),
    "html-502": ("html_502", {}, Symptom.TRANSPORT, True),
    "json-500": ("json_500", {}, Symptom.SERVER, True),
    "429-retry-after": ("rate_limited", {"retry_after": "7"}, Symptom.RATE_LIMIT, True),
    "401-always": ("status", {"status": 401}, Symptom.AUTH, False),
    "accept-then-close": ("accept_then_close", {}, Symptom.TRANSPORT, True),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_minimal_probe_classifies_a_misbehaving_server(tmp_path: Path, case: str) -> None:
    behaviour, options, symptom, retryable = CASES[case]
    with HostileServer(behaviour, **options) as server:
        started = time.perf_counter()
        result = probe(tmp_path, server.base_url, "endpoint.minimal")["endpoint.minimal"]
        assert time.perf_counter() - started < 5
    assert (result.outcome, result.symptom, result.retryable) == (Outcome.FAIL, symptom, retryable), (
        result.detail
    )
    if behaviour == "rate_limited":
        assert result.retry_after_s == 7.0


def test_connection_refused(tmp_path: Path) -> None:
    result = probe(tmp_path, refused_url(), "endpoint.minimal")["endpoint.minimal"]
    assert (result.outcome, result.symptom, result.retryable) == (Outcome.FAIL, Symptom.TRANSPORT, True)
    assert result.http_status is None


@pytest.fixture
def servers() -> Iterator[tuple[HostileServer, HostileServer]]:
    with (
        HostileServer("status", status=200, body=CHAT_COMPLETION) as elsewhere,
        HostileServer("redirect", location=elsewhere.base_url + "/v1/chat/completions") as redirecting,
    ):
        yield redirecting, elsewhere


def test_a_redirect_to_another_origin_is_a_finding_and_the_key_never_travels(
    tmp_path: Path, servers: tuple[HostileServer, HostileServer]
) -> None:
    redirecting, elsewhere = servers
    result = probe(tmp_path, redirecting.base_url, "endpoint.minimal")["endpoint.minimal"]
    assert (result.outcome, result.symptom, result.http_status) == (Outcome.FAIL, Symptom.TRANSPORT, 307)
    assert elsewhere.requests == []
    assert redirecting.requests[0].headers["authorization"] == f"Bearer {KEY}"  # sent only where configured


def test_a_server_that_accepts_anything_fails_every_negative_probe(tmp_path: Path) -> None:
    with HostileServer("status", status=200, body=CHAT_COMPLETION) as server:
        results = probe(
            tmp_path,
            server.base_url,
            "auth.missing_key",
            "auth.invalid_key",
            "errors.malformed_json",
            "errors.missing_field",
            "errors.invalid_value",
        )
        missing_key_request = next(r for r in server.requests if "authorization" not in r.headers)
    assert {name: (r.outcome, r.symptom) for name, r in results.items()} == {
        "auth.missing_key": (Outcome.FAIL, Symptom.AUTH),
        "auth.invalid_key": (Outcome.FAIL, Symptom.AUTH),
        "errors.malformed_json": (Outcome.FAIL, Symptom.VALIDATION),
        "errors.missing_field": (Outcome.FAIL, Symptom.VALIDATION),
        "errors.invalid_value": (Outcome.FAIL, Symptom.VALIDATION),
    }
    assert KEY not in str(missing_key_request)


CHUNK = (
    b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}\n\n'
)
FINISH = (
    b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
)
USAGE = (
    b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],'
    b'"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}\n\n'
)
DONE = b"data: [DONE]\n\n"


@pytest.mark.parametrize(
    ("events", "cut", "outcome", "symptom"),
    [
        pytest.param(
            [b": keep-alive\n\n", CHUNK, FINISH, USAGE, DONE],
            False,
            Outcome.PASS,
            Symptom.NONE,
            id="valid-with-comment-and-usage-chunk",
        ),
        pytest.param(
            [CHUNK, b"data: {not json\n\n", FINISH, DONE],
            False,
            Outcome.FAIL,
            Symptom.TRANSPORT,
            id="garbage-chunk",
        ),
        pytest.param([CHUNK, FINISH], False, Outcome.FAIL, Symptom.TRANSPORT, id="no-done"),
        pytest.param([CHUNK], True, Outcome.FAIL, Symptom.TRANSPORT, id="cut-mid-way"),
        pytest.param(
            [CHUNK, b'event: error\ndata: {"error": {"message": "overloaded", "type": "server_error"}}\n\n'],
            False,
            Outcome.FAIL,
            Symptom.SERVER,
            id="error-event-in-200",
        ),
        pytest.param(
            [CHUNK, b'data: {"error": {"message": "Rate limit exceeded", "code": 429}}\n\n', DONE],
            False,
            Outcome.FAIL,
            Symptom.RATE_LIMIT,
            id="error-chunk-in-200",
        ),
    ],
)
def test_the_streaming_probe_against_a_misbehaving_stream(
    tmp_path: Path, events: list[bytes], cut: bool, outcome: Outcome, symptom: Symptom
) -> None:
    with HostileServer("sse", events=events, delay_s=0.01, cut=cut) as server:
        result = probe(tmp_path, server.base_url, "streaming.sse")["streaming.sse"]
    assert (result.outcome, result.symptom) == (outcome, symptom), result.detail
    if outcome is Outcome.PASS:
        assert result.facts["usage"] is True and result.ttft_ms is not None and result.facts["chunks"] == 3


def test_the_streaming_probe_against_a_trickling_stream_ends_at_the_deadline(tmp_path: Path) -> None:
    with HostileServer("sse", events=[CHUNK] * 50, delay_s=0.2) as server:
        started = time.perf_counter()
        result = probe(tmp_path, server.base_url, "streaming.sse", timeout_s=1.0)["streaming.sse"]
        assert time.perf_counter() - started < 3
    assert (result.outcome, result.symptom, result.retryable) == (Outcome.FAIL, Symptom.TRANSPORT, True)
    assert "deadline" in result.detail


def peak_rss_of_probe(tmp_path: Path, base_url: str) -> tuple[int, float]:
    """Run `workbench probe` in a child process against `base_url`; its exit code and peak RSS in MiB."""
    import os
    import subprocess
    import sys

    (tmp_path / "env.toml").write_text(
        f'[workbench]\nmax_body_bytes = {8 * 1024 * 1024}\n[environments.hostile]\nbase_url = "{base_url}"\n'
        'api_key_env = "WB_HOSTILE_KEY"\nmodel = "m"\ntimeout_s = 20\n'
    )
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workbench",
            "probe",
            "--config",
            "env.toml",
            "--probe",
            "endpoint.minimal",
            "--store",
            f"sqlite:///{tmp_path / 'h.sqlite'}",
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return child.returncode, usage.ru_maxrss / 1024  # Linux reports KiB


def test_peak_memory_stays_bounded_on_a_300_mb_body_and_a_gzip_bomb(tmp_path: Path) -> None:
    """Whole-process peak RSS, against a well-behaved baseline measured the same way."""
    with HostileServer("status", status=200, body=CHAT_COMPLETION) as normal:
        _, baseline = peak_rss_of_probe(tmp_path, normal.base_url)
    with HostileServer("big_body", size=300 * 1024 * 1024) as big:
        code, big_peak = peak_rss_of_probe(tmp_path, big.base_url)
    assert code == 1
    with HostileServer("gzip_bomb", decoded_size=1024**3) as bomb:
        code, bomb_peak = peak_rss_of_probe(tmp_path, bomb.base_url)
    assert code == 1
    print(
        f"peak RSS: baseline {baseline:.0f} MiB, 300 MB body {big_peak:.0f}, 1 GiB gzip bomb {bomb_peak:.0f}"
    )
    assert big_peak - baseline < 48, (baseline, big_peak)
    assert bomb_peak - baseline < 48, (baseline, bomb_peak)


@pytest.mark.slow
def test_a_full_audit_of_hostile_endpoints_still_produces_the_report_with_the_right_classes(
    tmp_path: Path,
) -> None:
    import os
    import subprocess
    import sys

    from bs4 import BeautifulSoup

    notebooks = REPO / "notebooks"
    with (
        HostileServer("trickle", interval_s=0.3) as trickle,
        HostileServer("gzip_bomb") as bomb,
        HostileServer("html_502") as gateway,
        HostileServer("json_500") as broken,
    ):
        servers = {"trickle": trickle, "bomb": bomb, "gateway": gateway, "broken": broken}
        (tmp_path / "env.toml").write_text(
            "".join(
                f'[environments.{name}]\nbase_url = "{server.base_url}"\napi_key_env = "WB_HOSTILE_KEY"\n'
                'model = "m"\ntimeout_s = 1\n\n'
                for name, server in servers.items()
            )
        )
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "workbench",
                "audit",
                "--config",
                "env.toml",
                "--notebooks",
                str(notebooks),
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "WB_HOSTILE_KEY": KEY},
        )
    assert done.returncode == 1, done.stdout + done.stderr
    for name in servers:
        assert f"{name}: NOT READY" in done.stdout
    (html,) = tmp_path.glob("reports/*/*-contract_audit.html")
    soup = BeautifulSoup(html.read_text(), "html.parser")
    crosstab = soup.find(lambda tag: tag.name == "h2" and "Symptom classes" in tag.get_text()).find_next(
        "table"
    )
    rows = {
        tr.find("th").get_text(strip=True): [td.get_text(strip=True) for td in tr.find_all("td")]
        for tr in crosstab.find("tbody").find_all("tr")
    }
    assert rows["transport"] and rows["server"]
    assert int(rows["server"][list(servers).index("broken")]) > 0
    assert int(rows["transport"][list(servers).index("trickle")]) > 0
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


DEEP_BODY = b"[" * 100_000 + b"]" * 100_000
LONG_NUMBER_BODY = CHAT_COMPLETION.replace(b'"total_tokens": 2', b'"total_tokens": ' + b"9" * 5000)


@pytest.mark.parametrize(
    ("body", "words"),
    [(DEEP_BODY, "nested deeper than 128 levels"), (LONG_NUMBER_BODY, "number of 5,000 characters")],
    ids=["deep", "long-number"],
)
def test_a_body_past_the_json_limits_is_a_parser_finding_not_could_not_run(
    tmp_path: Path, body: bytes, words: str
) -> None:
    """Observed before the fix: RecursionError / ValueError escaped the probe, which ended "could not run"."""
    assert body != CHAT_COMPLETION
    with HostileServer("status", status=200, body=body) as server:
        results = probe(tmp_path, server.base_url, "endpoint.minimal", "auth.invalid_key")
    minimal = results["endpoint.minimal"]
    assert (minimal.outcome, minimal.symptom) == (Outcome.FAIL, Symptom.PARSER), minimal.detail
    assert words in minimal.detail
    assert results["auth.invalid_key"].outcome is Outcome.FAIL


def test_a_stream_chunk_past_the_json_limits_is_a_parser_finding(tmp_path: Path) -> None:
    with HostileServer("sse", events=[CHUNK, b"data: " + DEEP_BODY + b"\n\n", FINISH, DONE]) as server:
        result = probe(tmp_path, server.base_url, "streaming.sse")["streaming.sse"]
    assert (result.outcome, result.symptom) == (Outcome.FAIL, Symptom.PARSER), result.detail
    assert "nested deeper than 128 levels" in result.detail


NEGATIVE_PROBES = ("auth.missing_key", "auth.invalid_key", "errors.malformed_json", "errors.invalid_value")


@pytest.mark.parametrize(
    ("behaviour", "options", "words"),
    [
        ("trickle", {"interval_s": 0.3}, "1 s total deadline"),
        ("wrong_length", {}, "connection failed mid-exchange"),
    ],
    ids=["trickle-past-our-deadline", "cut-short"],
)
def test_a_200_whose_body_never_completes_is_not_judged_accepted(
    tmp_path: Path, behaviour: str, options: dict[str, Any], words: str
) -> None:
    """Observed before the fix: each negative probe FAILed with "HTTP 200, accepted: auth is not enforced"."""
    with HostileServer(behaviour, **options) as server:
        results = probe(tmp_path, server.base_url, *NEGATIVE_PROBES)
    for name, result in results.items():
        assert (result.outcome, result.http_status) == (Outcome.ERROR, 200), (name, result.detail)
        assert "accepted" not in result.detail.replace("was accepted cannot be judged", ""), result.detail
        assert "cannot be judged" in result.detail and words in result.detail, result.detail
