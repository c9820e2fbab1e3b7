"""The vendored OpenAI schemas: the conversion from OpenAPI 3.1, and the committed file."""

from __future__ import annotations

import copy
import json
import subprocess
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tests.paths import REPO
from tests.vendor_spec import OUT, VendorError, convert, dumps, references, vendor

MIRROR = Path("/work/.mirror/openai+openai-openapi/repo")
PINNED = "f85dbe223d40e1a31cba812ab2d755c7e98a92a3"
DOCUMENT = json.loads(OUT.read_text(encoding="utf-8"))
DELETE = object()

# --- conformant bodies, as OpenAI sends them -----------------------------------------------------

HEAD = {"id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT", "created": 1741569952, "model": "gpt-4.1-2025-04-14"}
USAGE = {
    "prompt_tokens": 19,
    "completion_tokens": 10,
    "total_tokens": 29,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 0,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}
COMPLETION = {
    **HEAD,
    "object": "chat.completion",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Hello! How can I assist you today?",
                "refusal": None,
                "annotations": [],
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": USAGE,
    "service_tier": "default",
    "system_fingerprint": "fp_b376dfbbd5",
}
TOOL_CALL = {"id": "call_abc123", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
TOOL_COMPLETION = copy.deepcopy(COMPLETION)
TOOL_COMPLETION["choices"][0].update(finish_reason="tool_calls")
TOOL_COMPLETION["choices"][0]["message"].update(content=None, tool_calls=[TOOL_CALL])


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **fields: Any) -> dict[str, Any]:
    """A `chat.completion.chunk` with one choice (or the `choices`/`usage` given)."""
    body: dict[str, Any] = {**HEAD, "object": "chat.completion.chunk", "system_fingerprint": "fp_b376dfbbd5"}
    body["choices"] = [{"index": 0, "delta": delta or {}, "logprobs": None, "finish_reason": finish}]
    return {**body, **fields}


ROLE_CHUNK = chunk({"role": "assistant", "content": "", "refusal": None}, usage=None, obfuscation="Qx7")
CONTENT_CHUNK = chunk({"content": "Hello"}, usage=None)
FINISH_CHUNK = chunk({}, "stop", usage=None)
USAGE_CHUNK = chunk(choices=[], usage=USAGE)
FIRST_CALL = {"index": 0, **TOOL_CALL, "function": {"name": "get_weather", "arguments": ""}}
TOOL_FIRST_CHUNK = chunk({"role": "assistant", "content": None, "tool_calls": [FIRST_CALL]})
TOOL_DELTA_CHUNK = chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"ci'}}]})
ERROR = {
    "error": {
        "message": "Incorrect API key provided.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
    }
}


def changed(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of `body` with the value at dotted `path` (numbers index arrays) set, or deleted."""
    result = copy.deepcopy(body)
    *parents, last = [int(step) if step.isdigit() else step for step in path.split(".")]
    node: Any = result
    for step in parents:
        node = node[step]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return result


# --- vendoring -----------------------------------------------------------------------------------


def test_nullable_with_an_enum_takes_null_in_its_type_and_its_enum() -> None:
    """Without null in the enum, every conformant `"finish_reason": null` would be a deviation."""
    converted = convert({"type": "string", "enum": ["stop", "length"], "nullable": True}, "x")
    assert converted == {"type": ["string", "null"], "enum": ["stop", "length", None]}
    assert Draft202012Validator(converted).is_valid(None)


def test_nullable_without_an_enum_is_a_type_union() -> None:
    assert convert({"type": "object", "nullable": True}, "x") == {"type": ["object", "null"]}
    assert convert({"type": ["string", "null"], "nullable": True}, "x") == {"type": ["string", "null"]}
    assert convert({"type": "integer", "nullable": False}, "x") == {"type": "integer"}


def test_a_nullable_reference_becomes_an_anyof_with_null() -> None:
    converted = convert({"$ref": "#/components/schemas/CompletionUsage", "nullable": True}, "x")
    assert converted == {"anyOf": [{"$ref": "#/$defs/CompletionUsage"}, {"type": "null"}]}


def test_references_are_rewritten_and_annotations_dropped_but_property_names_kept() -> None:
    converted = convert(
        {
            "type": "object",
            "description": "dropped",
            "x-oaiMeta": {"dropped": True},
            "discriminator": {"propertyName": "type"},
            "properties": {
                "title": {"type": "string", "description": "a property named title stays"},
                "description": {"$ref": "#/components/schemas/Other", "example": "dropped"},
                "created": {"type": "integer", "format": "unixtime", "default": 0, "deprecated": True},
            },
        },
        "x",
    )
    assert converted == {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "description": {"$ref": "#/$defs/Other"},
            "created": {"type": "integer", "deprecated": True},
        },
    }


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        pytest.param(
            {"$ref": "#/components/responses/X"}, "is not a '#/components/schemas/NAME'", id="other-ref"
        ),
        pytest.param({"$ref": "https://example.com/s.json"}, "is not a", id="remote-ref"),
        pytest.param({"type": "string", "xml": {}}, "unknown keyword 'xml'", id="unknown-keyword"),
        pytest.param({"type": "string", "nullable": "yes"}, "nullable must be", id="nullable-not-bool"),
    ],
)
def test_what_the_tool_will_not_convert_silently_is_refused(schema: dict[str, Any], message: str) -> None:
    with pytest.raises(VendorError, match=message):
        convert(schema, "Root")


def test_an_unresolved_reference_is_refused_naming_it() -> None:
    spec_json = {
        "info": {"version": "1", "license": {"identifier": "MIT"}},
        "components": {
            "schemas": {
                "CreateChatCompletionResponse": {"$ref": "#/components/schemas/ChatCompletionModeration"},
                "CreateChatCompletionStreamResponse": {"type": "object"},
                "ErrorResponse": {"type": "object"},
            }
        },
    }
    with pytest.raises(VendorError, match=r"unresolved \$ref: #/components/schemas/ChatCompletionModeration"):
        vendor(spec_json, commit="0" * 40)
    with pytest.raises(VendorError, match="40-character"):
        vendor(spec_json, commit="main")


def test_the_vendored_file_is_valid_draft_2020_12_and_names_its_source() -> None:
    Draft202012Validator.check_schema(DOCUMENT)
    assert DOCUMENT["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert DOCUMENT["x-source"] == {
        "repo": "openai/openai-openapi",
        "commit": "f85dbe223d40e1a31cba812ab2d755c7e98a92a3",
        "path": "openapi.json",
        "licence": "MIT",
        "spec_version": "2.3.0",
        "openapi": "3.1.0",
        "roots": ["CreateChatCompletionResponse", "CreateChatCompletionStreamResponse", "ErrorResponse"],
        "vendored_by": "python -m tests.vendor_spec",
    }


def test_every_reference_in_the_vendored_file_resolves_including_those_the_excerpts_lack() -> None:
    defs = DOCUMENT["$defs"]
    refs = list(references(DOCUMENT))
    assert refs and all(ref.removeprefix("#/$defs/") in defs for ref in refs)
    assert {"Metadata", "ChatCompletionModeration", "ChatCompletionMessageCustomToolCall"} <= set(defs)
    # and a validator really resolves them: a body reaching each of those schemas is checked, not raised
    body = changed(TOOL_COMPLETION, "choices.0.message.tool_calls", [{"id": "c", "type": "custom"}])
    body |= {"metadata": {"k": "v"}, "moderation": {"input": {"type": "error"}, "output": None}}
    assert not Draft202012Validator({"$defs": defs, "$ref": "#/$defs/CreateChatCompletionResponse"}).is_valid(
        body
    )


def test_the_vendored_file_ships_in_the_wheel() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    shipped = config["tool"]["setuptools"]["package-data"]["workbench"]
    assert any(PurePosixPath("wire/schemas", OUT.name).match(glob) for glob in shipped)


def test_the_finish_reason_of_a_chunk_is_nullable_and_that_of_a_response_is_not() -> None:
    defs = DOCUMENT["$defs"]
    streamed = defs["CreateChatCompletionStreamResponse"]["properties"]["choices"]["items"]
    whole = defs["CreateChatCompletionResponse"]["properties"]["choices"]["items"]
    assert streamed["properties"]["finish_reason"]["enum"][-1] is None
    assert None not in whole["properties"]["finish_reason"]["enum"]


@pytest.mark.skipif(not MIRROR.exists(), reason="no local mirror of openai/openai-openapi")
def test_the_committed_file_is_what_the_tool_writes_from_the_pinned_spec() -> None:
    text = subprocess.run(
        ["git", "-C", str(MIRROR), "show", f"{PINNED}:openapi.json"],
        capture_output=True,
        check=True,
    ).stdout
    assert dumps(vendor(json.loads(text), commit=PINNED)) == OUT.read_text(encoding="utf-8")
