"""Redacting key values from what an endpoint sends back, in every form and every piece a server may
echo them.

A careless (or hostile) server echoes the caller's `Authorization` header: raw in a traceback,
URL-encoded in either case in a redirect's query, base64 as a Basic credential, JSON-escaped with
some characters written `\\u0073`, or split over two SSE `data:` lines. And whatever is kept is cut
short somewhere (an error message at 300 characters). So a key is looked for in all of these forms,
and any run of `FRAGMENT` or more consecutive characters of one of them counts as the key too: a cut
can never leave a readable half behind. The secret scan (`core.secrets`) finds exactly what this
module redacts (`KeyMatcher`), so what one misses the other cannot pass.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

FRAGMENT = 12  # consecutive characters of a key (in any form) that count as the key itself
_CLEAN_TEXTS = 4096  # texts remembered as holding no key (then forgotten at once): at most 16 MiB
_CLEAN_CHARS = 4096  # a longer text is looked at every time
# What key characters look like in any form: letters, digits and the marks keys, percent-encoding,
# JSON escapes and base64 use. A fragment is searched for only inside a run of these.
_KEY_RUN = re.compile(r"[A-Za-z0-9_\-+/=%.~\\]{" + str(FRAGMENT) + ",}")
# A JSON escape of a character a key may hold: `\u0073` is "s" to any reader of the JSON.
_ESCAPED_KEY_CHAR = re.compile(r"\\u00(2[bdef]|3[0-9d]|[46][1-9a-f]|5[0-9af]|7[0-9ae])", re.IGNORECASE)


def marker(variable: str) -> str:
    """What replaces a key value of `variable`; it names the variable, never any of its characters."""
    return f"[redacted ${variable}]"


def key_forms(value: str) -> dict[str, str]:
    """Form name -> how `value` looks when echoed: raw, JSON-escaped, URL-encoded (either hex case),
    base64 (std and url).

    Base64 of `Bearer KEY` or `user:KEY` does not contain the base64 of KEY: each of the three byte
    alignments a key can start at encodes differently. So for each alignment the characters that
    encode only key bytes are a form of their own; they match inside the base64 of any credential
    holding the key, whatever comes before or after it (at most two bytes at each end stay uncovered).
    """
    forms = {"raw": value, "JSON-escaped": json.dumps(value)[1:-1]}
    forms["JSON-escaped (slash)"] = forms["JSON-escaped"].replace("/", "\\/")
    for label, encoded in (
        ("URL-encoded", urllib.parse.quote(value, safe="")),
        ("URL-encoded (path)", urllib.parse.quote(value)),
        ("URL-encoded (form)", urllib.parse.quote_plus(value)),
    ):
        forms[label] = encoded
        forms[f"{label}, lower-case hex"] = re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), encoded)
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


def unescape_key_chars(text: str) -> str:
    """`text` with JSON `\\uXXXX` escapes of key characters written plainly (still valid JSON: only
    letters, digits and marks that need no escape are touched)."""
    return _ESCAPED_KEY_CHAR.sub(lambda match: chr(int(match.group()[2:], 16)), text)


@dataclass(frozen=True, slots=True)
class Match:
    """A key found in a text: where, whose, in which form, and whether whole or a fragment of it."""

    start: int
    end: int
    variable: str
    form: str
    fragment: bool

    def describe(self) -> str:
        kind = f"value of ${self.variable}" + ("" if self.form == "raw" else f" ({self.form})")
        return f"{kind}, a fragment of {self.end - self.start} characters" if self.fragment else kind


@dataclass(frozen=True, slots=True)
class KeyMatcher:
    """Finds every configured key in a text: each whole form (longest first), then any run of
    `FRAGMENT` or more characters of a form that is still there."""

    forms: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # form text -> (variable, form)
    grams: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # FRAGMENT-long pieces -> same
    halves: frozenset[str] = frozenset()  # every piece of FRAGMENT // 2 characters of a form
    _whole: re.Pattern[str] | None = None
    # Short texts already found to hold no key. A run repeats them: every environment's result for
    # one probe has the same shape, detail words and facts, and each was looked at in full once
    # (find on a result's shape took 70 µs; the look-up, under 1). Bounded: cleared when full.
    _clean: dict[str, None] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def for_keys(cls, values: Mapping[str, str]) -> KeyMatcher:
        forms: dict[str, tuple[str, str]] = {}
        for variable, value in sorted(values.items(), key=lambda item: len(item[1]), reverse=True):
            for label, form in key_forms(value).items():
                forms.setdefault(form, (variable, label))
        if not forms:
            return cls()
        ordered = sorted(forms, key=len, reverse=True)
        grams: dict[str, tuple[str, str]] = {}
        for form in ordered:
            for start in range(len(form) - FRAGMENT + 1):
                grams.setdefault(form[start : start + FRAGMENT], forms[form])
        half = FRAGMENT // 2
        halves = frozenset(gram[i : i + half] for gram in grams for i in range(half + 1))
        whole = re.compile("|".join(re.escape(form) for form in ordered))
        return cls(dict(forms), grams, halves, whole)

    def __bool__(self) -> bool:
        return bool(self.forms)

    def find(self, text: str) -> list[Match]:
        """Every key in `text`, left to right, spans never overlapping."""
        if self._whole is None or len(text) < FRAGMENT or text in self._clean:
            return []
        found = [
            Match(m.start(), m.end(), *self.forms[m.group()], fragment=False)
            for m in self._whole.finditer(text)
        ]
        taken = [(m.start, m.end) for m in found]
        found += [span for span in self._fragments(text) if not _overlaps(span, taken)]
        if not found and len(text) <= _CLEAN_CHARS:
            if len(self._clean) >= _CLEAN_TEXTS:
                self._clean.clear()
            self._clean[text] = None
        return sorted(found, key=lambda m: m.start)

    def _fragments(self, text: str) -> Iterator[Match]:
        """Runs of FRAGMENT or more consecutive characters of one form. Any such run holds a piece of
        FRAGMENT/2 characters that starts at a multiple of FRAGMENT/2 in the run it lies in, so only
        those are looked up (a body of 8 MB of letters costs a sixth of the lookups); around each
        hit, every window of FRAGMENT characters that is a piece of a form grows the fragment.

        First, without looking for runs: any FRAGMENT consecutive characters also hold a piece of
        FRAGMENT/2 that starts at a multiple of FRAGMENT/2 in the whole text, so a text none of whose
        pieces there is one of a form's holds no fragment (a completion body: 4 µs, not 14)."""
        half = FRAGMENT // 2
        halves = self.halves
        if all(text[index : index + half] not in halves for index in range(0, len(text) - half + 1, half)):
            return
        for run in _KEY_RUN.finditer(text):
            chunk, base = run.group(), run.start()
            start = end = -1
            owner: tuple[str, str] = ("", "")
            checked = -1  # the last window start already looked at
            for block in range(0, len(chunk) - half + 1, half):
                if chunk[block : block + half] not in self.halves:
                    continue
                for index in range(
                    max(block - half, checked + 1), min(block + half, len(chunk) - FRAGMENT) + 1
                ):
                    checked = index
                    hit = self.grams.get(chunk[index : index + FRAGMENT])
                    if hit is None:
                        continue
                    if index <= end:  # overlaps or touches the fragment being grown
                        end = index + FRAGMENT
                        continue
                    if start >= 0:
                        yield Match(base + start, base + end, *owner, fragment=True)
                    start, end, owner = index, index + FRAGMENT, hit
            if start >= 0:
                yield Match(base + start, base + end, *owner, fragment=True)


def _overlaps(match: Match, spans: list[tuple[int, int]]) -> bool:
    return any(match.start < stop and start < match.end for start, stop in spans)


@dataclass(frozen=True, slots=True)
class Redactor:
    """Replaces each key value, in each of its forms, whole or in pieces, with `[redacted $VARIABLE]`.

    Built from variable name -> value (`Config.key_values()`); with no value it changes nothing.
    """

    matcher: KeyMatcher = field(default_factory=KeyMatcher)
    _bytes: re.Pattern[bytes] | None = None

    @classmethod
    def for_keys(cls, values: Mapping[str, str]) -> Redactor:
        matcher = KeyMatcher.for_keys(values)
        if not matcher:
            return cls()
        ordered = sorted(matcher.forms, key=len, reverse=True)
        return cls(matcher, re.compile(b"|".join(re.escape(form.encode()) for form in ordered)))

    def __bool__(self) -> bool:
        return bool(self.matcher)

    def __call__(self, text: str) -> str:
        """`text` with every key in it replaced, escaped key characters read as what they mean."""
        if not self.matcher or len(text) < FRAGMENT:
            return text
        if "\\u" in text:
            unescaped = unescape_key_chars(text)
            if unescaped != text and self.matcher.find(unescaped):
                text = unescaped
        matches = self.matcher.find(text)
        if not matches:
            return text
        pieces, position = [], 0
        for match in matches:
            pieces += [text[position : match.start], marker(match.variable)]
            position = match.end
        return "".join(pieces) + text[position:]

    def data(self, data: bytes) -> bytes:
        """`data` redacted (a body before it is decoded, so before anything reads it): whole forms
        byte-wise; a body that writes key characters as JSON escapes, or holds a piece of a key, is
        redacted as text (still the same JSON)."""
        if self._bytes is None or len(data) < FRAGMENT:
            return data
        data = self._bytes.sub(
            lambda match: marker(self.matcher.forms[match.group().decode()][0]).encode(), data
        )
        text = data.decode("utf-8", "surrogateescape")
        clean = self(text)
        return data if clean == text else clean.encode("utf-8", "surrogateescape")

    def cut(self, text: str, limit: int, *, ellipsis: str = "…") -> str:
        """`text` redacted, then shortened to `limit` characters: never a key's first half."""
        clean = self(text)
        if len(clean) <= limit:
            return clean
        return clean[: max(limit - len(ellipsis), 0)] + ellipsis

    def joined(self, data: str) -> str:
        """An SSE event's `data` whose lines may split a key: checked with its lines joined, and
        replaced by the joined, redacted text when a key was split across them."""
        if "\n" not in data or not self.matcher:
            return self(data)
        joined = data.replace("\n", "")
        return self(joined) if self.matcher.find(joined) else self(data)

    def deep(self, value: Any) -> Any:
        """A JSON-like value with every string in it (keys too) redacted. Looked at once as a whole
        first: a result's facts and shape (dozens of strings) hold no key in almost every run."""
        if not self.matcher or not self.holds_key(value):
            return value
        return self._deep(value)

    def holds_key(self, value: Any) -> bool:
        """Whether any string inside `value` (a JSON-like value) holds a key, whole or in part."""
        text = json.dumps(value, ensure_ascii=False, default=str)
        if "\\u" in text and self.matcher.find(unescape_key_chars(text)):
            return True
        return bool(self.matcher.find(text))

    def _deep(self, value: Any) -> Any:
        if isinstance(value, str):
            return self(value)
        if isinstance(value, Mapping):
            return {self._deep(key): self._deep(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self._deep(item) for item in value)
        return value
