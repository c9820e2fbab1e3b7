"""Every saved provider response in tests/data/classify lands in the expected class with the right advice."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from workbench import Symptom, classify

FIXTURES = Path(__file__).parent / "data" / "classify"
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
