"""The embedded reference endpoint, exercised over real loopback HTTP (httpx and the official client)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest
from bs4 import BeautifulSoup
from openai import OpenAI
from openai.types.chat import ChatCompletionChunk

from tests.commands import default_signals
from tests.paths import REPO
from tests.reference.exchange import (
    CHAT,
    KEY,
    MESSAGES,
    MODEL,
    WRONG_KEY,
    Endpoints,
    assert_error,
    chat,
    chunks,
    sse_data,
    sse_events,
)
from workbench.core.errors import ConfigError
from workbench.core.scenarios import Scenario
from workbench.reference.answers import REPLIES
from workbench.reference.endpoint import EmbeddedEndpoint, ForegroundEndpoint

# --- success ---------------------------------------------------------------------------------------


def test_success_envelope_has_every_documented_field(
    http: httpx.Client, conformant: EmbeddedEndpoint
) -> None:
    before = int(time.time())
    response = chat(http, conformant)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == [
        "id", "object", "created", "model", "choices", "usage", "system_fingerprint", "service_tier",
    ]  # fmt: skip
    assert body["id"].startswith("chatcmpl-") and len(body["id"]) > len("chatcmpl-")
    assert body["object"] == "chat.completion"
    assert isinstance(body["created"], int) and before - 1 <= body["created"] <= int(time.time()) + 1
    assert body["model"] == MODEL
    assert body["system_fingerprint"] == "fp_wb_reference"
    assert body["service_tier"] == "default"
    [choice] = body["choices"]
    assert choice == {
        "index": 0,
        "message": {"role": "assistant", "content": choice["message"]["content"], "refusal": None},
        "finish_reason": "stop",
        "logprobs": None,
    }
    content = choice["message"]["content"]
    assert content in REPLIES
    prompt_words = len(MESSAGES[0]["content"].split())
    assert body["usage"] == {
        "prompt_tokens": prompt_words,
        "completion_tokens": len(content.split()),
        "total_tokens": prompt_words + len(content.split()),
    }


def test_content_is_deterministic_and_never_echoes_the_request(
    http: httpx.Client, conformant: EmbeddedEndpoint
) -> None:
    marker = "zebra-quokka-4471"
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": f"Say {marker}"}]
    first, second = (chat(http, conformant, {"model": MODEL, "messages": messages}) for _ in range(2))
    content = first.json()["choices"][0]["message"]["content"]
    assert content == second.json()["choices"][0]["message"]["content"]
    assert first.json()["id"] != second.json()["id"]
    assert marker not in first.text
    assert first.json()["usage"]["prompt_tokens"] == 4


def test_n_2_gives_two_indexed_choices(http: httpx.Client, conformant: EmbeddedEndpoint) -> None:
    body = chat(http, conformant, n=2).json()
    assert [c["index"] for c in body["choices"]] == [0, 1]
    words = sum(len(c["message"]["content"].split()) for c in body["choices"])
    assert body["usage"]["completion_tokens"] == words


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_token_limit_truncates_with_finish_reason_length(
    http: httpx.Client, conformant: EmbeddedEndpoint, field: str
) -> None:
    body = chat(http, conformant, **{field: 2}).json()
    [choice] = body["choices"]
    assert choice["finish_reason"] == "length"
    assert len(choice["message"]["content"].split()) == 2
    assert body["usage"]["completion_tokens"] == 2


def test_a_large_limit_does_not_truncate(http: httpx.Client, conformant: EmbeddedEndpoint) -> None:
    choice = chat(http, conformant, max_tokens=100).json()["choices"][0]
    assert choice["finish_reason"] == "stop" and choice["message"]["content"] in REPLIES


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param(
            {"temperature": 0, "top_p": 1, "presence_penalty": -2, "frequency_penalty": 2}, id="bounds"
        ),
        pytest.param({"temperature": 2.0, "top_logprobs": 20, "logprobs": True}, id="upper-bounds"),
        pytest.param({"temperature": None, "n": None, "stream": None, "stop": None}, id="nulls"),
        pytest.param({"stop": ["a", "b", "c", "d"]}, id="stop-list-of-4"),
        pytest.param({"stop": "\n"}, id="stop-string"),
        pytest.param({"stream": False}, id="stream-false"),
        pytest.param(
            {"user": "u1", "seed": 7, "tools": [], "response_format": {"type": "text"}}, id="extras"
        ),
    ],
)
def test_valid_values_are_accepted(
    http: httpx.Client, conformant: EmbeddedEndpoint, fields: dict[str, Any]
) -> None:
    assert chat(http, conformant, **fields).status_code == 200


def test_every_message_role_and_content_form_is_accepted(
    http: httpx.Client, conformant: EmbeddedEndpoint
) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}
    messages = [
        {"role": "developer", "content": "Be brief."},
        {"role": "system", "content": ""},
        {"role": "user", "content": [{"type": "text", "text": "two words"}]},
        {"role": "assistant", "content": None, "tool_calls": [call]},  # null content beside tool calls
        {"role": "tool", "content": "ok", "tool_call_id": "call_1"},
        {"role": "assistant", "content": "fine", "tool_calls": []},
        {"role": "user", "content": "thanks"},
    ]
    response = chat(http, conformant, {"model": MODEL, "messages": messages})
    assert response.status_code == 200, response.text
    assert response.json()["usage"]["prompt_tokens"] == 7


# --- streaming -------------------------------------------------------------------------------------


def test_stream_delivers_role_words_finish_and_done(http: httpx.Client, conformant: EmbeddedEndpoint) -> None:
    response = chat(http, conformant, stream=True)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-request-id"]
    payloads = sse_data(response)
    assert payloads[-1] == "[DONE]" and payloads.count("[DONE]") == 1
    parsed = chunks(payloads)
    assert len(parsed) >= 4
    assert {c["id"] for c in parsed} == {parsed[0]["id"]} and parsed[0]["id"].startswith("chatcmpl-")
    assert {c["created"] for c in parsed} == {parsed[0]["created"]}
    assert {c["object"] for c in parsed} == {"chat.completion.chunk"}
    assert {c["model"] for c in parsed} == {MODEL}
    assert all(c["system_fingerprint"] == "fp_wb_reference" and "usage" not in c for c in parsed)
    assert parsed[0]["choices"] == [
        {"index": 0, "delta": {"role": "assistant", "content": "", "refusal": None}, "finish_reason": None,
         "logprobs": None}
    ]  # fmt: skip
    middle = parsed[1:-1]
    assert all(c["choices"][0]["finish_reason"] is None and set(c["choices"][0]["delta"]) == {"content"}
               for c in middle)  # fmt: skip
    assert parsed[-1]["choices"] == [{"index": 0, "delta": {}, "finish_reason": "stop", "logprobs": None}]
    text = "".join(c["choices"][0]["delta"]["content"] for c in parsed[:-1])
    assert len(middle) == len(text.split())
    assert text == chat(http, conformant).json()["choices"][0]["message"]["content"]


def test_stream_is_written_incrementally(http: httpx.Client, conformant: EmbeddedEndpoint) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    body = {"model": MODEL, "messages": MESSAGES, "stream": True}
    with http.stream("POST", conformant.base_url + CHAT, json=body, headers=headers) as response:
        reads = [piece for piece in response.iter_raw() if piece]
    assert len(reads) >= 3  # one buffered write arrives as one read (plus the chunked terminator)
    assert b"".join(reads).endswith(b"data: [DONE]\n\n")


def test_stream_include_usage_adds_a_usage_only_final_chunk(
    http: httpx.Client, conformant: EmbeddedEndpoint
) -> None:
    response = chat(http, conformant, stream=True, stream_options={"include_usage": True})
    payloads = sse_data(response)
    assert payloads[-1] == "[DONE]"
    parsed = chunks(payloads)
    *content_chunks, usage_chunk = parsed
    assert all("usage" in c and c["usage"] is None for c in content_chunks)
    assert usage_chunk["choices"] == []
    assert usage_chunk["id"] == content_chunks[0]["id"]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in content_chunks)
    usage = usage_chunk["usage"]
    assert usage["completion_tokens"] == len(text.split())
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens"] == len(MESSAGES[0]["content"].split())


def test_stream_with_max_tokens_ends_with_length(http: httpx.Client, conformant: EmbeddedEndpoint) -> None:
    parsed = chunks(sse_data(chat(http, conformant, stream=True, max_tokens=2)))
    assert parsed[-1]["choices"][0]["finish_reason"] == "length"
    assert len([c for c in parsed if c["choices"][0]["delta"].get("content")]) == 2


def test_stream_with_n_2_streams_both_choices(http: httpx.Client, conformant: EmbeddedEndpoint) -> None:
    parsed = chunks(sse_data(chat(http, conformant, stream=True, n=2)))
    finishes = [c["choices"][0]["index"] for c in parsed if c["choices"][0]["finish_reason"] == "stop"]
    assert finishes == [0, 1]


# --- errors ----------------------------------------------------------------------------------------

VALIDATION_CASES = [
    # id, request fields (None deletes the key), param, code, text the message must contain
    ("missing-model", {"model": None}, "model", "missing_required_parameter", "model"),
    ("model-not-string", {"model": 3}, "model", "invalid_type", "model"),
    ("model-empty", {"model": ""}, "model", "invalid_value", "model"),
    ("missing-messages", {"messages": None}, "messages", "missing_required_parameter", "messages"),
    ("messages-empty", {"messages": []}, "messages", "invalid_value", "minimum length 1"),
    ("messages-not-list", {"messages": "hi"}, "messages", "invalid_type", "messages"),
    ("message-not-object", {"messages": ["hi"]}, "messages[0]", "invalid_type", "messages[0]"),
    ("role-missing", {"messages": [{"content": "x"}]}, "messages[0].role", "missing_required_parameter",
     "role"),
    ("role-unknown", {"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role", "invalid_value",
     "'user'"),
    ("content-missing", {"messages": [{"role": "user"}]}, "messages[0].content", "missing_required_parameter",
     "content"),
    ("content-wrong-type", {"messages": [{"role": "user", "content": 5}]}, "messages[0].content",
     "invalid_type", "content"),
    ("second-message-bad", {"messages": [{"role": "user", "content": "a"}, {"role": "bot", "content": "b"}]},
     "messages[1].role", "invalid_value", "messages[1].role"),
    ("tool-without-call-id", {"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id",
     "missing_required_parameter", "tool_call_id"),
    ("temperature-high", {"temperature": 5}, "temperature", "invalid_value", "between 0 and 2"),
    ("temperature-negative", {"temperature": -0.1}, "temperature", "invalid_value", "between 0 and 2"),
    ("temperature-string", {"temperature": "hot"}, "temperature", "invalid_type", "between 0 and 2"),
    ("temperature-bool", {"temperature": True}, "temperature", "invalid_type", "temperature"),
    ("top-p-high", {"top_p": 1.5}, "top_p", "invalid_value", "between 0 and 1"),
    ("n-zero", {"n": 0}, "n", "invalid_value", "from 1 to 128"),
    ("n-129", {"n": 129}, "n", "invalid_value", "from 1 to 128"),
    ("n-float", {"n": 1.5}, "n", "invalid_type", "integer"),
    ("max-tokens-zero", {"max_tokens": 0}, "max_tokens", "invalid_value", ">= 1"),
    ("max-tokens-string", {"max_tokens": "10"}, "max_tokens", "invalid_type", "integer"),
    ("max-completion-tokens-negative", {"max_completion_tokens": -1}, "max_completion_tokens",
     "invalid_value", ">= 1"),
    ("presence-penalty-low", {"presence_penalty": -3}, "presence_penalty", "invalid_value",
     "between -2 and 2"),
    ("frequency-penalty-high", {"frequency_penalty": 2.5}, "frequency_penalty", "invalid_value",
     "between -2 and 2"),
    ("top-logprobs-21", {"top_logprobs": 21}, "top_logprobs", "invalid_value", "from 0 to 20"),
    ("stream-string", {"stream": "yes"}, "stream", "invalid_type", "boolean"),
    ("stop-five-strings", {"stop": ["a", "b", "c", "d", "e"]}, "stop", "invalid_value", "up to 4"),
    ("stop-number", {"stop": 7}, "stop", "invalid_type", "up to 4"),
    ("stream-options-without-stream", {"stream_options": {"include_usage": True}}, "stream_options",
     "invalid_value", "stream"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "param", "code", "mentions"),
    [pytest.param(*case[1:], id=case[0]) for case in VALIDATION_CASES],
)
def test_validation_errors(
    http: httpx.Client,
    conformant: EmbeddedEndpoint,
    fields: dict[str, Any],
    param: str,
    code: str,
    mentions: str,
) -> None:
    body = {k: v for k, v in {"model": MODEL, "messages": MESSAGES, **fields}.items() if v is not None}
    message = assert_error(chat(http, conformant, body), 400, param=param, code=code)
    assert mentions in message


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"{not json", id="malformed"),
        pytest.param(b"", id="empty"),
        pytest.param(b"[1, 2]", id="array"),
        pytest.param(b'"text"', id="string"),
        pytest.param(b'{"model": NaN}', id="nan"),
        pytest.param(b"\xff\xfe{", id="not-utf8"),
    ],
)
def test_unparseable_body_is_400(http: httpx.Client, conformant: EmbeddedEndpoint, raw: bytes) -> None:
    message = assert_error(chat(http, conformant, raw), 400, param=None, code=None)
    assert "JSON" in message and "parse" in message


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(None, id="missing"),
        pytest.param(f"Basic {KEY}", id="not-bearer"),
        pytest.param("Bearer", id="bearer-without-key"),
        pytest.param(f"Bearer {WRONG_KEY}", id="wrong-key"),
        pytest.param(f"Bearer {KEY}x", id="key-with-suffix"),
        pytest.param("Bearer sk-ünïcode".encode(), id="non-ascii-key"),
    ],
)
def test_bad_credentials_are_401(
    http: httpx.Client, conformant: EmbeddedEndpoint, header: str | bytes | None
) -> None:
    headers = {} if header is None else {"Authorization": header}
    body = {"model": MODEL, "messages": MESSAGES}
    response = http.post(conformant.base_url + CHAT, json=body, headers=headers)
    assert_error(response, 401, param=None, code="invalid_api_key")


def test_missing_and_wrong_key_messages_differ(http: httpx.Client, conformant: EmbeddedEndpoint) -> None:
    missing = chat(http, conformant, key=None).json()["error"]["message"]
    wrong = chat(http, conformant, key=WRONG_KEY).json()["error"]["message"]
    assert missing != wrong
    assert "provide" in missing and "Incorrect" in wrong


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"{not json", id="malformed-json"),
        pytest.param({"messages": MESSAGES}, id="missing-model"),
        pytest.param({"model": MODEL, "messages": MESSAGES, "temperature": 5}, id="bad-temperature"),
        pytest.param({"model": "no-such-model", "messages": MESSAGES}, id="unknown-model"),
    ],
)
def test_auth_is_checked_before_anything_else(
    http: httpx.Client, conformant: EmbeddedEndpoint, body: dict[str, Any] | bytes
) -> None:
    assert_error(chat(http, conformant, body, key=WRONG_KEY), 401, param=None, code="invalid_api_key")


def test_required_fields_are_checked_before_values(http: httpx.Client, conformant: EmbeddedEndpoint) -> None:
    response = chat(http, conformant, {"model": MODEL, "temperature": 5})
    assert_error(response, 400, param="messages", code="missing_required_parameter")


def test_values_are_checked_before_model_existence(http: httpx.Client, conformant: EmbeddedEndpoint) -> None:
    response = chat(http, conformant, {"model": "no-such-model", "messages": MESSAGES, "temperature": 5})
    assert_error(response, 400, param="temperature", code="invalid_value")


def test_unknown_model_is_404(http: httpx.Client, conformant: EmbeddedEndpoint) -> None:
    response = chat(http, conformant, {"model": "gpt-nope", "messages": MESSAGES})
    message = assert_error(response, 404, param="model", code="model_not_found")
    assert message == "The model 'gpt-nope' does not exist or you do not have access to it."


@pytest.mark.parametrize(
    ("method", "path", "status", "message"),
    [
        pytest.param("POST", "/v1/nope", 404, "Invalid URL (POST /v1/nope)", id="unknown-path"),
        pytest.param(
            "POST", "/chat/completions", 404, "Invalid URL (POST /chat/completions)", id="no-v1-prefix"
        ),
        pytest.param("GET", CHAT, 405, "GET /v1/chat/completions", id="get-chat"),
        pytest.param("DELETE", "/v1/models", 405, "DELETE /v1/models", id="delete-models"),
    ],
)
def test_routing_errors_use_the_envelope(
    http: httpx.Client, conformant: EmbeddedEndpoint, method: str, path: str, status: int, message: str
) -> None:
    response = http.request(method, conformant.base_url + path, headers={"Authorization": f"Bearer {KEY}"})
    assert message in assert_error(response, status, param=None, code=None)
    assert response.headers["x-request-id"].startswith("req_")
    if status == 405:
        assert response.headers["allow"]


# --- models ----------------------------------------------------------------------------------------


def test_models_lists_the_configured_models(http: httpx.Client, conformant: EmbeddedEndpoint) -> None:
    response = http.get(conformant.base_url + "/v1/models", headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    [model] = body["data"]
    assert set(model) == {"id", "object", "created", "owned_by"}
    assert (model["id"], model["object"], model["owned_by"]) == (MODEL, "model", "contract-workbench")
    assert isinstance(model["created"], int)


def test_models_requires_auth(http: httpx.Client, conformant: EmbeddedEndpoint) -> None:
    assert_error(http.get(conformant.base_url + "/v1/models"), 401, param=None, code="invalid_api_key")


def test_custom_models_are_listed_and_served(http: httpx.Client) -> None:
    with EmbeddedEndpoint(api_key=KEY, models=("alpha", "beta")) as endpoint:
        listed = http.get(endpoint.base_url + "/v1/models", headers={"Authorization": f"Bearer {KEY}"})
        assert [m["id"] for m in listed.json()["data"]] == ["alpha", "beta"]
        assert chat(http, endpoint, {"model": "beta", "messages": MESSAGES}).json()["model"] == "beta"
        assert chat(http, endpoint, {"model": MODEL, "messages": MESSAGES}).status_code == 404


def test_no_models_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one model"):
        EmbeddedEndpoint(api_key=KEY, models=())


# --- no secrets, request ids -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "scenarios",
    [
        pytest.param((Scenario.CONFORMANT,), id="conformant"),
        pytest.param((Scenario.GATEWAY_HTML_ERRORS,), id="gateway-html-errors"),
        pytest.param(
            (Scenario.AUTH_NOT_ENFORCED, Scenario.LENIENT_VALIDATION), id="auth-not-enforced+lenient"
        ),
        pytest.param(
            (Scenario.FLAT_ERRORS, Scenario.STREAM_ERROR_IN_200, Scenario.USAGE_EVERY_CHUNK), id="flat+stream"
        ),
    ],
)
def test_no_key_in_any_response_and_every_response_has_a_request_id(
    http: httpx.Client, endpoints: Endpoints, scenarios: tuple[Scenario, ...]
) -> None:
    endpoint = endpoints(*scenarios)
    responses = [
        chat(http, endpoint),
        chat(http, endpoint, stream=True, stream_options={"include_usage": True}),
        chat(http, endpoint, key=WRONG_KEY),
        chat(http, endpoint, b"{bad json"),
        chat(http, endpoint, temperature=9),
        chat(http, endpoint, {"model": "nope", "messages": MESSAGES}),
        http.get(endpoint.base_url + "/v1/models", headers={"Authorization": f"Bearer {KEY}"}),
        http.get(endpoint.base_url + "/v1/models", headers={"Authorization": f"Bearer {WRONG_KEY}"}),
        http.get(endpoint.base_url + "/v1/missing", headers={"Authorization": f"Bearer {KEY}"}),
        http.get(endpoint.base_url + CHAT, headers={"Authorization": f"Bearer {KEY}"}),
    ]
    assert {r.status_code for r in responses} >= {200, 400, 404}
    for response in responses:
        exposed = response.text + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        for secret in (KEY, WRONG_KEY, "canary"):
            assert secret not in exposed, (response.request.url, response.status_code)
        assert response.headers["x-request-id"].startswith("req_")
    assert len({r.headers["x-request-id"] for r in responses}) == len(responses)


# --- scenarios -------------------------------------------------------------------------------------


def test_missing_usage(http: httpx.Client, endpoints: Endpoints) -> None:
    endpoint = endpoints(Scenario.MISSING_USAGE)
    body = chat(http, endpoint).json()
    assert "usage" not in body and body["choices"][0]["message"]["content"] in REPLIES
    payloads = sse_data(chat(http, endpoint, stream=True, stream_options={"include_usage": True}))
    assert payloads[-1] == "[DONE]"
    parsed = chunks(payloads)
    assert all("usage" not in c for c in parsed)
    assert all(c["choices"] for c in parsed)


def test_content_moved(http: httpx.Client, endpoints: Endpoints) -> None:
    endpoint = endpoints(Scenario.CONTENT_MOVED)
    body = chat(http, endpoint).json()
    [choice] = body["choices"]
    assert "message" not in choice
    assert choice["text"] in REPLIES and choice["finish_reason"] == "stop"
    assert body["object"] == "chat.completion" and "usage" in body
    parsed = chunks(sse_data(chat(http, endpoint, stream=True)))
    deltas = [c["choices"][0]["delta"] for c in parsed]
    assert all("content" not in d for d in deltas)
    assert "".join(d.get("text", "") for d in deltas) == choice["text"]


@pytest.mark.parametrize("key", [pytest.param(None, id="no-key"), pytest.param(WRONG_KEY, id="wrong-key")])
def test_auth_not_enforced(http: httpx.Client, endpoints: Endpoints, key: str | None) -> None:
    endpoint = endpoints(Scenario.AUTH_NOT_ENFORCED)
    response = chat(http, endpoint, key=key)
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] in REPLIES
    assert http.get(endpoint.base_url + "/v1/models").status_code == 200
    assert_error(chat(http, endpoint, key=key, temperature=5), 400, param="temperature", code="invalid_value")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"messages": MESSAGES}, id="missing-model"),
        pytest.param({"model": MODEL}, id="missing-messages"),
        pytest.param({"model": MODEL, "messages": []}, id="empty-messages"),
        pytest.param({"model": MODEL, "messages": MESSAGES, "temperature": 5}, id="temperature-5"),
        pytest.param({"model": MODEL, "messages": MESSAGES, "temperature": True}, id="temperature-bool"),
        pytest.param(
            {"model": MODEL, "messages": MESSAGES, "n": 0, "max_tokens": "x"}, id="bad-n-and-max-tokens"
        ),
        pytest.param(
            {"model": MODEL, "messages": [{"role": "robot"}], "stream": "yes"}, id="bad-role-and-stream"
        ),
    ],
)
def test_lenient_validation_accepts_bad_requests(
    http: httpx.Client, endpoints: Endpoints, body: dict[str, Any]
) -> None:
    response = chat(http, endpoints(Scenario.LENIENT_VALIDATION), body)
    assert response.status_code == 200, response.text
    completion = response.json()
    assert completion["model"] == MODEL
    [choice] = completion["choices"]
    assert choice["message"]["content"] in REPLIES


def test_lenient_validation_still_rejects_what_it_cannot_read(
    http: httpx.Client, endpoints: Endpoints
) -> None:
    endpoint = endpoints(Scenario.LENIENT_VALIDATION)
    assert_error(chat(http, endpoint, b"{bad"), 400, param=None, code=None)
    assert_error(chat(http, endpoint, {"model": "nope"}), 404, param="model", code="model_not_found")
    assert_error(chat(http, endpoint, key=WRONG_KEY), 401, param=None, code="invalid_api_key")


@pytest.mark.parametrize(
    ("request_", "status", "title"),
    [
        pytest.param({"key": WRONG_KEY}, 401, "401 Unauthorized", id="401"),
        pytest.param({"body": b"{bad"}, 400, "400 Bad Request", id="400-json"),
        pytest.param({"temperature": 5}, 400, "400 Bad Request", id="400-validation"),
        pytest.param({"body": {"model": "nope", "messages": MESSAGES}}, 404, "404 Not Found", id="404-model"),
    ],
)
def test_gateway_html_errors(
    http: httpx.Client, endpoints: Endpoints, request_: dict[str, Any], status: int, title: str
) -> None:
    response = chat(http, endpoints(Scenario.GATEWAY_HTML_ERRORS), **request_)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    page = BeautifulSoup(response.text, "html.parser")
    assert page.title is not None and page.title.string == title
    assert page.h1 is not None and page.h1.string == title
    assert page.find_all("center")[-1].string == "nginx"
    assert "error" not in response.text and "{" not in response.text


def test_gateway_html_errors_cover_routing_errors_but_not_success(
    http: httpx.Client, endpoints: Endpoints
) -> None:
    endpoint = endpoints(Scenario.GATEWAY_HTML_ERRORS)
    missing = http.get(endpoint.base_url + "/v1/nope")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    wrong_method = http.get(endpoint.base_url + CHAT)
    assert wrong_method.status_code == 405 and "405 Method Not Allowed" in wrong_method.text
    ok = chat(http, endpoint)
    assert ok.status_code == 200 and ok.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("scenarios", "latency_ms", "key", "at_least_s"),
    [
        pytest.param((Scenario.SLOW,), 200.0, KEY, 0.2, id="slow-200ms"),
        pytest.param((Scenario.SLOW,), 200.0, WRONG_KEY, 0.2, id="slow-200ms-error"),
        pytest.param((Scenario.CONFORMANT,), 200.0, KEY, 0.2, id="conformant-latency-200ms"),
        pytest.param((Scenario.SLOW,), 0.0, KEY, 1.5, id="slow-default-1500ms"),
    ],
)
def test_latency_delays_every_response(
    http: httpx.Client,
    endpoints: Endpoints,
    scenarios: tuple[Scenario, ...],
    latency_ms: float,
    key: str,
    at_least_s: float,
) -> None:
    endpoint = endpoints(*scenarios, latency_ms=latency_ms)
    started = time.perf_counter()
    response = chat(http, endpoint, key=key)
    assert time.perf_counter() - started >= at_least_s
    assert response.status_code == (200 if key == KEY else 401)


def test_no_latency_by_default(http: httpx.Client, conformant: EmbeddedEndpoint) -> None:
    started = time.perf_counter()
    chat(http, conformant)
    assert time.perf_counter() - started < 1.5  # far from SLOW_DEFAULT_MS: the default adds no delay


def test_stream_without_done(http: httpx.Client, endpoints: Endpoints) -> None:
    endpoint = endpoints(Scenario.STREAM_WITHOUT_DONE)
    payloads = sse_data(chat(http, endpoint, stream=True, stream_options={"include_usage": True}))
    assert "[DONE]" not in payloads
    assert json.loads(payloads[-1])["choices"] == []  # the usage chunk is still the last event
    parsed = chunks(sse_data(chat(http, endpoint, stream=True)))
    assert parsed[-1]["choices"][0]["finish_reason"] == "stop"


def test_scenarios_compose(http: httpx.Client, endpoints: Endpoints) -> None:
    endpoint = endpoints(Scenario.MISSING_USAGE, Scenario.CONTENT_MOVED)
    body = chat(http, endpoint).json()
    assert "usage" not in body
    assert "message" not in body["choices"][0] and body["choices"][0]["text"] in REPLIES
    html_lenient = endpoints(Scenario.GATEWAY_HTML_ERRORS, Scenario.LENIENT_VALIDATION)
    assert chat(http, html_lenient, temperature=5).status_code == 200
    malformed = chat(http, html_lenient, b"{bad")
    assert malformed.status_code == 400 and malformed.headers["content-type"].startswith("text/html")


def test_stream_error_in_200(http: httpx.Client, endpoints: Endpoints) -> None:
    endpoint = endpoints(Scenario.STREAM_ERROR_IN_200)
    full = chat(http, endpoint).json()  # non-streaming is untouched
    reply = full["choices"][0]["message"]["content"]
    assert reply in REPLIES and full["choices"][0]["finish_reason"] == "stop"
    assert full["usage"]["completion_tokens"] == len(reply.split())
    response = chat(http, endpoint, stream=True)
    assert response.status_code == 200
    assert response.text.endswith("\n\n")
    events = sse_events(response)
    assert [name for name, _ in events] == [None, None, None, "error"]
    role, *words = (json.loads(data) for _, data in events[:3])
    assert role["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    assert all(c["choices"][0]["finish_reason"] is None for c in (role, *words))
    assert "".join(c["choices"][0]["delta"]["content"] for c in words) == " ".join(reply.split()[:2])
    error = json.loads(events[-1][1])
    assert list(error) == ["error"] and set(error["error"]) == {"message", "type", "code"}
    assert (error["error"]["type"], error["error"]["code"]) == ("server_error", "upstream_error")
    assert isinstance(error["error"]["message"], str) and error["error"]["message"]
    assert "[DONE]" not in response.text


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        pytest.param({"n": 2, "stream_options": {"include_usage": True}}, 2, id="n-2-include-usage"),
        pytest.param({"max_tokens": 1}, 1, id="one-word-reply"),
    ],
)
def test_stream_error_in_200_cuts_the_first_choice(
    http: httpx.Client, endpoints: Endpoints, fields: dict[str, Any], words: int
) -> None:
    events = sse_events(chat(http, endpoints(Scenario.STREAM_ERROR_IN_200), stream=True, **fields))
    assert [name for name, _ in events] == [None] * (1 + words) + ["error"]
    parsed = [json.loads(data) for _, data in events[:-1]]
    assert {c["choices"][0]["index"] for c in parsed} == {0}  # the second choice never starts
    expect_usage = "stream_options" in fields  # include_usage: `usage: null` as usual, never the usage chunk
    assert all(("usage" in c and c["usage"] is None) if expect_usage else "usage" not in c for c in parsed)


def test_stream_error_in_200_composes_with_usage_every_chunk(
    http: httpx.Client, endpoints: Endpoints
) -> None:
    events = sse_events(
        chat(http, endpoints(Scenario.STREAM_ERROR_IN_200, Scenario.USAGE_EVERY_CHUNK), stream=True)
    )
    assert [name for name, _ in events] == [None, None, None, "error"]
    counts = [json.loads(data)["usage"]["completion_tokens"] for _, data in events[:-1]]
    assert counts == [0, 1, 2]
    assert json.loads(events[-1][1])["error"]["code"] == "upstream_error"


@pytest.mark.parametrize(
    "options",
    [
        pytest.param(None, id="not-asked"),
        pytest.param({"include_usage": False}, id="declined"),
        pytest.param({"include_usage": True}, id="asked"),
    ],
)
def test_usage_every_chunk(http: httpx.Client, endpoints: Endpoints, options: dict[str, bool] | None) -> None:
    endpoint = endpoints(Scenario.USAGE_EVERY_CHUNK)
    full = chat(http, endpoint).json()  # non-streaming is untouched
    assert list(full) == list(chat(http, endpoints()).json())
    fields: dict[str, Any] = {"stream": True} | ({"stream_options": options} if options is not None else {})
    payloads = sse_data(chat(http, endpoint, **fields))
    assert payloads[-1] == "[DONE]"
    parsed = chunks(payloads)
    assert all(c["choices"] for c in parsed)  # no usage-only `choices: []` chunk
    usages = [c["usage"] for c in parsed]
    prompt = len(MESSAGES[0]["content"].split())
    assert all(u["prompt_tokens"] == prompt for u in usages)
    assert all(u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"] for u in usages)
    words = len(full["choices"][0]["message"]["content"].split())
    assert [u["completion_tokens"] for u in usages] == [0, *range(1, words + 1), words]  # role .. finish
    assert usages[-1] == full["usage"]


def test_usage_every_chunk_runs_across_choices_and_composes_with_stream_without_done(
    http: httpx.Client, endpoints: Endpoints
) -> None:
    endpoint = endpoints(Scenario.USAGE_EVERY_CHUNK, Scenario.STREAM_WITHOUT_DONE)
    payloads = sse_data(chat(http, endpoint, stream=True, n=2))
    assert "[DONE]" not in payloads
    parsed = chunks(payloads)
    counts = [c["usage"]["completion_tokens"] for c in parsed]
    assert counts == sorted(counts) and counts[0] == 0
    last = parsed[-1]  # the finish chunk of the second choice carries the whole count
    assert last["choices"][0]["index"] == 1 and last["choices"][0]["finish_reason"] == "stop"
    assert last["usage"] == chat(http, endpoint, n=2).json()["usage"]


FLAT_CASES = [
    # id, request, status, type, param
    ("401-wrong-key", {"key": WRONG_KEY}, 401, "AuthenticationError", None),
    ("401-no-key", {"key": None}, 401, "AuthenticationError", None),
    ("400-json", {"body": b"{bad"}, 400, "BadRequestError", None),
    ("400-validation", {"temperature": 5}, 400, "BadRequestError", "temperature"),
    ("400-missing", {"body": {"model": MODEL}}, 400, "BadRequestError", "messages"),
    ("404-model", {"body": {"model": "nope", "messages": MESSAGES}}, 404, "NotFoundError", "model"),
]  # fmt: skip


def assert_flat_error(response: httpx.Response, status: int, type_: str, param: str | None) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["object", "message", "type", "param", "code"]
    assert (body["object"], body["type"], body["param"]) == ("error", type_, param)
    assert type(body["code"]) is int and body["code"] == status
    assert isinstance(body["message"], str) and body["message"]
    return str(body["message"])


@pytest.mark.parametrize(
    ("request_", "status", "type_", "param"), [pytest.param(*case[1:], id=case[0]) for case in FLAT_CASES]
)
def test_flat_errors(
    http: httpx.Client,
    endpoints: Endpoints,
    request_: dict[str, Any],
    status: int,
    type_: str,
    param: str | None,
) -> None:
    message = assert_flat_error(chat(http, endpoints(Scenario.FLAT_ERRORS), **request_), status, type_, param)
    conformant = chat(http, endpoints(), **request_).json()["error"]
    assert message == conformant["message"]  # same status, same words: only the shape drifts


def test_flat_errors_cover_routing_but_not_success(http: httpx.Client, endpoints: Endpoints) -> None:
    endpoint = endpoints(Scenario.FLAT_ERRORS)
    headers = {"Authorization": f"Bearer {KEY}"}
    assert_flat_error(http.post(endpoint.base_url + "/v1/nope", headers=headers), 404, "NotFoundError", None)
    wrong_method = http.get(endpoint.base_url + CHAT, headers=headers)
    assert_flat_error(wrong_method, 405, "MethodNotAllowedError", None)
    assert wrong_method.headers["allow"]
    ok = chat(http, endpoint)
    assert list(ok.json()) == list(chat(http, endpoints()).json())
    assert ok.json()["choices"][0]["message"]["content"] in REPLIES
    assert sse_data(chat(http, endpoint, stream=True))[-1] == "[DONE]"


def test_flat_errors_compose_with_auth_not_enforced(http: httpx.Client, endpoints: Endpoints) -> None:
    endpoint = endpoints(Scenario.FLAT_ERRORS, Scenario.AUTH_NOT_ENFORCED)
    assert chat(http, endpoint, key=WRONG_KEY).status_code == 200
    assert_flat_error(
        chat(http, endpoint, key=WRONG_KEY, temperature=5), 400, "BadRequestError", "temperature"
    )
    missing = chat(http, endpoint, {"model": "nope", "messages": MESSAGES}, key=None)
    assert_flat_error(missing, 404, "NotFoundError", "model")


def test_content_array(http: httpx.Client, endpoints: Endpoints) -> None:
    endpoint = endpoints(Scenario.CONTENT_ARRAY)
    body = chat(http, endpoint).json()
    [choice] = body["choices"]
    message = choice["message"]
    assert set(message) == {"role", "content", "refusal"} and message["refusal"] is None
    parts = message["content"]
    assert isinstance(parts, list) and len(parts) == 2
    assert all(list(part) == ["type", "text"] and part["type"] == "text" and part["text"] for part in parts)
    text = "".join(part["text"] for part in parts)
    assert text in REPLIES
    assert body["usage"]["completion_tokens"] == len(text.split())
    parsed = chunks(sse_data(chat(http, endpoint, stream=True)))  # streaming keeps string deltas
    deltas = [c["choices"][0]["delta"] for c in parsed]
    assert all(isinstance(d["content"], str) for d in deltas if "content" in d)
    assert "".join(d.get("content", "") for d in deltas) == text


@pytest.mark.parametrize(
    "fields", [pytest.param({"max_tokens": 1}, id="one-word"), pytest.param({"n": 2}, id="n-2")]
)
def test_content_array_always_has_two_parts(
    http: httpx.Client, endpoints: Endpoints, fields: dict[str, Any]
) -> None:
    reference = chat(http, endpoints(), **fields).json()["choices"]
    drifted = chat(http, endpoints(Scenario.CONTENT_ARRAY), **fields).json()["choices"]
    assert len(drifted) == len(reference)
    for plain, parts in zip(reference, drifted, strict=True):
        assert len(parts["message"]["content"]) == 2
        assert "".join(p["text"] for p in parts["message"]["content"]) == plain["message"]["content"]


def test_content_array_composes_with_missing_usage(http: httpx.Client, endpoints: Endpoints) -> None:
    endpoint = endpoints(Scenario.CONTENT_ARRAY, Scenario.MISSING_USAGE)
    body = chat(http, endpoint).json()
    assert "usage" not in body
    assert "".join(p["text"] for p in body["choices"][0]["message"]["content"]) in REPLIES
    parsed = chunks(sse_data(chat(http, endpoint, stream=True, stream_options={"include_usage": True})))
    assert all("usage" not in c and c["choices"] for c in parsed)


def test_precedence_when_new_scenarios_contradict(http: httpx.Client, endpoints: Endpoints) -> None:
    """Contradictory pairs resolve one way: HTML over flat, no usage over running usage, text over parts."""
    html = chat(http, endpoints(Scenario.FLAT_ERRORS, Scenario.GATEWAY_HTML_ERRORS), key=WRONG_KEY)
    assert html.status_code == 401 and html.headers["content-type"].startswith("text/html")
    no_usage = endpoints(Scenario.USAGE_EVERY_CHUNK, Scenario.MISSING_USAGE)
    assert all("usage" not in c for c in chunks(sse_data(chat(http, no_usage, stream=True))))
    moved = chat(http, endpoints(Scenario.CONTENT_ARRAY, Scenario.CONTENT_MOVED)).json()["choices"][0]
    assert "message" not in moved and moved["text"] in REPLIES


# --- lifecycle -------------------------------------------------------------------------------------


def test_two_endpoints_run_at_once(http: httpx.Client) -> None:
    conformant = EmbeddedEndpoint(api_key=KEY)
    drifted = EmbeddedEndpoint(frozenset({Scenario.CONTENT_MOVED}), api_key="other-key")
    starters = [threading.Thread(target=e.start) for e in (conformant, drifted)]
    for thread in starters:
        thread.start()
    for thread in starters:
        thread.join()
    try:
        assert conformant.base_url != drifted.base_url
        assert conformant.base_url.startswith("http://127.0.0.1:")
        assert "message" in chat(http, conformant).json()["choices"][0]
        assert "text" in chat(http, drifted, key="other-key").json()["choices"][0]
        assert chat(http, drifted, key=KEY).status_code == 401
    finally:
        conformant.stop()
        drifted.stop()


def test_stop_is_idempotent_and_closes_the_port(http: httpx.Client) -> None:
    endpoint = EmbeddedEndpoint(api_key=KEY)
    endpoint.stop()  # never started: nothing to do
    with endpoint:
        url = endpoint.base_url
        assert chat(http, endpoint).status_code == 200
    endpoint.stop()
    endpoint.stop()
    with pytest.raises(httpx.ConnectError):
        http.get(url + "/v1/models")


def test_stop_cuts_an_open_stream(http: httpx.Client) -> None:
    endpoint = EmbeddedEndpoint(api_key=KEY).start()
    headers = {"Authorization": f"Bearer {KEY}"}
    body = {"model": MODEL, "messages": MESSAGES, "stream": True, "n": 128}
    with http.stream("POST", endpoint.base_url + CHAT, json=body, headers=headers) as response:
        pieces = response.iter_raw()
        assert next(pieces).startswith(b"data: ")
        endpoint.stop()
        with pytest.raises(httpx.HTTPError):  # the stream is cut short, not completed
            for _ in pieces:
                pass


def test_busy_port_is_a_clear_error() -> None:
    with EmbeddedEndpoint(api_key=KEY) as first:
        port = int(first.base_url.rsplit(":", 1)[1])
        second = EmbeddedEndpoint(api_key=KEY, port=port)
        with pytest.raises(RuntimeError, match=f"cannot listen on 127.0.0.1:{port}"):
            second.start()
        second.stop()


def test_serve_forever_reports_a_busy_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WB_TEST_SERVE_KEY", KEY)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(ConfigError, match=f"--port: cannot listen on 127.0.0.1:{port}"):
            ForegroundEndpoint(["conformant"], api_key_env="WB_TEST_SERVE_KEY", port=port)


def test_serve_forever_serves_and_returns_on_ctrl_c(http: httpx.Client) -> None:
    with socket.socket() as probe:  # a free port; the tiny window before the child binds it is acceptable
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = (
        "from workbench.reference.endpoint import ForegroundEndpoint; "
        f"ForegroundEndpoint(['content-moved'], api_key_env='WB_TEST_SERVE_KEY', port={port}).run(); "
        "print('returned')"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "WB_TEST_SERVE_KEY": KEY}
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=default_signals,  # the test interrupts it: Ctrl-C must not be ignored
    )
    try:
        url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 10
        while True:
            try:
                response = http.post(url + CHAT, json={"model": MODEL, "messages": MESSAGES}, headers={})
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline and child.poll() is None, (
                    child.stderr and child.stderr.read()
                )
                time.sleep(0.05)
        assert response.status_code == 401  # auth enforced; the scenario set is the one passed
        ok = http.post(
            url + CHAT,
            json={"model": MODEL, "messages": MESSAGES},
            headers={"Authorization": f"Bearer {KEY}"},
        )
        assert "text" in ok.json()["choices"][0]
        child.send_signal(signal.SIGINT)
        stdout, stderr = child.communicate(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, stderr
    assert stdout.decode().strip() == "returned"
    assert b"Traceback" not in stderr


# --- the official client ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(conformant: EmbeddedEndpoint) -> Iterator[OpenAI]:
    with httpx.Client(trust_env=False, timeout=10) as transport:
        yield OpenAI(base_url=conformant.base_url + "/v1", api_key=KEY, max_retries=0, http_client=transport)


def test_openai_client_non_streaming(client: OpenAI) -> None:
    completion = client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content in REPLIES
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.total_tokens > 0


def test_openai_client_streaming_matches_non_streaming(client: OpenAI) -> None:
    expected = client.chat.completions.create(model=MODEL, messages=MESSAGES).choices[0].message.content
    stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    received = list(stream)
    assert len(received) >= 3
    assert "".join(c.choices[0].delta.content or "" for c in received) == expected
    assert received[-1].choices[0].finish_reason == "stop"


def test_openai_client_stream_include_usage(client: OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL,
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    received = list(stream)
    assert received[-1].choices == []
    assert received[-1].usage is not None and received[-1].usage.completion_tokens > 0
    assert all(c.usage is None for c in received[:-1])


def test_openai_client_raises_for_errors(client: OpenAI, conformant: EmbeddedEndpoint) -> None:
    wrong = client.with_options(api_key=WRONG_KEY)
    with pytest.raises(openai.AuthenticationError) as auth:
        wrong.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert auth.value.code == "invalid_api_key"
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model=MODEL, messages=MESSAGES, temperature=5)
    assert bad.value.param == "temperature"
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="gpt-nope", messages=MESSAGES)
    assert missing.value.code == "model_not_found"


def test_openai_client_passes_a_content_array_through_unvalidated(
    sdk: Callable[[EmbeddedEndpoint], OpenAI], endpoints: Endpoints
) -> None:
    """`message.content` is typed `str | None`, but the SDK builds models without validation."""
    completion = sdk(endpoints(Scenario.CONTENT_ARRAY)).chat.completions.create(
        model=MODEL, messages=MESSAGES
    )
    content: object = completion.choices[0].message.content
    assert isinstance(content, list) and len(content) == 2
    assert all(type(part) is dict and part["type"] == "text" for part in content)  # plain dicts, no models
    assert "".join(part["text"] for part in content) in REPLIES


def test_openai_client_raises_api_error_for_an_error_event_in_a_200_stream(
    sdk: Callable[[EmbeddedEndpoint], OpenAI], endpoints: Endpoints
) -> None:
    """The SDK ignores the `event: error` name but raises for the `error` key in its data."""
    client = sdk(endpoints(Scenario.STREAM_ERROR_IN_200))
    expected = client.chat.completions.create(model=MODEL, messages=MESSAGES).choices[0].message.content
    assert expected is not None
    received: list[ChatCompletionChunk] = []
    with pytest.raises(openai.APIError) as failure:
        for chunk in client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True):
            received.append(chunk)
    assert type(failure.value) is openai.APIError  # not an APIStatusError: the status was 200
    assert not isinstance(failure.value, openai.APIConnectionError)
    assert failure.value.message == "The upstream model failed while generating the response."
    assert (failure.value.code, failure.value.type) == ("upstream_error", "server_error")
    assert failure.value.param is None
    assert failure.value.body == {
        "message": failure.value.message, "type": "server_error", "code": "upstream_error"
    }  # fmt: skip
    assert len(received) == 3  # role and two words were delivered before the raise
    assert "".join(c.choices[0].delta.content or "" for c in received) == " ".join(expected.split()[:2])


def test_openai_client_reads_flat_errors_by_status_and_stringifies_the_code(
    sdk: Callable[[EmbeddedEndpoint], OpenAI], endpoints: Endpoints
) -> None:
    client = sdk(endpoints(Scenario.FLAT_ERRORS))
    with pytest.raises(openai.AuthenticationError) as auth:
        client.with_options(api_key=WRONG_KEY).chat.completions.create(model=MODEL, messages=MESSAGES)
    assert auth.value.code == "401" and auth.value.type == "AuthenticationError"  # str(401): no longer an int
    body = auth.value.body  # the whole flat body: there is no `error` key to unwrap
    assert isinstance(body, dict) and (body["object"], body["code"]) == ("error", 401)
    assert "Incorrect API key" in auth.value.message
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model=MODEL, messages=MESSAGES, temperature=5)
    assert (bad.value.param, bad.value.code) == ("temperature", "400")
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="gpt-nope", messages=MESSAGES)
    assert (missing.value.param, missing.value.code) == ("model", "404")


def test_openai_client_with_usage_every_chunk(
    sdk: Callable[[EmbeddedEndpoint], OpenAI], endpoints: Endpoints
) -> None:
    stream = sdk(endpoints(Scenario.USAGE_EVERY_CHUNK)).chat.completions.create(
        model=MODEL, messages=MESSAGES, stream=True
    )
    received = list(stream)
    assert all(chunk.choices for chunk in received)  # no usage-only chunk
    usages = [chunk.usage for chunk in received]
    assert all(usage is not None for usage in usages)
    counts = [usage.completion_tokens for usage in usages if usage is not None]
    assert counts[0] == 0 and counts == sorted(counts) and counts[-1] == counts[-2] > 0  # role .. finish
