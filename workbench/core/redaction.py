"""Redacting key values from what an endpoint sends back, in every form a server may echo them.

A careless server echoes the caller's `Authorization` header: raw in a traceback, URL-encoded in a
redirect's query, base64 as a Basic credential. So a key is looked for in all of these forms; the
secret scan (`core.secrets`) looks for the very same ones. Redaction must come before any text is
cut short: a key cut in half is no longer found, and its first half is already a leak.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def marker(variable: str) -> str:
    """What replaces a key value of `variable`; it names the variable, never any of its characters."""
    return f"[redacted ${variable}]"


def key_forms(value: str) -> dict[str, str]:
    """Form name -> how `value` looks when echoed: raw, JSON-escaped, URL-encoded, base64 (std and url).

    Base64 of `Bearer KEY` or `user:KEY` does not contain the base64 of KEY: each of the three byte
    alignments a key can start at encodes differently. So for each alignment the characters that
    encode only key bytes are a form of their own; they match inside the base64 of any credential
    holding the key, whatever comes before or after it (at most two bytes at each end stay uncovered).
    """
    forms = {"raw": value, "JSON-escaped": json.dumps(value)[1:-1]}
    forms["JSON-escaped (slash)"] = forms["JSON-escaped"].replace("/", "\\/")
    forms["URL-encoded"] = urllib.parse.quote(value, safe="")
    forms["URL-encoded (path)"] = urllib.parse.quote(value)
    forms["URL-encoded (form)"] = urllib.parse.quote_plus(value)
    for prefix, label in (("", "key"), ("Bearer ", "Bearer key"), ("user:", "user:key")):
        forms[f"base64 of {label}"] = _b64(prefix + value, url=False)
        forms[f"base64url of {label}"] = _b64(prefix + value, url=True)
    for alignment in range(3):
        for url in (False, True):
            core = _aligned_core(value.encode(), alignment, url=url)
            if core:
                forms[f"base64{'url' if url else ''} of key (in a credential, offset {alignment})"] = core
    return forms


def _b64(text: str, *, url: bool) -> str:
    encode = base64.urlsafe_b64encode if url else base64.b64encode
    return encode(text.encode()).decode().rstrip("=")


def _aligned_core(data: bytes, alignment: int, *, url: bool) -> str:
    """The base64 characters encoding only `data` when it starts `alignment` bytes into a 3-byte group."""
    skip = (3 - alignment) % 3  # key bytes that share their group with what comes before
    whole = (len(data) - skip) // 3 * 3
    if whole < 6:
        return ""
    encode = base64.urlsafe_b64encode if url else base64.b64encode
    return encode(data[skip : skip + whole]).decode()


@dataclass(frozen=True, slots=True)
class Redactor:
    """Replaces each key value, in each of its forms, with `[redacted $VARIABLE]`.

    Built from variable name -> value (`Config.key_values()`); with no value it changes nothing.
    Forms are tried longest first, so a form that contains another is replaced whole.
    """

    needles: Mapping[str, str] = field(default_factory=dict)  # form as echoed -> marker
    _text: re.Pattern[str] | None = None
    _bytes: re.Pattern[bytes] | None = None
    _shortest: int = 0  # text shorter than every form cannot hold one (most strings in facts)

    @classmethod
    def for_keys(cls, values: Mapping[str, str]) -> Redactor:
        needles: dict[str, str] = {}
        for variable, value in sorted(values.items(), key=lambda item: len(item[1]), reverse=True):
            for form in key_forms(value).values():
                needles.setdefault(form, marker(variable))
        if not needles:
            return cls()
        ordered = sorted(needles, key=len, reverse=True)
        text = re.compile("|".join(re.escape(needle) for needle in ordered))
        binary = re.compile(b"|".join(re.escape(needle.encode()) for needle in ordered))
        return cls(needles, text, binary, min(len(needle) for needle in needles))

    def __bool__(self) -> bool:
        return bool(self.needles)

    def __call__(self, text: str) -> str:
        if self._text is None or len(text) < self._shortest:
            return text
        return self._text.sub(lambda match: self.needles[match.group(0)], text)

    def data(self, data: bytes) -> bytes:
        """`data` redacted byte-wise (a body before it is decoded, so before anything reads it)."""
        if self._bytes is None or len(data) < self._shortest:
            return data
        return self._bytes.sub(lambda match: self.needles[match.group(0).decode()].encode(), data)

    def cut(self, text: str, limit: int, *, ellipsis: str = "…") -> str:
        """`text` redacted, then shortened to `limit` characters: never a key's first half."""
        clean = self(text)
        if len(clean) <= limit:
            return clean
        return clean[: max(limit - len(ellipsis), 0)] + ellipsis

    def deep(self, value: Any) -> Any:
        """A JSON-like value with every string in it (keys too) redacted."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, Mapping):
            return {self.deep(key): self.deep(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.deep(item) for item in value)
        return value
