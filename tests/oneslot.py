"""A purpose-built loopback server with one slot that drops the running request when another arrives.

Local inference servers often serve one request at a time; some of them interrupt the running
request when a new one comes in (its connection is simply reset), as a new user saw the workbench's
own parallel probes do to one (issue 10). This server behaves that way in front of a conformant
upstream (the embedded reference endpoint), so every verdict it earns is the upstream's, unless
the auditor's own traffic overlaps::

    with OneSlotServer(upstream_url) as server:
        ...  # probe server.base_url
        server.dropped  # requests cut because another arrived while they ran

Each connection is served by its own thread and closed after one response (`Connection: close`).
A request holds the slot from the moment it has been read until its last byte has been relayed.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import struct
import threading
import urllib.parse
from types import TracebackType

_FORWARDED = ("authorization", "content-type", "accept")


class OneSlotServer:
    """Relays each request to `upstream`; a second request arriving while one runs resets the first."""

    def __init__(self, upstream: str) -> None:
        parts = urllib.parse.urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._lock = threading.Lock()
        self._running: socket.socket | None = None
        self._connections: set[socket.socket] = set()
        self._stopped = threading.Event()
        self.requests = 0
        self.dropped = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> OneSlotServer:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopped.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() at once
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            for connection in list(self._connections):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._connections.add(connection)
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        try:
            request = _read_request(connection)
            if request is None:
                return
            self._take_slot(connection)
            try:
                self._relay(connection, *request)
            finally:
                with self._lock:
                    if self._running is connection:
                        self._running = None
        except OSError:
            pass  # dropped: its socket was reset under it
        finally:
            with self._lock:
                self._connections.discard(connection)
            with contextlib.suppress(OSError):
                connection.close()

    def _take_slot(self, connection: socket.socket) -> None:
        """The one slot: whoever runs now is reset (RST, as a killed request looks to its client)."""
        with self._lock:
            self.requests += 1
            running, self._running = self._running, connection
            if running is not None:
                self.dropped += 1
                with contextlib.suppress(OSError):
                    running.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    running.shutdown(socket.SHUT_RDWR)

    def _relay(
        self, connection: socket.socket, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> None:
        upstream = http.client.HTTPConnection(*self._upstream, timeout=30)
        try:
            forwarded = {name: value for name, value in headers.items() if name in _FORWARDED}
            upstream.request(method, target, body=body, headers=forwarded)
            response = upstream.getresponse()
            head = [f"HTTP/1.1 {response.status} {response.reason}"]
            head += [
                f"{name}: {value}"
                for name, value in response.getheaders()
                if name.lower() not in ("transfer-encoding", "connection", "content-length")
            ]
            connection.sendall(("\r\n".join([*head, "Connection: close", "", ""])).encode("latin-1"))
            while chunk := response.read1(65536):
                connection.sendall(chunk)
        finally:
            upstream.close()


def _read_request(connection: socket.socket) -> tuple[str, str, dict[str, str], bytes] | None:
    """Request line, lower-cased headers and the Content-Length body; None when the client left."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = connection.recv(65536)
        if not piece:
            return None
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        piece = connection.recv(65536)
        if not piece:
            return None
        body += piece
    return method, target, headers, body[:length]
