"""Every saved provider response in tests/data/classify lands in the expected class with the right advice."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.paths import DATA
from workbench import ConfigError, Symptom, classify, classify_file
from workbench.wire.classify import BodyKind, guess_content_type

FIXTURES = DATA / "classify"
EXPECTED: dict[str, dict[str, Any]] = tomllib.loads((FIXTURES / "expected.toml").read_text())


def test_every_fixture_file_has_an_expectation_and_back() -> None:
    files = {path.name for path in FIXTURES.iterdir() if path.suffix in (".json", ".sse", ".html", ".txt")}
    assert files == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_is_classified_as_expected(name: str) -> None:
    expected = EXPECTED[name]
    result = classify(
        expected["status"],
        (FIXTURES / name).read_bytes(),
        content_type=expected.get("content_type", ""),
        headers=expected.get("headers", {}),
    )
    assert (result.symptom, result.retryable) == (Symptom(expected["symptom"]), expected["retryable"]), (
        result.detail
    )
    assert result.content == expected.get("content")
    if "retry_after_s" in expected:
        assert result.retry_after_s == pytest.approx(expected["retry_after_s"])
    assert result.action and result.detail


def test_a_stream_assembles_tool_call_fragments_into_whole_calls() -> None:
    import json

    result = classify(
        200,
        (FIXTURES / "openai_stream_tool_call_fragments.sse").read_bytes(),
        content_type="text/event-stream",
    )
    assert result.stream is not None and result.symptom is Symptom.NONE
    calls = result.stream.tool_calls()
    assert calls and all(call.id and call.name and call.type == "function" for call in calls)
    for call in calls:
        assert isinstance(json.loads(call.arguments), dict)  # the fragments join into valid JSON
    assert result.stream.call_problems == []
    assert result.stream.finish_reason == "tool_calls"


def test_a_stream_with_two_choices_keeps_them_apart() -> None:
    result = classify(
        200, (FIXTURES / "openai_stream_n2_interleaved.sse").read_bytes(), content_type="text/event-stream"
    )
    assert result.stream is not None
    assert sorted(result.stream.choices) == [0, 1]
    first, second = result.stream.choices[0].content, result.stream.choices[1].content
    assert first and second and first != second
    assert result.content == first


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.sse", "text/event-stream"),
        ("a.HTML", "text/html"),
        ("a.htm", "text/html"),
        ("a.json", "application/json"),
        ("a.txt", "text/plain"),
        ("a.bin", ""),
        ("no-extension", ""),
    ],
)
def test_a_saved_body_s_extension_stands_in_for_its_content_type(name: str, expected: str) -> None:
    assert guess_content_type(Path(name)) == expected


def test_classify_file_reads_the_body_and_its_header_lines() -> None:
    limited = classify_file(FIXTURES / "openai_rate_limit_429.json", 429, headers=["Retry-After : 20"])
    assert (limited.symptom, limited.retryable, limited.retry_after_s) == (Symptom.RATE_LIMIT, True, 20)
    streamed = classify_file(FIXTURES / "openai_stream_include_usage.sse")  # guessed from .sse
    assert streamed.kind is BodyKind.STREAM and streamed.symptom is Symptom.NONE and streamed.content


def test_classify_file_prefers_a_given_content_type_to_the_guess(tmp_path: Path) -> None:
    body = tmp_path / "reply.json"
    body.write_text('{"unexpected": true}\n')
    assert classify_file(body).kind is BodyKind.JSON
    assert classify_file(body, content_type="text/event-stream").kind is BodyKind.STREAM


def test_classify_file_names_an_unreadable_file_or_a_malformed_header(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nowhere\.json: cannot read"):
        classify_file(tmp_path / "nowhere.json")
    with pytest.raises(ConfigError, match=r"--header: expected 'Name: value', got 'Retry-After 20'"):
        classify_file(FIXTURES / "openai_rate_limit_429.json", 429, headers=["Retry-After 20"])


@pytest.mark.parametrize(
    ("index", "words"),
    [
        pytest.param(None, "index: absent", id="null"),
        pytest.param({"n": 0}, "index: is an object, not an integer", id="object"),
        pytest.param(1.5, "index: is a number, not an integer", id="float"),
        pytest.param(True, "index: is a boolean, not an integer", id="boolean"),
    ],
)
def test_a_tool_call_index_that_is_no_integer_is_a_parser_finding_not_a_traceback(
    index: object, words: str
) -> None:
    # Observed before (issue 19): `int(fragment.get("index", 0))` raised TypeError on null or an
    # object, so `workbench classify` crashed; a missing index was silently taken as 0.
    import json

    def event(delta: dict[str, object], finish: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        body = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [choice]}
        return f"data: {json.dumps(body)}\n\n"

    function = {"name": "f", "arguments": "{}"}
    fragment = {"index": index, "id": "call_1", "type": "function", "function": function}
    body = event({"role": "assistant", "tool_calls": [fragment]}) + event({}, "tool_calls")
    body += "data: [DONE]\n\n"
    result = classify(200, body.encode(), content_type="text/event-stream")
    assert result.symptom is Symptom.PARSER and not result.retryable, result.detail
    assert f"choices[0].delta.tool_calls[0].{words}" in result.detail, result.detail


@pytest.mark.parametrize("header", ["retry-after-ms", "retry-after"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN"])
def test_a_retry_after_that_is_no_number_is_ignored_never_nan(header: str, value: str) -> None:
    # Observed before (issue 20): `retry-after-ms: nan` put NaN into `workbench probe --format json`.
    import json
    import math

    result = classify(
        429, b'{"error": {"message": "slow down", "type": "rate_limit"}}', headers={header: value}
    )
    assert result.retry_after_s is None or math.isfinite(result.retry_after_s)
    json.dumps(result.to_dict(), allow_nan=False)  # strict JSON: raises on NaN or infinity
