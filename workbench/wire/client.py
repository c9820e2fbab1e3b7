"""The probe engine's HTTP path: one exchange, a total deadline, a bounded read, true timings.

httpx's timeouts are per operation (a server dripping a byte a second never trips a read timeout)
and it has no body cap (a gzip bomb decodes to gigabytes from one small read). So every exchange
here runs under `asyncio.timeout(deadline)` for the whole request/response, and the body is read
raw, decompressed by us with a bounded `max_length`, and cut at `max_bytes`.

Redirects are never followed: a 3xx is a finding (the endpoint moved), and the key can never be
sent to another origin. A key the server echoes back (in a body, a header, an event, a Location) is
redacted here, as the exchange is made, so no reader ever sees it, nor cuts it in half.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import ipaddress
import logging
import ssl
import urllib.request
import zlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from time import perf_counter
from typing import Any

import httpx
from httpx_sse import EventSource, ServerSentEvent, SSEError

from workbench import __version__
from workbench.core.redaction import Redactor
from workbench.wire.stream import event_source
from workbench.wire.transport import DirectTransport

log = logging.getLogger("workbench.client")

USER_AGENT = f"contract-workbench/{__version__}"
_FRAMING = frozenset({"host", "content-length", "transfer-encoding"})  # set by httpx from the URL and body
# The byte cap when no configuration sets one (`max_body_bytes`, whose default it is): saved bodies
# (`workbench classify`) and log lines (`workbench watch`) are read under it too.
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024


class Failure(StrEnum):
    """Why an exchange produced no complete response."""

    CONNECT = "connect"  # refused, DNS, TLS: nothing reached the API
    TIMEOUT = "timeout"  # the total deadline passed
    TOO_LARGE = "too_large"  # the body passed the byte cap (decoded bytes counted)
    PROTOCOL = "protocol"  # the connection broke or the server spoke broken HTTP
    DECODING = "decoding"  # a content-encoding we cannot (or will not) decode


# Events per stream, whatever their size: 900,000 tiny `data: {}` events fit in 8 MB and cost a CPU
# minute to read and judge. A stream gets room for 8 events per token it asked for (a token per
# event, or a character per event, plus empty-choices and usage chunks) and 1,000 more, within
# MAX_EVENTS: more is an endpoint's loop, not an answer.
MAX_EVENTS = 50_000
EVENTS_PER_TOKEN = 8
EVENTS_SLACK = 1_000


def events_for(tokens: int) -> int:
    """The events a stream that asked for `tokens` tokens may send before it is cut."""
    return min(EVENTS_PER_TOKEN * max(tokens, 0) + EVENTS_SLACK, MAX_EVENTS)


# An exchange this large (body bytes, or events) is redacted off the event loop: the other
# environments' requests are timed on that loop.
_YIELD_EVERY = 128  # events read before the loop is given to other exchanges
LARGE_BODY = 256 * 1024
LARGE_EVENTS = 2_000


class ResponseTooLarge(Exception):
    """Raised from inside a bounded stream when the cap is passed."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"response body exceeded the {limit:,}-byte cap")


class TooManyEvents(Exception):
    """Raised while reading a stream when it passes `MAX_EVENTS`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(
            f"the stream passed {limit:,} events, more than an answer of the tokens asked for takes: "
            "reading stopped there"
        )


@dataclass(frozen=True, slots=True)
class Exchange:
    """What happened on the wire for one request: a status and body, or a failure."""

    status: int | None
    headers: Mapping[str, str]
    body: bytes
    elapsed_ms: float  # request sent to last byte read (or to the failure)
    headers_ms: float | None  # request sent to response headers
    failure: Failure | None = None
    failure_detail: str = ""
    events: tuple[TimedEvent, ...] = ()  # SSE events, for a streamed response
    stream_error: str = ""  # how the SSE body broke (protocol error mid-stream), if it did

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def is_stream(self) -> bool:
        return "text/event-stream" in self.content_type


@dataclass(frozen=True, slots=True)
class TimedEvent:
    """One server-sent event and when it arrived (ms after the request was sent)."""

    event: str
    data: str
    at_ms: float


@dataclass(slots=True)
class _Timer:
    start: float = field(default_factory=perf_counter)

    def ms(self) -> float:
        return (perf_counter() - self.start) * 1000.0


class _BoundedStream(httpx.AsyncByteStream):
    """Raw bytes in, decoded bytes out, never more than `limit` of either."""

    def __init__(self, raw: AsyncIterator[bytes], encoding: str, limit: int) -> None:
        self._raw = raw
        self._limit = limit
        self._decoder = _decompressor(encoding)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        raw_total = 0
        decoded_total = 0
        async for chunk in self._raw:
            raw_total += len(chunk)
            if raw_total > self._limit:
                raise ResponseTooLarge(self._limit)
            if self._decoder is None:
                decoded_total += len(chunk)
                if decoded_total > self._limit:
                    raise ResponseTooLarge(self._limit)
                yield chunk
                continue
            data = chunk
            while data:
                piece = self._decoder.decompress(data, self._limit - decoded_total + 1)
                data = self._decoder.unconsumed_tail
                decoded_total += len(piece)
                if decoded_total > self._limit:
                    raise ResponseTooLarge(self._limit)
                if piece:
                    yield piece


def _decompressor(encoding: str) -> Any:
    """A zlib decompressor for gzip/deflate; None for identity; refuses anything else."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip", "deflate"):
        return zlib.decompressobj(zlib.MAX_WBITS | 32)  # auto-detects gzip and zlib headers
    raise httpx.DecodingError(f"unsupported Content-Encoding {encoding!r} (the workbench asked for identity)")


def _proxy_for(url: httpx.URL) -> str | None:
    """The proxy the environment names for `url` (`*_PROXY`, honouring `NO_PROXY`), or None: never
    for a loopback host (a proxy would carry the key off the machine to reach this one)."""
    if is_loopback(url.host) or urllib.request.proxy_bypass(url.host):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(url.scheme) or proxies.get("all")


def plain_http_warning(endpoints: Mapping[str, str]) -> str | None:
    """One line for a run (stderr), naming each environment (name -> base URL) probed over plain
    `http://` at a host that is not this machine: its key and every answer cross the network
    unencrypted. None when there is none (https, or loopback: a local server or a tunnel's end)."""
    plain = [
        f"{name} ({url})"
        for name, url in endpoints.items()
        if url.lower().startswith("http://") and not is_loopback(httpx.URL(url).host)
    ]
    if not plain:
        return None
    return (
        f"warning: plain http:// to a host that is not this machine: {', '.join(plain)}; the key and "
        "every answer cross the network unencrypted: use https://"
    )


def is_loopback(host: str) -> bool:
    """`localhost`, 127.0.0.0/8 or ::1: this machine."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@functools.cache
def _tls_context(trust_env: bool) -> ssl.SSLContext:
    """httpx's default verification (certifi, or SSL_CERT_FILE/SSL_CERT_DIR when trusting the environment)."""
    return httpx.create_ssl_context(trust_env=trust_env)


class ProbeClient:
    """One environment's HTTP client: keep-alive pool, no redirects, deadline and cap on everything.

    It drives a transport directly, without `AsyncClient`'s per-request machinery (cookie jar,
    auth flow, redirect loop): probes never carry state from one request to the next (a session
    cookie would be a hidden credential), and with many environments the client's share of the CPU
    is what bounds a run. A direct origin goes through `DirectTransport` (h11 on asyncio, see
    `wire.transport`); proxies come from the environment (`HTTPS_PROXY`, `NO_PROXY`) when
    `trust_env`, as with httpx, and a proxied origin goes through httpx's own transport; loopback
    endpoints are probed with `trust_env=False`.
    """

    def __init__(
        self,
        *,
        timeout_s: float,
        max_bytes: int,
        max_connections: int = 4,
        trust_env: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
        redact: Redactor | None = None,
        headers: Callable[[], Mapping[str, str]] | None = None,
    ) -> None:
        """`headers`: the extra headers a gateway needs (`headers_env`), read at send time; their
        values are credentials: redacted in every log line, like the key."""
        self.timeout_s = timeout_s
        self._headers = headers
        self._redact = redact or Redactor()
        self.max_bytes = max_bytes
        self._trust_env = trust_env
        self._max_connections = max_connections
        self._limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        # No per-operation timeouts: each would be `timeout_s`, armed after the exchange's own total
        # deadline of `timeout_s`, so none could ever fire first; a timer per read cost CPU for nothing.
        self._timeout: dict[str, float | None] = dict.fromkeys(("connect", "read", "write", "pool"))
        self._given = transport
        self._transports: dict[str | None, httpx.AsyncBaseTransport] = {}
        self._proxies: dict[tuple[str, str], str | None] = {}  # (scheme, host) -> proxy, looked up once
        self._urls: dict[str, httpx.URL] = {}  # parsed once: every probe of an environment posts to one URL

    def _transport(self, url: httpx.URL) -> httpx.AsyncBaseTransport:
        if self._given is not None:
            return self._given
        origin = (url.scheme, url.host)
        if origin not in self._proxies:
            self._proxies[origin] = _proxy_for(url) if self._trust_env else None
        proxy = self._proxies[origin]
        if proxy not in self._transports:
            context = _tls_context(self._trust_env)  # built once: loading the CA store costs ~40 ms
            self._transports[proxy] = (
                DirectTransport(ssl_context=context, max_connections=self._max_connections)
                if proxy is None
                else httpx.AsyncHTTPTransport(verify=context, limits=self._limits, proxy=proxy)
            )
        return self._transports[proxy]

    async def aclose(self) -> None:
        for transport in [*self._transports.values(), *([self._given] if self._given else [])]:
            await transport.aclose()

    async def __aenter__(self) -> ProbeClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def build(
        self,
        url: str,
        *,
        content: bytes,
        key: Callable[[], str | None] | None = None,
        accept: str = "application/json",
        method: str = "POST",
    ) -> httpx.Request:
        """A request; the key is read from `key()` now, at send time, and lives only in the header.

        The headers are given as bytes, in the order httpx would write them for `content=`, and the
        body as a stream already read: httpx's header normalisation was a tenth of the CPU of a
        request, for headers that are the same on every request but the key and the length.
        """
        fields = {
            "User-Agent": USER_AGENT,
            "Accept-Encoding": "identity",
            "Content-Type": "application/json",
            "Accept": accept,
        }
        if self._headers is not None:
            fields.update(self._headers())
        value = key() if key is not None else None
        if value is not None:
            fields["Authorization"] = f"Bearer {value}"
        parsed = self._urls.get(url)
        if parsed is None:
            parsed = self._urls[url] = httpx.URL(url)
        extensions = {"timeout": self._timeout}
        if self._headers is not None and not _FRAMING.isdisjoint(name.lower() for name in fields):
            # a gateway header naming the host or the framing: httpx's own rules decide
            return httpx.Request(method, parsed, content=content, headers=fields, extensions=extensions)
        headers = [(b"Host", parsed.netloc)] if parsed.host else []
        headers += [(name.encode("ascii"), text.encode("ascii")) for name, text in fields.items()]
        headers.append((b"Content-Length", str(len(content)).encode("ascii")))
        request = httpx.Request(
            method, parsed, headers=headers, stream=httpx.ByteStream(content), extensions=extensions
        )
        request.read()  # `request.content`, as for a request built with `content=`
        return request

    async def exchange(self, request: httpx.Request, *, max_events: int = MAX_EVENTS) -> Exchange:
        """Send `request`, read the whole (bounded) response; SSE bodies are read as timed events, at
        most `max_events` of them (see `events_for`).

        Whatever came back has every configured key value redacted before it is returned.
        """
        exchange = await self._exchange(request, min(max_events, MAX_EVENTS))
        if is_large(exchange):
            return await asyncio.to_thread(_redacted, exchange, self._redact)
        return _redacted(exchange, self._redact)

    async def _exchange(self, request: httpx.Request, max_events: int) -> Exchange:
        timer = _Timer()
        headers_ms: float | None = None
        status: int | None = None
        response_headers: Mapping[str, str] = {}
        body = b""
        events: list[TimedEvent] = []
        stream_error = ""
        try:
            async with asyncio.timeout(self.timeout_s):
                response = await self._transport(request.url).handle_async_request(request)
                try:
                    headers_ms = timer.ms()
                    status = response.status_code
                    response_headers = dict(response.headers.items())  # httpx gives lower-case names
                    # the raw bytes, decoded and capped by us: no second Response on the hot path
                    raw = _BoundedStream(
                        response.aiter_raw(), response_headers.get("content-encoding", ""), self.max_bytes
                    )
                    if "text/event-stream" in response_headers.get("content-type", ""):
                        source = event_source(response, aiter(raw))
                        stream_error = await _read_events(source, timer, events, max_events)
                    else:
                        body = b"".join([piece async for piece in raw])
                finally:
                    await response.aclose()
        except Exception as exc:
            failure, detail = _failure_of(exc, self.timeout_s, _host_of(request.url))
            if failure is None:
                raise
            _log(request, None, timer.ms(), failure, self._redact)
            return Exchange(
                status=status,
                headers=response_headers,
                body=body,
                elapsed_ms=timer.ms(),
                headers_ms=headers_ms,
                failure=failure,
                failure_detail=detail,
                events=tuple(events),
            )
        elapsed = timer.ms()
        _log(request, status, elapsed, None, self._redact)
        return Exchange(
            status=status,
            headers=response_headers,
            body=body,
            elapsed_ms=elapsed,
            headers_ms=headers_ms,
            events=tuple(events),
            stream_error=stream_error,
        )


def is_large(exchange: Exchange) -> bool:
    """Large enough that reading it (redacting, judging) belongs off the event loop."""
    return len(exchange.body) > LARGE_BODY or len(exchange.events) > LARGE_EVENTS


def _redacted(exchange: Exchange, redact: Redactor) -> Exchange:
    if not redact:
        return exchange
    headers = exchange.headers
    if redact.holds_key(headers):  # one look at all of them: they rarely hold a key
        headers = {name: redact(value) for name, value in headers.items()}
    return dataclasses.replace(
        exchange,
        headers=headers,
        body=redact.data(exchange.body),
        failure_detail=redact(exchange.failure_detail),
        events=tuple(
            dataclasses.replace(event, event=redact(event.event), data=redact.joined(event.data))
            for event in exchange.events
        ),
        stream_error=redact(exchange.stream_error),
    )


async def _read_events(source: EventSource, timer: _Timer, sink: list[TimedEvent], max_events: int) -> str:
    """Collect SSE events with arrival times; a broken connection mid-stream is returned, not raised.
    Past `max_events` the stream is cut like a body past the byte cap (`TooManyEvents`)."""
    try:
        async for sse in source.aiter_sse():
            if len(sink) >= max_events:
                raise TooManyEvents(max_events)
            sink.append(_timed(sse, timer.ms()))
            if len(sink) % _YIELD_EVERY == 0:
                # one network read may hold thousands of tiny events, parsed without a pause: let
                # the other environments' exchanges, timed on this loop, run in between
                await asyncio.sleep(0)
    except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
        return f"connection broke mid-stream after {len(sink)} events ({type(exc).__name__})"
    except SSEError as exc:  # pragma: no cover - content type checked before
        return str(exc)
    return ""


def _timed(sse: ServerSentEvent, at_ms: float) -> TimedEvent:
    return TimedEvent(event=sse.event, data=sse.data, at_ms=at_ms)


def _host_of(url: httpx.URL) -> str:
    port = url.port or (443 if url.scheme == "https" else 80)
    return f"{url.host}:{port}"


def _failure_of(exc: BaseException, timeout_s: float, host: str) -> tuple[Failure | None, str]:
    """Map an exception from the exchange to a failure kind and a one-line detail naming the host."""
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        if isinstance(exc, httpx.ConnectTimeout):
            return Failure.CONNECT, f"could not connect to {host}: timed out (deadline {timeout_s:g} s)"
        return Failure.TIMEOUT, f"no complete response within the {timeout_s:g} s total deadline"
    if isinstance(exc, ResponseTooLarge | TooManyEvents):
        return Failure.TOO_LARGE, str(exc)
    if isinstance(exc, httpx.ConnectError):
        return Failure.CONNECT, f"could not connect to {host}: {_reason(exc)}"
    if isinstance(exc, httpx.DecodingError | zlib.error):
        return Failure.DECODING, f"could not decode the body: {_reason(exc)}"
    if isinstance(exc, httpx.TransportError):
        return Failure.PROTOCOL, f"connection failed mid-exchange: {type(exc).__name__}: {_reason(exc)}"
    return None, ""


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]


_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "api-key", "cookie"})


def redact_headers(headers: Mapping[str, str], redact: Redactor | None = None) -> dict[str, str]:
    """Headers safe to log: every credential-carrying header replaced, whatever its scheme, and any
    value holding a configured secret (a `headers_env` header of any name) redacted by `redact`."""
    return {
        name: "[REDACTED]" if name.lower() in _CREDENTIAL_HEADERS else (redact(value) if redact else value)
        for name, value in headers.items()
    }


def _log(
    request: httpx.Request, status: int | None, elapsed_ms: float, failure: Failure | None, redact: Redactor
) -> None:
    """Debug log of an exchange: method, URL, redacted request headers, outcome (never a key)."""
    if log.isEnabledFor(logging.DEBUG):
        outcome = str(status) if failure is None else f"failed ({failure})"
        log.debug(
            "%s %s %s -> %s in %.1f ms",
            request.method,
            redact(str(request.url)),
            redact_headers(request.headers, redact),
            outcome,
            elapsed_ms,
        )
