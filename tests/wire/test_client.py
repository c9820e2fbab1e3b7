"""The probe client against purpose-built misbehaving servers: total deadline, byte cap, right class."""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from collections.abc import Callable

import pytest

from tests.canary import canary_key
from tests.hostile import HostileServer, refused_url
from workbench.core.models import Symptom
from workbench.wire.classify import classify_exchange
from workbench.wire.client import Exchange, Failure, ProbeClient

KEY = canary_key("client")
BODY = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}'
MiB = 1024 * 1024


def exchange(
    url: str, *, timeout_s: float = 5.0, max_bytes: int = 8 * MiB, key: str | None = KEY, stream: bool = False
) -> Exchange:
    async def go() -> Exchange:
        async with ProbeClient(timeout_s=timeout_s, max_bytes=max_bytes, trust_env=False) as client:
            request = client.build(
                url + "/v1/chat/completions",
                content=BODY,
                key=(lambda: key),
                accept="text/event-stream" if stream else "application/json",
            )
            return await client.exchange(request)

    return asyncio.run(go())


def test_a_trickling_server_is_cut_at_the_total_deadline() -> None:
    """httpx's read timeout never fires on a byte every 0.2 s; the total deadline must."""
    with HostileServer("trickle", interval_s=0.2, total_bytes=10_000) as server:
        started = time.perf_counter()
        result = exchange(server.base_url, timeout_s=1.0)
        elapsed = time.perf_counter() - started
    assert result.failure is Failure.TIMEOUT
    assert 1.0 <= elapsed < 2.0
    assert result.status == 200 and result.headers_ms is not None  # headers came, the body never finished
    classification = classify_exchange(result)
    assert (classification.symptom, classification.retryable) == (Symptom.TRANSPORT, True)
    assert "1 s total deadline" in classification.detail


def test_a_silent_server_is_cut_at_the_total_deadline() -> None:
    with HostileServer("silent") as server:
        started = time.perf_counter()
        result = exchange(server.base_url, timeout_s=0.5)
        assert time.perf_counter() - started < 1.5
    assert result.failure is Failure.TIMEOUT and result.status is None


def test_connection_refused_is_a_retryable_transport_failure() -> None:
    result = exchange(refused_url())
    assert result.failure is Failure.CONNECT
    assert classify_exchange(result).retryable


def measure_peak(action: Callable[[], Exchange]) -> tuple[Exchange, int]:
    tracemalloc.start()
    try:
        result = action()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "connection-close"])
def test_a_300_mb_body_is_cut_at_the_cap_with_bounded_memory(declared: bool) -> None:
    with HostileServer("big_body", size=300 * MiB, declared=declared) as server:
        result, peak = measure_peak(lambda: exchange(server.base_url, max_bytes=4 * MiB))
    assert result.failure is Failure.TOO_LARGE
    assert peak < 32 * MiB, f"peak {peak / MiB:.1f} MiB"
    classification = classify_exchange(result)
    assert (classification.symptom, classification.retryable) == (Symptom.TRANSPORT, False)


def test_an_endless_body_is_cut_at_the_cap() -> None:
    with HostileServer("endless") as server:
        result = exchange(server.base_url, max_bytes=2 * MiB)
    assert result.failure is Failure.TOO_LARGE


def test_a_gzip_bomb_is_cut_by_decoded_size_with_bounded_memory() -> None:
    with HostileServer("gzip_bomb", decoded_size=1024**3) as server:
        result, peak = measure_peak(lambda: exchange(server.base_url, max_bytes=4 * MiB))
        (request,) = server.requests
    assert request.headers["accept-encoding"] == "identity"
    assert result.failure is Failure.TOO_LARGE
    assert peak < 32 * MiB, f"peak {peak / MiB:.1f} MiB"


@pytest.mark.parametrize(
    ("behaviour", "options", "symptom", "retryable", "status"),
    [
        pytest.param("truncated_json", {}, Symptom.TRANSPORT, True, 200, id="truncated-json"),
        pytest.param("invalid_utf8", {}, Symptom.TRANSPORT, True, 200, id="invalid-utf8"),
        pytest.param("empty_200", {}, Symptom.TRANSPORT, False, 200, id="empty-200"),
        pytest.param("html_200", {}, Symptom.TRANSPORT, False, 200, id="html-200"),
        pytest.param("html_502", {}, Symptom.TRANSPORT, True, 502, id="html-502"),
        pytest.param("json_500", {}, Symptom.SERVER, True, 500, id="json-500"),
        pytest.param(
            "rate_limited", {"retry_after": "7"}, Symptom.RATE_LIMIT, True, 429, id="429-retry-after"
        ),
        pytest.param("status", {"status": 401}, Symptom.AUTH, False, 401, id="401-always"),
    ],
)
def test_misbehaviour_lands_in_its_class(
    behaviour: str, options: dict[str, object], symptom: Symptom, retryable: bool, status: int
) -> None:
    with HostileServer(behaviour, **options) as server:
        result = exchange(server.base_url)
    assert result.failure is None and result.status == status
    classification = classify_exchange(result)
    assert (classification.symptom, classification.retryable) == (symptom, retryable), classification.detail
    if behaviour == "rate_limited":
        assert classification.retry_after_s == 7.0


@pytest.mark.parametrize("behaviour", ["wrong_length", "accept_then_close"])
def test_a_broken_connection_is_a_retryable_transport_failure(behaviour: str) -> None:
    with HostileServer(behaviour) as server:
        result = exchange(server.base_url)
    assert result.failure is Failure.PROTOCOL
    classification = classify_exchange(result)
    assert (classification.symptom, classification.retryable) == (Symptom.TRANSPORT, True)


@pytest.mark.parametrize("same_origin", [False, True], ids=["other-origin", "same-origin"])
def test_redirects_are_not_followed_and_the_key_stays_home(same_origin: bool) -> None:
    with HostileServer("status", status=200) as elsewhere:
        with HostileServer(
            "redirect", location="/moved" if same_origin else elsewhere.base_url + "/v1"
        ) as server:
            result = exchange(server.base_url)
            assert len(server.requests) == 1
        assert elsewhere.requests == []
    assert result.status == 307
    classification = classify_exchange(result)
    assert classification.symptom is Symptom.TRANSPORT and "redirect" in classification.detail


def _sse(*events: bytes, cut: bool = False) -> HostileServer:
    return HostileServer("sse", events=list(events), delay_s=0.01, cut=cut)


CHUNK = (
    b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}\n\n'
)
FINISH = (
    b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
)


def test_a_stream_is_read_as_timed_events() -> None:
    with _sse(b": keep-alive\n\n", CHUNK, FINISH, b"data: [DONE]\n\n") as server:
        result = exchange(server.base_url, stream=True)
    assert [event.data[:6] for event in result.events] == ['{"id":', '{"id":', "[DONE]"]
    assert result.events[0].at_ms <= result.events[-1].at_ms <= result.elapsed_ms
    classification = classify_exchange(result)
    assert (classification.symptom, classification.content) == (Symptom.NONE, "hi")


@pytest.mark.parametrize(
    ("events", "cut", "detail"),
    [
        pytest.param((CHUNK, FINISH), False, "without the terminal", id="no-done"),
        pytest.param(
            (CHUNK, b"data: {garbage\n\n", FINISH, b"data: [DONE]\n\n"), False, "not JSON", id="garbage"
        ),
        pytest.param((CHUNK,), True, "mid-stream", id="cut-mid-way"),
    ],
)
def test_a_broken_stream_is_a_retryable_transport_failure(
    events: tuple[bytes, ...], cut: bool, detail: str
) -> None:
    with _sse(*events, cut=cut) as server:
        result = exchange(server.base_url, stream=True)
    classification = classify_exchange(result)
    assert (classification.symptom, classification.retryable) == (Symptom.TRANSPORT, True)
    assert detail in classification.detail


def test_a_loopback_endpoint_is_never_sent_through_a_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 20: with `http_proxy` set, a real endpoint on 127.0.0.1 was sent through the proxy, key
    included, although loopback never needs one. The proxy here is a listener that records what reaches it."""
    with HostileServer("status", status=502) as proxy, HostileServer("slow_headers", delay_s=0.0) as endpoint:
        for variable in ("http_proxy", "HTTP_PROXY", "all_proxy"):
            monkeypatch.setenv(variable, proxy.base_url)
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)

        async def post() -> Exchange:
            async with ProbeClient(timeout_s=5, max_bytes=1 << 20, trust_env=True) as client:
                request = client.build(
                    endpoint.base_url + "/v1/chat/completions", content=b"{}", key=lambda: KEY
                )
                return await client.exchange(request)

        exchange = asyncio.run(post())
    assert exchange.status == 200 and endpoint.requests
    assert proxy.requests == [], "the request went through the proxy"


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy", "ALL_PROXY"])
def test_a_remote_endpoint_goes_through_the_proxy_the_environment_names(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    """The direct transport speaks no proxy: an https endpoint on another host, with a proxy named by
    the environment, must reach the proxy (a CONNECT to the endpoint), never the network directly.
    `.invalid` never resolves, so a bypass would be a DNS failure, not a CONNECT at the proxy."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    with HostileServer("status", status=502) as proxy:
        monkeypatch.setenv(variable, proxy.base_url)

        async def post() -> Exchange:
            async with ProbeClient(timeout_s=5, max_bytes=1 << 20, trust_env=True) as client:
                request = client.build("https://api.endpoint.invalid/v1/chat/completions", content=b"{}")
                return await client.exchange(request)

        exchange = asyncio.run(post())
        received = proxy.wait_for_requests(1)
    assert [(got.method, got.path) for got in received] == [("CONNECT", "api.endpoint.invalid:443")]
    assert exchange.failure is Failure.PROTOCOL and "ProxyError" in exchange.failure_detail


@pytest.mark.parametrize("host", ["127.0.0.1", "127.3.2.1", "localhost", "[::1]", "api.localhost"])
def test_loopback_hosts_are_recognised(host: str) -> None:
    from workbench.wire.client import is_loopback

    assert is_loopback(host)
    assert not is_loopback("api.example.com") and not is_loopback("10.0.0.1")
