"""HTTP/1.1 straight to the endpoint, on asyncio and h11, behind httpx's transport interface.

httpx's own transport goes through httpcore's connection pool and anyio: a lock, a shielded cancel
scope and a deadline scope per read and write, and a fresh table of socket attributes each time a
pooled connection is checked. Measured on the 50-environment bench (tests/bench/concurrency.py),
that machinery cost about 0.8 ms of CPU per request, a third of the harness's whole CPU per request,
and with many environments probed by one interpreter the CPU per request is what bounds a run.
Here one connection is h11's state machine over an `asyncio.Protocol` (h11 is the parser httpcore
uses too): the request goes out in one write, each read takes whatever has arrived.

What httpcore does that matters is kept: keep-alive with its expiry, an idle connection the server
has closed is never reused, `max_connections` at a time, connect/read/write/pool timeouts, response
headers cut at 100 KiB, a write error still lets an early response be read, and every failure is
raised as httpx's exception of the same name. A connection whose response was not read to its end
(a cap, a deadline, a cancellation), or that brought bytes past its response, is closed, never
reused; informational (1xx) responses without end fail after `MAX_INFORMATIONAL`. Proxies are not
spoken here: the probe client sends a proxied origin through httpx's own transport.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import select
import ssl
from collections import deque
from collections.abc import AsyncIterator, Mapping
from typing import Any

import h11
import httpx

MAX_HEADER_BYTES = 100 * 1024  # httpcore's cap on an incomplete event: response headers past it fail
READ_BYTES = 64 * 1024  # fed to h11 at a time, as httpcore reads it (so the head cap counts the same)
MAX_INFORMATIONAL = 1_000  # 1xx responses before the response: a few are real, without end is a loop
_HIGH_WATER = 256 * 1024  # bytes buffered before the socket stops being read until they are consumed
_HAPPY_EYEBALLS_S = 0.25  # the delay anyio staggers IPv6 and IPv4 attempts by


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _refused(exc: h11.LocalProtocolError) -> httpx.LocalProtocolError:
    """h11's refusal of our own request, without the value it quotes (`Illegal header value
    b'Bearer KEY'`): a header value may be a credential, and the message reaches logs and reports."""
    message, *quoted = re.split(r" b['\"]", str(exc), maxsplit=1)
    return httpx.LocalProtocolError(f"{message} (not shown: it may be a credential)" if quoted else message)


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class _Socket(asyncio.Protocol):
    """One connection's bytes as they arrive, buffered for its reader (reading pauses past a
    high-water mark, so a body is never buffered whole), and its writes with flow control."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._reading_paused = False
        self._writing_paused = False
        self.closed = False  # end of stream, or the connection lost
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > _HIGH_WATER and not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.closed = True
        self._wake()
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._error = exc
        self._writing_paused = False
        self._wake()

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    @property
    def pending(self) -> bool:
        """Bytes arrived that nobody has read (on an idle connection: the server closing it)."""
        return bool(self._chunks)

    async def _wait(self, timeout: float | None) -> None:
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = loop.call_later(timeout, _expire, waiter) if timeout is not None else None
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    async def read(self, timeout: float | None) -> bytes:
        """Whatever has arrived, at most `READ_BYTES` (waiting for some), b"" at the end of the stream."""
        if not self._chunks and not self.closed:
            try:
                await self._wait(timeout)
            except TimeoutError:
                raise httpx.ReadTimeout("timed out waiting for the response") from None
        if self._chunks:
            data = self._chunks.popleft()
            if len(data) > READ_BYTES:  # h11 is fed as httpcore fed it: its head cap counts on that
                self._chunks.appendleft(data[READ_BYTES:])
                data = data[:READ_BYTES]
            elif self._chunks and len(data) + len(self._chunks[0]) <= READ_BYTES:
                pieces, size = [data], len(data)
                while self._chunks and size + len(self._chunks[0]) <= READ_BYTES:
                    pieces.append(self._chunks.popleft())
                    size += len(pieces[-1])
                data = b"".join(pieces)
            self._buffered -= len(data)
            if (
                self._reading_paused
                and self._buffered <= _HIGH_WATER
                and self.transport is not None
                and not self.closed
            ):
                self._reading_paused = False
                self.transport.resume_reading()
            return data
        if self._error is not None:
            raise httpx.ReadError(str(self._error) or type(self._error).__name__)
        return b""

    async def write(self, data: bytes, timeout: float | None) -> None:
        transport = self.transport
        if transport is None or transport.is_closing() or self.closed:
            raise httpx.WriteError("the connection was closed before the request was sent")
        transport.write(data)
        while self._writing_paused and not self.closed:
            try:
                await self._wait(timeout)
            except TimeoutError:
                raise httpx.WriteTimeout("timed out sending the request") from None
        if self._error is not None:
            raise httpx.WriteError(str(self._error) or type(self._error).__name__)


def _readable(transport: asyncio.Transport) -> bool:
    """Whether the socket has something to read now, before the event loop has looked. With `poll`,
    as httpcore checks: `select.select` refuses a descriptor past 1024, and a run holds that many."""
    sock = transport.get_extra_info("socket")
    if sock is None or sock.fileno() < 0:
        return True
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    try:
        return bool(poller.poll(0))
    except OSError:
        return True


class _Connection:
    """One HTTP/1.1 connection: h11's state machine over a `_Socket`."""

    def __init__(self, origin: tuple[str, str, int], transport: asyncio.Transport, sock: _Socket) -> None:
        self.origin = origin
        self.transport = transport
        self.socket = sock
        self.h11 = h11.Connection(our_role=h11.CLIENT, max_incomplete_event_size=MAX_HEADER_BYTES)
        self.idle_since = 0.0

    def usable(self, now: float, keepalive_expiry: float | None) -> bool:
        """Idle, not past its keep-alive expiry, and not closed (nor being closed) by the server."""
        if keepalive_expiry is not None and now - self.idle_since > keepalive_expiry:
            return False
        return not (
            self.socket.closed
            or self.socket.pending
            or self.transport.is_closing()
            or _readable(self.transport)
        )

    async def send(self, request: httpx.Request, timeouts: Mapping[str, Any]) -> h11.Response:
        """Write the request (one write when its body is in memory) and read the response head."""
        write_timeout = timeouts.get("write")
        try:
            head = h11.Request(
                method=request.method, target=request.url.raw_path, headers=request.headers.raw
            )
        except h11.LocalProtocolError as exc:
            raise _refused(exc) from None  # `from exc` would carry the value in the traceback
        try:
            if isinstance(request.stream, httpx.ByteStream):
                body = request.read()
                await self.socket.write(
                    b"".join(
                        self._encode(event)
                        for event in (head, *([h11.Data(data=body)] if body else []), h11.EndOfMessage())
                    ),
                    write_timeout,
                )
            else:  # a streamed body: each piece as it comes
                await self.socket.write(self._encode(head), write_timeout)
                async for piece in request.stream:  # type: ignore[union-attr]
                    if piece:
                        await self.socket.write(self._encode(h11.Data(data=piece)), write_timeout)
                await self.socket.write(self._encode(h11.EndOfMessage()), write_timeout)
        except httpx.WriteError:
            pass  # a server may answer early (413) and close: read what it said, as httpcore does
        read_timeout = timeouts.get("read")
        for _ in range(MAX_INFORMATIONAL + 1):
            event = await self.next_event(read_timeout)
            if isinstance(event, h11.Response):
                return event
            if not isinstance(event, h11.InformationalResponse):  # pragma: no cover - h11 orders events
                raise httpx.RemoteProtocolError(f"unexpected {type(event).__name__} before the response")
        raise httpx.RemoteProtocolError(
            f"more than {MAX_INFORMATIONAL:,} informational (1xx) responses and no response"
        )

    def _encode(self, event: h11.Event) -> bytes:
        try:
            return self.h11.send(event) or b""
        except h11.LocalProtocolError as exc:
            raise _refused(exc) from None

    async def next_event(self, timeout: float | None) -> Any:
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc)) from exc
            if event is not h11.NEED_DATA:
                return event
            data = await self.socket.read(timeout)
            if not data and self.h11.their_state is h11.SEND_RESPONSE:
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
            self.h11.receive_data(data)

    def reusable(self) -> bool:
        """The exchange ended cleanly on both sides, the server keeps the connection open, and sent
        nothing past its response: bytes left over would be read as the next request's answer."""
        return (
            self.h11.our_state is h11.DONE
            and self.h11.their_state is h11.DONE
            and not self.h11.trailing_data[0]
            and not self.socket.pending
        )

    def close(self) -> None:
        self.transport.abort()  # nothing to flush: a request is whole before a response is read


class _Body(httpx.AsyncByteStream):
    """A response body read from its connection; closing it gives the connection back, or closes it."""

    def __init__(self, transport: DirectTransport, connection: _Connection, timeout: float | None) -> None:
        self._transport = transport
        self._connection = connection
        self._timeout = timeout
        self._released = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            while True:
                event = await self._connection.next_event(self._timeout)
                if isinstance(event, h11.Data):
                    yield bytes(event.data)
                elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed) or event is h11.PAUSED:
                    return
        except BaseException:  # a broken body frees its slot at once, as httpcore's does, closed or not
            await self.aclose()
            raise

    async def aclose(self) -> None:
        if not self._released:
            self._released = True
            self._transport._release(self._connection)


class DirectTransport(httpx.AsyncBaseTransport):
    """httpx's transport interface for direct connections (no proxy): HTTP/1.1 with keep-alive, at
    most `max_connections` requests at a time, idle connections kept `keepalive_expiry` seconds."""

    def __init__(
        self, *, ssl_context: ssl.SSLContext, max_connections: int, keepalive_expiry: float | None = 5.0
    ) -> None:
        self._ssl = ssl_context
        self._slots = asyncio.Semaphore(max_connections)
        self._keepalive_expiry = keepalive_expiry
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._open: set[_Connection] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts: Mapping[str, Any] = request.extensions.get("timeout", {})
        url = request.url
        scheme = url.scheme
        if scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}")
        # the host as httpx encoded it (IDNA 2008, as in the Host header): `url.host` is unicode, and
        # Python's resolver and TLS would encode it by IDNA 2003, another domain for some names (ß)
        host = url.raw_host.decode("ascii")
        origin = (scheme, host, url.port or (443 if scheme == "https" else 80))
        await self._acquire(timeouts.get("pool"))
        connection: _Connection | None = None
        try:
            connection = self._checkout(origin) or await self._connect(origin, timeouts.get("connect"))
            event = await connection.send(request, timeouts)
        except BaseException:
            if connection is not None:
                self._discard(connection)
            self._slots.release()
            raise
        return httpx.Response(
            event.status_code,
            headers=event.headers.raw_items(),  # as sent (httpcore kept the case too)
            stream=_Body(self, connection, timeouts.get("read")),
            extensions={"http_version": b"HTTP/" + event.http_version, "reason_phrase": event.reason},
        )

    async def _acquire(self, timeout: float | None) -> None:
        if not self._slots.locked():
            await self._slots.acquire()  # free: returns without suspending
            return
        try:
            async with asyncio.timeout(timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("timed out waiting for a free connection") from None

    def _checkout(self, origin: tuple[str, str, int]) -> _Connection | None:
        idle = self._idle.get(origin)
        now = asyncio.get_running_loop().time()
        while idle:
            connection = idle.pop()
            if connection.usable(now, self._keepalive_expiry):
                return connection
            self._discard(connection)
        return None

    async def _connect(self, origin: tuple[str, str, int], timeout: float | None) -> _Connection:
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, sock = await loop.create_connection(
                    _Socket,
                    host,
                    port,
                    ssl=self._ssl if scheme == "https" else None,
                    server_hostname=host if scheme == "https" else None,
                    # an address needs no race between addresses (and asyncio's race costs a task)
                    happy_eyeballs_delay=None if _is_address(host) else _HAPPY_EYEBALLS_S,
                )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"timed out connecting to {host}:{port}") from None
        except (OSError, ssl.SSLError) as exc:  # refused, unreachable, DNS (socket.gaierror), TLS
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        connection = _Connection(origin, transport, sock)
        self._open.add(connection)
        return connection

    def _release(self, connection: _Connection) -> None:
        """The response is closed: keep the connection if its exchange ended cleanly, else close it."""
        self._slots.release()
        if connection.reusable() and not connection.socket.closed:
            connection.h11.start_next_cycle()
            connection.idle_since = asyncio.get_running_loop().time()
            self._idle.setdefault(connection.origin, []).append(connection)
        else:
            self._discard(connection)

    def _discard(self, connection: _Connection) -> None:
        self._open.discard(connection)
        connection.close()

    async def aclose(self) -> None:
        for connection in list(self._open):
            self._discard(connection)
        self._idle.clear()
