"""One classifier for anything a server sends: a symptom class, retry advice and the extracted text.

Used by every probe and by `workbench classify FILE`. Retry advice follows the documented
practice (OpenAI SDK `_should_retry`, CometAPI's error page): 408, 409, 429 rate limiting and 5xx
are retryable; other 4xx are not; quota exhaustion is not; a 5xx whose code says the request was
at fault is a validation error; `x-should-retry` overrides; `Retry-After` is recorded.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import json
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from workbench.core.errors import ConfigError, ParserError
from workbench.core.models import Symptom, action_for
from workbench.wire import boundedjson
from workbench.wire.client import DEFAULT_MAX_BODY_BYTES, Exchange, Failure, ResponseTooLarge, is_large
from workbench.wire.deviations import DeviationTally, SpecDeviation
from workbench.wire.errorbody import ErrorInfo, read_error
from workbench.wire.parser import Completion, parse_completion
from workbench.wire.shape import merge_shapes, shape_of
from workbench.wire.spec import check_chunk, check_error, check_response
from workbench.wire.specschema import Kind, vendored
from workbench.wire.stream import SSEEvent, StreamAssembly, assemble, events_from_bytes
from workbench.wire.toolcalls import Problem, ToolCall, arguments_of, calls_in_message, unreadable


class BodyKind(StrEnum):
    """What the body turned out to be, before any judgement."""

    COMPLETION = "completion"
    STREAM = "stream"
    ERROR = "error"
    JSON = "json"  # JSON that is neither a completion nor an error
    HTML = "html"
    TEXT = "text"
    EMPTY = "empty"
    CORRUPT = "corrupt"  # looked like JSON but did not decode (cut, invalid UTF-8)
    OVER_LIMITS = "over_limits"  # JSON nested too deep or with too long a number: not decoded
    NONE = "none"  # no response at all (transport failure)


@dataclass(frozen=True, slots=True)
class Classification:
    """The verdict on one response; `action` is the checklist's advice for the symptom."""

    symptom: Symptom
    retryable: bool
    detail: str
    kind: BodyKind
    content: str | None = None
    retry_after_s: float | None = None
    error: ErrorInfo | None = None
    completion: Completion | None = None
    stream: StreamAssembly | None = None
    decoded: Any = None  # the decoded JSON body, when there was one
    chunk_shape: tuple[str, ...] = ()  # a stream's: every chunk's shape merged, under `chunk.`
    # departures from the pinned spec (a body's, each chunk's, an error's): the first of each field
    # with how often it came; judged by the caller (does the app read that field?)
    deviations: tuple[SpecDeviation, ...] = ()

    @property
    def shape(self) -> tuple[str, ...]:
        """The answer's shape signature: a body's, or a stream's chunks' (paths and types, no values)."""
        if self.stream is not None:
            return self.chunk_shape
        return shape_of(self.decoded) if self.decoded is not None else ()

    @property
    def action(self) -> str:
        return action_for(self.symptom, retryable=self.retryable)

    def to_dict(self) -> dict[str, Any]:
        """The JSON `workbench classify` prints (tool calls by name, with whether their arguments
        are a JSON object: never the arguments themselves)."""
        return {
            "symptom": str(self.symptom),
            "retryable": self.retryable,
            "action": self.action,
            "content": self.content,
            "detail": self.detail,
            "kind": str(self.kind),
            "retry_after_s": self.retry_after_s,
            "tool_calls": [
                {
                    "name": call.name if isinstance(call.name, str) else None,
                    "arguments_json": _json_args(call),
                }
                for call in self.tool_calls()
            ],
            "spec_deviations": [deviation.to_fact() for deviation in self.deviations],
        }

    def tool_calls(self) -> list[ToolCall]:
        """The answer's tool calls, as an app reads them (reassembled by index from a stream)."""
        if self.stream is not None:
            return self.stream.tool_calls()
        if isinstance(self.decoded, Mapping) and self.completion is not None and self.completion.tool_calls:
            calls, _ = calls_in_message(self.decoded["choices"][0]["message"], "choices[0].message")
            return calls
        return []


# Quota exhaustion (a 429 no retry fixes): by code or type, or by how providers phrase it. Phrases,
# not words: Azure's retryable rate limits link to ".../quotaincrease".
_QUOTA_CODE = re.compile(r"quota|billing|credit|insufficient", re.I)
_QUOTA_MESSAGE = re.compile(
    r"exceeded your current quota|insufficient[ _](quota|credits?|balance|funds)|quota (exceeded|exhausted)"
    r"|out of credits|billing (hard )?limit|credit balance|payment required",
    re.I,
)
_REQUEST_AT_FAULT = ("invalid_request", "bad_request")
_MODEL_MISSING = re.compile(
    r"model.*(not (be )?found|does not exist|not exist|unknown)|model_not_found", re.I
)
_RATE_WORDS = ("rate_limit", "rate limit", "too many requests", "rate_limited", "ratelimit")
_AUTH_WORDS = ("invalid_api_key", "unauthorized", "authentication", "api key")
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.I | re.S)
# A saved body rarely keeps its Content-Type; its file extension is the best evidence left.
_CONTENT_TYPE_BY_SUFFIX: Mapping[str, str] = {
    ".sse": "text/event-stream",
    ".html": "text/html",
    ".htm": "text/html",
    ".json": "application/json",
    ".txt": "text/plain",
}


def classify_exchange(exchange: Exchange) -> Classification:
    """Classify what came back on the wire (or did not), once per exchange: probes that look at one
    exchange several times (was it cut? then judge it) get the same classification back."""
    with _RECENT_LOCK:
        recent = _RECENT.get(id(exchange))
    if recent is not None and recent[0] is exchange:
        return recent[1]
    result = _classify_exchange(exchange)
    with _RECENT_LOCK:  # a large exchange is classified in a worker thread (see `classify_off_loop`)
        _RECENT[id(exchange)] = (exchange, result)
        while len(_RECENT) > _RECENT_MAX:
            _RECENT.popitem(last=False)
    return result


async def classify_off_loop(exchange: Exchange) -> Classification:
    """`classify_exchange`, in a worker thread when the exchange is large: judging 50,000 events
    must not hold the event loop on which other environments' requests are being timed."""
    if is_large(exchange):
        return await asyncio.to_thread(classify_exchange, exchange)
    return classify_exchange(exchange)


# The last few classifications, by exchange identity (the exchange is kept, so its id is not reused).
_RECENT: OrderedDict[int, tuple[Exchange, Classification]] = OrderedDict()
_RECENT_MAX = 32
_RECENT_LOCK = threading.Lock()


def _classify_exchange(exchange: Exchange) -> Classification:
    if exchange.failure is not None:
        return classify_failure(exchange.failure, exchange.failure_detail)
    assert exchange.status is not None
    if exchange.is_stream:
        return _classify_stream(
            exchange.status, exchange.events, exchange.headers, broken=exchange.stream_error
        )
    return classify(
        exchange.status, exchange.body, content_type=exchange.content_type, headers=exchange.headers
    )


_UNSUPPORTED_WORDS = (
    "unsupported",
    "not supported",
    "does not support",
    "unrecognized",
    "unknown",
    "not allowed",
    "not permitted",
    "extra",
    "instead",
)


def rejected_field(exchange: Exchange, candidates: Iterable[str]) -> str | None:
    """Which of `candidates` (request fields) a 400/422 validation error rejects, if it names one.

    By the error's `param` (OpenAI: `unsupported_parameter`, `unsupported_value`), else by a message
    that names the field as unsupported (gateways such as LiteLLM: "does not support parameters").
    """
    names = [name for name in candidates if name]
    if not names or exchange.status not in (400, 422):
        return None
    result = classify_exchange(exchange)
    error = result.error
    if result.symptom is not Symptom.VALIDATION or error is None:
        return None
    if error.param in names:
        return error.param
    if error.mentions(*_UNSUPPORTED_WORDS):
        for name in names:
            if re.search(rf"(?<![A-Za-z_]){re.escape(name)}(?![A-Za-z_])", error.message):
                return name
    return None


def classify_failure(failure: Failure, detail: str) -> Classification:
    """No response: a transport failure; retrying helps except for an oversized or undecodable body."""
    retryable = failure in (Failure.CONNECT, Failure.TIMEOUT, Failure.PROTOCOL)
    return Classification(Symptom.TRANSPORT, retryable, detail, BodyKind.NONE)


_PARSER_EXCEPTIONS = frozenset({"KeyError", "TypeError", "IndexError", "AttributeError", "ValidationError"})
# Provider SDK errors that name their class when no status was logged (openai-python's names).
_SDK_EXCEPTIONS: Mapping[str, Symptom] = {
    "AuthenticationError": Symptom.AUTH,
    "PermissionDeniedError": Symptom.AUTH,
    "RateLimitError": Symptom.RATE_LIMIT,
    "BadRequestError": Symptom.VALIDATION,
    "UnprocessableEntityError": Symptom.VALIDATION,
    "InternalServerError": Symptom.SERVER,
}
_TRANSPORT_WORDS = re.compile(
    r"timeout|timedout|connect|protocol|network|transport|proxy|ssl|tls|readerror|writeerror"
    r"|pool|reset|refused|unreachable|redirect|incompleteread|brokenpipe|gaierror",
    re.I,
)
_RETRYABLE_LOGGED = frozenset({Symptom.TRANSPORT, Symptom.RATE_LIMIT, Symptom.SERVER})


def classify_exception(name: str, message: str = "") -> Classification:
    """An exception an application logged instead of (or after) a response, by what its name means."""
    short = name.strip().rsplit(".", 1)[-1]
    said = f": {message.strip()[:200]}" if message.strip() else ""
    if "jsondecode" in short.lower():
        symptom, detail = Symptom.TRANSPORT, f"{short}: the response was not JSON{said}"
    elif short in _PARSER_EXCEPTIONS or short.endswith(("ParserError", "ParseError")):
        symptom, detail = Symptom.PARSER, f"{short} in the application's parser{said}"
    elif short in _SDK_EXCEPTIONS:
        symptom, detail = _SDK_EXCEPTIONS[short], f"{short} raised by the client{said}"
    elif _TRANSPORT_WORDS.search(short):
        symptom, detail = Symptom.TRANSPORT, f"{short}: no usable response{said}"
    else:
        symptom, detail = Symptom.TRANSPORT, f"unknown exception {short} (counted as transport){said}"
    return Classification(symptom, symptom in _RETRYABLE_LOGGED, detail, BodyKind.NONE)


def classify_logged(status: int | None, error: str, exception: str | None) -> Classification:
    """One line of an application's request log: an exception without an error status speaks for
    itself, else the status and the logged error body decide, as for a probe's response."""
    if exception and (status is None or 200 <= status < 300):
        result = classify_exception(exception, error)
        if status is None:
            return result
        return dataclasses.replace(result, detail=f"HTTP {status}, then {result.detail}")
    if status is None:
        raise ValueError("a log line needs a status or an exception")
    if 200 <= status < 300 and not error.strip():
        return Classification(Symptom.NONE, False, f"HTTP {status}", BodyKind.NONE)
    result = classify(status, error.encode("utf-8"))
    return dataclasses.replace(result, detail=f"{exception}: {result.detail}") if exception else result


def classify(
    status: int,
    body: bytes,
    *,
    content_type: str = "",
    headers: Mapping[str, str] | None = None,
) -> Classification:
    """Classify a complete response body (JSON, SSE, HTML or text) with its status, and check a JSON
    body against the pinned spec: a completion's schema on 2xx, the error envelope's otherwise."""
    result = _classify_body(status, body, content_type=content_type, headers=headers)
    if result.decoded is None or result.stream is not None:
        return result
    kind: Kind = "response"
    if result.kind is BodyKind.COMPLETION or (200 <= status < 300 and result.error is None):
        checked = check_response(result.decoded)
    else:
        checked, kind = check_error(result.decoded), "error"
    tally = DeviationTally(lambda field: vendored().field_takes_null(kind, field))
    tally.add(checked)
    return dataclasses.replace(result, deviations=tally.seen())


def _classify_body(
    status: int,
    body: bytes,
    *,
    content_type: str = "",
    headers: Mapping[str, str] | None = None,
) -> Classification:
    headers = {key.lower(): value for key, value in (headers or {}).items()}
    if _looks_like_stream(body, content_type):
        return _classify_stream(status, events_from_bytes(body), headers)
    kind, decoded, note = _decode(body, content_type)
    if kind is BodyKind.OVER_LIMITS:  # no client parser would read it either
        return Classification(Symptom.PARSER, False, f"HTTP {status} body: {note}", kind)
    if kind in (BodyKind.COMPLETION, BodyKind.ERROR, BodyKind.JSON):
        error = read_error(decoded) if kind is not BodyKind.COMPLETION else None
        if error is not None and (status >= 400 or (isinstance(decoded, Mapping) and "error" in decoded)):
            return _with_retry_headers(_classify_error(status, error, decoded), headers)
    if 300 <= status < 400:
        location = headers.get("location", "?")
        return Classification(
            Symptom.TRANSPORT,
            False,
            f"HTTP {status} redirect to {location}: the endpoint moved or base_url/path is wrong "
            "(redirects are not followed, so the key never leaves the configured origin)",
            kind,
            decoded=decoded,
        )
    if status >= 400:
        return _with_retry_headers(_classify_non_json_error(status, kind, note), headers)
    if 200 <= status < 300:
        return _classify_success(status, kind, decoded, note)
    return Classification(Symptom.TRANSPORT, False, f"HTTP {status}: not a final response", kind)


def classify_file(
    path: Path,
    status: int = 200,
    *,
    content_type: str | None = None,
    headers: Iterable[str] = (),
) -> Classification:
    """Classify a saved response body (`workbench classify FILE`).

    Without a `content_type`, the file's extension stands in for it (`guess_content_type`);
    `headers` are lines as a terminal shows them, "Name: value". An unreadable file or a header
    line without a colon is a `ConfigError`. The file is read under the probe client's default
    byte cap, so a body past it is classified as the probe would have (and `/dev/zero` ends).
    """
    try:
        with path.open("rb") as handle:
            body = handle.read(DEFAULT_MAX_BODY_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=path) from None
    parsed: dict[str, str] = {}
    for line in headers:
        name, separator, value = line.partition(":")
        if not separator or not name.strip():
            raise ConfigError(f"expected 'Name: value', got {line!r}", field="--header")
        parsed[name.strip().lower()] = value.strip()
    if len(body) > DEFAULT_MAX_BODY_BYTES:
        return classify_failure(Failure.TOO_LARGE, str(ResponseTooLarge(DEFAULT_MAX_BODY_BYTES)))
    return classify(status, body, content_type=content_type or guess_content_type(path), headers=parsed)


def guess_content_type(path: Path) -> str:
    """The Content-Type a saved body's extension implies (.sse, .json, .html, .txt); "" if none."""
    return _CONTENT_TYPE_BY_SUFFIX.get(path.suffix.lower(), "")


def _classify_success(status: int, kind: BodyKind, decoded: Any, note: str) -> Classification:
    if kind is BodyKind.EMPTY:
        return Classification(Symptom.TRANSPORT, False, f"HTTP {status} with an empty body", kind)
    if kind in (BodyKind.HTML, BodyKind.TEXT):
        return Classification(
            Symptom.TRANSPORT,
            False,
            f"HTTP {status} with {note} instead of JSON: a proxy, portal or wrong base_url answered",
            kind,
        )
    if kind is BodyKind.CORRUPT:
        return Classification(Symptom.TRANSPORT, True, f"HTTP {status} body is not valid JSON: {note}", kind)
    try:
        completion = parse_completion(decoded)
    except ParserError as exc:
        return Classification(
            Symptom.PARSER, False, f"HTTP {status} JSON the contract cannot map: {exc}", kind, decoded=decoded
        )
    message = decoded["choices"][0]["message"]
    calls, problems = calls_in_message(message, "choices[0].message")
    problems += unreadable(calls)
    if problems:
        return Classification(
            Symptom.PARSER,
            False,
            f"HTTP {status} tool calls the contract cannot read: {_problems(problems)}",
            kind,
            completion=completion,
            decoded=decoded,
        )
    return Classification(
        Symptom.NONE,
        False,
        _completion_summary(completion),
        BodyKind.COMPLETION,
        content=completion.content if completion.content is not None else completion.refusal,
        completion=completion,
        decoded=decoded,
    )


def _completion_summary(completion: Completion) -> str:
    parts = []
    if completion.content is not None:
        parts.append(f"content {len(completion.content)} chars")
    if completion.tool_calls:
        parts.append(f"{completion.tool_calls} tool call(s)")
    if completion.refusal:
        parts.append("refusal")
    parts.append(f"finish_reason {completion.finish_reason or 'absent'}")
    parts.append("usage present" if completion.usage is not None else "usage absent")
    return "completion: " + ", ".join(parts)


def _classify_error(status: int, error: ErrorInfo, decoded: Any) -> Classification:
    """An error body in any shape: class by status, refined by code, type and message."""
    symptom, retryable = _error_class(status, error)
    where = f"HTTP {status}" if status >= 400 else f"error object in an HTTP {status} body"
    labels = ", ".join(
        f"{name} {value}"
        for name, value in (("type", error.type), ("code", error.code), ("param", error.param))
        if value
    )
    detail = f"{where} ({error.shape} error shape{'; ' + labels if labels else ''}): {error.message[:300]}"
    return Classification(symptom, retryable, detail, BodyKind.ERROR, error=error, decoded=decoded)


def _error_class(status: int, error: ErrorInfo) -> tuple[Symptom, bool]:
    if status < 400:  # an error object inside a success: judge by the status it carries, or its words
        if error.status is not None:
            return _error_class(error.status, error)
        if error.mentions(*_RATE_WORDS):
            return Symptom.RATE_LIMIT, True
        if error.mentions(*_AUTH_WORDS):
            return Symptom.AUTH, False
        return Symptom.SERVER, True
    if status in (401, 403):
        return Symptom.AUTH, False
    if status == 402:
        return Symptom.RATE_LIMIT, False
    if status == 404:  # an unknown model is a request problem; anything else, a wrong path
        text = " ".join(part for part in (error.code, error.param, error.message) if part)
        model_missing = bool(_MODEL_MISSING.search(text)) or error.param == "model"
        return (Symptom.VALIDATION if model_missing else Symptom.TRANSPORT), False
    if status == 408:
        return Symptom.TRANSPORT, True
    if status == 409:
        return Symptom.SERVER, True
    if status == 429:
        return Symptom.RATE_LIMIT, not _quota_exhausted(error)
    if status >= 500:
        at_fault = any(
            word == (error.code or "").lower() or word == (error.type or "").lower()
            for word in (*_REQUEST_AT_FAULT, "invalid_request_error")
        )
        return (Symptom.VALIDATION, False) if at_fault else (Symptom.SERVER, True)
    return Symptom.VALIDATION, False


def _quota_exhausted(error: ErrorInfo) -> bool:
    labels = " ".join(part for part in (error.code, error.type) if part)
    return bool(_QUOTA_CODE.search(labels) or _QUOTA_MESSAGE.search(error.message))


def _classify_non_json_error(status: int, kind: BodyKind, note: str) -> Classification:
    what = {BodyKind.EMPTY: "an empty body"}.get(kind, note or str(kind))
    if status == 429:
        return Classification(Symptom.RATE_LIMIT, True, f"HTTP 429 with {what}", kind)
    retryable = status in (408, 409) or status >= 500
    return Classification(
        Symptom.TRANSPORT,
        retryable,
        f"HTTP {status} with {what}, not the JSON error envelope: a gateway or proxy answered",
        kind,
    )


def _classify_stream(
    status: int, events: Sequence[SSEEvent], headers: Mapping[str, str], *, broken: str = ""
) -> Classification:
    shapes: set[tuple[str, ...]] = set()  # chunks of one stream share a handful of shapes
    deviations = DeviationTally(lambda field: vendored().field_takes_null("chunk", field))
    started, seen = time.thread_time(), [0]

    def on_chunk(chunk: Any) -> None:
        if len(shapes) < _MAX_CHUNK_SHAPES:
            shapes.add(shape_of(chunk, prefix="chunk"))
        deviations.add(check_chunk(chunk))
        seen[0] += 1
        if seen[0] % 256 == 0 and time.thread_time() - started > CPU_BUDGET_S:
            raise _OverBudget(seen[0])

    try:
        stream = assemble(events, on_chunk=on_chunk)
    except _OverBudget as over:
        detail = (
            f"the response could not be judged within bounds: {over.chunks:,} of {len(events):,} stream "
            f"events judged in {CPU_BUDGET_S:g} s of CPU (the workbench's budget per exchange); the rest "
            "was not judged"
        )
        return Classification(Symptom.PARSER, False, detail, BodyKind.STREAM)
    result = _judge_stream(status, stream, broken=broken)
    return dataclasses.replace(result, chunk_shape=merge_shapes(shapes), deviations=deviations.seen())


_MAX_CHUNK_SHAPES = 256  # distinct chunk shapes merged into a stream's (more say nothing new)
CPU_BUDGET_S = 2.0  # of CPU to judge one exchange: past it, a parser finding says what was cut


class _OverBudget(Exception):
    def __init__(self, chunks: int) -> None:
        self.chunks = chunks


def _judge_stream(status: int, stream: StreamAssembly, *, broken: str) -> Classification:
    if stream.error is not None:
        base = _classify_error(status, stream.error, None)
        detail = f"error inside the stream after {stream.chunks} chunk(s): {stream.error.message[:300]}"
        return Classification(
            base.symptom, base.retryable, detail, BodyKind.STREAM, error=stream.error, stream=stream
        )
    if status >= 400:
        return Classification(
            Symptom.TRANSPORT,
            status >= 500,
            f"HTTP {status} with an event stream",
            BodyKind.STREAM,
            stream=stream,
        )
    if stream.over_limits is not None:
        return Classification(
            Symptom.PARSER,
            False,
            f"a stream chunk: {stream.over_limits}",
            BodyKind.STREAM,
            stream=stream,
        )
    if stream.garbage is not None:
        return Classification(
            Symptom.TRANSPORT,
            True,
            f"a stream chunk is not JSON: {stream.garbage[:80]!r}",
            BodyKind.STREAM,
            stream=stream,
        )
    if broken:
        return Classification(Symptom.TRANSPORT, True, broken, BodyKind.STREAM, stream=stream)
    if not stream.done:
        return Classification(
            Symptom.TRANSPORT,
            True,
            f"stream ended after {stream.chunks} chunk(s) without the terminal `data: [DONE]`",
            BodyKind.STREAM,
            stream=stream,
        )
    if stream.unmapped is not None:
        return Classification(
            Symptom.PARSER,
            False,
            f"stream chunks the contract cannot map: {stream.unmapped}",
            BodyKind.STREAM,
            stream=stream,
        )
    placed = [Problem(path, Symptom.PARSER, text) for path, text in stream.call_problems]
    problems = placed + unreadable(stream.tool_calls())
    if problems:
        return Classification(
            Symptom.PARSER,
            False,
            f"stream tool calls the contract cannot read: {_problems(problems)}",
            BodyKind.STREAM,
            stream=stream,
        )
    first = stream.choices.get(0)
    if first is None or (not first.saw_content and not first.tool_calls and not first.refusal):
        return Classification(
            Symptom.PARSER,
            False,
            "stream carried no content, tool calls or refusal",
            BodyKind.STREAM,
            stream=stream,
        )
    usage = "usage present" if stream.usage is not None else "usage absent"
    detail = (
        f"stream: {stream.chunks} chunk(s), {len(stream.choices)} choice(s), finish_reason "
        f"{stream.finish_reason or 'absent'}, {usage}, terminated by [DONE]"
    )
    content = stream.content if stream.content is not None else (first.refusal or None)
    return Classification(Symptom.NONE, False, detail, BodyKind.STREAM, content=content, stream=stream)


def _json_args(call: ToolCall) -> bool:
    return isinstance(arguments_of(call), dict)


def _problems(problems: Sequence[Problem], shown: int = 3) -> str:
    more = len(problems) - shown
    return "; ".join(problem.describe() for problem in problems[:shown]) + (
        f"; and {more} more" if more > 0 else ""
    )


def _with_retry_headers(result: Classification, headers: Mapping[str, str]) -> Classification:
    """Apply `x-should-retry` (it wins over the status) and record `Retry-After`."""
    retryable = result.retryable
    should = headers.get("x-should-retry", "").strip().lower()
    if should in ("true", "false"):
        retryable = should == "true"
    retry_after = parse_retry_after(headers)
    if retryable == result.retryable and retry_after is None:
        return result
    detail = result.detail + (f"; Retry-After {retry_after:g} s" if retry_after is not None else "")
    return Classification(
        result.symptom,
        retryable,
        detail,
        result.kind,
        result.content,
        retry_after,
        result.error,
        result.completion,
        result.stream,
        result.decoded,
    )


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """`retry-after-ms`, or `Retry-After` in seconds or as an HTTP date; None when absent or unreadable."""
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            seconds = float(milliseconds) / 1000.0
        except ValueError:
            seconds = math.nan
        if math.isfinite(seconds):  # `nan` or `inf` is no duration: ignored, never in JSON
            return max(seconds, 0.0)
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    except ValueError:
        when = email.utils.parsedate_to_datetime(value) if "," in value else None
        return max(when.timestamp() - time.time(), 0.0) if when is not None else None


def _looks_like_stream(body: bytes, content_type: str) -> bool:
    if "text/event-stream" in content_type:
        return True
    head = body[:256].lstrip()  # never copy a whole (possibly large) body to look at its start
    return head.startswith((b"data:", b"event:", b": ", b"id:")) and b"\n" in body


def _decode(body: bytes, content_type: str) -> tuple[BodyKind, Any, str]:
    """What the body is: decoded JSON with its kind, or a kind and a short note on what it was."""
    stripped = body.strip()
    if not stripped:
        return BodyKind.EMPTY, None, "an empty body"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        if stripped[:1] in (b"{", b"[") or "json" in content_type:
            return BodyKind.CORRUPT, None, f"invalid UTF-8 at byte {exc.start}"
        text = body.decode("latin-1")
    try:
        decoded = boundedjson.loads(text)
    except boundedjson.JSONBoundsError as exc:
        return BodyKind.OVER_LIMITS, None, str(exc)
    except json.JSONDecodeError as exc:
        if stripped[:1] == b"<" or "html" in content_type:
            match = _TITLE.search(body[:4096])
            title = match.group(1).decode("utf-8", "replace").strip() if match else ""
            return BodyKind.HTML, None, f"an HTML page{f' ({title!r})' if title else ''}"
        if stripped[:1] in (b"{", b"[") or "json" in content_type:
            return BodyKind.CORRUPT, None, f"{exc.msg} at char {exc.pos} of {len(text)} (cut or corrupt)"
        first_line = text.strip().splitlines()[0][:120]
        return BodyKind.TEXT, None, f"plain text ({first_line!r})"
    if isinstance(decoded, Mapping) and "choices" in decoded:
        return BodyKind.COMPLETION, decoded, ""
    if read_error(decoded) is not None:
        return BodyKind.ERROR, decoded, ""
    return BodyKind.JSON, decoded, ""
