"""One drift judgement: contract drift fails a gate; new fields, nullability and latency inform."""

from __future__ import annotations

import dataclasses

import pytest

from tests.history.test_store import result
from workbench.core.models import Outcome, Symptom
from workbench.probes.drift import ProbeDrift, against_reference, compare, reference_environment
from workbench.wire.shape import shape_of

CHOICE = {"message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
BASE: dict[str, object] = {
    "id": "c1",
    "choices": [CHOICE],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}


def judged(before: dict[str, object], after: dict[str, object], **changes: object) -> ProbeDrift:
    a = result(
        run_id="a",
        probe="endpoint.minimal",
        outcome=Outcome.PASS,
        symptom=Symptom.NONE,
        shape=shape_of(before),
    )
    b = result(
        run_id="b",
        probe="endpoint.minimal",
        outcome=Outcome.PASS,
        symptom=Symptom.NONE,
        shape=shape_of(after),
    )
    b = dataclasses.replace(b, **changes)  # type: ignore[arg-type]
    (drift,) = compare([a], [b], "staging", "staging")
    return drift


@pytest.mark.parametrize(
    "after",
    [
        pytest.param({**BASE, "system_fingerprint": "fp_1"}, id="a-new-optional-field"),
        pytest.param({**BASE, "service_tier": None}, id="a-new-null-field"),
        pytest.param(
            {**BASE, "choices": [{**BASE["choices"][0], "logprobs": None}]}, id="new-null-in-choice"
        ),  # type: ignore[index]
    ],
)
def test_benign_changes_are_information_never_drift(after: dict[str, object]) -> None:
    drift = judged(BASE, after)
    assert drift.changed and not drift.drifted, drift.summary()
    assert drift.summary().startswith("information only:")


def test_null_versus_absent_is_information() -> None:
    with_null = {**BASE, "system_fingerprint": None}
    assert not judged(with_null, BASE).drifted  # null -> absent
    assert not judged(BASE, with_null).drifted  # absent -> null
    assert not judged(with_null, {**BASE, "system_fingerprint": "fp"}).drifted  # null -> a value


def test_a_removed_or_retyped_field_is_contract_drift() -> None:
    no_usage = {key: value for key, value in BASE.items() if key != "usage"}
    removed = judged(BASE, no_usage)
    assert removed.drifted and "removed usage" in removed.summary()
    retyped = judged(BASE, {**BASE, "id": 7})
    assert retyped.drifted and "retyped id: string -> integer" in retyped.summary()
    nulled = judged(BASE, {**BASE, "usage": None})  # a value lost: not just nullability
    assert nulled.drifted


def test_latency_alone_is_information_with_both_values() -> None:
    drift = judged(BASE, BASE, latency_ms=950.0)
    assert not drift.drifted and "latency 123 ms -> 950 ms" in drift.summary()
    assert not judged(BASE, BASE, latency_ms=124.0).changed  # jitter inside a band is not even shown


def test_a_probe_that_stopped_passing_is_drift_and_one_that_recovered_is_not() -> None:
    broke = judged(BASE, BASE, outcome=Outcome.FAIL, symptom=Symptom.PARSER)
    assert broke.drifted and "outcome pass -> fail" in broke.summary()
    a = result(run_id="a", outcome=Outcome.FAIL, symptom=Symptom.PARSER, shape=())
    b = result(run_id="b", outcome=Outcome.PASS, symptom=Symptom.NONE, shape=())
    (recovered,) = compare([a], [b], "staging", "staging")
    assert recovered.changed and not recovered.drifted


def test_environments_are_judged_against_one_reference_never_in_every_pair() -> None:
    """Issue 22: sixty environments gave 1,770 pairs (1,947 rows); now one comparison each."""
    moved = shape_of({**BASE, "choices": [{"text": "hi"}]})
    envs = [f"env-{n:02d}" for n in range(1, 61)]
    results = [
        result(
            env=env,
            outcome=Outcome.PASS,
            symptom=Symptom.NONE,
            shape=moved if env == "env-13" else shape_of(BASE),
        )
        for env in envs
    ]
    drifts = against_reference(results, "env-01", envs)
    assert [d.env_b for d in drifts] == envs[1:] and {d.env_a for d in drifts} == {"env-01"}
    assert [d.env_b for d in drifts if d.drifted] == ["env-13"]


def test_the_reference_is_the_configured_one_else_reference_else_the_first() -> None:
    assert reference_environment(["a", "reference", "b"]) == "reference"
    assert reference_environment(["a", "reference", "b"], "b") == "b"
    assert reference_environment(["a", "b"], "gone") == "a"  # configured, but not in this run
