"""Vendoring the chat-completions schemas from OpenAI's OpenAPI spec as one Draft 2020-12 JSON Schema.

    python -m tests.vendor_spec OPENAPI_JSON --commit SHA [--out PATH]

reads `openapi.json` of `openai/openai-openapi` at commit SHA and writes
`workbench/wire/schemas/openai-chat-completions.json`: the response, stream chunk and error schemas
with every schema they reference, transitively, under `$defs`. What changes on the way:

- `$ref: "#/components/schemas/X"` becomes `"#/$defs/X"`; any other reference, or one naming a
  schema the spec lacks, is refused, naming it (an unresolved `$ref` makes a validator raise, not report);
- OpenAPI's `nullable: true` becomes a type union with "null" and, where the schema has an `enum`,
  `null` in the enum too (a validator checks `enum` on its own: without it every conformant chunk
  with `"finish_reason": null` would be a deviation); on a schema without `type` (a `$ref`), an
  `anyOf` with `{"type": "null"}`;
- what only annotates is dropped to keep the file small and its diff readable: `description`,
  `title`, `example(s)`, `default`, `discriminator` (the `oneOf` branches already tell themselves
  apart), `x-*` extensions, and `format` (an annotation in Draft 2020-12; the spec's `unixtime` is
  no JSON Schema format at all); `deprecated` stays;
- a keyword this tool does not know is refused, naming where it is: a new pin is reviewed, not guessed.

The file records where it came from (`x-source`: repository, commit, path, licence, spec version).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from tests.paths import REPO

ROOTS = ("CreateChatCompletionResponse", "CreateChatCompletionStreamResponse", "ErrorResponse")
OUT = REPO / "workbench" / "wire" / "schemas" / "openai-chat-completions.json"
SOURCE_REPO = "openai/openai-openapi"
SOURCE_PATH = "openapi.json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"

_OPENAPI_REF = "#/components/schemas/"
_SCHEMA = {"items", "additionalProperties", "not", "contains", "propertyNames", "if", "then", "else"}
_SCHEMA_LISTS = {"anyOf", "oneOf", "allOf", "prefixItems"}
_SCHEMA_MAPS = {"properties", "patternProperties", "dependentSchemas"}
_KEPT = {
    "type",
    "enum",
    "const",
    "required",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "dependentRequired",
    "deprecated",
}
_DROPPED = {
    "description",
    "title",
    "example",
    "examples",
    "default",
    "discriminator",
    "format",
    "externalDocs",
    "readOnly",
    "writeOnly",
}


class VendorError(Exception):
    """The spec holds something this tool will not convert silently; the message says what and where."""


def convert(node: Any, where: str) -> Any:
    """One OpenAPI 3.1 schema object as a Draft 2020-12 schema (see the module docstring)."""
    if isinstance(node, bool):
        return node
    if not isinstance(node, Mapping):
        raise VendorError(f"{where}: a schema must be an object or a boolean, not {type(node).__name__}")
    out: dict[str, Any] = {}
    nullable = False
    for key, value in node.items():
        here = f"{where}.{key}"
        if key == "$ref":
            out[key] = _ref(value, where)
        elif key == "nullable":
            if not isinstance(value, bool):
                raise VendorError(f"{here}: nullable must be true or false")
            nullable = value
        elif key in _SCHEMA:
            out[key] = convert(value, here)
        elif key in _SCHEMA_LISTS:
            if not isinstance(value, list):
                raise VendorError(f"{here}: must be a list of schemas")
            out[key] = [convert(item, f"{here}[{index}]") for index, item in enumerate(value)]
        elif key in _SCHEMA_MAPS:
            if not isinstance(value, Mapping):
                raise VendorError(f"{here}: must map names to schemas")
            out[key] = {name: convert(item, f"{here}.{name}") for name, item in value.items()}
        elif key in _KEPT:
            out[key] = value
        elif key in _DROPPED or key.startswith("x-"):
            continue
        else:
            raise VendorError(f"{here}: unknown keyword {key!r}; decide how to convert it, then add it here")
    return _nullable(out) if nullable else out


def _ref(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.startswith(_OPENAPI_REF):
        raise VendorError(f"{where}: $ref {value!r} is not a '{_OPENAPI_REF}NAME' reference")
    return "#/$defs/" + value[len(_OPENAPI_REF) :]


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` that also accepts null: in its type and enum, or as an `anyOf` branch."""
    if "type" not in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    schema["type"] = types if "null" in types else [*types, "null"]
    if "enum" in schema and None not in schema["enum"]:
        schema["enum"] = [*schema["enum"], None]
    return schema


def references(node: Any) -> Iterator[str]:
    """Every `$ref` value in a (converted) schema, in document order."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def vendor(spec: Mapping[str, Any], *, commit: str, roots: Sequence[str] = ROOTS) -> dict[str, Any]:
    """The self-contained schema document: `roots` and everything they reference, converted."""
    if not re.fullmatch(r"[0-9a-f]{40}", commit):
        raise VendorError(f"--commit must be a full 40-character hexadecimal commit id, not {commit!r}")
    components = spec.get("components", {}).get("schemas", {})
    defs: dict[str, Any] = {}
    pending = [(name, "the roots") for name in roots]
    while pending:
        name, wanted_by = pending.pop()
        if name in defs:
            continue
        if name not in components:
            raise VendorError(f"unresolved $ref: #/components/schemas/{name} (from {wanted_by})")
        defs[name] = convert(components[name], name)
        for ref in references(defs[name]):
            pending.append((ref.removeprefix("#/$defs/"), name))
    info = spec.get("info", {})
    licence = info.get("license", {})
    document = {
        "$schema": DIALECT,
        "x-source": {
            "repo": SOURCE_REPO,
            "commit": commit,
            "path": SOURCE_PATH,
            "licence": licence.get("identifier") or licence.get("name") or "unknown",
            "spec_version": info.get("version", "unknown"),
            "openapi": spec.get("openapi", "unknown"),
            "roots": list(roots),
            "vendored_by": "python -m tests.vendor_spec",
        },
        "$defs": {name: defs[name] for name in sorted(defs)},
    }
    check(document)
    return document


def check(document: Mapping[str, Any]) -> None:
    """A valid Draft 2020-12 schema whose every `$ref` names one of its own `$defs`."""
    Draft202012Validator.check_schema(document)
    defs = document.get("$defs", {})
    for ref in references(document):
        if not ref.startswith("#/$defs/") or ref.removeprefix("#/$defs/") not in defs:
            raise VendorError(f"unresolved $ref: {ref}")


def dumps(document: Mapping[str, Any]) -> str:
    """The file's text: one key per line, so a moved pin reads as a small diff."""
    return json.dumps(document, indent=1) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.vendor_spec", description=__doc__.split("\n")[0])
    parser.add_argument("openapi_json", type=Path, help="openapi.json of openai/openai-openapi")
    parser.add_argument("--commit", required=True, help="the commit that file is from (40 hex digits)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write (default {OUT})")
    args = parser.parse_args(argv)
    try:
        spec = json.loads(args.openapi_json.read_text(encoding="utf-8"))
        document = vendor(spec, commit=args.commit)
    except (OSError, ValueError, VendorError, SchemaError) as exc:
        print(f"vendor_spec: {exc}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(dumps(document), encoding="utf-8")
    print(f"{args.out}: {len(document['$defs'])} schemas from {SOURCE_REPO}@{args.commit}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
