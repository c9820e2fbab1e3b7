"""The embedded reference endpoint: a real chat-completions server on loopback, run in a thread.

It is a real HTTP server (the Starlette app of `_reference_server`, served by uvicorn) rather than a
mock transport, so sockets, headers, streaming and timeouts behave as they do against a provider.
Several endpoints can run at once in one process (one per environment), each on its own port.
This module is the public face: `create_app`, `EmbeddedEndpoint` and `ForegroundEndpoint`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from collections.abc import Sequence

import uvicorn
from starlette.applications import Starlette

from workbench.core.config import DEFAULT_PATH
from workbench.core.errors import ConfigError
from workbench.core.scenarios import SCENARIO_HELP, Scenario, parse_scenarios
from workbench.reference.server import DEFAULT_MODELS, create_app


class _QuietShutdown(logging.Filter):
    """Requests still in flight when a run stops (Ctrl-C, a deadline) are cancelled: that is expected,
    not an error of the endpoint, so uvicorn's traceback for it is dropped; every other error stays."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], asyncio.CancelledError):
            return False
        return "graceful shutdown exceeded" not in record.getMessage()


logging.getLogger("uvicorn.error").addFilter(_QuietShutdown())

__all__ = ["DEFAULT_MODELS", "EmbeddedEndpoint", "ForegroundEndpoint", "create_app"]


def _bind(host: str, port: int) -> socket.socket:
    """Bind here rather than in uvicorn, so port 0 yields a known free port with no race."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit this; without it Nagle plus delayed ACKs add ~40 ms per response.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise RuntimeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return sock


def _server(app: Starlette) -> uvicorn.Server:
    # log_config=None: several endpoints may start at once in a host process; never rewrite its logging.
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
        log_config=None,
    )
    return uvicorn.Server(config)


class EmbeddedEndpoint:
    """One reference endpoint served from a daemon thread: `with EmbeddedEndpoint(api_key=k) as ep:`."""

    def __init__(
        self,
        scenarios: frozenset[Scenario] = frozenset({Scenario.CONFORMANT}),
        *,
        api_key: str,
        latency_ms: float = 0.0,
        models: Sequence[str] = DEFAULT_MODELS,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.scenarios, self.host, self.port = frozenset(scenarios), host, port
        self._app = create_app(self.scenarios, api_key=api_key, latency_ms=latency_ms, models=models)
        self.base_url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self._failure: BaseException | None = None

    def start(self) -> EmbeddedEndpoint:
        """Bind, serve from a thread, and return once the server accepts connections."""
        if self._thread is not None:
            return self
        sock = _bind(self.host, self.port)
        server = _server(self._app)
        port = sock.getsockname()[1]
        thread = threading.Thread(
            target=self._run, args=(server, sock), name=f"wb-reference-{port}", daemon=True
        )
        self._server, self._thread, self._sock, self._failure = server, thread, sock, None
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                failure = self._failure
                self.stop()
                reason = f"it failed: {failure!r}" if failure else "it did not start within 10 s"
                raise RuntimeError(f"reference endpoint on {self.host}:{port} is not serving: {reason}")
            time.sleep(0.002)
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.base_url = f"http://{host}:{port}"
        return self

    def _run(self, server: uvicorn.Server, sock: socket.socket) -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # uvicorn reports start-up failure with SystemExit
            self._failure = exc

    def stop(self) -> None:
        """Ask uvicorn to exit (open streams are cut after ~1 s) and wait; safe to call twice."""
        server, thread, sock = self._server, self._thread, self._sock
        self._server = self._thread = self._sock = None
        if server is None or thread is None or sock is None:
            return
        server.should_exit = True
        thread.join(timeout=3)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout=2)
        sock.close()

    def __enter__(self) -> EmbeddedEndpoint:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class ForegroundEndpoint:
    """`workbench serve`: checked and bound first, so a bad scenario, an unset key variable or a busy
    port is one `ConfigError` before anything is printed; then served until Ctrl-C or SIGTERM."""

    def __init__(
        self,
        scenario_names: Sequence[str],
        *,
        api_key_env: str,
        latency_ms: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 8000,
        models: Sequence[str] = DEFAULT_MODELS,
    ) -> None:
        try:
            self.scenarios = parse_scenarios(scenario_names or ["conformant"])
        except ValueError as exc:
            raise ConfigError(str(exc), field="--scenario") from None
        key = os.environ.get(api_key_env)
        if not key:
            raise ConfigError(
                f"environment variable {api_key_env} is not set: export the key clients must send, e.g. "
                f"export {api_key_env}=$(python -c 'import secrets; print(secrets.token_urlsafe())')",
                field="--api-key-env",
            )
        try:
            self._sock = _bind(host, port)
        except RuntimeError as exc:
            raise ConfigError(f"{exc}: pick another --port", field="--port") from None
        self.api_key_env, self.models = api_key_env, tuple(models)
        self.base_url = f"http://{host}:{self._sock.getsockname()[1]}"
        self._app = create_app(self.scenarios, api_key=key, latency_ms=latency_ms, models=models)

    def banner(self) -> list[str]:
        """What a person needs to call it: base URL, model, key variable, scenarios, a curl line."""
        names = ", ".join(sorted(str(s) for s in self.scenarios))
        return [
            f"serving the reference endpoint: base URL {self.base_url} (chat completions at {DEFAULT_PATH})",
            f"model: {', '.join(self.models)} (a request naming another model gets 404)",
            f"key: clients send `Authorization: Bearer KEY`, KEY being the value of ${self.api_key_env}",
            f"scenarios: {names}",
            *(f"  {item}: {SCENARIO_HELP[item]}" for item in sorted(self.scenarios)),
            f'try: curl -s {self.base_url}{DEFAULT_PATH} -H "Authorization: Bearer ${self.api_key_env}" '
            "-H 'Content-Type: application/json' "
            f"""-d '{{"model": "{self.models[0]}", "messages": [{{"role": "user", "content": "hi"}}]}}'""",
            "Ctrl-C stops",
        ]

    def run(self) -> None:
        """Serve in the foreground until Ctrl-C or SIGTERM, then return."""
        server = _server(self._app)
        try:
            server.run(sockets=[self._sock])
        except KeyboardInterrupt:  # uvicorn re-raises the captured SIGINT once it has shut down
            pass
        finally:
            self._sock.close()
