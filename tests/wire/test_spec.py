"""Schema conformance against the pinned OpenAI spec: the vendored schemas, and the checker's deviations.

The deviations asserted here are the small ones the issue lists from public reports (sglang's
`finish_reason: ""`, autogen's chunk with `object: ""` and no `delta`, openai-python's
`prompt_tokens_details: null`, vLLM's integer `error.code`, the legacy `logprobs` shape) and the
tool-call breaks (a delta without `index`, `index: "0"`, `arguments` as an object).
"""

from __future__ import annotations

import copy
import json
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fastjsonschema
import httpx
import pytest
from jsonschema import Draft202012Validator

from tests.canary import canary_key
from tests.paths import REPO
from tests.vendor_spec import OUT, VendorError, convert, dumps, references, vendor
from workbench import EmbeddedEndpoint
from workbench.core.scenarios import Scenario
from workbench.wire import spec
from workbench.wire.spec import Deviation, SpecChecker, check_chunk, check_error, check_response
from workbench.wire.specschema import ROOTS, Kind, load_schema
from workbench.wire.stream import assemble, events_from_bytes

MIRROR = Path("/work/.mirror/openai+openai-openapi/repo")
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
    assert DOCUMENT["x-source"]["commit"] == spec.SPEC_COMMIT
    assert spec.SPEC_COMMIT in (REPO / "README.md").read_text(encoding="utf-8")  # the pin it documents


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
    """The wheel takes the whole package (hatchling, `packages = ["workbench"]`), data files included;
    tests/test_install.py installs a built wheel and audits with it."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert config["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == ["workbench"]
    assert OUT.is_relative_to(REPO / "workbench") and OUT.is_file()


def test_the_finish_reason_of_a_chunk_is_nullable_and_that_of_a_response_is_not() -> None:
    defs = DOCUMENT["$defs"]
    streamed = defs["CreateChatCompletionStreamResponse"]["properties"]["choices"]["items"]
    whole = defs["CreateChatCompletionResponse"]["properties"]["choices"]["items"]
    assert streamed["properties"]["finish_reason"]["enum"][-1] is None
    assert None not in whole["properties"]["finish_reason"]["enum"]


@pytest.mark.skipif(not MIRROR.exists(), reason="no local mirror of openai/openai-openapi")
def test_the_committed_file_is_what_the_tool_writes_from_the_pinned_spec() -> None:
    text = subprocess.run(
        ["git", "-C", str(MIRROR), "show", f"{spec.SPEC_COMMIT}:openapi.json"],
        capture_output=True,
        check=True,
    ).stdout
    assert dumps(vendor(json.loads(text), commit=spec.SPEC_COMMIT)) == OUT.read_text(encoding="utf-8")


def test_the_checker_refuses_a_schema_its_shape_cache_would_be_wrong_for() -> None:
    """The cache keys on types, keys and enum strings: a value constraint would make it unsound."""
    with_minimum = copy.deepcopy(DOCUMENT)
    with_minimum["$defs"]["CompletionUsage"]["properties"]["total_tokens"]["minimum"] = 0
    with pytest.raises(RuntimeError, match="minimum"):
        load_schema(with_minimum)
    recursive = copy.deepcopy(DOCUMENT)
    recursive["$defs"]["Error"]["properties"]["inner"] = {"$ref": "#/$defs/ErrorResponse"}
    with pytest.raises(RuntimeError, match="recursive"):
        load_schema(recursive)
    assert load_schema(DOCUMENT).depth == 9


# --- conformant bodies give no deviation ---------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        pytest.param("response", COMPLETION, id="completion"),
        pytest.param("response", TOOL_COMPLETION, id="tool-call-completion"),
        pytest.param("chunk", ROLE_CHUNK, id="role-chunk"),
        pytest.param("chunk", CONTENT_CHUNK, id="content-chunk"),
        pytest.param("chunk", FINISH_CHUNK, id="finish-chunk"),
        pytest.param("chunk", USAGE_CHUNK, id="usage-only-chunk"),
        pytest.param("chunk", TOOL_FIRST_CHUNK, id="first-tool-call-chunk"),
        pytest.param("chunk", TOOL_DELTA_CHUNK, id="tool-call-delta-index-and-arguments-only"),
        pytest.param("error", ERROR, id="error"),
        pytest.param("error", {"error": {**ERROR["error"], "code": None}}, id="error-code-null"),
    ],
)
def test_a_conformant_body_has_no_deviation(kind: Kind, body: dict[str, Any]) -> None:
    before = copy.deepcopy(body)
    assert spec.checker(kind).check(body) == []
    assert SpecChecker(kind, shapes=0).check(body) == []  # the same without the cache
    assert body == before  # never changed (fastjsonschema fills defaults unless told not to)


# --- each break gives exactly its deviation ------------------------------------------------------

FINISH_WORDS = "one of stop, length, tool_calls, content_filter, function_call"
DEVIATIONS = [
    pytest.param(
        "chunk",
        changed(FINISH_CHUNK, "choices.0.finish_reason", ""),
        [("choices[0].finish_reason", FINISH_WORDS + ", null", '""')],
        id="chunk-finish-reason-empty",
    ),
    pytest.param(
        "response",
        changed(COMPLETION, "choices.0.finish_reason", ""),
        [("choices[0].finish_reason", FINISH_WORDS, '""')],
        id="response-finish-reason-empty",
    ),
    pytest.param(
        "chunk",
        changed(TOOL_DELTA_CHUNK, "choices.0.delta.tool_calls.0.index", DELETE),
        [("choices[0].delta.tool_calls[0].index", "a required field", "absent")],
        id="tool-delta-without-index",
    ),
    pytest.param(
        "chunk",
        changed(TOOL_DELTA_CHUNK, "choices.0.delta.tool_calls.0.index", "0"),
        [("choices[0].delta.tool_calls[0].index", "integer", "a string")],
        id="tool-delta-index-a-string",
    ),
    pytest.param(
        "chunk",
        changed(TOOL_DELTA_CHUNK, "choices.0.delta.tool_calls.0.function.arguments", {"city": "Paris"}),
        [("choices[0].delta.tool_calls[0].function.arguments", "string", "an object")],
        id="tool-delta-arguments-an-object",
    ),
    pytest.param(
        "response",
        changed(TOOL_COMPLETION, "choices.0.message.tool_calls.0.function.arguments", {"city": "Paris"}),
        [("choices[0].message.tool_calls[0].function.arguments", "string", "an object")],
        id="tool-call-arguments-an-object",
    ),
    pytest.param(
        "response",
        changed(TOOL_COMPLETION, "choices.0.message.tool_calls.0.id", DELETE),
        [("choices[0].message.tool_calls[0].id", "a required field", "absent")],
        id="tool-call-without-id",
    ),
    pytest.param(
        "chunk",
        changed(changed(CONTENT_CHUNK, "object", ""), "choices.0.delta", DELETE),
        [("choices[0].delta", "a required field", "absent"), ("object", "chat.completion.chunk", '""')],
        id="chunk-object-empty-and-no-delta",
    ),
    pytest.param(
        "response",
        changed(COMPLETION, "usage.prompt_tokens_details", None),
        [("usage.prompt_tokens_details", "object", "null")],
        id="response-prompt-tokens-details-null",
    ),
    pytest.param(
        "chunk",
        changed(USAGE_CHUNK, "usage.prompt_tokens_details", None),
        [("usage.prompt_tokens_details", "object", "null")],
        id="chunk-prompt-tokens-details-null",
    ),
    pytest.param(
        "error",
        changed(ERROR, "error.code", 401),
        [("error.code", "string or null", "an integer")],
        id="error-code-an-integer",
    ),
    pytest.param(
        "error",
        {"object": "error", "message": "m", "type": "NotFoundError", "param": None, "code": 404},
        [("error", "a required field", "absent")],
        id="error-flat",
    ),
    pytest.param(
        "response",
        changed(COMPLETION, "choices.0.logprobs", {"tokens": ["Hi"], "token_logprobs": [-0.1]}),
        [
            ("choices[0].logprobs.content", "a required field", "absent"),
            ("choices[0].logprobs.refusal", "a required field", "absent"),
        ],
        id="response-legacy-logprobs",
    ),
    pytest.param(
        "chunk",
        changed(CONTENT_CHUNK, "choices.0.logprobs", {"tokens": ["Hi"], "token_logprobs": [-0.1]}),
        [
            ("choices[0].logprobs.content", "a required field", "absent"),
            ("choices[0].logprobs.refusal", "a required field", "absent"),
        ],
        id="chunk-legacy-logprobs",
    ),
    pytest.param(
        "response",
        changed(changed(COMPLETION, "choices.0.logprobs", DELETE), "choices.0.message.refusal", DELETE),
        [
            ("choices[0].logprobs", "a required field", "absent"),
            ("choices[0].message.refusal", "a required field", "absent"),
        ],
        id="response-without-logprobs-and-refusal",  # most non-OpenAI servers (SUMMARY.md, section C)
    ),
    pytest.param(
        "chunk",
        changed(CONTENT_CHUNK, "system_fingerprint", None),
        [("system_fingerprint", "string", "null")],
        id="chunk-system-fingerprint-null",
    ),
    pytest.param(
        "response",
        changed(COMPLETION, "service_tier", "standard"),
        [("service_tier", "one of auto, default, flex, scale, priority, fast", '"standard"')],
        id="response-service-tier-unknown",
    ),
    pytest.param(
        "chunk",
        changed(CONTENT_CHUNK, "usage", "none"),
        [("usage", "object or null", "a string")],
        id="chunk-usage-a-string",
    ),
    pytest.param(
        "response",
        changed(TOOL_COMPLETION, "choices.0.message.tool_calls.0.type", DELETE),
        [("choices[0].message.tool_calls[0].type", "a required field", "absent")],
        id="tool-call-without-type",
    ),
    pytest.param("chunk", [CONTENT_CHUNK], [("$", "object", "an array")], id="chunk-an-array"),
]


@pytest.mark.parametrize(("kind", "body", "expected"), DEVIATIONS)
def test_each_break_gives_exactly_its_deviation(
    kind: Kind, body: Any, expected: list[tuple[str, str, str]]
) -> None:
    found = spec.checker(kind).check(body)
    assert [(d.path, d.required, d.got) for d in found] == expected
    assert found == SpecChecker(kind, shapes=0).check(body)  # cached or not, the same
    assert spec.checker(kind).check(body) == found  # and the second time (a cache hit)


def test_the_field_is_the_path_without_indices_and_deviations_count_by_it() -> None:
    body = changed(TOOL_DELTA_CHUNK, "choices.0.delta.tool_calls", [{"index": "0"}, {"index": "1"}, {}])
    found = check_chunk(body)
    assert {d.field for d in found} == {"choices[].delta.tool_calls[].index"}
    counts = spec.count_by_field(found)
    assert list(counts) == ["choices[].delta.tool_calls[].index"]
    assert (counts["choices[].delta.tool_calls[].index"].count, counts[found[0].field].got) == (3, "a string")


def test_the_public_functions_check_their_own_kind() -> None:
    assert check_response(COMPLETION) == check_chunk(CONTENT_CHUNK) == check_error(ERROR) == []
    # a chunk is no completion: no message, a null finish_reason, and `usage` is not nullable there
    paths = [d.path for d in check_response(CONTENT_CHUNK)]
    assert paths == ["choices[0].finish_reason", "choices[0].message", "object", "usage"]


# --- the shape cache: sound and bounded ----------------------------------------------------------


def test_bodies_of_one_shape_each_get_their_own_values() -> None:
    """Strings outside the schema's enums share a shape, so an enum deviation's `got` is read anew."""
    checker = SpecChecker("chunk")
    first = checker.check(changed(FINISH_CHUNK, "choices.0.finish_reason", "eos"))
    second = checker.check(changed(FINISH_CHUNK, "choices.0.finish_reason", "end_turn"))
    assert checker.cached == 1
    assert (first[0].got, second[0].got) == ('"eos"', '"end_turn"')
    # a string that is one of the schema's enum values is part of the shape
    assert (
        checker.check(changed(FINISH_CHUNK, "choices.0.finish_reason", "assistant"))[0].got == '"assistant"'
    )
    assert checker.check(FINISH_CHUNK) == []
    assert checker.cached == 3


def test_whole_floats_are_integers_and_booleans_are_not() -> None:
    checker = SpecChecker("chunk")
    assert checker.check(changed(CONTENT_CHUNK, "created", 1741569952.0)) == []
    assert [d.got for d in checker.check(changed(CONTENT_CHUNK, "created", 1741569952.5))] == ["a number"]
    assert [d.got for d in checker.check(changed(CONTENT_CHUNK, "created", True))] == ["a boolean"]


def test_the_cache_stays_bounded_under_ten_thousand_shapes() -> None:
    checker = SpecChecker("chunk")
    for number in range(10_000):
        assert checker.check({**CONTENT_CHUNK, f"x_{number}": number}) == []
        assert checker.cached <= spec.CACHE_SHAPES
    assert checker.cached == spec.CACHE_SHAPES
    broken = changed(CONTENT_CHUNK, "choices.0.index", "0")
    assert [d.path for d in checker.check({**broken, "x_last": 1})] == ["choices[0].index"]


def test_a_shape_too_long_to_keep_is_not_kept() -> None:
    """A shape holds the body's keys and one token per value: a long key or a wide body stays out."""
    checker = SpecChecker("chunk")
    assert checker.check({**CONTENT_CHUNK, "k" * 100_000: 1}) == []
    assert checker.check({**CONTENT_CHUNK, "extra": list(range(100_000))}) == []
    assert checker.check({**CONTENT_CHUNK, "extra": [[n] for n in range(1_000)]}) == []
    assert checker.cached == 0
    assert checker.check(CONTENT_CHUNK) == [] and checker.cached == 1


def mutations(body: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """(path, replacement) for every value in `body`: deleted, and replaced by one of each JSON type."""
    for replacement in (DELETE, None, "", "zz", 0, 1.5, True, {}, []):
        if path and not (replacement is DELETE and isinstance(path[-1], int)):
            yield path, replacement
    children = body.items() if isinstance(body, dict) else enumerate(body) if isinstance(body, list) else []
    for key, item in children:
        yield from mutations(item, (*path, key))


def mutated(body: Any, path: tuple[Any, ...], replacement: Any) -> Any:
    return changed(body, ".".join(str(step) for step in path), replacement)


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        pytest.param("response", TOOL_COMPLETION, id="response"),
        pytest.param("chunk", TOOL_FIRST_CHUNK, id="chunk"),
        pytest.param("chunk", USAGE_CHUNK, id="usage-chunk"),
        pytest.param("error", ERROR, id="error"),
    ],
)
def test_every_single_break_is_found_by_both_validators_and_the_cache(kind: Kind, body: Any) -> None:
    """Each value deleted or replaced by each JSON type: fastjsonschema (which says whether a body
    conforms) and jsonschema (which explains it) agree, and the cached answer is the uncached one."""
    document = {"$defs": DOCUMENT["$defs"], "$ref": f"#/$defs/{ROOTS[kind]}"}
    slow = Draft202012Validator(document)
    fast = fastjsonschema.compile(document, use_default=False, use_formats=False)
    cached, uncached = SpecChecker(kind), SpecChecker(kind, shapes=0)
    checked = 0
    for path, replacement in mutations(body):
        variant = mutated(body, path, replacement)
        try:
            fast(variant)
            fast_ok = True
        except fastjsonschema.JsonSchemaValueException:
            fast_ok = False
        assert fast_ok == slow.is_valid(variant), (path, replacement)
        found = uncached.check(variant)
        assert (found == []) == fast_ok, (path, replacement, found)
        assert cached.check(variant) == found, (path, replacement)
        checked += 1
    assert checked >= 40


# --- what an endpoint sends is untrusted: bounded and escaped ------------------------------------


def test_a_value_shown_is_cut_and_escaped() -> None:
    long = check_chunk(changed(FINISH_CHUNK, "choices.0.finish_reason", "x" * 100_000))
    assert long[0].got == '"' + "x" * 39 + '…"'
    control = check_chunk(changed(FINISH_CHUNK, "choices.0.finish_reason", "\x1b[31mred\x07"))
    assert control[0].got == '"\\u001b[31mred\\u0007"'
    assert all(ch.isprintable() for ch in control[0].got)


def test_a_key_the_endpoint_chose_is_cut_escaped_and_counted_as_one_field() -> None:
    body = {**COMPLETION, "metadata": {"\x1b]0;pwned\x07" + "k" * 200: 1, "plain": 2}}
    found = check_response(body)
    assert [d.field for d in found] == ["metadata[*]", "metadata[*]"]
    assert found[1].path == 'metadata["plain"]'
    assert found[0].path.startswith('metadata["\\u001b]0;pwned\\u0007kkk') and found[0].path.endswith('k…"]')
    assert len(found[0].path) < 80 and found[0].path.isprintable()


def test_a_body_of_350_000_keys_is_checked_within_a_bounded_number_of_deviations() -> None:
    wide = {f"k{number}": number for number in range(350_000)}
    found = check_response({**COMPLETION, "metadata": wide})
    assert len(found) == spec.MAX_DEVIATIONS
    assert all(d.field == "metadata[*]" and d.required == "string" for d in found[:-1])
    assert found[-1].is_limit and found[-1].required == "at most 50 deviations per body"
    assert check_chunk({**CONTENT_CHUNK, **wide}) == []  # keys the schema does not name: not its business


def test_a_deeply_nested_body_is_walked_no_deeper_than_the_schema_looks() -> None:
    deep: Any = "x"
    for _ in range(120):
        deep = [deep]
    assert check_chunk({**CONTENT_CHUNK, "extra": deep}) == []
    found = check_chunk(changed(CONTENT_CHUNK, "choices.0.delta.content", deep))
    assert [(d.path, d.required, d.got) for d in found] == [
        ("choices[0].delta.content", "string or null", "an array")
    ]


def test_a_deviation_past_the_items_explained_is_still_reported() -> None:
    entry = {"token": "a", "logprob": -0.1, "bytes": [97], "top_logprobs": []}
    entries = [dict(entry) for _ in range(3 * spec.VIEW_ITEMS)]
    entries[2 * spec.VIEW_ITEMS]["logprob"] = "-0.1"
    body = changed(COMPLETION, "choices.0.logprobs", {"content": entries, "refusal": None})
    found = check_response(body)
    assert [(d.path, d.required, d.got) for d in found] == [
        (f"choices[0].logprobs.content[{2 * spec.VIEW_ITEMS}].logprob", "number", "a string")
    ]


def test_a_body_too_large_to_explain_reports_its_first_deviation_and_says_so() -> None:
    entry = {
        "token": "a",
        "logprob": "bad",
        "bytes": [97],
        "top_logprobs": [{"token": "a", "logprob": 0}] * 20,
    }
    logprobs = {"content": [entry] * spec.VIEW_ITEMS, "refusal": None}
    choices = [
        {**COMPLETION["choices"][0], "index": number, "logprobs": logprobs}
        for number in range(spec.VIEW_ITEMS)
    ]
    found = check_response({**COMPLETION, "choices": choices})
    assert [(d.path, d.got) for d in found] == [
        ("choices[0].logprobs.content[0].logprob", "a string"),
        (spec.LIMIT_FIELD, "a larger one: the first shown"),
    ]
    assert found[-1].is_limit


# --- the embedded reference endpoint, streamed and not -------------------------------------------

KEY = canary_key("spec")


@pytest.fixture(scope="module")
def reference() -> Iterator[EmbeddedEndpoint]:
    endpoint = EmbeddedEndpoint(frozenset({Scenario.CONFORMANT}), api_key=KEY).start()
    yield endpoint
    endpoint.stop()


def post(endpoint: EmbeddedEndpoint, key: str = KEY, **fields: Any) -> httpx.Response:
    body = {"model": "wb-reference-1", "messages": [{"role": "user", "content": "Say hello"}], **fields}
    with httpx.Client(timeout=10, trust_env=False) as client:
        return client.post(
            endpoint.base_url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
        )


def test_the_conformant_reference_endpoint_has_no_deviation(reference: EmbeddedEndpoint) -> None:
    response = post(reference)
    assert response.status_code == 200
    assert check_response(response.json()) == []


@pytest.mark.parametrize("include_usage", [False, True], ids=["plain", "include-usage"])
def test_the_conformant_reference_stream_has_no_deviation(
    reference: EmbeddedEndpoint, include_usage: bool
) -> None:
    options = {"stream_options": {"include_usage": True}} if include_usage else {}
    response = post(reference, stream=True, **options)
    seen: list[Deviation] = []
    checked: list[Any] = []

    def on_chunk(decoded: Any) -> None:
        checked.append(decoded)
        seen.extend(check_chunk(decoded))

    assembly = assemble(events_from_bytes(response.content), on_chunk=on_chunk)
    assert assembly.done and assembly.chunks == len(checked) >= 3
    assert (assembly.usage is not None) == include_usage
    assert seen == []


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"key": "sk-wrong"}, id="wrong-key"),
        pytest.param({"model": "no-such-model"}, id="unknown-model"),
        pytest.param({"temperature": "hot"}, id="invalid-field"),
    ],
)
def test_the_reference_endpoints_errors_have_no_deviation(reference: EmbeddedEndpoint, fields: Any) -> None:
    response = post(reference, **fields)
    assert response.status_code >= 400
    assert check_error(response.json()) == []


def test_a_deviation_behind_thousands_of_unknown_keys_is_still_explained() -> None:
    """The explained copy of a body with more unknown keys than it keeps takes the known keys first
    (issue 20, bench: walking 350,000 keys cost 0.35 s), wherever they stand in the body."""
    body: dict[str, Any] = {f"x{n:05d}": n for n in range(5_000)}
    body.update(copy.deepcopy(COMPLETION))
    body["choices"][0]["finish_reason"] = "exploded"
    (deviation,) = check_response(body)
    assert deviation.path == "choices[0].finish_reason" and deviation.got == '"exploded"', deviation
