"""A real gateway: LiteLLM's proxy (pinned) in front of the reference endpoint, audited by the workbench.

What the gateway does was observed first, by hand with curl, then recorded with `python -m
tests.gateway` into tests/data/gateway/litellm-1.108.7/ (its README has the table of answers).
LiteLLM 1.108.7 conforms on the minimal request, malformed JSON, a missing field and an
out-of-range value (400 `invalid_request_error`), and the verdicts pass. It deviates in four places:

- no key: 500 `text/plain` "Internal Server Error" (its auth error handler imports `prisma`, which
  `litellm[proxy]` does not install): a client sees a retryable transport failure, not auth;
- a wrong key: 400 `no_db_connection` "No connected db." (without a database every key but the
  master key is looked up in one): a client sees a non-retryable request error (validation);
- every stream: it drops `finish_reason: null` from each chunk's choice, so `finish_reason`, which
  the spec requires on every streamed choice (nullable), is absent from all but the finishing one;
  since the spec check (issue 19) the workbench fails `streaming.sse` with `parser` at
  `choices[0].finish_reason` (the app reads finish_reason; real parsers broke on exactly this:
  brainlid/langchain #367, alfredapp/openai-workflow #52);
- streaming with `include_usage`: usage arrives on a last chunk that carries a choice with an
  empty delta, where the documented usage chunk has `choices: []`: tolerated, noted.

So auth triggers would never fire on this gateway: the audit fails auth.* with the class the app's
logs would show, and the gateway is not ready for those two reasons and the streamed finish_reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gateway import (
    CASES,
    LITELLM_VERSION,
    MODEL,
    TRANSCRIPTS,
    Case,
    Gateway,
    litellm_bin,
    read_transcript,
    running_gateway,
    send,
    structure,
)
from workbench import HistoryStore, Outcome, RunSummary, Symptom, run_probes
from workbench.core.config import parse_config
from workbench.wire.classify import classify

KEY_VAR = "WB_TEST_GATEWAY_KEY"

# The class each stored answer reads as (what an app's client would log), and whether it is retryable.
CLASSIFIED: dict[str, tuple[Symptom, bool]] = {
    "minimal": (Symptom.NONE, False),
    "missing_key": (Symptom.TRANSPORT, True),
    "invalid_key": (Symptom.VALIDATION, False),
    "malformed_json": (Symptom.VALIDATION, False),
    "missing_messages": (Symptom.VALIDATION, False),
    "missing_model": (Symptom.VALIDATION, False),
    "invalid_value": (Symptom.VALIDATION, False),
    "stream_include_usage": (Symptom.NONE, False),
}

# probe -> (outcome, symptom, retryable, words its detail must contain)
VERDICTS: dict[str, tuple[Outcome, Symptom, bool, tuple[str, ...]]] = {
    "endpoint.minimal": (Outcome.PASS, Symptom.NONE, False, ("HTTP 200",)),
    "request.app_realistic": (Outcome.PASS, Symptom.NONE, False, ("HTTP 200",)),
    "auth.missing_key": (
        Outcome.FAIL,
        Symptom.TRANSPORT,
        True,
        ("expected the auth class, got transport", "HTTP 500", "plain text"),
    ),
    "auth.invalid_key": (
        Outcome.FAIL,
        Symptom.VALIDATION,
        False,
        ("expected the auth class, got validation", "HTTP 400", "no_db_connection"),
    ),
    "errors.malformed_json": (Outcome.PASS, Symptom.NONE, False, ("rejected as expected", "request_body")),
    "errors.missing_field": (Outcome.PASS, Symptom.NONE, False, ("without 'messages'", "without 'model'")),
    "errors.invalid_value": (
        Outcome.PASS,
        Symptom.NONE,
        False,
        ("rejected as expected", "param temperature"),
    ),
    "response.optional_fields": (Outcome.PASS, Symptom.NONE, False, ("degrades safely",)),
    "response.fixture_replay": (Outcome.SKIP, Symptom.NONE, False, ("no known-good fixtures",)),
    "streaming.sse": (
        Outcome.FAIL,
        Symptom.PARSER,
        False,
        (
            "choices[0].finish_reason",
            "got absent",
            "a field the app reads",
            "usage chunk carries 1 choice(s)",
        ),
    ),
    "limits.operator_confirmation": (Outcome.NEEDS_OPERATOR, Symptom.NONE, False, ()),
}


def _transcript(name: str) -> Path:
    return TRANSCRIPTS / f"{name}.http"


# -- the stored transcripts (no gateway needed) ------------------------------------------------------


def test_every_case_has_a_transcript_and_nothing_else_is_there() -> None:
    assert sorted(path.stem for path in TRANSCRIPTS.glob("*.http")) == sorted(case.name for case in CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_transcript_says_how_it_was_made_and_holds_no_key(case: Case) -> None:
    text = _transcript(case.name).read_text(encoding="utf-8")
    header = [line for line in text.splitlines() if line.startswith("# ")][:5]
    assert f"LiteLLM proxy {LITELLM_VERSION}" in header[0]
    assert any("captured 20" in line and "python -m tests.gateway" in line for line in header)
    authorization = [line for line in text.splitlines() if line.lower().startswith("authorization:")]
    expected = {
        "master": ["Authorization: Bearer <MASTER_KEY>"],
        "wrong": ["Authorization: Bearer <WRONG_KEY>"],
    }
    assert authorization == expected.get(case.key, [])
    assert "sk-" not in text


@pytest.mark.parametrize("name", sorted(CLASSIFIED))
def test_stored_answer_classifies_as_observed(name: str) -> None:
    """The workbench's classifier on the exact bytes the gateway sent (the live probes below agree)."""
    stored = read_transcript(_transcript(name))
    result = classify(stored.status, stored.body, content_type=stored.headers.get("content-type", ""))
    assert (result.symptom, result.retryable) == CLASSIFIED[name], result.detail
    if name == "stream_include_usage":
        assert result.stream is not None and result.stream.done and result.stream.usage is not None


# -- the live gateway --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    with running_gateway(litellm_bin()) as running:
        yield running


@pytest.mark.slow
@pytest.mark.third_party
def test_the_pinned_version_runs(gateway: Gateway) -> None:
    assert gateway.version == LITELLM_VERSION


@pytest.mark.slow
@pytest.mark.third_party
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_gateway_still_answers_as_transcribed(gateway: Gateway, case: Case) -> None:
    """Status, media type, envelope keys, error type/code/param, stream framing as stored; no ids or text."""
    live = send(gateway, case)
    stored = read_transcript(_transcript(case.name))
    assert structure(live.status, dict(live.headers), live.body) == structure(
        stored.status, stored.headers, stored.body
    )


REPEATS = 3  # the verdicts must not depend on the run (issue 10): compared across repeated runs


@pytest.fixture(scope="module")
def audits(gateway: Gateway, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RunSummary]]:
    """Full probe runs of the gateway, as `workbench probe` would do them (the app streams)."""
    config = parse_config(
        f'[environments.litellm]\nbase_url = "{gateway.base_url}"\napi_key_env = "{KEY_VAR}"\n'
        f'model = "{MODEL}"\nstream = true\n',
        source=None,
    )
    store = HistoryStore(f"sqlite:///{tmp_path_factory.mktemp('gateway') / 'history.sqlite'}")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_VAR, gateway.master_key)
        summaries = [run_probes(config, store=store) for _ in range(REPEATS)]
    store.close()
    yield summaries


@pytest.fixture(scope="module")
def audit(audits: list[RunSummary]) -> RunSummary:
    return audits[0]


@pytest.mark.slow
@pytest.mark.third_party
def test_every_run_of_the_gateway_gets_the_same_verdicts(audits: list[RunSummary]) -> None:
    def outcomes(summary: RunSummary) -> list[tuple[str, str, str, bool]]:
        return [(r.probe, str(r.outcome), str(r.symptom), r.retryable) for r in summary.results]

    assert all(outcomes(summary) == outcomes(audits[0]) for summary in audits[1:])
    assert len({str(summary.verdicts[0].status) for summary in audits}) == 1


@pytest.mark.slow
@pytest.mark.third_party
@pytest.mark.parametrize("probe", sorted(VERDICTS))
def test_workbench_verdict_on_the_gateway(audit: RunSummary, probe: str) -> None:
    (result,) = [r for r in audit.results if r.probe == probe]
    outcome, symptom, retryable, words = VERDICTS[probe]
    assert (result.outcome, result.symptom, result.retryable) == (outcome, symptom, retryable), result.detail
    for word in words:
        assert word in result.detail
    if outcome is Outcome.FAIL:
        assert result.action


@pytest.mark.slow
@pytest.mark.third_party
def test_gateway_is_not_ready_for_its_auth_deviations_and_the_streamed_finish_reason(
    audit: RunSummary,
) -> None:
    (verdict,) = audit.verdicts
    assert str(verdict.status) == "not_ready"
    failing = sorted(r.probe for r in audit.results if r.outcome is Outcome.FAIL)
    assert failing == ["auth.invalid_key", "auth.missing_key", "streaming.sse"]
    assert audit.exit_code == 1


# -- the streaming note, on the reference endpoint ---------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "note"),
    [("conformant", False), ("usage-every-chunk", True)],
)
def test_usage_on_a_chunk_with_choices_is_noted_not_failed(tmp_path: Path, scenario: str, note: bool) -> None:
    """The documented usage chunk has `choices: []` (conformant); usage on the finish chunk: a pass, noted."""
    config = parse_config(
        f'[environments.ref]\nbase_url = "embedded"\nscenario = "{scenario}"\nstream = true\n', source=None
    )
    with HistoryStore(f"sqlite:///{tmp_path / 'h.sqlite'}") as store:
        summary = run_probes(config, probe_ids=["streaming.sse"], store=store)
    (result,) = summary.results
    assert result.outcome is Outcome.PASS, result.detail
    assert result.facts["usage_chunk_choices"] == (1 if note else 0)
    assert ("documented one has `choices: []`" in result.detail) is note
