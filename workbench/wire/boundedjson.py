"""JSON from outside decoded within bounds: nesting depth, number length and key length.

`json.loads` recurses once per nesting level (a body of 100,000 `[` raises `RecursionError`) and
hands a 5,000-digit integer to `int()`, which refuses it (`ValueError`, Python's int max str
digits). Either one, from a server or a log line, would crash whatever read it; here both are a
`JSONBoundsError` that says which limit was passed, so the caller can classify it.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 128  # real completions nest under 10 levels; a team's structured output rarely 30
MAX_NUMBER_CHARS = 100  # a number literal longer than this is no count, id or probability
MAX_KEY_CHARS = 256  # an object key longer than this names no field (a body used it to grow shapes)

# A string literal long enough to be a key past the limit: only a body holding one is decoded with
# the (slower) key check; most bodies have no string that long at all. Looked for only where one can
# be: a run of that many characters without a quote, or an escaped quote (350,000 short keys cost
# 0.7 s of failed matches, one per quote, measured).
_LONG_STRING = re.compile(r'"(?:[^"\\]|\\.){' + str(MAX_KEY_CHARS + 1) + "}")
_MAYBE_LONG_STRING = re.compile(r'[^"]{' + str(MAX_KEY_CHARS + 1) + r'}|\\"')
# A run of characters a number literal past the limit needs: without one, no literal is that long,
# and the decoder's C path parses every number (a hook per number cost 0.5 s for 350,000, measured).
_MAYBE_LONG_NUMBER = re.compile(r"[-+0-9.eE]{" + str(MAX_NUMBER_CHARS + 1) + "}")

# A string literal (skipped whole, so brackets inside strings do not count) or one bracket.
_STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]++|\\.)*+"|[\[\]{}]')


class JSONBoundsError(ValueError):
    """The text is past a decoding limit; the message names the limit, ready for a finding's detail."""


def loads(text: str | bytes) -> Any:
    """`json.loads` within `MAX_DEPTH`, `MAX_NUMBER_CHARS` and `MAX_KEY_CHARS`; other errors are
    `json.JSONDecodeError`."""
    if isinstance(text, bytes | bytearray):
        text = text.decode("utf-8")
    _check_depth(text)
    numbers: dict[str, Any] = {}
    if len(text) > MAX_NUMBER_CHARS and _MAYBE_LONG_NUMBER.search(text):
        numbers = {"parse_int": _bounded_int, "parse_float": _bounded_float}
    if len(text) > MAX_KEY_CHARS and _MAYBE_LONG_STRING.search(text) and _LONG_STRING.search(text):
        return json.loads(text, object_pairs_hook=_bounded_object, **numbers)
    return json.loads(text, **numbers)


def _bounded_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    for key, _value in pairs:
        if len(key) > MAX_KEY_CHARS:
            raise JSONBoundsError(
                f"a JSON object key of {len(key):,} characters (limit {MAX_KEY_CHARS}): not decoded"
            )
    return dict(pairs)


def _check_depth(text: str) -> None:
    if text.count("[") + text.count("{") <= MAX_DEPTH:  # cannot nest deeper than it has brackets
        return
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise JSONBoundsError(
                    f"JSON nested deeper than {MAX_DEPTH} levels (at char {match.start()}): not decoded"
                )
        elif token in "]}":
            depth -= 1


def _bounded_int(literal: str) -> int:
    _check_number(literal)
    return int(literal)


def _bounded_float(literal: str) -> float:
    _check_number(literal)
    return float(literal)


def _check_number(literal: str) -> None:
    if len(literal) > MAX_NUMBER_CHARS:
        raise JSONBoundsError(
            f"a JSON number of {len(literal):,} characters (limit {MAX_NUMBER_CHARS}): not decoded"
        )
