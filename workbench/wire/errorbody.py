"""Reading an error body in whatever shape a provider sends it.

The spec says `{"error": {"message", "type", "param", "code"}}` with string codes. Real servers
also send flat `{"object": "error", ...}` (vLLM, Mistral), `{"error": "string"}` (Ollama),
`{"detail": ...}` (FastAPI), `{"message": ...}` alone (Mistral's 401), integer or string codes,
and messages that are objects. All of them become one `ErrorInfo`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """A provider's error, normalised: every field a string or None, whatever the wire type was."""

    message: str
    type: str | None = None
    code: str | None = None
    param: str | None = None
    shape: str = "openai"  # which shape it came in: openai, flat, string, detail, message
    status: int | None = None  # an HTTP status the body itself carries (status_code, integer code)

    def mentions(self, *words: str) -> bool:
        """Whether the code, type or message mention any of `words` (case-insensitive)."""
        haystack = " ".join(part for part in (self.code, self.type, self.message) if part).lower()
        return any(word in haystack for word in words)


def read_error(body: Any) -> ErrorInfo | None:
    """The error in a decoded JSON body, or None when the body is not an error."""
    if not isinstance(body, Mapping):
        return None
    error = body.get("error")
    if isinstance(error, Mapping) and error:
        return _from_fields(error, shape="openai")
    if isinstance(error, str) and error:
        return ErrorInfo(message=error, shape="string")
    if body.get("object") == "error":
        return _from_fields(body, shape="flat")
    if "choices" in body:
        return None
    if "detail" in body and body["detail"] not in (None, ""):
        return ErrorInfo(message=_text(body["detail"]), shape="detail")
    if isinstance(body.get("message"), str | Mapping) and body["message"]:
        return _from_fields(body, shape="message")
    return None


def _from_fields(fields: Mapping[str, Any], *, shape: str) -> ErrorInfo:
    return ErrorInfo(
        message=_text(fields.get("message")) or "(no message)",
        type=_scalar(fields.get("type")),
        code=_scalar(fields.get("code")),
        param=_param(fields.get("param")),
        shape=shape,
        status=_status(fields),
    )


def _status(fields: Mapping[str, Any]) -> int | None:
    """Errors inside a 200 (streams, gateways) often say which status they stand for."""
    for name in ("status_code", "status", "code"):
        value = fields.get(name)
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and 400 <= value <= 599:
            return value
    return None


def _text(value: Any) -> str:
    """Messages are strings in the spec; objects and lists (FastAPI details) are shown compactly."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(item, Mapping) and "msg" in item for item in value):
        return "; ".join(_fastapi_detail(item) for item in value)
    if isinstance(value, Mapping) and isinstance(value.get("message"), str):
        return str(value["message"])
    return json.dumps(value, sort_keys=True, ensure_ascii=False)[:500]


def _fastapi_detail(item: Mapping[str, Any]) -> str:
    loc = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
    return f"{loc}: {item['msg']}" if loc else str(item["msg"])


def _scalar(value: Any) -> str | None:
    """Codes arrive as strings, integers or empty strings; empty means absent."""
    if value is None or value == "":
        return None
    return str(value)


def _param(value: Any) -> str | None:
    text = _scalar(value)
    return None if text in (None, "None", "null") else text
