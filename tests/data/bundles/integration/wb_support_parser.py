"""The application's response parser, as a team plugs it in (release r42)."""

from __future__ import annotations

from typing import Any


def parse_reply(body: dict[str, Any]) -> str | None:
    return body["choices"][0]["message"]["content"]
