"""JSON values built to satisfy a JSON Schema: the reference endpoint's tool arguments and structured outputs.

A model answering a forced tool call or a `json_schema` response format returns JSON that validates
against the schema the app sent; the reference endpoint must too, or every probe judging those answers
would be judging our own stand-in. `instance_for(schema)` builds one such value, deterministically and
from neutral words (`"example"`, `1`, `true`): never from text of the request, except the values a
schema itself fixes (`const`, the first `enum` value).

What it honours: `type` (one or a list, `null` last), `const`, `enum`, `properties` and `required`
(an object of at most `SMALL_OBJECT` properties gets its optional ones too; a larger one only the
required), `additionalProperties` (never adds undeclared keys), `minProperties`/`maxProperties`,
`dependentRequired`, `items`/`prefixItems`/`minItems`/`maxItems`/`uniqueItems`/`contains`, string
`minLength`/`maxLength`/`format`/`pattern` (a few candidates tried against the pattern), numeric
bounds (inclusive and exclusive, drafts 4 to 2020-12) and `multipleOf`, `anyOf`/`oneOf` (the first
branch that is not only `null`), `allOf` (merged), local `$ref` (`#/$defs/...`, `#/definitions/...`).
What it does not: `not`, `if`/`then`/`else`, `patternProperties`, remote `$ref`, `oneOf` branches
that overlap; a schema that needs them may get a value that does not validate. Work is bounded
(depth, item count, string length), so a recursive or huge schema costs little; a `pattern` is tried
with Python's `re` only on candidates of at most `PATTERN_TRIED_UP_TO` characters (it has no timeout).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard

WORD = "example"
SMALL_OBJECT = 8  # an object with at most this many properties gets its optional ones too
MAX_DEPTH = 24  # nested schemas (and `$ref` hops) followed before giving up with `null`
MAX_ITEMS = 256  # `minItems` honoured up to this many
MAX_LENGTH = 4096  # `minLength` honoured up to this many characters
# Values for the common string formats (reserved example names and documentation addresses only).
FORMATS: Mapping[str, str] = {
    "date-time": "2026-01-01T00:00:00Z",
    "date": "2026-01-01",
    "time": "00:00:00Z",
    "duration": "P1D",
    "email": "probe@example.com",
    "idn-email": "probe@example.com",
    "hostname": "example.com",
    "idn-hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uri": "https://example.com/",
    "uri-reference": "https://example.com/",
    "iri": "https://example.com/",
    "iri-reference": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
}
# Tried in order against a `pattern` (JSON Schema patterns are searched, not fully matched).
PATTERN_CANDIDATES = ("a", "A", "0", "1", "abc", "ABC", "a1", "123", "a-b", "a_b", "")
PATTERN_TRIED_UP_TO = 64
_INFERRED = (
    ("object", ("properties", "required", "additionalProperties", "minProperties", "maxProperties")),
    ("array", ("items", "prefixItems", "minItems", "maxItems", "uniqueItems", "contains")),
    ("string", ("minLength", "maxLength", "pattern", "format")),
    ("number", ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")),
)

JSONValue = Any


def instance_for(schema: object) -> JSONValue:
    """A value valid against `schema`; `{}` when there is none (no schema, `{}`, `true`).

    The top level is an object context (tool parameters and response formats are object schemas),
    so an unconstrained schema gives `{}`; an unconstrained schema nested inside gives `"example"`.
    """
    if not isinstance(schema, Mapping) or _type_of(schema) is None:
        return {}
    return _Builder(schema).value(schema, depth=0, variant=0)


def _type_of(schema: Mapping[str, Any]) -> str | None:
    """The one type to build: the first non-null of `type`, else inferred from the keywords present."""
    declared = schema.get("type")
    if isinstance(declared, str):
        return declared
    if isinstance(declared, list):
        names = [name for name in declared if isinstance(name, str)]
        return next((name for name in names if name != "null"), "null" if names else None)
    if "const" in schema or "enum" in schema:
        return "value"
    for name, keywords in _INFERRED:
        if any(keyword in schema for keyword in keywords):
            return name
    if any(keyword in schema for keyword in ("$ref", "allOf", "anyOf", "oneOf")):
        return "composed"
    return None


class _Builder:
    """One pass over one root schema (the root is what local `$ref`s point into)."""

    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root

    def value(self, schema: object, *, depth: int, variant: int, path: tuple[str, ...] = ()) -> JSONValue:
        """`path`: the `$ref`s followed to get here; once one repeats (a recursive schema), only what
        is required is built, so a tree ends at its first optional branch."""
        if depth > MAX_DEPTH:
            return None
        if not isinstance(schema, Mapping):
            return WORD  # `true` or a non-schema: anything validates
        schema, path = self._flatten(schema, depth, path)
        if "const" in schema:
            return schema["const"]
        enum = schema.get("enum")
        if isinstance(enum, list) and enum:
            return enum[variant % len(enum)]
        for keyword in ("anyOf", "oneOf"):
            branches = schema.get(keyword)
            if isinstance(branches, list) and branches:
                rest = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}
                chosen = next((b for b in branches if not _only_null(b)), branches[0])
                merged = _merge([rest, chosen] if isinstance(chosen, Mapping) else [rest])
                return self.value(merged, depth=depth + 1, variant=variant, path=path)
        kind = _type_of(schema)
        if kind == "object":
            return self._object(schema, depth, variant, path)
        if kind == "array":
            return self._array(schema, depth, path)
        if kind == "string":
            return _string(schema, variant)
        if kind == "integer":
            return _integer(schema, variant)
        if kind == "number":
            return _number(schema, variant)
        if kind == "boolean":
            return variant % 2 == 0
        if kind == "null":
            return None
        return WORD

    def _flatten(
        self, schema: Mapping[str, Any], depth: int, path: tuple[str, ...]
    ) -> tuple[Mapping[str, Any], tuple[str, ...]]:
        """Follow local `$ref`s and merge `allOf`, so one schema object remains to build from."""
        for _ in range(MAX_DEPTH - depth + 1):
            reference = schema.get("$ref")
            if isinstance(reference, str):
                rest = {k: v for k, v in schema.items() if k != "$ref"}
                target = self._resolve(reference)
                schema, path = (_merge([target, rest]) if target is not None else rest), (*path, reference)
                continue
            parts = schema.get("allOf")
            if isinstance(parts, list):
                rest = {k: v for k, v in schema.items() if k != "allOf"}
                schema = _merge([rest, *(p for p in parts if isinstance(p, Mapping))])
                continue
            break
        return schema, path

    def _resolve(self, reference: str) -> Mapping[str, Any] | None:
        """`#/a/b` inside the root; anything else (remote, unknown) resolves to nothing."""
        if not reference.startswith("#"):
            return None
        node: object = self.root
        for raw in reference[1:].split("/")[1:] if reference != "#" else []:
            key = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, Mapping) and key in node:
                node = node[key]
            elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
                node = node[int(key)]
            else:
                return None
        return node if isinstance(node, Mapping) else None

    def _object(
        self, schema: Mapping[str, Any], depth: int, variant: int, path: tuple[str, ...]
    ) -> dict[str, JSONValue]:
        properties = schema.get("properties")
        properties = properties if isinstance(properties, Mapping) else {}
        required = _strings(schema.get("required"))
        small = len(properties) <= SMALL_OBJECT and not _recursed(path)
        keys = [name for name in properties if small or name in required]
        keys += [name for name in required if name not in keys]
        dependent = schema.get("dependentRequired")
        if isinstance(dependent, Mapping):
            for name in list(keys):
                keys += [extra for extra in _strings(dependent.get(name)) if extra not in keys]
        least = schema.get("minProperties")
        if _is_int(least):
            keys += [name for name in properties if name not in keys][: max(0, least - len(keys))]
        most = schema.get("maxProperties")
        if _is_int(most) and len(keys) > most:
            optional = [name for name in reversed(keys) if name not in required]
            for name in optional[: len(keys) - most]:
                keys.remove(name)
        extra = schema.get("additionalProperties")
        return {
            name: self.value(
                properties.get(name, extra if isinstance(extra, Mapping) else True),
                depth=depth + 1,
                variant=variant,
                path=path,
            )
            for name in keys
        }

    def _array(self, schema: Mapping[str, Any], depth: int, path: tuple[str, ...]) -> list[JSONValue]:
        prefix = schema.get("prefixItems")
        items: object = schema.get("items", True)
        if isinstance(items, list):  # drafts 4 to 7: a tuple `items`, the rest in `additionalItems`
            prefix, items = items, schema.get("additionalItems", True)
        prefix = [p for p in prefix if isinstance(p, Mapping | bool)] if isinstance(prefix, list) else []
        least = schema.get("minItems")
        shown = 0 if _recursed(path) else 1  # one item shows the shape, unless the schema recursed
        count = max(min(least, MAX_ITEMS) if _is_int(least) else 0, len(prefix), shown)
        most = schema.get("maxItems")
        if _is_int(most):
            count = min(count, most)
        if items is False:
            count = min(count, len(prefix))
        unique = schema.get("uniqueItems") is True
        contains = schema.get("contains")
        values = []
        for position in range(count):
            if position < len(prefix):
                item_schema: object = prefix[position]
            elif position == 0 and isinstance(contains, Mapping):
                item_schema = _merge([items, contains]) if isinstance(items, Mapping) else contains
            else:
                item_schema = items
            variant = position if unique else 0
            values.append(self.value(item_schema, depth=depth + 1, variant=variant, path=path))
        return values


def _string(schema: Mapping[str, Any], variant: int) -> str:
    form = schema.get("format")
    base = FORMATS.get(form, WORD) if isinstance(form, str) else WORD
    first = base if variant == 0 else f"{base}-{variant + 1}"
    least, most = schema.get("minLength"), schema.get("maxLength")

    def fitted(text: str) -> str:
        if _is_int(least) and len(text) < least:
            text += "x" * (min(least, MAX_LENGTH) - len(text))
        if _is_int(most) and len(text) > most:
            text = text[: max(most, 0)]
        return text

    pattern = schema.get("pattern")
    candidates = [fitted(first)]
    if isinstance(pattern, str):
        candidates += [fitted(c if variant == 0 else c * (variant + 1)) for c in PATTERN_CANDIDATES]
        for candidate in (c for c in candidates if len(c) <= PATTERN_TRIED_UP_TO):
            try:
                if re.search(pattern, candidate):
                    return candidate
            except re.error:
                break
    return candidates[0]


def _integer(schema: Mapping[str, Any], variant: int) -> int:
    low, high = _bounds(schema)
    lowest = None if low is None else (math.floor(low[0]) + 1 if low[1] else math.ceil(low[0]))
    highest = None if high is None else (math.ceil(high[0]) - 1 if high[1] else math.floor(high[0]))
    value = 1 + variant
    if lowest is not None:
        value = max(value, lowest)
    if highest is not None:
        value = min(value, highest)
    step = schema.get("multipleOf")
    if _is_int(step) and step > 0:
        candidate = math.ceil(value / step) * step
        if highest is not None and candidate > highest:
            candidate = math.floor(highest / step) * step
        return candidate
    if _is_number(step) and step > 0:  # a fractional step: the first integer it divides
        for candidate in range(value, value + 10_000):
            if _is_multiple(candidate, step) and (highest is None or candidate <= highest):
                return candidate
    return value


def _number(schema: Mapping[str, Any], variant: int) -> float | int:
    step = schema.get("multipleOf")
    if _is_number(step) and step > 0:
        return _multiple(schema, step)
    low, high = _bounds(schema)
    value = 1.5 + variant

    def inside(candidate: float) -> bool:
        above = low is None or candidate > low[0] or (candidate == low[0] and not low[1])
        below = high is None or candidate < high[0] or (candidate == high[0] and not high[1])
        return above and below

    if inside(value):
        return value
    if low is not None and high is not None:
        return (low[0] + high[0]) / 2
    if low is not None:
        return low[0] + 1
    assert high is not None  # value is outside, so some bound excludes it
    return high[0] - 1


def _multiple(schema: Mapping[str, Any], step: float) -> float | int:
    """A multiple of `step` inside the bounds, checked the way validators divide (float quotients)."""
    low, high = _bounds(schema)
    first = 1 if low is None else math.floor(low[0] / step)
    for k in range(first, first + 10_000):
        candidate = k * step
        candidate = int(candidate) if float(candidate).is_integer() else candidate
        above = low is None or candidate > low[0] or (candidate == low[0] and not low[1])
        below = high is None or candidate < high[0] or (candidate == high[0] and not high[1])
        if above and below and _is_multiple(candidate, step):
            return candidate
        if not below:
            break
    return step


def _bounds(schema: Mapping[str, Any]) -> tuple[tuple[float, bool] | None, tuple[float, bool] | None]:
    """(value, exclusive) for the lower and upper bound; the tighter one wins (draft 4's boolean
    `exclusiveMinimum` modifies `minimum`; later drafts give a number of its own)."""
    low = high = None
    minimum, maximum = schema.get("minimum"), schema.get("maximum")
    if _is_number(minimum):
        low = (float(minimum), schema.get("exclusiveMinimum") is True)
    if _is_number(maximum):
        high = (float(maximum), schema.get("exclusiveMaximum") is True)
    exclusive_low, exclusive_high = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if _is_number(exclusive_low) and (low is None or exclusive_low >= low[0]):
        low = (float(exclusive_low), True)
    if _is_number(exclusive_high) and (high is None or exclusive_high <= high[0]):
        high = (float(exclusive_high), True)
    return low, high


def _is_multiple(value: float, step: float) -> bool:
    quotient = value / step
    return math.isfinite(quotient) and float(quotient).is_integer()


def _merge(parts: Sequence[object]) -> dict[str, Any]:
    """Schemas that all apply, as one: properties and required unite, other keywords first one wins."""
    merged: dict[str, Any] = {}
    for part in parts:
        if not isinstance(part, Mapping):
            continue
        for key, value in part.items():
            if key == "properties" and isinstance(value, Mapping):
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required" and isinstance(value, list):
                merged["required"] = [*merged.get("required", []), *value]
            else:
                merged.setdefault(key, value)
    return merged


def _recursed(path: tuple[str, ...]) -> bool:
    return len(set(path)) < len(path)


def _only_null(schema: object) -> bool:
    return isinstance(schema, Mapping) and schema.get("type") == "null"


def _strings(value: object) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)
