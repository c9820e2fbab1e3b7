"""The schema-instance generator: every value it builds validates (jsonschema is the judge, not our code)."""

from __future__ import annotations

import json
import time
from typing import Any

import jsonschema
import pytest

from workbench.reference.instances import SMALL_OBJECT, instance_for

WEATHER = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
    "required": ["city"],
}
STRICT = {  # OpenAI's strict mode: every property required, no additional ones, nullable by a type list
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": ["integer", "null"]},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["name", "age", "tags"],
    "additionalProperties": False,
}
NESTED = {
    "type": "object",
    "properties": {
        "order": {
            "type": "object",
            "properties": {
                "id": {"type": "string", "minLength": 12, "maxLength": 12},
                "lines": {
                    "type": "array",
                    "minItems": 2,
                    "items": {
                        "type": "object",
                        "properties": {
                            "sku": {"type": "string", "pattern": "^[A-Z]{3}$"},
                            "quantity": {"type": "integer", "minimum": 5, "maximum": 9},
                            "price": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
                        },
                        "required": ["sku", "quantity"],
                        "additionalProperties": False,
                    },
                },
                "priority": {"const": "high"},
                "gift": {"type": "boolean"},
            },
            "required": ["id", "lines", "priority"],
        }
    },
    "required": ["order"],
}
ENUMS = {
    "type": "object",
    "properties": {
        "colour": {"enum": ["red", "green"]},
        "level": {"type": "integer", "enum": [3, 7]},
        "mode": {"anyOf": [{"type": "null"}, {"type": "string", "enum": ["fast", "slow"]}]},
        "codes": {"type": "array", "items": {"enum": ["a", "b", "c"]}, "minItems": 3, "uniqueItems": True},
    },
    "required": ["colour", "level", "mode", "codes"],
}
NODE = {
    "type": "object",
    "properties": {
        "value": {"type": "integer"},
        "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
    },
    "required": ["value"],
}
POINT = {
    "type": "object",
    "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
    "required": ["x", "y"],
    "additionalProperties": False,
}
REFS = {
    "$defs": {"point": POINT, "node": NODE},
    "type": "object",
    "properties": {
        "origin": {"$ref": "#/$defs/point"},
        "tree": {"$ref": "#/$defs/node"},
        "both": {"allOf": [{"$ref": "#/$defs/point"}, {"required": ["x"]}]},
    },
    "required": ["origin", "tree", "both"],
}
NUMBERS = {
    "type": "object",
    "properties": {
        "even": {"type": "integer", "multipleOf": 2, "minimum": 3},
        "tenth": {"type": "number", "multipleOf": 0.1, "minimum": 0.25},
        "negative": {"type": "integer", "exclusiveMaximum": 0},
        "narrow": {"type": "number", "exclusiveMinimum": 2, "exclusiveMaximum": 3},
        "big": {"type": "integer", "minimum": 1000000},
        "half": {"type": "integer", "multipleOf": 2.5},
    },
    "required": ["even", "tenth", "negative", "narrow", "big", "half"],
}
FORMATS = {
    "type": "object",
    "properties": {
        "when": {"type": "string", "format": "date-time"},
        "day": {"type": "string", "format": "date"},
        "mail": {"type": "string", "format": "email"},
        "site": {"type": "string", "format": "uri"},
        "uuid": {"type": "string", "format": "uuid"},
        "short": {"type": "string", "maxLength": 3},
        "digits": {"type": "string", "pattern": "^[0-9]+$"},
    },
    "required": ["when", "day", "mail", "site", "uuid", "short", "digits"],
}
TUPLES = {
    "type": "object",
    "properties": {
        "pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": False},
        "some": {
            "type": "array",
            "contains": {"type": "integer", "minimum": 10},
            "items": {"type": "integer"},
        },
        "none": {"type": "array", "maxItems": 0},
        "many": {
            "type": "array",
            "minItems": 4,
            "maxItems": 4,
            "uniqueItems": True,
            "items": {"type": "string"},
        },
    },
    "required": ["pair", "some", "none", "many"],
}
PROPERTY_COUNTS = {
    "type": "object",
    "properties": {f"p{i}": {"type": "string"} for i in range(SMALL_OBJECT + 4)},
    "required": ["p3"],
    "minProperties": 3,
    "dependentRequired": {"p3": ["p7"]},
}
INFERRED = {"properties": {"n": {"minimum": 4}, "s": {"maxLength": 2}, "list": {"minItems": 1}}}

SCHEMAS = {
    "weather": WEATHER,
    "strict": STRICT,
    "nested": NESTED,
    "enums": ENUMS,
    "refs": REFS,
    "numbers": NUMBERS,
    "formats": FORMATS,
    "tuples": TUPLES,
    "property-counts": PROPERTY_COUNTS,
    "inferred": INFERRED,
}


@pytest.mark.parametrize("schema", list(SCHEMAS.values()), ids=list(SCHEMAS))
def test_every_instance_validates(schema: dict[str, Any]) -> None:
    value = instance_for(schema)
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    assert list(validator.iter_errors(value)) == [], json.dumps(value)
    assert json.loads(json.dumps(value)) == value  # plain JSON: serialises and round-trips


def test_draft_4_boolean_exclusive_bounds() -> None:
    bounded = {
        "type": "integer",
        "minimum": 1,
        "exclusiveMinimum": True,
        "maximum": 3,
        "exclusiveMaximum": True,
    }
    schema = {"type": "object", "properties": {"n": bounded}, "required": ["n"]}
    value = instance_for(schema)
    jsonschema.Draft4Validator(schema).validate(value)
    assert value == {"n": 2}


def test_values_are_neutral_and_fixed_values_come_from_the_schema() -> None:
    assert instance_for(WEATHER) == {"city": "example", "unit": "celsius"}
    assert instance_for(STRICT) == {"name": "example", "age": 1, "tags": ["example"]}
    enums = instance_for(ENUMS)
    assert (enums["colour"], enums["level"], enums["mode"]) == ("red", 3, "fast")
    assert enums["codes"] == ["a", "b", "c"]  # uniqueItems: successive enum values
    assert instance_for(NESTED)["order"]["priority"] == "high"


def test_descriptions_and_titles_never_reach_the_value() -> None:
    marker = "zebra-quokka-4471"
    schema = {
        "type": "object",
        "title": marker,
        "description": marker,
        "properties": {
            "q": {"type": "string", "description": marker, "examples": [marker], "default": marker}
        },
        "required": ["q"],
    }
    assert marker not in json.dumps(instance_for(schema))


def test_small_objects_get_optional_properties_large_ones_only_the_required() -> None:
    assert set(instance_for(WEATHER)) == {"city", "unit"}
    large = instance_for(PROPERTY_COUNTS)
    assert set(large) == {"p3", "p7", "p0"}  # required, its dependent, one more for minProperties


def test_deterministic() -> None:
    assert all(instance_for(schema) == instance_for(schema) for schema in SCHEMAS.values())


@pytest.mark.parametrize(
    "schema",
    [None, {}, True, {"description": "no constraints"}, {"type": "object"}, "not a schema"],
    ids=["none", "empty", "true", "described", "bare-object", "string"],
)
def test_no_schema_gives_an_empty_object(schema: object) -> None:
    assert instance_for(schema) == {}


def test_unconstrained_nested_values_are_a_neutral_word() -> None:
    assert instance_for({"properties": {"any": {}, "also": True}}) == {"any": "example", "also": "example"}


def test_a_recursive_required_schema_is_bounded() -> None:
    """Unsatisfiable (every node needs a child): the builder stops at its depth limit, quickly."""
    schema = {"$defs": {"n": {"type": "object", "properties": {"child": {"$ref": "#/$defs/n"}},
              "required": ["child"]}}, "$ref": "#/$defs/n"}  # fmt: skip
    started = time.perf_counter()
    value = instance_for(schema)
    assert time.perf_counter() - started < 1.0
    depth = 0
    while isinstance(value, dict):
        value, depth = value["child"], depth + 1
    assert value is None and depth <= 30


def test_huge_counts_are_capped() -> None:
    value = instance_for({"type": "object", "properties": {"a": {"type": "array", "minItems": 10**9},
                          "s": {"type": "string", "minLength": 10**9}}})  # fmt: skip
    assert len(value["a"]) <= 256 and len(value["s"]) <= 4096


def test_remote_and_unknown_refs_resolve_to_nothing() -> None:
    schema = {"type": "object", "properties": {"r": {"$ref": "https://example.com/schema.json"},
              "l": {"$ref": "#/$defs/missing"}}}  # fmt: skip
    assert instance_for(schema) == {"r": "example", "l": "example"}
