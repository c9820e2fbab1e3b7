"""Purpose-built misbehaving HTTP servers for loopback tests.

Each behaviour imitates one real-world failure of a chat-completions endpoint (a proxy that never
answers, a body that never ends, a gzip bomb, an HTML error page, an SSE stream cut mid-way...).
The server speaks raw HTTP/1.1 over a plain TCP socket, because several behaviours must break HTTP::

    with HostileServer("trickle", interval_s=0.5) as server:
        httpx.get(server.base_url + "/v1/models")   # one body byte every 0.5 s
        server.requests[0].headers["user-agent"]

Every connection gets its own daemon thread; `stop()` shuts all client sockets down and returns in well
under a second even while a response is trickling, silent or endless. Responses always carry
`Connection: close` (where there is a response at all) so that every request opens a new connection.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http
import inspect
import json
import re
import socket
import struct
import threading
import time
import urllib.parse
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "BEHAVIOURS",
    "ECHO_MODES",
    "STRADDLE_AT",
    "HostileServer",
    "ReceivedRequest",
    "echoed_forms",
    "gzip_bomb_bytes",
    "hostile_process",
    "refused_url",
]

_POLL_S = 0.05  # socket and accept timeout: how quickly a thread notices that the server is stopping
_STOP_DEADLINE_S = 0.8
_PIECE = 64 * 1024
_MAX_HEAD = 256 * 1024
_MAX_REQUEST_BODY = 64 * 1024 * 1024

CHAT_COMPLETION = json.dumps(
    {
        "id": "chatcmpl-hostile",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "hostile-test",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
).encode()

_COMPLETION_PREFIX = (
    b'{"id":"chatcmpl-hostile","object":"chat.completion","choices":[{"index":0,'
    b'"message":{"role":"assistant","content":"'
)
_COMPLETION_SUFFIX = b'"},"finish_reason":"stop"}]}'
_FILLER = b"x" * _PIECE


def _error_envelope(message: str, type_: str, code: str | None) -> bytes:
    return json.dumps({"error": {"message": message, "type": type_, "param": None, "code": code}}).encode()


_CAPTIVE_PORTAL = b"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Sign in to Guest Wi-Fi</title></head>
<body>
<h1>Welcome to Guest Wi-Fi</h1>
<p>Please sign in and accept the terms of use to continue.</p>
<form method="post" action="/login">
<input type="email" name="email" placeholder="Email">
<label><input type="checkbox" name="accept" value="yes"> I accept the terms</label>
<button type="submit">Connect</button>
</form>
</body>
</html>
"""
_NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the server read it off the wire (header names lower-cased, duplicates joined)."""

    method: str
    path: str  # the request target as sent, query string included
    headers: dict[str, str]
    body: bytes


def refused_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: a server that is down (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --- gzip bomb ------------------------------------------------------------------------------------------

_BOMB_BLOCK = 1024 * 1024
_GZIP_CACHE: dict[int, bytes] = {}
_GZIP_LOCK = threading.Lock()


def gzip_bomb_bytes(decoded_size: int) -> bytes:
    """A small gzip stream (level 9) that inflates to `decoded_size` spaces; built once per size.

    Built fast: each MiB is deflated with a full flush (byte-aligned, dictionary reset), so one compressed
    MiB can be repeated; the CRC of the repeats is combined arithmetically instead of hashing 1 GiB.
    """
    with _GZIP_LOCK:
        cached = _GZIP_CACHE.get(decoded_size)
        if cached is None:
            cached = _GZIP_CACHE[decoded_size] = _build_gzip_bomb(decoded_size)
    return cached


def _deflate(data: bytes, mode: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush(mode)


def _build_gzip_bomb(decoded_size: int) -> bytes:
    blocks, tail = divmod(decoded_size, _BOMB_BLOCK)
    block = b" " * _BOMB_BLOCK
    crc = _crc32_combine(
        _crc32_repeat(zlib.crc32(block), _BOMB_BLOCK, blocks), zlib.crc32(block[:tail]), tail
    )
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # magic, deflate, no flags, mtime 0, max compression
    trailer = struct.pack("<II", crc, decoded_size & 0xFFFFFFFF)
    return (
        header + _deflate(block, zlib.Z_FULL_FLUSH) * blocks + _deflate(block[:tail], zlib.Z_FINISH) + trailer
    )


def _gf2_times(matrix: list[int], vector: int) -> int:
    total, row = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[row]
        vector >>= 1
        row += 1
    return total


def _gf2_square(matrix: list[int]) -> list[int]:
    return [_gf2_times(matrix, row) for row in matrix]


def _crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC-32 of A+B from crc(A), crc(B) and len(B): zlib's crc32_combine (not exposed by Python)."""
    if len2 <= 0:
        return crc1
    odd = [0xEDB88320] + [1 << n for n in range(31)]  # operator for one zero bit
    even = _gf2_square(odd)
    odd = _gf2_square(even)
    while True:
        even = _gf2_square(odd)
        if len2 & 1:
            crc1 = _gf2_times(even, crc1)
        len2 >>= 1
        if not len2:
            break
        odd = _gf2_square(even)
        if len2 & 1:
            crc1 = _gf2_times(odd, crc1)
        len2 >>= 1
        if not len2:
            break
    return crc1 ^ crc2


def _crc32_repeat(crc: int, length: int, count: int) -> int:
    """CRC-32 of `count` copies of a piece of `length` bytes whose CRC is `crc` (by doubling)."""
    result = 0
    while count:
        if count & 1:
            result = _crc32_combine(result, crc, length)
        crc, length, count = _crc32_combine(crc, crc, length), length * 2, count >> 1
    return result


# --- one connection -------------------------------------------------------------------------------------


class _EndConnection(Exception):
    """The client left, sent garbage, or the server is stopping: end this connection quietly."""


class _Connection:
    """A client socket plus the server's stop flag; every blocking call wakes up when stopping."""

    def __init__(self, sock: socket.socket, stopping: threading.Event) -> None:
        self.sock = sock
        self.stopping = stopping
        self.buffer = bytearray()

    def _fill(self) -> None:
        while True:
            if self.stopping.is_set():
                raise _EndConnection("server stopping")
            try:
                data = self.sock.recv(_PIECE)
            except TimeoutError:
                continue
            if not data:
                raise _EndConnection("client closed the connection")
            self.buffer += data
            return

    def read_until(self, marker: bytes, limit: int = _MAX_HEAD) -> bytes:
        while (index := self.buffer.find(marker)) < 0:
            if len(self.buffer) > limit:
                raise _EndConnection("request head too large")
            self._fill()
        data = bytes(self.buffer[:index])
        del self.buffer[: index + len(marker)]
        return data

    def read_exact(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def hold(self) -> None:
        """Keep the socket open, answering nothing, until the client leaves or the server stops."""
        while True:
            self.buffer.clear()
            self._fill()

    def sleep(self, seconds: float) -> None:
        if self.stopping.wait(seconds):
            raise _EndConnection("server stopping")

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self.stopping.is_set():
                raise _EndConnection("server stopping")
            try:
                sent = self.sock.send(view)
            except TimeoutError:
                continue
            view = view[sent:]

    def send_head(self, status: int, headers: Mapping[str, str]) -> None:
        self.send(_head(status, headers))

    def send_response(
        self, status: int, body: bytes, content_type: str | None, headers: Mapping[str, str] | None = None
    ) -> None:
        fields = {"Content-Type": content_type} if content_type else {}
        fields |= {"Content-Length": str(len(body)), **(headers or {})}
        self.send(_head(status, fields) + body)

    def send_chunk(self, data: bytes) -> None:
        self.send(b"%x\r\n%s\r\n" % (len(data), data))


def _head(status: int, headers: Mapping[str, str]) -> bytes:
    try:
        reason = http.HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {status} {reason}", *(f"{k}: {v}" for k, v in headers.items())]
    if not any(k.lower() == "connection" for k in headers):
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _read_request(conn: _Connection) -> ReceivedRequest:
    head = conn.read_until(b"\r\n\r\n").decode("latin-1")
    request_line, *header_lines = head.split("\r\n")
    try:
        method, path, _version = request_line.split(" ", 2)
    except ValueError:
        raise _EndConnection(f"bad request line {request_line!r}") from None
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    try:
        body = _read_body(conn, headers)
    except ValueError:
        raise _EndConnection("bad request body framing") from None
    return ReceivedRequest(method=method, path=path, headers=headers, body=body)


def _read_body(conn: _Connection, headers: Mapping[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = bytearray()
        while size := int(conn.read_until(b"\r\n").split(b";")[0], 16):
            if len(body) + size > _MAX_REQUEST_BODY:
                raise _EndConnection("request body too large")
            body += conn.read_exact(size)
            conn.read_until(b"\r\n")
        while conn.read_until(b"\r\n"):  # trailers end with an empty line
            pass
    else:
        length = int(headers.get("content-length", "0") or 0)
        if length > _MAX_REQUEST_BODY:
            raise _EndConnection("request body too large")
        body = bytearray(conn.read_exact(length))
    return bytes(body)


def _padded_json(size: int, prefix: bytes = _COMPLETION_PREFIX) -> Iterator[bytes]:
    """Exactly `size` bytes of prefix + "xxx..." + suffix in pieces <= 64 KiB (valid JSON if it fits)."""
    if size <= len(prefix) + len(_COMPLETION_SUFFIX):
        yield (prefix + _COMPLETION_SUFFIX)[:size]
        return
    yield prefix
    remaining = size - len(prefix) - len(_COMPLETION_SUFFIX)
    while remaining:
        piece = min(remaining, _PIECE)
        yield _FILLER if piece == _PIECE else _FILLER[:piece]
        remaining -= piece
    yield _COMPLETION_SUFFIX


# --- behaviours -----------------------------------------------------------------------------------------

_Handler = Callable[..., None]
_REGISTRY: dict[str, tuple[_Handler, bool]] = {}  # name -> (handler, reads the request first)


def _behaviour(name: str, *, reads_request: bool = True) -> Callable[[_Handler], _Handler]:
    def register(handler: _Handler) -> _Handler:
        _REGISTRY[name] = (handler, reads_request)
        return handler

    return register


@_behaviour("silent")
def _silent(conn: _Connection, request: ReceivedRequest) -> None:
    """A hung upstream or a firewall black hole: the request is read and never answered."""
    conn.hold()


@_behaviour("trickle")
def _trickle(
    conn: _Connection, request: ReceivedRequest, *, interval_s: float = 1.0, total_bytes: int = 10_000
) -> None:
    """A slowloris-style upstream: each read succeeds in time, so a per-read timeout never fires."""
    conn.send_head(200, {"Content-Type": "application/json", "Content-Length": str(total_bytes)})
    for piece in _padded_json(total_bytes, prefix=_COMPLETION_PREFIX.replace(b"hostile", b"trickle")):
        for index in range(len(piece)):
            conn.sleep(interval_s)
            conn.send(piece[index : index + 1])


@_behaviour("endless")
def _endless(
    conn: _Connection,
    request: ReceivedRequest,
    *,
    content_type: str = "application/json",
    chunked: bool = True,
) -> None:
    """A runaway generator or a misrouted download: a 200 body without end, as fast as the client reads."""
    framing = {"Transfer-Encoding": "chunked"} if chunked else {}
    conn.send_head(200, {"Content-Type": content_type, **framing})
    piece = b'{"a":"' + _FILLER[6:]
    data = b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
    while True:
        conn.send(data)


@_behaviour("big_body")
def _big_body(
    conn: _Connection, request: ReceivedRequest, *, size: int = 300 * 1024 * 1024, declared: bool = True
) -> None:
    """An oversized answer (huge completion, wrong file); Content-Length declared or close-delimited."""
    length = {"Content-Length": str(size)} if declared else {}
    conn.send_head(200, {"Content-Type": "application/json", **length})
    for piece in _padded_json(size, prefix=_COMPLETION_PREFIX.replace(b"hostile", b"big")):
        conn.send(piece)


@functools.cache  # built once per process: the deep body alone is a few hundred MB of copying
def resource_body(kind: str) -> bytes:
    """The three bodies of issue 20's review, each under the 8 MiB cap: `deep_long_keys` (120 levels,
    60,000-character keys: a 436 MB shape row before), `many_keys` (350,000 flat keys: 62 MB per
    audit), `tiny_events` (900,000 `data: {}` events: 82 s of wall time and a neighbour's false
    transport finding)."""
    if kind == "deep_long_keys":
        key = "k" * 60_000
        body = "{}"
        for _ in range(120):
            body = f'{{"{key}": {body}}}'
        return body.encode()
    if kind == "many_keys":
        fields = ",".join(f'"f{n:06d}": {n}' for n in range(350_000))
        return (
            '{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,'
            '"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],' + fields + "}"
        ).encode()
    if kind == "tiny_events":
        return b"data:{}\n\n" * 900_000
    if kind == "ordinary_json":  # what the bodies above are measured against (`make bench`)
        return (
            b'{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,'
            b'"message":{"role":"assistant","content":"A short acknowledgement.","refusal":null},'
            b'"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":5,'
            b'"total_tokens":14}}'
        )
    if kind == "ordinary_json_large":  # as large as the largest JSON one above, in an ordinary shape
        prose = ("The quick brown fox jumps over the lazy dog. " * 160_000)[:7_200_000]
        return (
            '{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,'
            f'"message":{{"role":"assistant","content":"{prose}","refusal":null}},"logprobs":null,'
            '"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":1600000,'
            '"total_tokens":1600009}}'
        ).encode()
    if kind == "ordinary_stream_large":  # 8 MB in 18 ordinary chunks of prose
        head = '{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,'
        prose = ("The quick brown fox jumps over the lazy dog. " * 10_000)[:450_000]
        chunks = [head + '"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}']
        chunks += [head + f'"delta":{{"content":"{prose}"}},"logprobs":null,"finish_reason":null}}]}}'] * 18
        chunks.append(head + '"delta":{},"logprobs":null,"finish_reason":"stop"}]}')
        return "".join(f"data: {chunk}\n\n" for chunk in chunks).encode() + b"data: [DONE]\n\n"
    if kind == "ordinary_stream":
        head = '{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,'
        chunks = [head + '"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}']
        chunks += [
            head + f'"delta":{{"content":"w{n} "}},"logprobs":null,"finish_reason":null}}]}}'
            for n in range(16)
        ]
        chunks.append(head + '"delta":{},"logprobs":null,"finish_reason":"length"}]}')
        return "".join(f"data: {chunk}\n\n" for chunk in chunks).encode() + b"data: [DONE]\n\n"
    raise ValueError(kind)


@_behaviour("resource_body")
def _resource_body(conn: _Connection, request: ReceivedRequest, *, kind: str) -> None:
    """One of `resource_body`'s bodies, whatever was asked (a stream for `tiny_events`)."""
    body = resource_body(kind)
    content_type = "text/event-stream" if "stream" in kind or kind == "tiny_events" else "application/json"
    conn.send_response(200, body, content_type)


@_behaviour("gzip_bomb")
def _gzip_bomb(conn: _Connection, request: ReceivedRequest, *, decoded_size: int = 1024**3) -> None:
    """A decompression bomb: ~1 MiB on the wire per GiB decoded, sent even to `Accept-Encoding: identity`."""
    body = gzip_bomb_bytes(decoded_size)
    conn.send_response(200, body, "application/json", {"Content-Encoding": "gzip"})


@_behaviour("truncated_json")
def _truncated_json(conn: _Connection, request: ReceivedRequest) -> None:
    """A proxy or crashed worker that cut the completion mid-way, yet framed it consistently."""
    body = b'{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"mess'
    conn.send_response(200, body, "application/json")


@_behaviour("wrong_length")
def _wrong_length(conn: _Connection, request: ReceivedRequest) -> None:
    """A connection dropped mid-body: Content-Length says 1000, 50 bytes arrive, then the socket closes."""
    conn.send_head(200, {"Content-Type": "application/json", "Content-Length": "1000"})
    conn.send(CHAT_COMPLETION[:50])


@_behaviour("invalid_utf8")
def _invalid_utf8(conn: _Connection, request: ReceivedRequest) -> None:
    """A backend that leaks Latin-1 or raw bytes into a body that claims UTF-8."""
    body = (
        b'{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":'
        b'{"role":"assistant","content":"caf\xe9 \xff\xfe"},"finish_reason":"stop"}]}'
    )
    conn.send_response(200, body, "application/json; charset=utf-8")


@_behaviour("empty_200")
def _empty_200(conn: _Connection, request: ReceivedRequest) -> None:
    """A gateway that answers success with nothing in it."""
    conn.send_response(200, b"", "application/json")


@_behaviour("html_200")
def _html_200(conn: _Connection, request: ReceivedRequest) -> None:
    """A captive portal or SSO login page answering 200 in place of the API."""
    conn.send_response(200, _CAPTIVE_PORTAL, "text/html; charset=utf-8")


@_behaviour("html_502")
def _html_502(conn: _Connection, request: ReceivedRequest) -> None:
    """nginx in front of a dead upstream: an HTML error page, not a JSON error."""
    conn.send_response(502, _NGINX_502, "text/html", {"Server": "nginx"})


@_behaviour("json_500")
def _json_500(conn: _Connection, request: ReceivedRequest) -> None:
    """The OpenAI-style generic server error."""
    body = _error_envelope("The server had an error while processing your request.", "server_error", None)
    conn.send_response(500, body, "application/json")


@_behaviour("rate_limited")
def _rate_limited(conn: _Connection, request: ReceivedRequest, *, retry_after: str | None = "7") -> None:
    """OpenAI's 429 for requests-per-minute; `retry_after=None` omits the Retry-After header."""
    message = "Rate limit reached for requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again."
    headers = {"x-ratelimit-limit-requests": "3", "x-ratelimit-remaining-requests": "0"}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    conn.send_response(
        429, _error_envelope(message, "requests", "rate_limit_exceeded"), "application/json", headers
    )


@_behaviour("status")
def _status(
    conn: _Connection,
    request: ReceivedRequest,
    *,
    status: int = 401,
    body: bytes | None = None,
    content_type: str = "application/json",
    headers: Mapping[str, str] | None = None,
) -> None:
    """Any canned response; the default is OpenAI's 401 for a wrong API key."""
    if body is None:
        message = "Incorrect API key provided: sk-test. You can find your API key at platform.openai.com."
        body = _error_envelope(message, "invalid_request_error", "invalid_api_key")
    conn.send_response(status, body, content_type, headers or {})


@_behaviour("redirect")
def _redirect(conn: _Connection, request: ReceivedRequest, *, location: str, status: int = 307) -> None:
    """A moved endpoint or a hostile redirect (credential leak test); a same-server target path gets a 200."""
    if location.startswith("/") and request.path.split("?")[0] == location.split("?")[0]:
        conn.send_response(200, CHAT_COMPLETION, "application/json")
    else:
        conn.send_response(status, b"", None, {"Location": location})


@_behaviour("sse")
def _sse(
    conn: _Connection,
    request: ReceivedRequest,
    *,
    events: list[bytes],
    delay_s: float = 0.0,
    cut: bool = False,
) -> None:
    """A streaming completion, one write per event; `cut=True` drops the connection before the terminator."""
    conn.send_head(
        200,
        {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "Transfer-Encoding": "chunked"},
    )
    for index, event in enumerate(events):
        if index and delay_s:
            conn.sleep(delay_s)
        conn.send_chunk(event)
    if not cut:
        conn.send(b"0\r\n\r\n")


def echoed_forms(authorization: str) -> dict[str, str]:
    """The forms in which a careless server echoes an `Authorization: Bearer KEY` header back."""
    key = authorization.removeprefix("Bearer ")
    return {
        "raw": authorization,
        "base64": base64.b64encode(authorization.encode()).decode(),
        "basic": base64.b64encode(f"user:{key}".encode()).decode(),
        "url-encoded": urllib.parse.quote(authorization, safe=""),
    }


ECHO_MODES = (
    "traceback_500",
    "message_4xx",
    "stream_error",
    "redirect_302",
    "straddle_4xx",
    # issue 20, finding 4: an escaped first character, a lower-case percent-encoding, a split stream
    "escaped_straddle_4xx",
    "escaped_refusal",
    "percent_lower_4xx",
    "split_data_lines",
)
STRADDLE_AT = 280  # where the key starts in the straddling message: the classifier keeps 300 characters
REFUSAL_AT = 100  # where the key starts in the refusal: the detail quotes 120 characters of it


def _escaped_first(text: str) -> str:
    """`text` as a JSON string body whose first character is written as a `\\uXXXX` escape."""
    quoted = json.dumps(text)[1:-1]
    return f"\\u{ord(text[0]):04x}" + quoted[1:]


@_behaviour("echo_key")
def _echo_key(conn: _Connection, request: ReceivedRequest, *, mode: str) -> None:
    """A server that echoes the caller's Authorization header back, raw, base64 and URL-encoded.

    `traceback_500`: a debug 500 whose detail is a traceback quoting the request headers;
    `message_4xx`: a 401 whose message names the key it refused; `stream_error`: an SSE stream whose
    error event does; `redirect_302`: a login redirect carrying it in the Location's query;
    `straddle_4xx`: a 401 whose raw key starts at character `STRADDLE_AT` of the message, so a cut at
    300 characters falls inside it.
    """
    auth = request.headers.get("authorization", "")
    forms = echoed_forms(auth)
    quoted = " ".join(f"{name}={form}" for name, form in forms.items())
    if mode == "traceback_500":
        trace = (
            'Traceback (most recent call last):\n  File "app.py", line 12, in handler\n'
            f"    check({quoted!r})\nKeyError: {quoted}"
        )
        conn.send_response(500, json.dumps({"detail": trace}).encode(), "application/json")
    elif mode == "message_4xx":
        body = _error_envelope(
            f"Incorrect API key provided: {quoted}", "invalid_request_error", "invalid_api_key"
        )
        conn.send_response(401, body, "application/json")
    elif mode == "straddle_4xx":
        head = "Incorrect API key provided. "
        message = head + "." * (STRADDLE_AT - len(head) - len("Bearer ")) + auth + " was refused"
        conn.send_response(401, _error_envelope(message, "invalid_request_error", None), "application/json")
    elif mode == "escaped_straddle_4xx":
        key = auth.removeprefix("Bearer ")
        head = "Incorrect API key provided. "
        message = head + "." * (STRADDLE_AT - len(head))
        text = json.dumps(message)[1:-1] + _escaped_first(key) + " was refused"
        envelope = '"type": "invalid_request_error", "param": null, "code": null'
        body = f'{{"error": {{"message": "{text}", {envelope}}}}}'
        conn.send_response(401, body.encode(), "application/json")
    elif mode == "escaped_refusal":
        key = auth.removeprefix("Bearer ")
        text = json.dumps("I cannot help. " + "." * (REFUSAL_AT - 15))[1:-1] + _escaped_first(key)
        body = (
            '{"id":"chatcmpl-hostile","object":"chat.completion","created":1700000000,"model":"m",'
            '"choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":"'
            + text
            + '"},"finish_reason":"stop"}]}'
        )
        conn.send_response(200, body.encode(), "application/json")
    elif mode == "percent_lower_4xx":
        lower = re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), urllib.parse.quote(auth, safe=""))
        body = _error_envelope(f"Rejected credential {lower}", "invalid_request_error", "invalid_api_key")
        conn.send_response(401, body, "application/json")
    elif mode == "headers_4xx":  # a debug gateway quoting every request header (not in ECHO_MODES)
        quoted_headers = "; ".join(f"{name}: {value}" for name, value in request.headers.items())
        body = _error_envelope(f"Denied. Request headers: {quoted_headers}", "invalid_request_error", None)
        conn.send_response(401, body, "application/json")
    elif mode == "split_data_lines":
        key = auth.removeprefix("Bearer ")
        half = len(key) // 2
        events = [b'data: {"id":"c","object":"chat.completion.chunk","choices":[]}\n\n']
        events.append(f"event: error\ndata: upstream refused {key[:half]}\ndata: {key[half:]}\n\n".encode())
        _sse(conn, request, events=events)
    elif mode == "stream_error":
        error = json.dumps({"error": {"message": f"upstream refused {quoted}", "type": "server_error"}})
        events = [b'data: {"id":"c","object":"chat.completion.chunk","choices":[]}\n\n']
        events.append(f"event: error\ndata: {error}\n\n".encode())
        _sse(conn, request, events=events)
    elif mode == "redirect_302":
        location = (
            f"https://login.example/sso?token={forms['url-encoded']}&b64={forms['base64']}"
            f"&basic={forms['basic']}&raw={auth.removeprefix('Bearer ')}"
        )
        conn.send_response(302, b"", None, {"Location": location})
    else:
        raise ValueError(f"unknown echo mode {mode!r}")


@_behaviour("accept_then_close", reads_request=False)
def _accept_then_close(conn: _Connection, request: None, *, reset: bool = False) -> None:
    """A crashing worker or overloaded load balancer: accept, then close (FIN, or RST with `reset=True`)."""
    if reset:
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


@_behaviour("slow_headers")
def _slow_headers(conn: _Connection, request: ReceivedRequest, *, delay_s: float = 1.0) -> None:
    """A slow model: after the whole request is read, wait `delay_s`, then answer a small JSON 200."""
    conn.sleep(delay_s)
    conn.send_response(200, CHAT_COMPLETION, "application/json")


@_behaviour("script_payloads")
def _script_payloads(conn: _Connection, request: ReceivedRequest, *, payload: str, key: str) -> None:
    """An endpoint that plants `payload` (script payloads) in everything it says, a different way per request,
    each labelled with where it was put (`"title: <payload>"`), so a report can be shown to carry each.

    Each error comes with a status of another class than the probe expects, so the probe fails and its
    detail (with the message) is shown: no Authorization: a 401 HTML error page, `title` (its <title>);
    a wrong key: 400 `message` (a flat `{"message"}`); a body that is not JSON: 401 `fastapi` (a FastAPI
    detail); no `messages` or `model`: 500 `flat` (vLLM's flat error); temperature 5: 403 `envelope`
    (the OpenAI error envelope); a stream:
    `finish_reason` and `usage_key`, or (path under /stream-error) `stream_error` (an error event inside
    the stream); else a 200 completion with `json_key` and `usage_key` as JSON keys.
    """

    def planted(where: str) -> str:
        return f"{where}: {payload}"

    authorization = request.headers.get("authorization")
    try:
        body = json.loads(request.body)
    except ValueError:
        body = None
    if authorization is None:
        page = f"<html><head><title>{planted('title')}</title></head><body><h1>401</h1></body></html>"
        conn.send_response(401, page.encode(), "text/html; charset=utf-8")
    elif authorization != f"Bearer {key}":
        conn.send_response(400, json.dumps({"message": planted("message")}).encode(), "application/json")
    elif not isinstance(body, dict):
        detail = {"detail": [{"loc": ["body", 1], "msg": planted("fastapi"), "type": "json_invalid"}]}
        conn.send_response(401, json.dumps(detail).encode(), "application/json")
    elif "messages" not in body or "model" not in body:
        flat = {"object": "error", "message": planted("flat"), "type": "BadRequestError", "code": 400}
        conn.send_response(500, json.dumps(flat).encode(), "application/json")
    elif body.get("temperature") == 5:
        envelope = _error_envelope(planted("envelope"), "invalid_request_error", None)
        conn.send_response(403, envelope, "application/json")
    elif body.get("stream"):
        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
        content = {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "ok"}}]}
        parts: list[Any] = [content]
        if request.path.startswith("/stream-error"):
            parts.append({"error": {"message": planted("stream_error")}})
        else:
            parts.append(
                {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": planted("finish_reason")}]}
            )
            usage = {"prompt_tokens": 1, "total_tokens": 2, planted("usage_key"): 1}
            parts.append({**chunk, "choices": [], "usage": usage})
        events = [b"data: " + json.dumps(part).encode() + b"\n\n" for part in parts]
        if not request.path.startswith("/stream-error"):
            events.append(b"data: [DONE]\n\n")
        _sse(conn, request, events=events)
    else:
        completion = json.loads(CHAT_COMPLETION)
        completion[planted("json_key")] = {"planted": 1}
        completion["choices"][0]["message"][planted("json_key")] = "x"
        completion["usage"][planted("usage_key")] = 1
        conn.send_response(200, json.dumps(completion).encode(), "application/json")


BEHAVIOURS: tuple[str, ...] = ("refused", *sorted(_REGISTRY))


# --- the server -----------------------------------------------------------------------------------------


class HostileServer:
    """A loopback HTTP/1.1 server that misbehaves in one named way; see `BEHAVIOURS`."""

    refused_url = staticmethod(refused_url)

    def __init__(self, behaviour: str, **options: Any) -> None:
        if behaviour == "refused":
            raise ValueError("'refused' is not a server: use HostileServer.refused_url() for a dead port")
        if behaviour not in _REGISTRY:
            raise ValueError(f"unknown behaviour {behaviour!r}; choose one of {', '.join(BEHAVIOURS)}")
        self.behaviour = behaviour
        self.options = options
        self._handler, self._reads_request = _REGISTRY[behaviour]
        try:
            inspect.signature(self._handler).bind(None, None, **options)
        except TypeError as exc:
            raise TypeError(f"HostileServer({behaviour!r}): {exc}") from None
        self._stopping = threading.Event()
        self._changed = threading.Condition()  # guards everything below
        self._requests: list[ReceivedRequest] = []
        self._errors: list[BaseException] = []
        self._clients: set[socket.socket] = set()
        self._threads: set[threading.Thread] = set()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._acceptor = threading.Thread(target=self._accept_loop, name=f"hostile-{behaviour}", daemon=True)

    @property
    def requests(self) -> list[ReceivedRequest]:
        """A snapshot of the requests read so far, in arrival order."""
        with self._changed:
            return list(self._requests)

    @property
    def errors(self) -> list[BaseException]:
        """Unexpected exceptions in handlers (bugs in this module, not client behaviour)."""
        with self._changed:
            return list(self._errors)

    @property
    def open_connections(self) -> int:
        with self._changed:
            return len(self._threads)

    def wait_for_requests(self, count: int = 1, timeout: float = 2.0) -> list[ReceivedRequest]:
        """Block until `count` requests have been read; raise TimeoutError otherwise."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._requests) >= count, timeout):
                raise TimeoutError(
                    f"{self.behaviour}: {len(self._requests)} of {count} requests after {timeout}s"
                )
            return list(self._requests)

    def start(self) -> HostileServer:
        self._listener.listen(64)
        self._listener.settimeout(_POLL_S)
        self._acceptor.start()
        return self

    def stop(self) -> None:
        """Stop accepting, shut every client socket down and wait (< 1 s) for handler threads to end."""
        deadline = time.monotonic() + _STOP_DEADLINE_S
        self._stopping.set()
        with self._changed:
            for sock in self._clients:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            threads = [*self._threads]
        if self._acceptor.is_alive():
            self._acceptor.join(max(0.0, deadline - time.monotonic()))
        else:
            self._listener.close()
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _accept_loop(self) -> None:
        try:
            while not self._stopping.is_set():
                try:
                    sock, _ = self._listener.accept()
                except TimeoutError:
                    continue
                sock.settimeout(_POLL_S)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
                with self._changed:
                    if self._stopping.is_set():
                        sock.close()
                        break
                    self._clients.add(sock)
                    self._threads.add(thread)
                thread.start()
        finally:
            self._listener.close()

    def _serve(self, sock: socket.socket) -> None:
        conn = _Connection(sock, self._stopping)
        try:
            request = None
            if self._reads_request:
                request = _read_request(conn)
                with self._changed:
                    self._requests.append(request)
                    self._changed.notify_all()
            self._handler(conn, request, **self.options)
        except (_EndConnection, OSError):
            pass  # the client left or the server is stopping: both are part of the game
        except Exception as exc:
            with self._changed:
                self._errors.append(exc)
        finally:
            with self._changed:
                self._clients.discard(sock)
                self._threads.discard(threading.current_thread())
            sock.close()


@contextlib.contextmanager
def hostile_process(behaviour: str, **options: Any) -> Iterator[str]:
    """`HostileServer(behaviour, **options)` in a process of its own; yields its base URL.

    For tests that time a neighbour: a server thread in the test's own process competes with the
    harness for the interpreter lock, as no real endpoint does (it is another machine).
    """
    import subprocess
    import sys

    script = (
        "import json, sys, threading\n"
        "from tests.hostile import HostileServer\n"
        "server = HostileServer(sys.argv[1], **json.loads(sys.argv[2])).start()\n"
        "print(server.base_url, flush=True)\n"
        "sys.stdin.read()\n"  # until the test closes stdin
        "server.stop()\n"
    )
    root = str(Path(__file__).resolve().parent.parent)
    child = subprocess.Popen(
        [sys.executable, "-c", script, behaviour, json.dumps(options)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=root,
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        base_url = child.stdout.readline().strip()
        if not base_url.startswith("http://"):
            raise RuntimeError(f"{behaviour}: the server process did not start ({base_url!r})")
        yield base_url
    finally:
        if child.stdin is not None:
            child.stdin.close()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
