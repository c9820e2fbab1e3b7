"""The vendored OpenAI chat-completions schemas: where they come from, what the checker may assume of them.

`schemas/openai-chat-completions.json` is written by `python -m tests.vendor_spec` from
`openai/openai-openapi` (MIT) at `SPEC_COMMIT`. The conformance checker (`wire.spec`) caches by a
body's shape, which is only sound while the schemas constrain nothing but JSON types, the keys
present and enum values; `load_schema` refuses a document that breaks that (a moved pin that adds
`minimum` or `pattern` fails here, in the tests, not silently in an audit).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Final, Literal

SCHEMA_FILE: Final = "openai-chat-completions.json"
_DOCUMENT: Final[dict[str, Any]] = json.loads(
    resources.files("workbench.wire").joinpath("schemas", SCHEMA_FILE).read_text(encoding="utf-8")
)
SPEC_SOURCE: Final[Mapping[str, Any]] = _DOCUMENT["x-source"]  # repo, commit, path, licence, spec_version
SPEC_COMMIT: Final[str] = SPEC_SOURCE["commit"]

Kind = Literal["response", "chunk", "error"]
ROOTS: Final[Mapping[Kind, str]] = {
    "response": "CreateChatCompletionResponse",
    "chunk": "CreateChatCompletionStreamResponse",
    "error": "ErrorResponse",
}
MAX_SCHEMA_DEPTH: Final = 32  # deeper (or recursive) schemas are refused

# Keywords whose verdict depends only on the JSON types, the keys present and enum values.
_SHAPE_KEYWORDS: Final = frozenset(
    {"$schema", "$defs", "$ref", "type", "enum", "const", "required", "properties", "items"}
    | {"additionalProperties", "anyOf", "oneOf", "allOf", "deprecated", "x-source"}
)


@dataclass(frozen=True, slots=True)
class VendoredSchema:
    """The schemas' `$defs`, and what the checker reads off them once."""

    defs: Mapping[str, Any]
    enums: frozenset[str]  # every string an enum or const allows, anywhere
    names: frozenset[str]  # every property name the schemas know
    depth: int  # the deepest level of a body any schema looks at (the body itself is level 0)

    def document(self, kind: Kind) -> dict[str, Any]:
        """A self-contained schema for one kind of body."""
        return {"$defs": self.defs, "$ref": f"#/$defs/{ROOTS[kind]}"}

    def resolved(self, schema: Any) -> Mapping[str, Any]:
        """`schema` with its `$ref`s followed ({} for anything that is no schema object)."""
        for _ in range(MAX_SCHEMA_DEPTH):
            ref = schema.get("$ref") if isinstance(schema, Mapping) else None
            if not isinstance(ref, str):
                break
            schema = self.defs.get(ref.removeprefix("#/$defs/"), {})
        return schema if isinstance(schema, Mapping) else {}

    def takes_type(self, schema: Any, value: Any, depth: int = 0) -> bool:
        """Whether `value`'s JSON type is one `schema` (or one of its branches) allows."""
        schema = self.resolved(schema)
        if "type" in schema:
            types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            return bool(types_of(value) & set(types))
        for key in ("anyOf", "oneOf"):
            if key in schema and depth < MAX_SCHEMA_DEPTH:
                return any(self.takes_type(branch, value, depth + 1) for branch in schema[key])
        return True

    def field_takes_null(self, kind: Kind, field: str) -> bool:
        """Whether the spec allows `null` at `field` (a deviation's path without indices, such as
        `choices[].finish_reason`) in a body of `kind`: then leaving it out says what null says."""
        schemas: list[Any] = [self.document(kind)]
        for step in field.replace("[]", ".[]").split("."):
            if not step:
                continue
            found: list[Any] = []
            for schema in schemas:
                for node in self._branches(schema, 0):
                    if step == "[]":
                        found += [node["items"]] if "items" in node else []
                    elif step in node.get("properties", {}):
                        found.append(node["properties"][step])
            schemas = found
            if not schemas:
                return False
        return any(self.takes_type(schema, None) for schema in schemas)

    def _branches(self, schema: Any, depth: int) -> list[Mapping[str, Any]]:
        """A schema and every `anyOf`/`oneOf`/`allOf` branch inside it, `$ref`s followed."""
        node = self.resolved(schema)
        if depth > MAX_SCHEMA_DEPTH:
            return [node]
        found = [node]
        for key in ("anyOf", "oneOf", "allOf"):
            for branch in node.get(key, ()):
                found += self._branches(branch, depth + 1)
        return found

    def describe(self, schema: Any) -> str:
        """What a schema allows, in words: 'string or null', 'one of auto, default, flex or null'."""
        words: list[str] = []
        self._words(schema, words, 0)
        unique = list(dict.fromkeys(words))
        return " or ".join(unique) if unique else "a value the schema allows"

    def _words(self, schema: Any, words: list[str], depth: int) -> None:
        if not isinstance(schema, Mapping) or depth > MAX_SCHEMA_DEPTH:
            return
        if isinstance(schema.get("$ref"), str):
            self._words(self.resolved(schema), words, depth + 1)
        for key in ("anyOf", "oneOf"):
            for branch in schema.get(key, ()):
                self._words(branch, words, depth + 1)
        if "enum" in schema:
            words.append(one_of([value for value in schema["enum"] if value is not None]))
            if None in schema["enum"]:
                words.append("null")
        elif "const" in schema:
            words.append(one_of([schema["const"]]))
        elif "type" in schema:
            words.append(type_words(schema["type"]))


@cache
def vendored() -> VendoredSchema:
    """The schemas shipped with the package (read and checked once per process)."""
    return load_schema(_DOCUMENT)


def load_schema(document: Mapping[str, Any]) -> VendoredSchema:
    """A schema document, refused (RuntimeError) unless the checker's premises hold for it: only
    type, key and enum constraints, enums of strings and null, no recursion, at most
    `MAX_SCHEMA_DEPTH` levels."""
    defs = document["$defs"]
    enums: set[str] = set()
    names: set[str] = set()
    for node in _nodes(document):
        unknown = set(node) - _SHAPE_KEYWORDS
        if unknown:
            raise RuntimeError(f"{SCHEMA_FILE} uses {sorted(unknown)}: the shape cache assumes it does not")
        allowed = [*node.get("enum", ()), *([node["const"]] if "const" in node else [])]
        if any(value is not None and not isinstance(value, str) for value in allowed):
            raise RuntimeError(f"{SCHEMA_FILE}: the shape cache assumes enums of strings and null")
        enums.update(value for value in allowed if isinstance(value, str))
        names.update(node.get("properties", ()))
        names.update(node.get("required", ()))
    depth = max(_depth(defs[root], defs, (root,)) for root in ROOTS.values())
    return VendoredSchema(defs, frozenset(enums), frozenset(names), depth)


def _nodes(node: Any) -> Iterator[Mapping[str, Any]]:
    """Every schema object in a document (the values of `properties` and `$defs`, not those maps)."""
    if not isinstance(node, Mapping):
        return
    yield node
    for key, value in node.items():
        if key in ("properties", "$defs"):
            for item in value.values():
                yield from _nodes(item)
        elif key in ("items", "additionalProperties"):
            yield from _nodes(value)
        elif key in ("anyOf", "oneOf", "allOf"):
            for item in value:
                yield from _nodes(item)


def _depth(node: Any, defs: Mapping[str, Any], via: tuple[str, ...]) -> int:
    """How many levels below the value `node` applies to it still looks."""
    if not isinstance(node, Mapping):
        return 0
    deepest = 0
    ref = node.get("$ref")
    if isinstance(ref, str):
        name = ref.removeprefix("#/$defs/")
        if name in via or len(via) > MAX_SCHEMA_DEPTH:
            raise RuntimeError(f"{SCHEMA_FILE}: {' -> '.join((*via, name))} is recursive or too deep")
        deepest = _depth(defs[name], defs, (*via, name))
    for key in ("anyOf", "oneOf", "allOf"):
        for branch in node.get(key, ()):
            deepest = max(deepest, _depth(branch, defs, via))
    children = [*node.get("properties", {}).values()]
    children += [node[key] for key in ("items", "additionalProperties") if key in node]
    for child in children:
        deepest = max(deepest, 1 + _depth(child, defs, via))
    if deepest > MAX_SCHEMA_DEPTH:
        raise RuntimeError(f"{SCHEMA_FILE} looks deeper than {MAX_SCHEMA_DEPTH} levels into a body")
    return deepest


def types_of(value: Any) -> set[str]:
    """The JSON Schema types a value has (a whole float is an integer, every integer a number)."""
    if value is None:
        return {"null"}
    if isinstance(value, bool):
        return {"boolean"}
    if isinstance(value, int):
        return {"integer", "number"}
    if isinstance(value, float):
        return {"integer", "number"} if value.is_integer() else {"number"}
    if isinstance(value, str):
        return {"string"}
    return {"array"} if isinstance(value, list) else {"object"}


def type_words(types: Any) -> str:
    """A `type` keyword in words: 'integer', 'string or null'."""
    return " or ".join(types) if isinstance(types, list) else str(types)


def one_of(values: Iterable[Any]) -> str:
    """An enum in words: 'chat.completion.chunk', 'one of stop, length, null'."""
    names = ["null" if value is None else str(value) for value in values]
    return names[0] if len(names) == 1 else "one of " + ", ".join(names)
