"""A real LiteLLM proxy on loopback in front of the embedded reference endpoint, and its transcripts.

LiteLLM (`litellm[proxy]`, pinned in `.ci/litellm.lock`) lives in a virtualenv of its own, which
`.ci/run` builds and names by `WORKBENCH_LITELLM_BIN` (the venv's `litellm` command). Without the
variable the gateway tests skip, unless `WORKBENCH_REQUIRE_GATEWAY=1` (CI), where they fail.

`Gateway` starts the reference endpoint (conformant) and the proxy with a master key built at run
time, `LITELLM_LOCAL_MODEL_COST_MAP=True` (no network at start-up) and a working folder of its own
(LiteLLM reads a `.env` from its working directory). Each model of `ROUTES` is routed to a reference
endpoint of its own (the conformant one, and one that refuses an assistant `content: null`), all
as `openai/wb-reference-1`. `CASES` are the raw requests the negative, streaming, tool and format
probes send; `record(...)` turns one exchange into the transcript text kept in
`tests/data/gateway/`, with every key replaced by a placeholder, and `structure(...)` is what a
transcript and a live answer must agree on: status, media type, envelope keys, the error's
type/code/param, the stream's chunk and choice keys and termination, where usage lands, the keys of
each tool call and tool-call delta and whether its arguments reassemble into a JSON object, whether
the content is a JSON object; never ids, timestamps or text.

Capture (observe) again: `WORKBENCH_LITELLM_BIN=$(bash .ci/litellm-venv) python -m tests.gateway`
(every case), or name cases to record only those: `python -m tests.gateway tool_call_required`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from tests.canary import canary_key
from tests.paths import DATA
from workbench.core.scenarios import Scenario
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
# A second route, to an upstream that refuses an assistant message with `content: null` (mistral-common
# #324): does the gateway pass the app's round trip through as sent?
STRICT_MODEL = "wb-rejects-null-content"
ROUTES: dict[str, Scenario] = {
    MODEL: Scenario.CONFORMANT,
    STRICT_MODEL: Scenario.TOOL_RESULT_CONTENT_NULL_REJECTED,
}
STRUCTURED_BUDGET = 256  # what the tool and format probes ask when the app sets no max_tokens

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
    model: str = MODEL  # the route: which upstream of `ROUTES` answers


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


def _tool(name: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    parameters = {"type": "object", "properties": properties, "required": required}
    return {"type": "function", "function": {"name": name, "parameters": parameters}}


# The agent app of tests/probes/test_app_contract.py and README "What your app uses".
TOOLS = [
    _tool(
        "get_weather",
        {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        ["city"],
    ),
    _tool("get_time", {"zone": {"type": "string"}}, ["zone"]),
]
NAMED = {"type": "function", "function": {"name": "get_time"}}
# The JSON app's schema.
JSON_SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "ack",
        "schema": {
            "type": "object",
            "properties": {"acknowledgement": {"type": "string"}},
            "required": ["acknowledgement"],
        },
    },
}
# What request.tool_round_trip sends back (workbench/probes/tools.py): the call with content null, then
# its result; the arguments are those the reference endpoint builds for get_weather.
ROUND_TRIP_CALL = {
    "id": "call_wbprobe0",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city":"example","unit":"celsius"}'},
}
ROUND_TRIP = [
    {"role": "user", "content": PROMPT},
    {"role": "assistant", "content": None, "tool_calls": [ROUND_TRIP_CALL]},
    {
        "role": "tool",
        "tool_call_id": "call_wbprobe0",
        "content": '{"status": "ok", "note": "contract probe tool result"}',
    },
]

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
    # -- the app's contract (issue 19): an agent app's tools, a JSON app's response_format --
    Case(
        "tool_call_required",
        'tools with tool_choice "required" (request.tool_call)',
        _json(max_tokens=STRUCTURED_BUDGET, tools=TOOLS, tool_choice="required"),
    ),
    Case(
        "tool_call_named",
        "tools with tool_choice naming get_time (request.tool_call of an app that names its tool)",
        _json(max_tokens=STRUCTURED_BUDGET, tools=TOOLS, tool_choice=NAMED),
    ),
    Case(
        "tool_call_required_stream",
        'tool_choice "required", streamed with include_usage (streaming.tool_call, streaming.sse)',
        _json(
            stream=True,
            stream_options={"include_usage": True},
            max_tokens=STRUCTURED_BUDGET,
            tools=TOOLS,
            tool_choice="required",
        ),
        stream=True,
    ),
    Case(
        "tool_call_named_stream",
        "tool_choice naming get_time, streamed without stream_options (streaming.tool_call)",
        _json(stream=True, max_tokens=STRUCTURED_BUDGET, tools=TOOLS, tool_choice=NAMED),
        stream=True,
    ),
    Case(
        "tool_round_trip",
        "the call sent back with content null and a tool message (request.tool_round_trip)",
        _json(messages=ROUND_TRIP, tools=TOOLS),
    ),
    Case(
        "tool_round_trip_strict_upstream",
        "the same round trip, routed to an upstream that refuses content null (request.tool_round_trip)",
        _json(model=STRICT_MODEL, messages=ROUND_TRIP, tools=TOOLS),
        model=STRICT_MODEL,
    ),
    Case(
        "json_object",
        "response_format json_object (request.structured_output)",
        _json(max_tokens=STRUCTURED_BUDGET, response_format={"type": "json_object"}),
    ),
    Case(
        "json_object_stream",
        "response_format json_object, streamed without stream_options (streaming.sse of a JSON app)",
        _json(stream=True, max_tokens=STRUCTURED_BUDGET, response_format={"type": "json_object"}),
        stream=True,
    ),
    Case(
        "json_schema",
        "response_format json_schema (request.structured_output)",
        _json(max_tokens=STRUCTURED_BUDGET, response_format=JSON_SCHEMA),
    ),
    Case(
        "json_schema_stream",
        "response_format json_schema, streamed with include_usage (streaming.sse of a JSON app)",
        _json(
            stream=True,
            stream_options={"include_usage": True},
            max_tokens=STRUCTURED_BUDGET,
            response_format=JSON_SCHEMA,
        ),
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
    upstreams: Mapping[str, str]  # model -> the base URL of the reference endpoint it is routed to

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


def _config(upstreams: Mapping[str, str], upstream_key: str, master_key: str) -> str:
    """The minimal proxy config: each model routed to its reference endpoint (all serve `MODEL`), one
    master key, no database."""
    routes = "".join(
        f"  - model_name: {name}\n"
        "    litellm_params:\n"
        f"      model: openai/{MODEL}\n"
        f"      api_base: {upstream}/v1\n"
        f"      api_key: {upstream_key}\n"
        for name, upstream in upstreams.items()
    )
    return (
        "model_list:\n" + routes + "general_settings:\n"
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
    """The reference endpoints of `ROUTES` and a LiteLLM proxy in front of them, all on loopback;
    stopped after."""
    upstream_key, master_key = canary_key("upstream"), canary_key("gateway")
    wrong_key = "sk-wrong-" + secrets.token_hex(16)
    version = installed_version(binary)
    with ExitStack() as stack:
        upstreams = {
            name: stack.enter_context(
                EmbeddedEndpoint(frozenset({scenario}), api_key=upstream_key, models=(MODEL,))
            ).base_url
            for name, scenario in ROUTES.items()
        }
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        (folder / "config.yaml").write_text(_config(upstreams, upstream_key, master_key))
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.lower().endswith("_proxy") and key not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")
        }
        env.update(LITELLM_LOCAL_MODEL_COST_MAP="True", NO_PROXY="*", PYTHONUNBUFFERED="1")
        process, port = _start(binary, folder, env)
        try:
            yield Gateway(
                f"http://127.0.0.1:{port}",
                "127.0.0.1",
                port,
                master_key,
                wrong_key,
                upstream_key,
                version,
                upstreams,
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
    """POST the case's body to the gateway as the probes do (their headers), read the whole response."""
    return _post(gateway.host, gateway.port, gateway.key_for(case.key), case.body, stream=case.stream)


def send_upstream(gateway: Gateway, case: Case) -> Raw:
    """The same request straight to the reference endpoint the case's model is routed to (the model
    named as the gateway names it upstream, the upstream key): what the gateway itself received."""
    body = json.loads(case.body)
    body["model"] = MODEL
    url = urllib.parse.urlsplit(gateway.upstreams[case.model])
    host, port = url.hostname or "127.0.0.1", url.port or 80
    return _post(host, port, gateway.upstream_key, json.dumps(body).encode(), stream=case.stream)


def _post(host: str, port: int, key: str | None, payload: bytes, *, stream: bool) -> Raw:
    headers = {
        "Host": f"{host}:{port}",
        "User-Agent": "contract-workbench-gateway-test",
        "Accept-Encoding": "identity",
        "Content-Type": "application/json",
        "Accept": "text/event-stream" if stream else "application/json",
        "Content-Length": str(len(payload)),
    }
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    head = f"POST {PATH} HTTP/1.1\n" + "".join(f"{name}: {value}\n" for name, value in headers.items())
    connection = http.client.HTTPConnection(host, port, timeout=60)
    try:
        connection.putrequest("POST", PATH, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders(payload)
        response = connection.getresponse()
        body = response.read()
        return Raw(head, payload, response.status, response.reason, tuple(response.getheaders()), body)
    finally:
        connection.close()


def record(case: Case, raw: Raw, gateway: Gateway, *, command: str, when: str) -> str:
    """The transcript text: a header comment, the raw request, the raw response; keys as placeholders."""
    routed = "model" if case.model == MODEL else f"model {case.model}"
    lines = [
        f"# LiteLLM proxy {gateway.version} (litellm[proxy], .ci/litellm.lock) on 127.0.0.1 in front of the",
        f"# embedded reference endpoint ({ROUTES[case.model]}), {routed} routed as openai/{MODEL}.",
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
        if isinstance(message, dict):
            found["content"] = _content_kind(message.get("content", _ABSENT))
            calls = message.get("tool_calls")
            if isinstance(calls, list):
                found["tool_calls"] = [_call_structure(call) for call in calls]
    return found


_ABSENT: Any = object()


def _content_kind(content: Any) -> str:
    """What a content is, never what it says: absent, null, empty, a JSON object, or text."""
    if content is _ABSENT:
        return "absent"
    if content is None:
        return "null"
    if not isinstance(content, str):
        return type(content).__name__
    if not content:
        return "empty"
    try:
        return "JSON object" if isinstance(json.loads(content), dict) else "text"
    except ValueError:
        return "text"


def _flat_keys(value: Any, prefix: str = "") -> list[str]:
    """`{"id": .., "function": {"name": ..}}` -> ["function", "function.name", "id"]: keys, no values."""
    if not isinstance(value, dict):
        return []
    keys = [prefix + key for key in value]
    keys += [nested for key, item in value.items() for nested in _flat_keys(item, f"{prefix}{key}.")]
    return sorted(keys)


def _call_structure(call: Any) -> dict[str, Any]:
    arguments = call.get("function", {}).get("arguments") if isinstance(call, dict) else None
    return {"keys": _flat_keys(call), "arguments": _content_kind(arguments)}


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
    entries = [choice for chunk in chunks for choice in chunk.get("choices") or ()]
    with_finish_key = [choice for choice in entries if "finish_reason" in choice]
    set_finish = [choice for choice in entries if choice.get("finish_reason") is not None]
    if len(with_finish_key) == len(entries):
        finish_key = "on every choice"
    elif with_finish_key == set_finish:
        finish_key = "only where set"
    else:
        finish_key = "mixed"
    first_delta = next((choice.get("delta") for choice in entries if "delta" in choice), None)
    return {
        "chunk_keys": chunk_keys,
        "choice_keys": sorted({key for choice in entries for key in choice}),
        "finish_reason_key": finish_key,
        "first_delta_keys": _flat_keys(first_delta),
        "tool_deltas": _tool_delta_structure(entries),
        "content": _content_kind(
            "".join((choice.get("delta") or {}).get("content") or "" for choice in entries)
        ),
        "done": bool(data) and data[-1] == "[DONE]",
        "ends_with_blank_line": text.endswith("\n\n"),
        "usage_chunks": len(usage_chunks),
        "usage_chunk_choices": [len(chunk.get("choices") or ()) for chunk in usage_chunks],
        "finish_reasons": finish,
    }


def _tool_delta_structure(entries: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The keys of each call's first delta and of the deltas after it, whether every delta carries an
    `index`, and whether each call's arguments reassemble into a JSON object (never the arguments)."""
    deltas = [
        delta
        for choice in entries
        for delta in (choice.get("delta") or {}).get("tool_calls") or ()
        if isinstance(delta, dict)
    ]
    if not deltas:
        return None
    first: dict[Any, list[str]] = {}
    rest: set[str] = set()
    arguments: dict[Any, str] = {}
    for delta in deltas:
        index = delta.get("index")
        if index in first:
            rest.update(_flat_keys(delta))
        else:
            first[index] = _flat_keys(delta)
        arguments[index] = arguments.get(index, "") + ((delta.get("function") or {}).get("arguments") or "")
    return {
        "calls": len(first),
        "first_keys": sorted(first.values()),
        "rest_keys": sorted(rest),
        "index_on_every_delta": all(isinstance(delta.get("index"), int) for delta in deltas),
        "arguments": sorted(_content_kind(text) for text in arguments.values()),
    }


def argument_fragments(body: bytes) -> list[tuple[Any, str]]:
    """Every tool-call delta of a stream as (index, arguments fragment), in order: to compare how two
    hops split the same arguments."""
    fragments = []
    for line in body.decode("utf-8").split("\n"):
        payload = line[len("data:") :].strip() if line.startswith("data:") else "[DONE]"
        if payload == "[DONE]":
            continue
        for choice in json.loads(payload).get("choices") or ():
            for delta in (choice.get("delta") or {}).get("tool_calls") or ():
                fragments.append((delta.get("index"), (delta.get("function") or {}).get("arguments")))
    return fragments


def capture(out: Path = TRANSCRIPTS, names: Sequence[str] = ()) -> None:
    """Observe the pinned gateway: send every case, write its transcript, print status and structure."""
    unknown = sorted(set(names) - {case.name for case in CASES})
    if unknown:
        raise SystemExit(f"unknown case(s) {unknown}; known: {sorted(case.name for case in CASES)}")
    binary = litellm_bin()
    command = " ".join([f"{LITELLM_BIN_ENV}=<venv>/bin/litellm python -m tests.gateway", *names])
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    out.mkdir(parents=True, exist_ok=True)
    with running_gateway(binary) as gateway:
        for case in CASES:
            if names and case.name not in names:
                continue
            raw = send(gateway, case)
            text = record(case, raw, gateway, command=command, when=when)
            (out / f"{case.name}.http").write_text(text, encoding="utf-8")
            print(case.name, json.dumps(structure(raw.status, dict(raw.headers), raw.body)))


def main(argv: Sequence[str]) -> None:
    """`python -m tests.gateway [--out DIR] [CASE ...]`: record every case, or the ones named."""
    parser = argparse.ArgumentParser(prog="python -m tests.gateway", description=capture.__doc__)
    parser.add_argument("--out", type=Path, default=TRANSCRIPTS, help="where the transcripts go")
    parser.add_argument("cases", nargs="*", help="case names (default: every case)")
    args = parser.parse_args(argv)
    capture(args.out, args.cases)


if __name__ == "__main__":
    main(sys.argv[1:])
