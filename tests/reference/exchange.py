"""Talking to the reference endpoint in tests: requests, SSE read by hand, error envelopes asserted.

Parsed here without the workbench's own decoder, so the endpoint is judged by independent code.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from tests.canary import canary_key
from workbench.reference.endpoint import EmbeddedEndpoint

KEY = canary_key("reference")  # recognisable, so a leak is easy to find
WRONG_KEY = canary_key("wrong")
MODEL = "wb-reference-1"
MESSAGES = [{"role": "user", "content": "Reply with a short acknowledgement please"}]
CHAT = "/v1/chat/completions"

Endpoints = Callable[..., EmbeddedEndpoint]  # scenarios (and latency_ms) -> a started endpoint


def chat(
    http: httpx.Client, endpoint: EmbeddedEndpoint, body: Any = None, *, key: str | None = KEY, **fields: Any
) -> httpx.Response:
    """POST a chat completion; `body` replaces the default request, `fields` are merged into it."""
    if body is None:
        body = {"model": MODEL, "messages": MESSAGES, **fields}
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    if isinstance(body, bytes):
        return http.post(endpoint.base_url + CHAT, content=body, headers=headers)
    return http.post(endpoint.base_url + CHAT, json=body, headers=headers)


def sse_events(response: httpx.Response) -> list[tuple[str | None, str]]:
    """(event name, data) per SSE event, in order (parsed by hand, not by the code under test)."""
    assert response.headers["content-type"].startswith("text/event-stream")
    events: list[tuple[str | None, str]] = []
    for block in response.text.split("\n\n"):
        lines = [line for line in block.split("\n") if line and not line.startswith(":")]
        if not lines:
            continue
        names = [line.removeprefix("event: ") for line in lines if line.startswith("event: ")]
        data = [line.removeprefix("data: ") for line in lines if line.startswith("data: ")]
        assert len(names) + len(data) == len(lines) and len(names) <= 1 and data, block
        events.append((names[0] if names else None, "\n".join(data)))
    return events


def sse_data(response: httpx.Response) -> list[str]:
    """The `data:` payloads of an SSE body that has only unnamed (`message`) events."""
    events = sse_events(response)
    assert all(name is None for name, _ in events), events
    return [data for _, data in events]


def chunks(payloads: list[str]) -> list[dict[str, Any]]:
    return [json.loads(p) for p in payloads if p != "[DONE]"]


def assert_error(response: httpx.Response, status: int, *, param: str | None, code: str | None) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert (error["param"], error["code"]) == (param, code)
    assert isinstance(error["message"], str) and error["message"]
    return str(error["message"])
