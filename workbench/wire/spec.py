"""Schema conformance: every response body, stream chunk and error body against the pinned OpenAI spec.

The schemas are those of `openai/openai-openapi` at `SPEC_COMMIT` (`wire.specschema`). A check
returns the body's `Deviation`s (`wire.deviations`): the JSON path, the path to count by, what the
spec requires and what came, in a few safe words. Judging them (does the app consume that field?)
is the caller's business.

The cost, measured on a tool-call stream (2-core machine, Python 3.11): decoding a chunk takes
about 11 µs; validating it with jsonschema 170 µs (15x), with fastjsonschema 13 µs (1.2x). Neither
on every chunk fits the budget (a checked stream costs at most twice the decoding), so:

- a body's *shape* is its cache key: its keys, each value's JSON type, array lengths, and strings
  only where they are one of the schema's enum values. The schemas constrain nothing but types,
  keys and enum values (`specschema.load_schema` refuses any other keyword), so two bodies of one
  shape have the same deviations at the same paths; only an enum deviation's `got` is read again
  from the body at hand. A stream has a handful of shapes: each chunk costs one walk of its values
  (about 3-4 µs with the look-up); the validators run once per shape.
- on a new shape, fastjsonschema says whether the body conforms, the common case (17 µs for a plain
  completion; 45 ms for a 1.4 MB completion with logprobs, where jsonschema takes 1.3 s).
  jsonschema's `iter_errors` explains a body that does not: it reports every error with its path
  and reason, where fastjsonschema stops at the first. Both read the same vendored file.
- everything is bounded, whatever the endpoint sends. At most `CACHE_SHAPES` shapes are kept per
  kind (then the oldest goes); a body whose shape is longer than `CACHE_TOKENS` is checked without
  the cache; nothing deeper than the schemas look is walked. jsonschema explains a copy holding at
  most `VIEW_ITEMS` items of each array and unknown keys of each object, and `VIEW_VALUES` values
  in all: past that, or when the copy shows nothing because what it left out holds the deviation,
  fastjsonschema's first error is reported (and, past `VIEW_VALUES`, an entry saying so). At most
  `MAX_DEVIATIONS` are reported per body, the last one saying there are more. fastjsonschema
  reads every value the schemas name, so a new shape costs time linear in the body, which the
  client caps (`max_body_bytes`): 0.1 s for 350,000 metadata entries (decoding them: 0.4 s), 1.5 s
  for 80,000 choices in 10 MB (decoding: 0.5 s), the worst measured.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from functools import cache
from types import NoneType
from typing import Any, Final

from workbench.wire.deviations import (
    LIMIT_FIELD,
    Deviation,
    Explained,
    FieldCount,
    Found,
    count_by_field,
    first_deviation,
    limit,
)
from workbench.wire.specschema import SPEC_COMMIT, SPEC_SOURCE, Kind, VendoredSchema, vendored

__all__ = [
    "CACHE_SHAPES",
    "LIMIT_FIELD",
    "MAX_DEVIATIONS",
    "SPEC_COMMIT",
    "SPEC_SOURCE",
    "Deviation",
    "FieldCount",
    "Kind",
    "SpecChecker",
    "check_chunk",
    "check_error",
    "check_response",
    "checker",
    "count_by_field",
]

MAX_DEVIATIONS: Final = 50  # reported per body; the last says there were more
CACHE_SHAPES: Final = 256  # shapes remembered per kind of body (then the oldest goes)
CACHE_TOKENS: Final = 512  # a body whose shape is longer is checked without the cache
MAX_KEY_CHARS: Final = 64  # a shape holding a longer key is not kept (a shape holds the body's keys)
VIEW_ITEMS: Final = 64  # items per array, unknown keys per object, that jsonschema explains
VIEW_VALUES: Final = 20_000  # values in all that jsonschema explains


def check_response(body: Any) -> list[Deviation]:
    """A decoded `chat.completion` body against `CreateChatCompletionResponse`."""
    return checker("response").check(body)


def check_chunk(chunk: Any) -> list[Deviation]:
    """A decoded stream chunk against `CreateChatCompletionStreamResponse`."""
    return checker("chunk").check(chunk)


def check_error(body: Any) -> list[Deviation]:
    """A decoded error body against `ErrorResponse`."""
    return checker("error").check(body)


@cache
def checker(kind: Kind) -> SpecChecker:
    """The process's checker for one kind of body (compiled on first use, then shared)."""
    return SpecChecker(kind)


class _Unshaped(Exception):
    """The body is too big for the shape cache, or holds something JSON does not."""


class _TooBig(Exception):
    """The body is too big to explain in full."""


class SpecChecker:
    """One kind of body: its schema's two validators and its shape cache."""

    def __init__(self, kind: Kind, *, shapes: int = CACHE_SHAPES) -> None:
        import fastjsonschema  # imported here: `import workbench` stays fast

        self._schema = schema = vendored()
        self._kind: Kind = kind
        self._fast = fastjsonschema
        self._conforms: Callable[[Any], Any] = fastjsonschema.compile(
            schema.document(kind), use_default=False, use_formats=False
        )
        self._explainer: Any = None  # jsonschema's validator, made when a body first deviates
        self._shape = _shaper(schema.enums, schema.depth)
        self._shapes = shapes
        self._cache: dict[tuple[Any, ...], tuple[Found, ...]] = {}
        self._branches: dict[str, Callable[[Any], Any]] = {}  # the schema's own branches: a few
        self._lock = threading.Lock()

    @property
    def cached(self) -> int:
        """How many shapes are remembered now."""
        return len(self._cache)

    def check(self, body: Any) -> list[Deviation]:
        """The body's deviations, in path order (at most `MAX_DEVIATIONS`)."""
        shape = self._shape(body)
        found = None if shape is None else self._cache.get(shape)
        if found is None:
            found = self._explain(body)
            if shape is not None and self._shapes > 0 and _short_keys(shape):
                with self._lock:
                    while len(self._cache) >= self._shapes:
                        del self._cache[next(iter(self._cache))]
                    self._cache[shape] = found
        if not found:
            return []
        return [item.render(body) for item in found]

    def _explain(self, body: Any) -> tuple[Found, ...]:
        """fastjsonschema says whether it conforms; jsonschema explains, on a bounded copy, if not."""
        try:
            self._conforms(body)
            return ()
        except self._fast.JsonSchemaValueException as error:
            first = error
        try:
            view, complete = _View(self._schema).copy(body)
        except _TooBig:
            words = f"a body of at most {VIEW_VALUES:,} values for every deviation"
            return (self._first(first, body), limit(words, "a larger one: the first shown"))
        if self._explainer is None:
            from jsonschema import Draft202012Validator  # about 0.1 s to import: only when needed

            self._explainer = Draft202012Validator(self._schema.document(self._kind))
        explained = Explained(self._schema)
        for reason in self._explainer.iter_errors(view):
            explained.add(reason)
            if len(explained) > MAX_DEVIATIONS:
                break
        ordered = explained.ordered()
        if not ordered and not complete:
            return (self._first(first, body),)
        if len(ordered) > MAX_DEVIATIONS:
            words = f"at most {MAX_DEVIATIONS} deviations per body"
            ordered = [*ordered[: MAX_DEVIATIONS - 1], limit(words, "more, not shown")]
        return tuple(ordered)

    def _first(self, error: Any, body: Any) -> Found:
        return first_deviation(error, body, self._schema, self._branch_error)

    def _branch_error(self, branch: Any, value: Any) -> Any | None:
        """fastjsonschema's first error for `value` against one branch of the schema, or None."""
        text = json.dumps(branch, sort_keys=True)
        validate = self._branches.get(text)
        if validate is None:
            document = {"$defs": self._schema.defs, **self._schema.resolved(branch)}
            validate = self._fast.compile(document, use_default=False, use_formats=False)
            self._branches[text] = validate
        try:
            validate(value)
        except self._fast.JsonSchemaValueException as error:
            return error
        return None


# --- shapes and the bounded copy -----------------------------------------------------------------

# Tokens of a shape: keys and enum strings appear as themselves, everything else as one of these.
_OBJECT, _ARRAY, _END, _STRING, _WHOLE, _FRACTION, _INT, _BOOL, _NULL = range(9)
_SCALARS: Final[dict[type, int]] = {int: _INT, bool: _BOOL, NoneType: _NULL}


def _shaper(enums: frozenset[str], depth: int) -> Callable[[Any], tuple[Any, ...] | None]:
    """The function giving a body's shape (its cache key), or None when it is not to be cached.

    Keys and enum strings stand for themselves; other strings, numbers, booleans and nulls for their
    type (a float with no fraction apart: JSON Schema counts it as an integer). Levels deeper than
    the schema looks are cut: only their type is kept.
    """

    def walk(node: Any, out: list[Any], level: int) -> None:
        """One container; scalars are handled inline (most values are, and a call per value costs)."""
        if len(out) + len(node) > CACHE_TOKENS:  # before a wide container is walked, not after
            raise _Unshaped
        if type(node) is dict:
            out.append(_OBJECT)
            if level <= depth:
                for key, item in node.items():
                    out.append(key)
                    kind = type(item)
                    if kind is str:
                        out.append(item if item in enums else _STRING)
                    elif kind is dict or kind is list:
                        walk(item, out, level + 1)
                    elif kind is float:
                        out.append(_WHOLE if item.is_integer() else _FRACTION)
                    else:
                        out.append(_SCALARS[kind])
        elif type(node) is list:
            out.append(_ARRAY)
            if level <= depth:
                for item in node:
                    kind = type(item)
                    if kind is str:
                        out.append(item if item in enums else _STRING)
                    elif kind is dict or kind is list:
                        walk(item, out, level + 1)
                    elif kind is float:
                        out.append(_WHOLE if item.is_integer() else _FRACTION)
                    else:
                        out.append(_SCALARS[kind])
        else:
            raise _Unshaped  # a body that is no container: rare, and checked directly
        out.append(_END)

    def shape(body: Any) -> tuple[Any, ...] | None:
        out: list[Any] = []
        try:
            walk(body, out, 0)
        except (_Unshaped, KeyError, TypeError):
            return None
        return tuple(out) if len(out) <= CACHE_TOKENS else None

    return shape


def _short_keys(shape: tuple[Any, ...]) -> bool:
    """Whether a shape may be kept: it holds the body's keys, and a key can be megabytes long."""
    return all(len(token) <= MAX_KEY_CHARS for token in shape if type(token) is str)


class _View:
    """A copy of a body for jsonschema to explain: bounded in items, unknown keys, depth and size.

    Leaving items, unknown keys or levels the schema never looks at out can hide a deviation but
    never make one: the schemas have no minimum sizes, and every key they require is a name they know.
    """

    def __init__(self, schema: VendoredSchema) -> None:
        self._schema = schema
        self._left = VIEW_VALUES
        self._complete = True

    def copy(self, body: Any) -> tuple[Any, bool]:
        """The copy, and whether nothing was left out; `_TooBig` past `VIEW_VALUES` values."""
        return self._copy(body, 0), self._complete

    def _copy(self, node: Any, level: int) -> Any:
        self._left -= 1
        if self._left < 0:
            raise _TooBig
        if isinstance(node, dict):
            if level > self._schema.depth:
                return {}
            copied: dict[Any, Any] = {}
            known = self._schema.names
            if len(node) > len(known) + VIEW_ITEMS:  # many keys: never walk them all (350,000 did)
                kept = [key for key in known if key in node]
                kept += list(itertools.islice((key for key in node if key not in known), VIEW_ITEMS))
                self._complete = False
            else:
                kept, unknown = [], 0
                for key in node:
                    if key not in known:
                        unknown += 1
                        if unknown > VIEW_ITEMS:
                            self._complete = False
                            continue
                    kept.append(key)
            for key in kept:
                copied[key] = self._copy(node[key], level + 1)
            return copied
        if isinstance(node, list):
            if level > self._schema.depth:
                return []
            if len(node) > VIEW_ITEMS:
                self._complete = False
            return [self._copy(item, level + 1) for item in node[:VIEW_ITEMS]]
        return node
