"""A real LiteLLM proxy on loopback in front of the embedded reference endpoint, and its transcripts.

LiteLLM (`litellm[proxy]`, pinned in `.ci/litellm.lock`) lives in a virtualenv of its own, which
`.ci/run` builds and names by `WORKBENCH_LITELLM_BIN` (the venv's `litellm` command). Without the
variable the gateway tests skip, unless `WORKBENCH_REQUIRE_GATEWAY=1` (CI), where they fail.

`Gateway` starts the reference endpoint (conformant) and the proxy with a master key built at run
time, `LITELLM_LOCAL_MODEL_COST_MAP=True` (no network at start-up) and a working folder of its own
(LiteLLM reads a `.env` from its working directory). `CASES` are the raw requests the negative and
streaming probes send; `record(...)` turns one exchange into the transcript text kept in
`tests/data/gateway/`, with every key replaced by a placeholder, and `structure(...)` is what a
transcript and a live answer must agree on: status, media type, envelope keys, the error's
type/code/param, the stream's chunk keys and termination; never ids, timestamps or text.

Capture (observe) again: `WORKBENCH_LITELLM_BIN=$(bash .ci/litellm-venv) python -m tests.gateway`.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from tests.canary import canary_key
from tests.paths import DATA
from workbench.reference.endpoint import EmbeddedEndpoint

LITELLM_BIN_ENV = "WORKBENCH_LITELLM_BIN"
REQUIRE_ENV = "WORKBENCH_REQUIRE_GATEWAY"
LITELLM_VERSION = "1.108.7"  # the pin of .ci/litellm.lock; the transcripts are this version's answers
MODEL = "wb-reference-1"  # the name the gateway routes, and the reference endpoint's model
PATH = "/v1/chat/completions"
TRANSCRIPTS = DATA / "gateway" / f"litellm-{LITELLM_VERSION}"
START_TIMEOUT_S = 120.0  # ~14 s measured on 2 idle cores; other test processes share them
PLACEHOLDERS = {"master": "<MASTER_KEY>", "wrong": "<WRONG_KEY>", "upstream": "<UPSTREAM_KEY>"}
PROMPT = "Return a short acknowledgement for a contract probe."  # the probes' own prompt

KeyChoice = Literal["master", "none", "wrong"]


def litellm_bin() -> Path:
    """The pinned proxy's `litellm` command, or a skip (a failure where CI requires the gateway)."""
    raw = os.environ.get(LITELLM_BIN_ENV, "")
    path = Path(raw) if raw else None
    if path is not None and path.is_file() and os.access(path, os.X_OK):
        return path
    why = f"{LITELLM_BIN_ENV} is not set" if path is None else f"{LITELLM_BIN_ENV}={raw} is not executable"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"the LiteLLM gateway is required here ({REQUIRE_ENV}=1) but {why}")
    pytest.skip(f"{why}: `bash .ci/run` builds the pinned LiteLLM proxy and sets it")


@dataclass(frozen=True, slots=True)
class Case:
    """One raw request to the gateway: what a probe sends, byte for byte where it matters."""

    name: str
    what: str
    body: bytes
    key: KeyChoice = "master"
    stream: bool = False


def _json(**fields: Any) -> bytes:
    body: dict[str, Any] = {
        "model": MODEL,
        "messages": [{"role": "user", "content": PROMPT}],
        "stream": False,
        "max_tokens": 16,
    }
    for name, value in fields.items():
        if value is None:
            body.pop(name, None)
        else:
            body[name] = value
    return json.dumps(body).encode()


CASES: tuple[Case, ...] = (
    Case("minimal", "the minimal valid request (endpoint.minimal)", _json()),
    Case("missing_key", "no Authorization header (auth.missing_key)", _json(), key="none"),
    Case("invalid_key", "a wrong bearer key (auth.invalid_key)", _json(), key="wrong"),
    Case(
        "malformed_json",
        "a body cut inside a string (errors.malformed_json)",
        b'{"model": "probe", "messages": [{"role": "user", "content": "unterminated',
    ),
    Case("missing_messages", "no 'messages' (errors.missing_field)", _json(messages=None)),
    Case("missing_model", "no 'model' (errors.missing_field)", _json(model=None)),
    Case("invalid_value", "temperature = 5, allowed 0..2 (errors.invalid_value)", _json(temperature=5)),
    Case(
        "stream_include_usage",
        "stream = true with stream_options.include_usage (streaming.sse)",
        _json(stream=True, stream_options={"include_usage": True}),
        stream=True,
    ),
)


@dataclass(frozen=True, slots=True)
class Raw:
    """One exchange as it crossed the wire (the request as sent, the response as received)."""

    request_head: str
    request_body: bytes
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True, slots=True)
class Gateway:
    """A running proxy: where it listens and the keys it was given (built at run time)."""

    base_url: str
    host: str
    port: int
    master_key: str
    wrong_key: str
    upstream_key: str
    version: str

    def key_for(self, choice: KeyChoice) -> str | None:
        return {"master": self.master_key, "wrong": self.wrong_key, "none": None}[choice]

    def placeholders(self) -> dict[str, str]:
        """Every key value this gateway knows, mapped to the placeholder a transcript shows."""
        return {
            self.master_key: PLACEHOLDERS["master"],
            self.wrong_key: PLACEHOLDERS["wrong"],
            self.upstream_key: PLACEHOLDERS["upstream"],
        }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _config(upstream: str, upstream_key: str, master_key: str) -> str:
    """The minimal proxy config: one model routed to the reference endpoint, one master key, no database."""
    return (
        "model_list:\n"
        f"  - model_name: {MODEL}\n"
        "    litellm_params:\n"
        f"      model: openai/{MODEL}\n"
        f"      api_base: {upstream}/v1\n"
        f"      api_key: {upstream_key}\n"
        "general_settings:\n"
        f"  master_key: {master_key}\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
    )


def installed_version(binary: Path) -> str:
    """The litellm version installed beside `binary` (its venv's Python asks the package metadata)."""
    python = binary.parent / "python"
    done = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


@contextmanager
def running_gateway(binary: Path) -> Iterator[Gateway]:
    """The reference endpoint and a LiteLLM proxy in front of it, both on loopback; stopped after."""
    upstream_key, master_key = canary_key("upstream"), canary_key("gateway")
    wrong_key = "sk-wrong-" + secrets.token_hex(16)
    version = installed_version(binary)
    with EmbeddedEndpoint(api_key=upstream_key) as endpoint, tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        (folder / "config.yaml").write_text(_config(endpoint.base_url, upstream_key, master_key))
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.lower().endswith("_proxy") and key not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")
        }
        env.update(LITELLM_LOCAL_MODEL_COST_MAP="True", NO_PROXY="*", PYTHONUNBUFFERED="1")
        process, port = _start(binary, folder, env)
        try:
            yield Gateway(
                f"http://127.0.0.1:{port}", "127.0.0.1", port, master_key, wrong_key, upstream_key, version
            )
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def _start(binary: Path, folder: Path, env: Mapping[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    """Start the proxy on a free port and wait until it is live; a port taken meanwhile is tried anew."""
    for attempt in range(3):
        port = _free_port()
        log = folder / f"litellm-{attempt}.log"
        command = [str(binary), "--config", "config.yaml", "--host", "127.0.0.1", "--port", str(port)]
        with log.open("wb") as out:
            process = subprocess.Popen(command, cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_live(process, port, log)
        except _PortTaken:
            continue
        except BaseException:
            process.kill()
            process.wait(timeout=5)
            raise
        return process, port
    raise RuntimeError("litellm found no free port in 3 attempts")


class _PortTaken(RuntimeError):
    """The proxy exited because another process took its port first."""


def _wait_live(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        said = log.read_text(errors="replace")
        if "address already in use" in said.lower():  # it logs this, then takes ~30 s to exit
            process.kill()
            process.wait(timeout=5)
            raise _PortTaken(said[-400:])
        if process.poll() is not None:
            raise RuntimeError(f"litellm exited with {process.returncode}:\n{said[-4000:]}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", "/health/liveliness")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.25)
    raise RuntimeError(
        f"litellm did not answer /health/liveliness in {START_TIMEOUT_S:g} s:\n"
        + log.read_text(errors="replace")[-4000:]
    )


def send(gateway: Gateway, case: Case) -> Raw:
    """POST the case's body as the probes do (their headers), read the whole response."""
    headers = {
        "Host": f"{gateway.host}:{gateway.port}",
        "User-Agent": "contract-workbench-gateway-test",
        "Accept-Encoding": "identity",
        "Content-Type": "application/json",
        "Accept": "text/event-stream" if case.stream else "application/json",
        "Content-Length": str(len(case.body)),
    }
    key = gateway.key_for(case.key)
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    head = f"POST {PATH} HTTP/1.1\n" + "".join(f"{name}: {value}\n" for name, value in headers.items())
    connection = http.client.HTTPConnection(gateway.host, gateway.port, timeout=60)
    try:
        connection.putrequest("POST", PATH, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders(case.body)
        response = connection.getresponse()
        body = response.read()
        return Raw(head, case.body, response.status, response.reason, tuple(response.getheaders()), body)
    finally:
        connection.close()


def record(case: Case, raw: Raw, gateway: Gateway, *, command: str, when: str) -> str:
    """The transcript text: a header comment, the raw request, the raw response; keys as placeholders."""
    lines = [
        f"# LiteLLM proxy {gateway.version} (litellm[proxy], .ci/litellm.lock) on 127.0.0.1 in front of the",
        "# embedded reference endpoint (conformant), model routed as openai/" + MODEL + ".",
        f"# case {case.name}: {case.what}",
        f"# captured {when} with: {command}",
        "# keys are placeholders: " + ", ".join(PLACEHOLDERS.values()) + " (built at run time, never stored)",
        "### request",
        raw.request_head.rstrip("\n"),
        "",
        raw.request_body.decode("utf-8"),
        "### response",
        f"HTTP/1.1 {raw.status} {raw.reason}",
        *(f"{name}: {value}" for name, value in raw.headers),
        "",
        raw.body.decode("utf-8"),
    ]
    text = "\n".join(lines)
    for value, placeholder in gateway.placeholders().items():
        text = text.replace(value, placeholder)
    return text


@dataclass(frozen=True, slots=True)
class Transcript:
    """A stored transcript read back: the response's status, headers and exact body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


def read_transcript(path: Path) -> Transcript:
    """Parse a transcript file written by `record` (the body is everything after the blank line)."""
    text = path.read_text(encoding="utf-8")
    _, _, response = text.partition("\n### response\n")
    head, _, body = response.partition("\n\n")
    status_line, *header_lines = head.split("\n")
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(": ")
        headers[name.lower()] = value
    return Transcript(int(status_line.split()[1]), headers, body.encode("utf-8"))


def structure(status: int, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """What must stay the same between the pinned gateway's answers: no ids, timestamps or text."""
    lowered = {name.lower(): value for name, value in headers.items()}
    media = lowered.get("content-type", "").split(";")[0].strip()
    found: dict[str, Any] = {"status": status, "content_type": media}
    if media == "text/event-stream":
        found.update(_stream_structure(body))
        return found
    try:
        decoded = json.loads(body)
    except ValueError:
        found["body"] = "not JSON"
        return found
    found["keys"] = sorted(decoded) if isinstance(decoded, dict) else type(decoded).__name__
    error = decoded.get("error") if isinstance(decoded, dict) else None
    if isinstance(error, dict):
        found["error"] = {name: error.get(name) for name in ("type", "code", "param")}
        found["error_keys"] = sorted(error)
    choices = decoded.get("choices") if isinstance(decoded, dict) else None
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        found["choice_keys"] = sorted(choices[0])
        message = choices[0].get("message")
        found["message_keys"] = sorted(message) if isinstance(message, dict) else None
        found["finish_reason"] = choices[0].get("finish_reason")
    return found


def _stream_structure(body: bytes) -> dict[str, Any]:
    text = body.decode("utf-8")
    data = [line[len("data:") :].strip() for line in text.split("\n") if line.startswith("data:")]
    chunks = [json.loads(item) for item in data if item != "[DONE]"]
    chunk_keys = sorted({key for chunk in chunks for key in chunk})
    usage_chunks = [chunk for chunk in chunks if chunk.get("usage")]
    finish = [
        choice.get("finish_reason")
        for chunk in chunks
        for choice in chunk.get("choices") or ()
        if choice.get("finish_reason")
    ]
    return {
        "chunk_keys": chunk_keys,
        "done": bool(data) and data[-1] == "[DONE]",
        "ends_with_blank_line": text.endswith("\n\n"),
        "usage_chunks": len(usage_chunks),
        "usage_chunk_choices": [len(chunk.get("choices") or ()) for chunk in usage_chunks],
        "finish_reasons": finish,
        "content": "".join(
            (choice.get("delta") or {}).get("content") or ""
            for chunk in chunks
            for choice in chunk.get("choices") or ()
        )
        != "",
    }


def capture(out: Path = TRANSCRIPTS) -> None:
    """Observe the pinned gateway: send every case, write its transcript, print status and structure."""
    binary = litellm_bin()
    command = f"{LITELLM_BIN_ENV}=<venv>/bin/litellm python -m tests.gateway"
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    out.mkdir(parents=True, exist_ok=True)
    with running_gateway(binary) as gateway:
        for case in CASES:
            raw = send(gateway, case)
            text = record(case, raw, gateway, command=command, when=when)
            (out / f"{case.name}.http").write_text(text, encoding="utf-8")
            print(case.name, json.dumps(structure(raw.status, dict(raw.headers), raw.body)))


if __name__ == "__main__":
    capture(Path(sys.argv[1]) if len(sys.argv) > 1 else TRANSCRIPTS)
