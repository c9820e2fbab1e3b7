"""The direct HTTP/1.1 transport against a real keep-alive server on loopback: connections reused,
and never reused when the server closed them or a response was not read to its end.

The server here speaks raw HTTP/1.1 over a socket (one thread per connection), because the cases
are about connections: what it does after each response (keep the connection, or close it as an
idle timeout does, without saying so) is the point. `HostileServer` always says `Connection: close`.
"""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.canary import canary_key
from tests.hostile import hostile_process, refused_url
from workbench.wire.client import Exchange, Failure, ProbeClient, _tls_context
from workbench.wire.transport import MAX_HEADER_BYTES, MAX_INFORMATIONAL, DirectTransport

BODY = b'{"ok": true}'


@dataclass
class KeepAliveServer:
    """Answers each request with `BODY` (Content-Length framing); `close_after` closes the connection
    after that many responses without a `Connection: close` header; `big` answers `big` bytes
    instead; `header_bytes` pads the response head; `answers` are sent as they are, byte for byte,
    to the first requests (the nth to the nth request the server reads, on whichever connection)."""

    close_after: int | None = None
    big: int = 0
    header_bytes: int = 0
    tls: ssl.SSLContext | None = None  # serve HTTPS with this server-side context
    answers: tuple[bytes, ...] = ()
    connections: int = 0
    requests: int = 0
    eof_seen: int = 0  # connections the client closed
    _sock: socket.socket = field(default_factory=lambda: socket.create_server(("127.0.0.1", 0)))
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self._sock.getsockname()[1]}/v1/chat/completions"

    def __post_init__(self) -> None:
        self._sock.settimeout(0.05)  # here, not in `serve`: a test may stop the server before it serves

    def serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:  # stopped: the listening socket is closed
                return
            self.connections += 1
            threading.Thread(target=self._connection, args=(client,), daemon=True).start()

    def _connection(self, client: socket.socket) -> None:
        try:
            if self.tls is not None:
                client = self.tls.wrap_socket(client, server_side=True)
            self._answer(client)
        except OSError:  # the client reset the connection (a cut body), or the test ended
            self.eof_seen += 1

    def _answer(self, client: socket.socket) -> None:
        buffer, answered = b"", 0
        client.settimeout(5)
        with client:
            while not self._stop.is_set():
                while b"\r\n\r\n" not in buffer:
                    data = client.recv(65536)
                    if not data:
                        self.eof_seen += 1
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = int(
                    next(
                        line.split(b":")[1]
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    )
                )
                while len(buffer) < length:
                    buffer += client.recv(65536)
                buffer = buffer[length:]
                self.requests += 1
                client.sendall(self._response())
                answered += 1
                if self.close_after is not None and answered >= self.close_after:
                    return  # as a server whose idle timeout passed: no `Connection: close` said

    def _response(self) -> bytes:
        if self.requests <= len(self.answers):
            return self.answers[self.requests - 1]
        body = b"x" * self.big if self.big else BODY
        padding = b"X-Pad: " + b"p" * self.header_bytes + b"\r\n" if self.header_bytes else b""
        return (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + padding
            + b"Content-Length: %d\r\n\r\n" % len(body)
            + body
        )

    def stop(self) -> None:
        self._stop.set()
        self._sock.close()


@contextmanager
def keep_alive_server(
    *,
    close_after: int | None = None,
    big: int = 0,
    header_bytes: int = 0,
    tls: ssl.SSLContext | None = None,
    answers: tuple[bytes, ...] = (),
) -> Iterator[KeepAliveServer]:
    server = KeepAliveServer(
        close_after=close_after, big=big, header_bytes=header_bytes, tls=tls, answers=answers
    )
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop()
        thread.join(timeout=2)


def exchanges(url: str, count: int, *, pause_s: float = 0.0, max_bytes: int = 1 << 20) -> list[Exchange]:
    """`count` requests one after another through one probe client (one keep-alive pool)."""

    async def go() -> list[Exchange]:
        done = []
        async with ProbeClient(
            timeout_s=5, max_bytes=max_bytes, max_connections=1, trust_env=False
        ) as client:
            for _ in range(count):
                done.append(await client.exchange(client.build(url, content=b"{}", key=lambda: "k")))
                if pause_s:
                    await asyncio.sleep(pause_s)
        return done

    return asyncio.run(go())


def test_requests_one_after_another_share_one_connection() -> None:
    with keep_alive_server() as server:
        done = exchanges(server.url, 5)
    assert [exchange.status for exchange in done] == [200] * 5
    assert [exchange.body for exchange in done] == [BODY] * 5
    assert (server.connections, server.requests) == (1, 5)


def test_a_connection_the_server_closed_is_not_reused() -> None:
    """A server that closes each connection after answering, without saying so (an idle timeout, a
    request limit): every next request goes out on a new connection, and none fails.

    Observed: sent at once after the response, the next request can still meet the connection
    before the server's FIN does, and fails as "Server disconnected without sending a response";
    httpx's own transport did so in 6 of 120 such requests, this one in 8 of 120. No client can
    know a POST was not read, so neither retries; after a pause the closed connection is known."""
    with keep_alive_server(close_after=1) as server:
        done = exchanges(server.url, 4, pause_s=0.05)
    assert [(exchange.status, exchange.failure) for exchange in done] == [(200, None)] * 4
    assert server.connections == 4


def test_a_response_not_read_to_its_end_closes_its_connection() -> None:
    """A body past the cap is cut: what is left of it must never be read as the next response."""
    with keep_alive_server(big=200_000) as server:
        done = exchanges(server.url, 3, max_bytes=100_000)
    assert [exchange.failure for exchange in done] == [Failure.TOO_LARGE] * 3
    assert server.connections == 3


def test_response_headers_past_the_cap_are_a_protocol_failure() -> None:
    """httpcore refused response heads over about 100 KiB (NOTES.md: h11 gives up when 100 KiB are
    buffered without a complete head, fed 64 KiB at a time); so does the direct transport."""
    with keep_alive_server(header_bytes=2 * MAX_HEADER_BYTES) as server:
        (done,) = exchanges(server.url, 1)
    assert done.failure is Failure.PROTOCOL and done.status is None
    with keep_alive_server(header_bytes=MAX_HEADER_BYTES // 2) as server:
        (done,) = exchanges(server.url, 1)
    assert done.status == 200


def test_requests_wait_for_the_one_connection_allowed() -> None:
    """`max_connections=1`: two requests at once take turns on one connection."""
    with keep_alive_server() as server:

        async def go() -> list[int]:
            async with ProbeClient(
                timeout_s=5, max_bytes=1 << 20, max_connections=1, trust_env=False
            ) as client:
                sent = [client.exchange(client.build(server.url, content=b"{}")) for _ in range(2)]
                return [exchange.status or 0 for exchange in await asyncio.gather(*sent)]

        assert asyncio.run(go()) == [200, 200]
        assert (server.connections, server.requests) == (1, 2)


def test_closing_the_transport_closes_its_idle_connections() -> None:
    with keep_alive_server() as server:
        exchanges(server.url, 2)
        deadline = time.monotonic() + 2
        while server.eof_seen < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.eof_seen == 1


def test_a_cancelled_request_leaves_no_connection_behind() -> None:
    """A request cancelled while it waits for its response (a run's Ctrl-C, a deadline) closes its
    connection: the next request never reads the answer meant for the cancelled one."""
    listener = socket.create_server(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/"

    async def go() -> tuple[int, bool]:
        transport = DirectTransport(ssl_context=_tls_context(False), max_connections=1)
        request = httpx.Request("POST", url, content=b"{}")
        task = asyncio.create_task(transport.handle_async_request(request))
        await asyncio.sleep(0.1)  # connected and sent; the server never answers
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        idle = sum(len(connections) for connections in transport._idle.values())
        await transport.aclose()
        return idle, bool(transport._open)

    try:
        assert asyncio.run(go()) == (0, False)
    finally:
        listener.close()


def test_a_refused_connection_is_a_connect_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]

    async def go() -> None:
        transport = DirectTransport(ssl_context=_tls_context(False), max_connections=1)
        await transport.handle_async_request(httpx.Request("POST", f"http://127.0.0.1:{port}/", content=b""))

    with pytest.raises(httpx.ConnectError, match=r"refused|failed"):
        asyncio.run(go())


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made by the openssl command (no key is committed)."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _https_exchanges(url: str, count: int, context: ssl.SSLContext) -> list[httpx.Response | Exception]:
    async def go() -> list[httpx.Response | Exception]:
        transport = DirectTransport(ssl_context=context, max_connections=1)
        done: list[httpx.Response | Exception] = []
        try:
            for _ in range(count):
                try:
                    response = await transport.handle_async_request(httpx.Request("POST", url, content=b"{}"))
                    await response.aread()
                    done.append(response)
                except httpx.TransportError as exc:
                    done.append(exc)
        finally:
            await transport.aclose()
        return done

    return asyncio.run(go())


def test_https_is_verified_and_kept_alive(certificate: tuple[Path, Path]) -> None:
    """Production endpoints are https: the certificate is verified against the context's trust
    store (a server it does not trust is a connect error), and the connection is kept alive."""
    cert, key = certificate
    served = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    served.load_cert_chain(cert, key)
    with keep_alive_server(tls=served) as server:
        trusting = ssl.create_default_context(cafile=str(cert))
        done = _https_exchanges(server.url, 3, trusting)
        assert [getattr(r, "status_code", r) for r in done] == [200] * 3
        assert all(isinstance(r, httpx.Response) and r.content == BODY for r in done)
        assert server.connections == 1
        (refused,) = _https_exchanges(server.url, 1, ssl.create_default_context())
        # the trusted certificate names 127.0.0.1 only: reached as `localhost`, the name must not match
        (mismatched,) = _https_exchanges(server.url.replace("127.0.0.1", "localhost"), 1, trusting)
    assert isinstance(refused, httpx.ConnectError) and "CERTIFICATE_VERIFY_FAILED" in str(refused)
    assert isinstance(mismatched, httpx.ConnectError) and "Hostname mismatch" in str(mismatched)


def test_a_header_value_h11_refuses_never_shows_the_key() -> None:
    """A key read from its variable with a line break in it (a file's last newline) is refused by
    h11 before anything is sent, with a message that quoted the whole header, `Bearer KEY`.

    Observed: h11's `Illegal header value b'Bearer sk-...\\n'` escaped the transport as a raw
    `h11.LocalProtocolError`, not an httpx error: the probe client let it through unclassified, key
    and all (httpcore raises it as httpx's `LocalProtocolError`). Now it is a protocol failure whose
    message names the refusal, never the value."""
    secret = canary_key("refused")
    key = secret + "\n"
    with keep_alive_server() as server:

        async def go() -> Exchange:
            async with ProbeClient(timeout_s=5, max_bytes=1 << 20, trust_env=False) as client:
                return await client.exchange(client.build(server.url, content=b"{}", key=lambda: key))

        done = asyncio.run(go())
        assert done.failure is Failure.PROTOCOL and "Illegal header value" in done.failure_detail
        assert secret not in done.failure_detail and secret[-12:] not in done.failure_detail
        assert server.requests == 0


def test_connections_are_reused_above_file_descriptor_1024() -> None:
    """A run probing many environments holds many sockets. `select.select` refuses a descriptor at
    or past FD_SETSIZE (1024) with ValueError, which the idle check took for "the server closed it":
    observed, 5 requests opened 5 connections once the process held 1,100 descriptors. httpcore
    checks with `select.poll`, which has no such limit; so does the direct transport."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = 1200
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"needs {needed} file descriptors, the hard limit is {hard}")
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    filler = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        with keep_alive_server() as server:
            done = exchanges(server.url, 3)
    finally:
        for descriptor in filler:
            os.close(descriptor)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert [exchange.status for exchange in done] == [200] * 3
    assert server.connections == 1


def test_bytes_past_a_response_are_never_read_as_the_next_one() -> None:
    """A server that sends more than its response says (a Content-Length too small, a response
    pipelined ahead of any request): the connection must not carry the rest to the next request.

    Observed: sent in one write, the extra bytes arrived in the same read, waited in h11's buffer
    after the first response ended, and the next request on the kept connection was answered by
    them (body "forged") before the server had read it; httpcore did the same. A connection with
    bytes left over is closed now, and the next request gets its own answer on a new one."""
    forged = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged"
    first = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + forged
    with keep_alive_server(answers=(first,)) as server:
        done = exchanges(server.url, 2)
    assert [exchange.body for exchange in done] == [b"ok", BODY]
    assert server.connections == 2


def test_informational_responses_without_end_are_a_protocol_failure() -> None:
    """1xx responses (100 Continue, 102 Processing, 103 Early Hints) come before the response, a
    few at most. A server sending them without end kept the client parsing at full CPU until the
    total deadline, with no byte cap to stop it, as httpcore does (observed: a 1 s deadline, 1.0 s of
    CPU, every other environment's timings on that loop delayed). Past `MAX_INFORMATIONAL` it fails."""
    flood = b"HTTP/1.1 102 Processing\r\n\r\n" * (MAX_INFORMATIONAL + 1)
    response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    hint = b"HTTP/1.1 103 Early Hints\r\n\r\n"
    with keep_alive_server(answers=(flood + response, hint + response)) as server:
        cut, hinted = exchanges(server.url, 2)
    assert cut.failure is Failure.PROTOCOL and f"{MAX_INFORMATIONAL:,} informational" in cut.failure_detail
    assert (hinted.status, hinted.body) == (200, b"ok")


def test_a_body_that_breaks_gives_its_connection_slot_back() -> None:
    """A response whose body breaks (here: the server promises 10 bytes, sends 2 and closes) frees
    its slot as the error is raised, as httpcore's body stream does, even if the caller never
    closes the response: with `max_connections=1`, observed, the next request waited forever."""
    broken = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok"
    with keep_alive_server(answers=(broken,), close_after=1) as server:

        async def go() -> bytes:
            transport = DirectTransport(ssl_context=_tls_context(False), max_connections=1)
            try:
                request = httpx.Request("POST", server.url, content=b"{}")
                response = await transport.handle_async_request(request)
                with pytest.raises(httpx.RemoteProtocolError):
                    await response.aread()  # not closed after
                response = await asyncio.wait_for(transport.handle_async_request(request), 2)
                return await response.aread()
            finally:
                await transport.aclose()

        assert asyncio.run(go()) == BODY


def test_an_international_host_is_reached_by_the_name_httpx_encoded(monkeypatch: pytest.MonkeyPatch) -> None:
    """`straße.example` is `xn--strae-oqa.example` to httpx (IDNA 2008, the Host header it writes,
    and what httpcore connects to), but Python's own codec (IDNA 2003) makes it `strasse.example`,
    another domain: given the unicode `url.host`, the transport resolved, connected and verified
    TLS for that other host, and sent it the key. The resolver here is a stub that records the
    name asked for and answers 127.0.0.1 (the HTTP is a real loopback server)."""
    asked: list[str] = []

    def resolve(host: str, port: int, *args: object, **kwargs: object) -> list[Any]:
        asked.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", port))]

    with keep_alive_server() as server:
        port = httpx.URL(server.url).port
        monkeypatch.setattr(socket, "getaddrinfo", resolve)
        (done,) = exchanges(f"http://straße.example:{port}/v1/chat/completions", 1)
    assert (done.status, asked) == (200, ["xn--strae-oqa.example"])


def _descriptors() -> int:
    return sum(1 for _ in Path("/proc/self/fd").iterdir())


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts descriptors in /proc")
def test_failing_exchanges_leave_no_descriptor_open() -> None:
    """200 exchanges that fail (a body cut short, a deadline while the server holds the request,
    a refused connection) through one client: when they are over, the process holds no more
    descriptors than before (the servers run in processes of their own, so only the client's are
    counted; observed: none left over)."""
    with hostile_process("wrong_length") as cut, hostile_process("silent") as silent:

        async def go() -> tuple[int, set[Failure | None]]:
            before = _descriptors()
            failures = set()
            for url, count, deadline in ((cut, 100, 5.0), (silent, 50, 0.005), (refused_url(), 50, 5.0)):
                async with ProbeClient(timeout_s=deadline, max_bytes=1 << 20, trust_env=False) as client:
                    for _ in range(count):
                        request = client.build(url + "/v1/chat/completions", content=b"{}")
                        failures.add((await client.exchange(request)).failure)
            return _descriptors() - before, failures

        left, failures = asyncio.run(go())
    assert failures == {Failure.PROTOCOL, Failure.TIMEOUT, Failure.CONNECT}
    assert left <= 0
