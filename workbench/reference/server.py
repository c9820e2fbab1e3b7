"""The reference endpoint's HTTP application: the documented chat-completions contract, drifting on demand.

Probes need a counterpart whose behaviour is known exactly: the conformant scenario follows the
documented contract (see /work/shared/contract/SUMMARY.md), and every other scenario reproduces one
drift real gateways show, so each probe can be shown to pass on the one and fail on the other.
Scenarios compose: the app applies every member of the set it is given (which wins when two
conflict: `workbench.core.scenarios`). What is answered is planned in `answers`, its JSON and SSE
forms are rendered in `forms`, the request checks live in `validation`. The API key is compared in
constant time and never appears in any response. `workbench.reference.endpoint` runs this app with uvicorn.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator, Mapping, Sequence
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

from workbench.core.scenarios import SLOW_DEFAULT_MS, Scenario
from workbench.reference import answers
from workbench.reference.answers import Plan
from workbench.reference.forms import Forms
from workbench.reference.validation import JSONObject, RequestError, validate

DEFAULT_MODELS: tuple[str, ...] = ("wb-reference-1",)
MODEL_CREATED = 1767225600  # 2026-01-01: a stable `created` for /v1/models
CHUNK_GAP_S = 0.002  # a real pause between SSE chunks so delivery is incremental, not one buffered write
# `flat-errors` names the error class the way vLLM does; other statuses derive it from the phrase.
FLAT_ERROR_TYPES = {401: "AuthenticationError", 500: "InternalServerError"}
NGINX_PAGE = (
    "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n"
    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


def _flat_error_type(status: int) -> str:
    """vLLM's names: BadRequestError, NotFoundError, MethodNotAllowedError, ..."""
    phrase = "".join(HTTPStatus(status).phrase.title().split())
    return FLAT_ERROR_TYPES.get(status, f"{phrase}Error")


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
        self.forms = Forms(scenarios)
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
        plan = answers.plan(body, model, self.scenarios)
        completion_id, created = f"chatcmpl-{secrets.token_hex(12)}", int(time.time())
        if plan.stream:
            return StreamingResponse(
                self.stream(plan, completion_id, created),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache"},
            )
        return JSONResponse(self.forms.completion(plan, completion_id, created))

    def check_model_constraints(self, body: JSONObject) -> None:
        """What a model or gateway refuses though the contract allows it: OpenAI's reasoning models
        (in their words, observed in their API reference), a gateway without `json_schema`, and
        mistral-common's OpenAI endpoint, which took `content: null` for a missing string."""
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
        if Scenario.FORMAT_REJECTED in self.scenarios:
            requested = body.get("response_format")
            if isinstance(requested, dict) and requested.get("type") == "json_schema":
                raise RequestError(
                    400,
                    "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this "
                    "model; supported formats: json_object.",
                    param="response_format",
                )
        if Scenario.TOOL_RESULT_CONTENT_NULL_REJECTED in self.scenarios:
            messages = body.get("messages")
            for i, message in enumerate(messages if isinstance(messages, list) else []):
                null = isinstance(message, dict) and "content" in message and message["content"] is None
                if null and message.get("role") == "assistant":
                    raise RequestError(
                        400,
                        f"1 validation error for OpenAIChatCompletionRequest: messages.{i}.content: "
                        "Input should be a valid string or a list of content parts, got None.",
                        param=f"messages[{i}].content",
                        code="invalid_type",
                    )

    async def stream(self, plan: Plan, completion_id: str, created: int) -> AsyncIterator[bytes]:
        """One write per chunk, with a real pause between chunks, so delivery is incremental."""
        for position, event in enumerate(self.forms.events(plan, completion_id, created)):
            if position:
                await asyncio.sleep(CHUNK_GAP_S)
            yield event

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
