"""Parser robustness with real plug-ins: field ablation, fixture capture and replay, acceptance checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench import CaptureRefused, HistoryStore, Outcome, Symptom, run_probes
from workbench.core.config import parse_config
from workbench.probes.capture import capture_fixtures
from workbench.probes.parsing import CLASSIFIED, EXTRACTED, UNHANDLED, try_parser, variants
from workbench.wire.parser import reference_parser

SAMPLE = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "system_fingerprint": "fp",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "hi", "refusal": None},
            "finish_reason": "stop",
            "logprobs": None,
        }
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}


def test_variants_remove_and_null_each_optional_field_and_empty_choices() -> None:
    produced = {(field, mode) for field, mode, _ in variants(SAMPLE)}
    assert ("usage", "removed") in produced and ("usage", "null") in produced
    assert ("choices[0].message.refusal", "removed") in produced
    assert ("service_tier", "null") in produced and (
        "service_tier",
        "removed",
    ) not in produced  # absent field
    assert ("choices", "empty") in produced
    for field, mode, variant in variants(SAMPLE):
        if (field, mode) == ("usage", "removed"):
            assert "usage" not in variant
        if (field, mode) == ("choices", "empty"):
            assert variant["choices"] == []
    assert SAMPLE["usage"] is not None and SAMPLE["choices"]  # the source is never modified


def test_try_parser_tells_extracted_classified_and_unhandled_apart() -> None:
    from tests.plugins.parsers import fragile

    assert try_parser(reference_parser, SAMPLE) == (EXTRACTED, "")
    assert try_parser(reference_parser, {**SAMPLE, "choices": []})[0] == CLASSIFIED
    outcome, note = try_parser(fragile, {k: v for k, v in SAMPLE.items() if k != "usage"})
    assert outcome == UNHANDLED and note.startswith("KeyError")


def config(tmp_path: Path, **fields: str) -> str:
    extra = "".join(f"{key} = {value}\n" for key, value in fields.items())
    return (
        f'[workbench]\nfixtures_dir = "{tmp_path / "fixtures"}"\n\n'
        f'[environments.ref]\nbase_url = "embedded"\nstream = true\n{extra}'
    )


def run(tmp_path: Path, text: str, *probes: str) -> dict[str, object]:
    with HistoryStore(f"sqlite:///{tmp_path / 'h.sqlite'}") as store:
        summary = run_probes(parse_config(text, source=None), probe_ids=probes, store=store)
    return {r.probe: r for r in summary.results}


def test_a_fragile_application_parser_fails_ablation_with_the_field_named(tmp_path: Path) -> None:
    results = run(
        tmp_path, config(tmp_path, parser='"tests.plugins.parsers:fragile"'), "response.optional_fields"
    )
    result = results["response.optional_fields"]
    assert (result.outcome, result.symptom) == (Outcome.FAIL, Symptom.PARSER)
    assert "usage removed (KeyError" in result.detail
    rows = result.facts["ablation"]
    assert {"field": "usage", "mode": "removed", "result": "unhandled"}.items() <= next(
        r for r in rows if r["field"] == "usage" and r["mode"] == "removed"
    ).items()


def test_a_careful_application_parser_degrades_safely(tmp_path: Path) -> None:
    results = run(
        tmp_path, config(tmp_path, parser='"tests.plugins.parsers:careful"'), "response.optional_fields"
    )
    assert results["response.optional_fields"].outcome is Outcome.PASS
    assert "degrades safely" in results["response.optional_fields"].detail


def test_an_unimportable_parser_is_a_config_error_before_anything_runs(tmp_path: Path) -> None:
    from workbench import ConfigError

    with pytest.raises(
        ConfigError, match=r"environments\.ref\.parser: cannot import module 'no_such_module'"
    ):
        run(tmp_path, config(tmp_path, parser='"no_such_module:parse"'))
    with HistoryStore(f"sqlite:///{tmp_path / 'h.sqlite'}") as store:
        assert store.runs() == []


def test_fixtures_are_captured_sanitized_and_replayed(tmp_path: Path) -> None:
    text = config(tmp_path)
    captured = capture_fixtures(parse_config(text, source=None), "ref", "r1")
    assert sorted(captured.files) == ["chat_app_realistic.json", "chat_minimal.json", "stream_minimal.sse"]
    minimal = json.loads(captured.read("chat_minimal.json"))
    assert minimal["id"] == "chatcmpl-fixture" and minimal["created"] == 1700000000
    assert "data: [DONE]" in captured.read("stream_minimal.sse").decode()
    manifest = json.loads((captured.directory / "manifest.json").read_text())
    assert manifest["release"] == "r1" and set(manifest["files"]) == set(captured.files)

    results = run(tmp_path, text, "response.fixture_replay", "response.optional_fields")
    replay = results["response.fixture_replay"]
    assert replay.outcome is Outcome.PASS and "3 known-good response(s) of ref/r1" in replay.detail
    assert "ref/r1/chat_minimal.json" in results["response.optional_fields"].facts["sources"]

    # pinned to the release, replayed against the team's own parser
    pinned = config(tmp_path, parser='"tests.plugins.parsers:careful"', baseline='"ref/r1"')
    assert run(tmp_path, pinned, "response.fixture_replay")["response.fixture_replay"].outcome is Outcome.PASS


def test_capturing_refuses_an_endpoint_that_is_not_known_good(tmp_path: Path) -> None:
    text = config(tmp_path).replace("stream = true", 'stream = true\nscenario = "content-moved"')
    with pytest.raises(CaptureRefused, match="not known-good now"):
        capture_fixtures(parse_config(text, source=None), "ref", "r1")
    assert not (tmp_path / "fixtures" / "ref" / "r1").exists()


def test_capture_does_not_overwrite_a_release_without_force(tmp_path: Path) -> None:
    from workbench import UsageError

    parsed = parse_config(config(tmp_path), source=None)
    capture_fixtures(parsed, "ref", "r1")
    with pytest.raises(UsageError, match="exist"):
        capture_fixtures(parsed, "ref", "r1")
    capture_fixtures(parsed, "ref", "r1", force=True)


def test_fixtures_that_no_longer_map_fail_replay(tmp_path: Path) -> None:
    parsed = parse_config(config(tmp_path), source=None)
    captured = capture_fixtures(parsed, "ref", "r1")
    broken = json.loads(captured.read("chat_minimal.json"))
    broken["choices"][0] = {"index": 0, "text": "moved", "finish_reason": "stop"}  # a known-good file edited
    (captured.directory / "chat_minimal.json").write_text(json.dumps(broken))
    replay = run(tmp_path, config(tmp_path), "response.fixture_replay")["response.fixture_replay"]
    assert (replay.outcome, replay.symptom) == (Outcome.FAIL, Symptom.PARSER)
    assert "chat_minimal.json: classified failure" in replay.detail


def test_default_acceptance_never_blames_the_probes_own_token_budget(tmp_path: Path) -> None:
    """Issue 10: with `max_tokens = 2` this was a `quality` failure of the endpoint."""
    result = run(tmp_path, config(tmp_path, max_tokens="2"), "endpoint.minimal")["endpoint.minimal"]
    assert (result.outcome, result.symptom) == (Outcome.PASS, Symptom.NONE), result.detail
    assert "cut at the workbench's own budget (max_tokens = 2)" in result.detail


def test_a_custom_acceptance_check_replaces_the_default(tmp_path: Path) -> None:
    text = config(tmp_path, acceptance='"tests.plugins.parsers:no_colons"')
    result = run(tmp_path, text, "endpoint.minimal")["endpoint.minimal"]
    assert (result.outcome, result.symptom) == (Outcome.FAIL, Symptom.QUALITY)
    assert "product forbids" in result.detail
