"""Every saved provider response in tests/data/classify lands in the expected class with the right advice."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from tests.paths import DATA
from workbench import Symptom, classify

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
    calls = result.stream.choices[0].tool_calls
    assert calls and all(call["id"] and call["name"] for call in calls.values())
    for call in calls.values():
        assert isinstance(json.loads(call["arguments"]), dict)  # the fragments join into valid JSON
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
