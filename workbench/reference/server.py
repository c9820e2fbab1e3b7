"""The reference endpoint's HTTP application: the documented chat-completions contract, drifting on demand.

Probes need a counterpart whose behaviour is known exactly: the conformant scenario follows the
documented contract (see /work/shared/contract/SUMMARY.md), and every other scenario reproduces one
drift real gateways show, so each probe can be shown to pass on the one and fail on the other.
Scenarios compose: the app applies every member of the set it is given. The API key is compared in
constant time and never appears in any response. `workbench.reference.endpoint` runs this app with uvicorn.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workbench.core.scenarios import REASONING_TOKENS, SLOW_DEFAULT_MS, Scenario
from workbench.reference.validation import JSONObject, RequestError, is_int, validate

DEFAULT_MODELS: tuple[str, ...] = ("wb-reference-1",)
# Fixed replies: deterministic, short, and never built from request text, so nothing sent is echoed.
REPLIES = (
    "Acknowledged: contract probe received.",
    "Reference endpoint ready: request accepted.",
    "Contract check complete: reply delivered.",
)
# `verbose-model`: one long answer, so any small budget cuts it (48 words).
VERBOSE_REPLY = " ".join(
    ["Acknowledged: this contract probe was received, and here is a deliberately long answer"]
    + ["that keeps going well past any small token budget a probe may choose"] * 3
)
FINGERPRINT = "fp_wb_reference"
MODEL_CREATED = 1767225600  # 2026-01-01: a stable `created` for /v1/models
CHUNK_GAP_S = 0.002  # a real pause between SSE chunks so delivery is incremental, not one buffered write
# `flat-errors` names the error class the way vLLM does; other statuses derive it from the phrase.
FLAT_ERROR_TYPES = {401: "AuthenticationError", 500: "InternalServerError"}
STREAM_ERROR_AFTER_WORDS = 2  # `stream-error-in-200` fails mid-reply, once the client has some text
STREAM_ERROR = {
    "error": {
        "message": "The upstream model failed while generating the response.",
        "type": "server_error",
        "code": "upstream_error",
    }
}
NGINX_PAGE = (
    "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n"
    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


def _words(value: object) -> int:
    """Whitespace-separated words of a message's text: the endpoint's notion of a token."""
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, list):
        return sum(_words(part.get("text")) for part in value if isinstance(part, dict))
    return 0


@dataclass(frozen=True)
class _Plan:
    """What to answer, decided once so the JSON and the SSE forms carry the same text."""

    model: str
    choices: tuple[tuple[str, str], ...]  # (text, finish_reason) per choice
    prompt_tokens: int
    stream: bool
    include_usage: bool
    reasoning_tokens: int = 0  # hidden tokens spent before the text (`reasoning-model`)

    @property
    def usage(self) -> JSONObject:
        return self.usage_after(sum(len(text.split()) for text, _ in self.choices))

    def usage_after(self, completion: int) -> JSONObject:
        """The counts once `completion` words are out: the running usage of `usage-every-chunk`."""
        completion += self.reasoning_tokens
        total = self.prompt_tokens + completion
        usage: JSONObject = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": total,
        }
        if self.reasoning_tokens:
            usage["completion_tokens_details"] = {"reasoning_tokens": self.reasoning_tokens}
        return usage


def _text_parts(text: str) -> list[JSONObject]:
    """`content-array`: two text parts that join back to `text` exactly (cut at the middle space)."""
    spaces = [i for i, char in enumerate(text) if char == " "]
    cut = spaces[len(spaces) // 2] + 1 if spaces else len(text) // 2
    return [{"type": "text", "text": text[:cut]}, {"type": "text", "text": text[cut:]}]


def _flat_error_type(status: int) -> str:
    """vLLM's names: BadRequestError, NotFoundError, MethodNotAllowedError, ..."""
    phrase = "".join(HTTPStatus(status).phrase.title().split())
    return FLAT_ERROR_TYPES.get(status, f"{phrase}Error")


def _plan(body: JSONObject, model: str, scenarios: frozenset[Scenario] = frozenset()) -> _Plan:
    """Tolerates any body (lenient-validation sends garbage here): bad values fall back to defaults.

    A budget counts words; `reasoning-model` spends `REASONING_TOKENS` of it before the first word.
    """
    requested = body.get("n")
    n = requested if is_int(requested) and 1 <= requested <= 128 else 1
    limits = [v for key in ("max_tokens", "max_completion_tokens") if is_int(v := body.get(key)) and v >= 1]
    hidden = REASONING_TOKENS if Scenario.REASONING_MODEL in scenarios else 0
    if limits:
        hidden = min(hidden, min(limits))
    messages = body.get("messages")
    digest = hashlib.sha256(json.dumps(messages, sort_keys=True, default=str).encode()).digest()
    choices = []
    for i in range(n):
        reply = (
            VERBOSE_REPLY if Scenario.VERBOSE_MODEL in scenarios else REPLIES[(digest[0] + i) % len(REPLIES)]
        )
        words = reply.split()
        finish = "stop"
        if limits and min(limits) - hidden < len(words):
            words, finish = words[: min(limits) - hidden], "length"
        choices.append((" ".join(words), finish))
    items = messages if isinstance(messages, list) else []
    prompt = sum(_words(m.get("content")) for m in items if isinstance(m, dict))
    options = body.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    return _Plan(model, tuple(choices), prompt, body.get("stream") is True, include_usage, hidden * n)


class _Envelope:
    """ASGI middleware: the configured latency before any headers, and an `x-request-id` on everything."""

    def __init__(self, app: ASGIApp, delay_s: float) -> None:
        self.app, self.delay_s = app, delay_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.delay_s > 0:
            await asyncio.sleep(self.delay_s)
        request_id = f"req_{secrets.token_hex(16)}"

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "x-request-id" not in headers:
                    headers.append("x-request-id", request_id)
            await send(message)

        await self.app(scope, receive, send_with_id)


class _ReferenceApp:
    """The request handlers, closed over one configuration (scenarios, key, models)."""

    def __init__(self, scenarios: frozenset[Scenario], api_key: str, models: Sequence[str]) -> None:
        if not models:
            raise ValueError("the reference endpoint needs at least one model name")
        self.scenarios, self.models = scenarios, tuple(models)
        self._key = api_key.encode()

    def error(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type_: str = "invalid_request_error",
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """The documented envelope, unless drifted: an nginx page wins over the flat vLLM body."""
        if Scenario.GATEWAY_HTML_ERRORS in self.scenarios:
            title = f"{status} {HTTPStatus(status).phrase}"
            return HTMLResponse(NGINX_PAGE.format(title=title), status_code=status, headers=headers)
        if Scenario.FLAT_ERRORS in self.scenarios:
            flat = {
                "object": "error",
                "message": message,
                "type": _flat_error_type(status),
                "param": param,
                "code": status,
            }
            return JSONResponse(flat, status_code=status, headers=headers)
        envelope = {"error": {"message": message, "type": type_, "param": param, "code": code}}
        return JSONResponse(envelope, status_code=status, headers=headers)

    def check_auth(self, request: Request) -> None:
        """Three distinct messages (missing, not Bearer, wrong); none of them quotes what was sent."""
        if Scenario.AUTH_NOT_ENFORCED in self.scenarios:
            return
        header = request.headers.get("authorization")
        if header is None:
            message = "You didn't provide an API key. Send it as `Authorization: Bearer YOUR_KEY`."
        else:
            scheme, _, token = header.strip().partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                message = "Malformed Authorization header: expected `Authorization: Bearer YOUR_KEY`."
            elif hmac.compare_digest(token.strip().encode(), self._key):
                return
            else:
                message = "Incorrect API key provided. Check the key configured for this endpoint."
        raise RequestError(401, message, code="invalid_api_key")

    async def chat(self, request: Request) -> Response:
        self.check_auth(request)
        try:
            body = json.loads(await request.body(), parse_constant=_reject_constant)
        except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            body = None
        if not isinstance(body, dict):
            raise RequestError(400, "We could not parse the JSON body of your request: send a JSON object.")
        if Scenario.LENIENT_VALIDATION not in self.scenarios:
            validate(body)
        self.check_model_constraints(body)
        model = body.get("model")
        model = model if isinstance(model, str) and model else self.models[0]
        if model not in self.models:
            message = f"The model '{model}' does not exist or you do not have access to it."
            raise RequestError(404, message, param="model", code="model_not_found")
        plan = _plan(body, model, self.scenarios)
        completion_id, created = f"chatcmpl-{secrets.token_hex(12)}", int(time.time())
        if plan.stream:
            return StreamingResponse(
                self.stream(plan, completion_id, created),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache"},
            )
        return JSONResponse(self.completion(plan, completion_id, created))

    def check_model_constraints(self, body: JSONObject) -> None:
        """What OpenAI's reasoning models refuse, in their words (observed in their API reference)."""
        if Scenario.MAX_COMPLETION_TOKENS_ONLY in self.scenarios and "max_tokens" in body:
            raise RequestError(
                400,
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
                param="max_tokens",
                code="unsupported_parameter",
            )
        if Scenario.FIXED_SAMPLING in self.scenarios:
            for field in ("temperature", "top_p"):
                value = body.get(field)
                if value is not None and value != 1:
                    raise RequestError(
                        400,
                        f"Unsupported value: '{field}' does not support {value} with this model. "
                        "Only the default (1) value is supported.",
                        param=field,
                        code="unsupported_value",
                    )

    def completion(self, plan: _Plan, completion_id: str, created: int) -> JSONObject:
        """`content-moved` wins over `content-array`: with no message there is no content to split."""
        choices: list[JSONObject] = []
        for index, (text, finish) in enumerate(plan.choices):
            if Scenario.CONTENT_MOVED in self.scenarios:
                choices.append({"index": index, "text": text, "finish_reason": finish, "logprobs": None})
            else:
                content = _text_parts(text) if Scenario.CONTENT_ARRAY in self.scenarios else text
                message = {"role": "assistant", "content": content, "refusal": None}
                choices.append(
                    {"index": index, "message": message, "finish_reason": finish, "logprobs": None}
                )
        body: JSONObject = {"id": completion_id, "object": "chat.completion", "created": created}
        body.update(model=plan.model, choices=choices)
        if Scenario.MISSING_USAGE not in self.scenarios:
            body["usage"] = plan.usage
        body.update(system_fingerprint=FINGERPRINT, service_tier="default")
        return body

    async def stream(self, plan: _Plan, completion_id: str, created: int) -> AsyncIterator[bytes]:
        """One write per chunk: role, one per word, finish; then the usage chunk and [DONE] if due.

        `usage-every-chunk` puts running counts on every chunk instead of a usage-only last chunk
        (`missing-usage` still wins); `stream-error-in-200` cuts the first choice after two words
        with a Groq-style `event: error` and ends there, with no [DONE].
        """
        head = {"id": completion_id, "object": "chat.completion.chunk", "created": created}
        head.update(model=plan.model, system_fingerprint=FINGERPRINT)
        usage_off = Scenario.MISSING_USAGE in self.scenarios
        running = not usage_off and Scenario.USAGE_EVERY_CHUNK in self.scenarios
        with_usage = plan.include_usage and not usage_off and not running
        fails = Scenario.STREAM_ERROR_IN_200 in self.scenarios
        text_key = "text" if Scenario.CONTENT_MOVED in self.scenarios else "content"
        words_out = 0

        def event(choices: list[JSONObject], usage: JSONObject | None = None) -> bytes:
            chunk: JSONObject = {**head, "choices": choices}
            if running:
                chunk["usage"] = plan.usage_after(words_out)
            elif with_usage:
                chunk["usage"] = usage
            return f"data: {json.dumps(chunk, separators=(',', ':'))}\n\n".encode()

        def choice(index: int, delta: JSONObject, finish: str | None = None) -> list[JSONObject]:
            return [{"index": index, "delta": delta, "finish_reason": finish, "logprobs": None}]

        for index, (text, finish) in enumerate(plan.choices):
            yield event(choice(index, {"role": "assistant", text_key: "", "refusal": None}))
            words = text.split()[:STREAM_ERROR_AFTER_WORDS] if fails else text.split()
            for position, word in enumerate(words):
                await asyncio.sleep(CHUNK_GAP_S)
                words_out += 1
                yield event(choice(index, {text_key: word if position == 0 else f" {word}"}))
            await asyncio.sleep(CHUNK_GAP_S)
            if fails:
                yield f"event: error\ndata: {json.dumps(STREAM_ERROR, separators=(',', ':'))}\n\n".encode()
                return
            yield event(choice(index, {}, finish))
        if with_usage:
            yield event([], plan.usage)
        if Scenario.DONE_WITHOUT_BLANK_LINE in self.scenarios:
            yield b"data: [DONE]\n"
        elif Scenario.STREAM_WITHOUT_DONE not in self.scenarios:
            yield b"data: [DONE]\n\n"

    async def list_models(self, request: Request) -> Response:
        self.check_auth(request)
        data = [
            {"id": m, "object": "model", "created": MODEL_CREATED, "owned_by": "contract-workbench"}
            for m in self.models
        ]
        return JSONResponse({"object": "list", "data": data})

    async def on_request_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestError)
        return self.error(exc.status, exc.message, param=exc.param, code=exc.code)

    async def on_http_exception(self, request: Request, exc: Exception) -> Response:
        """Routing failures in the same envelope as every other error (Starlette's are plain text)."""
        assert isinstance(exc, HTTPException)
        where = f"({request.method} {request.url.path})"
        if exc.status_code == 404:
            return self.error(404, f"Invalid URL {where}")
        if exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            message = f"Method not allowed {where}: this path accepts {allowed}."
            return self.error(405, message, headers={"Allow": allowed})
        return self.error(exc.status_code, str(exc.detail), headers=exc.headers)

    async def on_crash(self, request: Request, exc: Exception) -> Response:
        """Runs outside the request-id middleware (Starlette's outermost layer), so it adds its own."""
        headers = {"x-request-id": f"req_{secrets.token_hex(16)}"}
        return self.error(500, "The reference endpoint failed.", type_="server_error", headers=headers)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def create_app(
    scenarios: frozenset[Scenario],
    *,
    api_key: str,
    latency_ms: float = 0.0,
    models: Sequence[str] = DEFAULT_MODELS,
) -> Starlette:
    """The ASGI app for one environment; `latency_ms` > 0 delays every response, `slow` defaults it."""
    handlers = _ReferenceApp(frozenset(scenarios), api_key, models)
    delay_ms = latency_ms if latency_ms > 0 else (SLOW_DEFAULT_MS if Scenario.SLOW in scenarios else 0.0)
    return Starlette(
        routes=[
            Route("/v1/chat/completions", handlers.chat, methods=["POST"]),
            Route("/v1/models", handlers.list_models, methods=["GET"]),
        ],
        middleware=[Middleware(_Envelope, delay_s=delay_ms / 1000)],
        exception_handlers={
            RequestError: handlers.on_request_error,
            HTTPException: handlers.on_http_exception,
            Exception: handlers.on_crash,
        },
    )
