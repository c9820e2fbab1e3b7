"""Prove on the wire that each hostile server misbehaves exactly as documented in tests/hostile.py."""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import struct
import time
import zlib
from collections.abc import Iterator

import httpx
import pytest

from tests.hostile import BEHAVIOURS, CHAT_COMPLETION, HostileServer, gzip_bomb_bytes, refused_url

MIB = 1024 * 1024
CHAT_PATH = "/v1/chat/completions"


@contextlib.contextmanager
def serve(behaviour: str, **options) -> Iterator[HostileServer]:
    """Run a server and fail the test if one of its handlers crashed (a bug in hostile.py)."""
    with HostileServer(behaviour, **options) as server:
        yield server
    assert server.errors == []


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    """One client for the module (building its SSL context costs ~0.1 s); servers always close connections."""
    with httpx.Client(timeout=5.0, trust_env=False) as http:
        yield http


def connect(server: HostileServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=5.0)


def send_request(sock: socket.socket, body: bytes = b'{"model":"m"}', path: str = CHAT_PATH) -> None:
    head = f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
    sock.sendall(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)


def read_head(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, lower-cased headers and whatever body bytes arrived with the head."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before the end of the response head: {data!r}"
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, rest


def read_to_eof(sock: socket.socket, limit: int = 64 * MIB) -> bytes:
    data = bytearray()
    while len(data) < limit:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return bytes(data)


def raw_exchange(server: HostileServer) -> tuple[int, dict[str, str], bytes]:
    with connect(server) as sock:
        send_request(sock)
        status, headers, rest = read_head(sock)
        return status, headers, rest + read_to_eof(sock)


# --- construction and request recording ------------------------------------------------------------------


def test_unknown_behaviour_names_the_choices() -> None:
    with pytest.raises(ValueError, match="trickle"):
        HostileServer("sulky")


def test_unknown_option_is_rejected_before_serving() -> None:
    with pytest.raises(TypeError, match="interval"):
        HostileServer("silent", interval_s=1)
    with pytest.raises(TypeError, match="location"):
        HostileServer("redirect")


def test_refused_is_a_url_not_a_server() -> None:
    assert "refused" in BEHAVIOURS
    with pytest.raises(ValueError, match="refused_url"):
        HostileServer("refused")


def test_requests_are_recorded_with_lower_case_headers_and_body(client: httpx.Client) -> None:
    with serve("json_500") as server:
        client.post(
            server.base_url + CHAT_PATH + "?api-version=1",
            content=b'{"model":"m"}',
            headers={"Authorization": "Bearer sk-test", "X-Custom": "A"},
        )
        client.put(server.base_url + "/other", content=iter([b"chunk", b"ed"]))  # chunked request body
    first, second = server.requests
    assert (first.method, first.path, first.body) == ("POST", CHAT_PATH + "?api-version=1", b'{"model":"m"}')
    assert first.headers["authorization"] == "Bearer sk-test"
    assert first.headers["x-custom"] == "A"
    assert all(name == name.lower() for name in first.headers)
    assert (second.method, second.path, second.body) == ("PUT", "/other", b"chunked")
    assert second.headers["transfer-encoding"] == "chunked"


def test_wait_for_requests_times_out_when_nothing_arrives() -> None:
    with serve("silent") as server, pytest.raises(TimeoutError):
        server.wait_for_requests(1, timeout=0.1)


# --- connection-level failures ---------------------------------------------------------------------------


def test_refused_url_refuses(client: httpx.Client) -> None:
    url = refused_url()
    assert url.startswith("http://127.0.0.1:")
    assert not url.endswith("/")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=1.0)
    with pytest.raises(httpx.ConnectError):
        client.get(url)


def test_silent_reads_the_request_and_never_answers(client: httpx.Client) -> None:
    with serve("silent") as server:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            client.post(
                server.base_url + CHAT_PATH, json={"model": "m"}, timeout=httpx.Timeout(5.0, read=0.3)
            )
        assert 0.25 < time.monotonic() - started < 2.0
        assert server.requests[0].body == b'{"model":"m"}'


def test_silent_holds_the_socket_open_without_a_byte() -> None:
    with serve("silent") as server, connect(server) as sock:
        send_request(sock)
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(1024)
        assert server.open_connections == 1
        assert server.requests[0].path == CHAT_PATH


def test_accept_then_close_sends_fin_without_reading() -> None:
    with serve("accept_then_close") as server, connect(server) as sock:
        assert sock.recv(1024) == b""
    assert server.requests == []


def test_accept_then_close_with_reset_sends_rst() -> None:
    with serve("accept_then_close", reset=True) as server, connect(server) as sock:
        time.sleep(0.1)
        with pytest.raises(ConnectionResetError):
            sock.recv(1024)


def test_accept_then_close_is_a_protocol_or_read_error_for_httpx(client: httpx.Client) -> None:
    # FIN or RST depends on whether the request was already queued when the server closed.
    with serve("accept_then_close") as server, pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.get(server.base_url + CHAT_PATH)


# --- slow bodies -----------------------------------------------------------------------------------------


def test_trickle_sends_one_byte_per_interval() -> None:
    with serve("trickle", interval_s=0.1, total_bytes=6) as server, connect(server) as sock:
        send_request(sock)
        status, headers, rest = read_head(sock)
        head_at = time.monotonic()
        assert (status, headers["content-type"], headers["content-length"]) == (200, "application/json", "6")
        assert rest == b""
        reads, arrivals = [], []
        while chunk := sock.recv(1024):
            reads.append(chunk)
            arrivals.append(time.monotonic())
    assert reads == [b"{", b'"', b"i", b"d", b'"', b":"]
    gaps = [later - earlier for earlier, later in itertools.pairwise([head_at, *arrivals])]
    assert min(gaps) > 0.07, gaps


def test_trickle_defeats_a_per_read_timeout(client: httpx.Client) -> None:
    with serve("trickle", interval_s=0.1, total_bytes=8) as server:
        started = time.monotonic()
        response = client.get(server.base_url, timeout=httpx.Timeout(5.0, read=0.3))
        elapsed = time.monotonic() - started
    assert response.content == b'{"id":"c'
    assert elapsed > 0.7  # well past the 0.3 s read timeout, and no ReadTimeout


def test_trickle_full_body_is_json_of_the_declared_size(client: httpx.Client) -> None:
    with serve("trickle", interval_s=0.0005, total_bytes=200) as server:
        response = client.get(server.base_url)
    assert len(response.content) == 200
    assert json.loads(response.content)["object"] == "chat.completion"


def test_slow_headers_waits_after_the_whole_request_is_read() -> None:
    with serve("slow_headers", delay_s=0.2) as server, connect(server) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 2\r\n\r\n")
        time.sleep(0.3)  # a timer started at accept or at the head would already have run out
        sock.sendall(b"{}")
        body_sent = time.monotonic()
        status, _, rest = read_head(sock)
        waited = time.monotonic() - body_sent
        body = rest + read_to_eof(sock)
    assert status == 200
    assert 0.18 < waited < 1.0
    assert json.loads(body)["choices"][0]["message"]["content"] == "ok"
    assert server.requests[0].body == b"{}"


# --- huge bodies -----------------------------------------------------------------------------------------


def test_endless_keeps_going_past_10_mib(client: httpx.Client) -> None:
    with serve("endless") as server, client.stream("GET", server.base_url) as response:
        assert response.status_code == 200
        assert "content-length" not in response.headers
        assert response.headers["transfer-encoding"] == "chunked"
        received, first = 0, b""
        chunks = response.iter_raw()
        for chunk in chunks:
            first = first or chunk
            received += len(chunk)
            if received > 10 * MIB:
                break
        assert first.startswith(b'{"a":"xxxx')
        assert len(next(chunks)) > 0  # and it is still going


def test_endless_without_chunking_is_close_delimited() -> None:
    with serve("endless", chunked=False, content_type="text/plain") as server, connect(server) as sock:
        send_request(sock)
        _, headers, rest = read_head(sock)
        assert headers["content-type"] == "text/plain"
        assert "content-length" not in headers
        assert "transfer-encoding" not in headers
        assert headers["connection"] == "close"
        data = rest + read_to_eof(sock, limit=2 * MIB)
    assert len(data) >= 2 * MIB
    assert data.startswith(b'{"a":"')


def test_big_body_declares_300_mib_and_streams_it(client: httpx.Client) -> None:
    with serve("big_body") as server, client.stream("GET", server.base_url) as response:
        assert int(response.headers["content-length"]) == 300 * MIB
        received = b""
        for chunk in response.iter_raw():
            received += chunk
            if len(received) >= 4 * MIB:
                break
    assert received.startswith(b'{"id":"chatcmpl-big","object":"chat.completion"')
    assert received[1 * MIB : 4 * MIB].strip(b"x") == b""


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "close-delimited"])
@pytest.mark.parametrize("size", [0, 10, 200_000, 3 * 64 * 1024 + 7])
def test_big_body_is_exactly_size_bytes(declared: bool, size: int) -> None:
    with serve("big_body", size=size, declared=declared) as server:
        status, headers, body = raw_exchange(server)
    assert status == 200
    assert len(body) == size
    assert headers.get("content-length") == (str(size) if declared else None)
    if size > 200:
        assert json.loads(body)["object"] == "chat.completion"


def test_gzip_bomb_is_small_on_the_wire_and_ignores_identity(client: httpx.Client) -> None:
    with serve("gzip_bomb") as server:
        with client.stream("POST", server.base_url, headers={"Accept-Encoding": "identity"}) as response:
            raw = b"".join(response.iter_raw())
        assert server.requests[0].headers["accept-encoding"] == "identity"
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["content-type"] == "application/json"
    assert len(raw) == int(response.headers["content-length"]) < 2 * MIB
    assert raw[:2] == b"\x1f\x8b"
    assert struct.unpack("<I", raw[-4:])[0] == (1024**3) % 2**32  # gzip ISIZE: decoded length mod 2**32
    first_mib = zlib.decompressobj(zlib.MAX_WBITS | 16).decompress(raw, MIB)
    assert first_mib == b" " * MIB


@pytest.mark.parametrize("decoded_size", [0, 1, 2 * MIB, 3 * MIB + 12345])
def test_gzip_bomb_bytes_inflate_to_exactly_decoded_size(decoded_size: int) -> None:
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)  # raises on a bad CRC or length
    decoded = inflater.decompress(gzip_bomb_bytes(decoded_size)) + inflater.flush()
    assert inflater.eof
    assert inflater.unused_data == b""
    assert decoded == b" " * decoded_size


def test_gzip_bomb_bytes_are_cached() -> None:
    assert gzip_bomb_bytes(5 * MIB) is gzip_bomb_bytes(5 * MIB)


def test_gzip_bomb_defeats_a_cap_on_decoded_chunks(client: httpx.Client) -> None:
    with (
        serve("gzip_bomb", decoded_size=64 * MIB) as server,
        client.stream("GET", server.base_url) as response,
    ):
        raw_size = int(response.headers["content-length"])
        largest = max(len(chunk) for chunk in response.iter_bytes())
    assert raw_size < 100 * 1024
    assert largest > 4 * MIB  # one small network read became megabytes of decoded data


# --- broken or unexpected bodies -------------------------------------------------------------------------


def test_truncated_json_is_consistently_framed_but_cut() -> None:
    with serve("truncated_json") as server:
        status, headers, body = raw_exchange(server)
    assert (status, headers["content-type"]) == (200, "application/json")
    assert int(headers["content-length"]) == len(body)
    assert body.startswith(b'{"id":"chatcmpl-1","object":"chat.completion"')
    assert body.endswith(b'"mess')
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)


def test_wrong_length_sends_50_of_1000_bytes(client: httpx.Client) -> None:
    with serve("wrong_length") as server:
        status, headers, body = raw_exchange(server)
        assert (status, headers["content-length"], len(body)) == (200, "1000", 50)
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(server.base_url)


def test_invalid_utf8_is_json_in_every_way_but_its_encoding() -> None:
    with serve("invalid_utf8") as server:
        status, headers, body = raw_exchange(server)
    assert (status, headers["content-type"]) == (200, "application/json; charset=utf-8")
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    assert json.loads(body.decode("latin-1"))["object"] == "chat.completion"


def test_empty_200(client: httpx.Client) -> None:
    with serve("empty_200") as server:
        response = client.get(server.base_url)
    assert (response.status_code, response.headers["content-length"], response.content) == (200, "0", b"")


def test_html_200_is_a_login_page(client: httpx.Client) -> None:
    with serve("html_200") as server:
        response = client.post(server.base_url + CHAT_PATH, json={})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<form" in response.text
    assert "<title>Sign in" in response.text


def test_html_502_is_nginx(client: httpx.Client) -> None:
    with serve("html_502") as server:
        response = client.post(server.base_url + CHAT_PATH, json={})
    assert (response.status_code, response.headers["server"]) == (502, "nginx")
    assert response.headers["content-type"] == "text/html"
    assert "<title>502 Bad Gateway</title>" in response.text


def test_json_500_is_the_openai_envelope(client: httpx.Client) -> None:
    with serve("json_500") as server:
        response = client.post(server.base_url + CHAT_PATH, json={})
    assert response.status_code == 500
    assert response.json() == {
        "error": {
            "message": "The server had an error while processing your request.",
            "type": "server_error",
            "param": None,
            "code": None,
        }
    }


@pytest.mark.parametrize(("retry_after", "expected"), [("7", "7"), ("0.5", "0.5"), (None, None)])
def test_rate_limited(client: httpx.Client, retry_after: str | None, expected: str | None) -> None:
    with serve("rate_limited", retry_after=retry_after) as server:
        response = client.post(server.base_url + CHAT_PATH, json={})
    assert response.status_code == 429
    assert response.headers.get("retry-after") == expected
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("requests", "rate_limit_exceeded")


def test_status_defaults_to_openai_401(client: httpx.Client) -> None:
    with serve("status") as server:
        response = client.get(server.base_url)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_status_sends_any_canned_response(client: httpx.Client) -> None:
    options = {
        "status": 418,
        "body": b"short and stout",
        "content_type": "text/plain",
        "headers": {"X-A": "b"},
    }
    with serve("status", **options) as server:
        response = client.get(server.base_url)
    assert (response.status_code, response.reason_phrase) == (418, "I'm a Teapot")
    assert (response.headers["content-type"], response.headers["x-a"]) == ("text/plain", "b")
    assert response.content == b"short and stout"


# --- redirects -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirect_answers_status_and_location(status: int) -> None:
    with serve("redirect", location="https://elsewhere.example/v1", status=status) as server:
        got, headers, body = raw_exchange(server)
    assert (got, headers["location"], body) == (status, "https://elsewhere.example/v1", b"")


def test_redirect_to_another_origin_drops_only_authorization(client: httpx.Client) -> None:
    headers = {"Authorization": "Bearer sk-secret", "X-Api-Key": "sk-secret"}
    with serve("status", status=200, body=CHAT_COMPLETION) as target:
        with serve("redirect", location=target.base_url + CHAT_PATH) as origin:
            response = client.post(
                origin.base_url + CHAT_PATH, json={}, headers=headers, follow_redirects=True
            )
        assert response.status_code == 200
        assert [r.status_code for r in response.history] == [307]
        assert origin.requests[0].headers["authorization"] == "Bearer sk-secret"
        forwarded = target.requests[0]
    assert (forwarded.method, forwarded.path, forwarded.body) == ("POST", CHAT_PATH, b"{}")
    assert "authorization" not in forwarded.headers  # httpx strips it when the port changes...
    assert forwarded.headers["x-api-key"] == "sk-secret"  # ...but forwards other credentials


def test_redirect_to_a_path_on_the_same_server_ends_there(client: httpx.Client) -> None:
    with serve("redirect", location="/v2/final") as server:
        response = client.get(server.base_url + "/v1", headers={"Authorization": "k"}, follow_redirects=True)
    assert response.status_code == 200
    assert [r.path for r in server.requests] == ["/v1", "/v2/final"]
    assert server.requests[1].headers["authorization"] == "k"


# --- server-sent events ----------------------------------------------------------------------------------

EVENTS = [b'data: {"choices":[]}\n\n', b": keep-alive\n\n", b"data: {not json\n\n", b"data: [DONE]\n\n"]


def read_chunks(sock: socket.socket, buffer: bytes) -> tuple[list[tuple[float, bytes]], bool]:
    """Decode chunked framing until EOF: (arrival time, chunk) pairs and whether the terminator came."""
    chunks: list[tuple[float, bytes]] = []
    while True:
        while b"\r\n" not in buffer:
            data = sock.recv(65536)
            if not data:
                assert buffer == b"", f"EOF inside a chunk header: {buffer!r}"
                return chunks, False
            buffer += data
        size_line, buffer = buffer.split(b"\r\n", 1)
        size = int(size_line, 16)
        while len(buffer) < size + 2:
            data = sock.recv(65536)
            assert data, "EOF inside a chunk"
            buffer += data
        if size == 0:
            return chunks, True
        chunks.append((time.monotonic(), buffer[:size]))
        assert buffer[size : size + 2] == b"\r\n"
        buffer = buffer[size + 2 :]


@pytest.mark.parametrize("cut", [False, True], ids=["terminated", "cut"])
def test_sse_writes_each_event_separately(cut: bool) -> None:
    with serve("sse", events=EVENTS, delay_s=0.1, cut=cut) as server, connect(server) as sock:
        send_request(sock)
        status, headers, rest = read_head(sock)
        chunks, terminated = read_chunks(sock, rest)
    assert status == 200
    assert (headers["content-type"], headers["transfer-encoding"]) == ("text/event-stream", "chunked")
    assert [chunk for _, chunk in chunks] == EVENTS
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(chunks)]
    assert min(gaps) > 0.07, gaps
    assert terminated is not cut


def test_sse_cut_is_a_protocol_error_for_httpx_after_all_events(client: httpx.Client) -> None:
    received = b""
    with (
        serve("sse", events=EVENTS, cut=True) as server,
        client.stream("POST", server.base_url) as response,
        pytest.raises(httpx.RemoteProtocolError),
    ):
        for chunk in response.iter_bytes():
            received += chunk
    assert received == b"".join(EVENTS)


def test_sse_terminated_stream_reads_cleanly(client: httpx.Client) -> None:
    with serve("sse", events=EVENTS) as server:
        response = client.post(server.base_url)
    assert response.content == b"".join(EVENTS)


# --- stopping --------------------------------------------------------------------------------------------

STUCK = {
    "silent": ("silent", {}),
    "trickle": ("trickle", {"interval_s": 0.5}),
    "endless-unread": ("endless", {}),
    "big_body-unread": ("big_body", {}),
    "sse-between-events": ("sse", {"events": [b"data: 1\n\n", b"data: 2\n\n"], "delay_s": 30.0}),
    "slow_headers": ("slow_headers", {"delay_s": 30.0}),
    "half-sent-request": ("silent", {}),
}


@pytest.mark.parametrize("case", list(STUCK))
def test_stop_is_quick_while_clients_are_connected(case: str) -> None:
    behaviour, options = STUCK[case]
    server = HostileServer(behaviour, **options).start()
    clients = [connect(server) for _ in range(3)]
    try:
        for sock in clients:
            if case == "half-sent-request":
                sock.sendall(b"POST / HTTP/1.1\r\nHost: te")
            else:
                send_request(sock)
        if case == "half-sent-request":
            deadline = time.monotonic() + 2.0
            while server.open_connections < 3 and time.monotonic() < deadline:
                time.sleep(0.01)
        else:
            server.wait_for_requests(3)
        time.sleep(0.1)  # let senders fill the socket buffers and block
        assert server.open_connections == 3
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 1.0
        assert server.open_connections == 0
        assert server.errors == []
        for sock in clients:
            read_to_eof(sock)  # returns: the server closed its side
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", server.port), timeout=1.0)
    finally:
        server.stop()
        for sock in clients:
            sock.close()


def test_stop_without_start_releases_the_port() -> None:
    server = HostileServer("silent")
    server.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1.0)
