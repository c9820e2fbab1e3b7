"""The ten-step readiness verdict: each step from its evidence; operator confirmations and their expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from workbench import Area, HistoryStore, Outcome, ProbeResult, Symptom, UsageError
from workbench.history.confirmations import current_by_item, new_confirmation
from workbench.probes.catalog import CATALOG
from workbench.rollback.readiness import (
    BundleEvidence,
    Evidence,
    ScanEvidence,
    StepStatus,
    TriggerEvidence,
    assess,
)

ALL_PROBES = tuple(CATALOG)


def results(
    env: str = "stage", skipped_because: str = "skipped", **overrides: tuple[Outcome, Symptom]
) -> list[ProbeResult]:
    made = []
    for probe in ALL_PROBES:
        outcome, symptom = overrides.get(probe.replace(".", "_"), (Outcome.PASS, Symptom.NONE))
        detail = skipped_because if outcome is Outcome.SKIP else f"{probe} detail"
        made.append(
            ProbeResult(
                run_id="r1",
                env=env,
                probe=probe,
                area=Area.ENDPOINT,
                outcome=outcome,
                symptom=symptom,
                retryable=False,
                http_status=200,
                latency_ms=1.0,
                detail=detail,
                action="",
                started_at="2026-11-27T00:00:00Z",
            )
        )
    return made


def confirmed(*items: str, env: str = "stage") -> dict[str, object]:
    return current_by_item(new_confirmation(env, item, by="ops") for item in items)


GOOD = dict(
    bundle=BundleEvidence("stage/r1", ()),
    scan=ScanEvidence(12, ()),
    triggers=TriggerEvidence(7, ()),
)


def statuses(readiness: object) -> dict[int, StepStatus]:
    return {step.number: step.status for step in readiness.steps}  # type: ignore[attr-defined]


def test_everything_in_place_is_ready() -> None:
    evidence = Evidence(
        results(), confirmations=confirmed("docs-reviewed", "rate-limits", "billing", "traffic-shift"), **GOOD
    )
    readiness = assess("stage", evidence)
    assert readiness.ready and readiness.summary == "rollback-ready (10 of 10 steps pass)"


def test_operator_items_missing_block_steps_1_and_8_with_the_commands() -> None:
    readiness = assess(
        "stage", Evidence(results(), confirmations=confirmed("docs-reviewed", "billing"), **GOOD)
    )
    assert statuses(readiness)[1] is StepStatus.PASS
    assert statuses(readiness)[8] is StepStatus.NEEDS_OPERATOR
    step8 = readiness.steps[7].evidence
    assert "workbench confirm rate-limits --env stage" in step8 and "traffic-shift" in step8
    assert not readiness.ready


@pytest.mark.parametrize(
    ("override", "step"),
    [
        pytest.param({"endpoint_minimal": (Outcome.FAIL, Symptom.PARSER)}, 2, id="minimal-fails"),
        pytest.param(
            {"request_app_realistic": (Outcome.FAIL, Symptom.VALIDATION)}, 3, id="app-request-fails"
        ),
        pytest.param({"auth_missing_key": (Outcome.FAIL, Symptom.AUTH)}, 4, id="negative-fails"),
        pytest.param({"response_optional_fields": (Outcome.FAIL, Symptom.PARSER)}, 5, id="parser-unsafe"),
    ],
)
def test_a_failed_probe_fails_its_step(override: dict[str, tuple[Outcome, Symptom]], step: int) -> None:
    readiness = assess("stage", Evidence(results(**override), embedded=True, **GOOD))
    assert statuses(readiness)[step] is StepStatus.FAIL
    assert [s.number for s in readiness.blocking()] == [step] + ([5] if step == 2 else [])


def test_missing_evidence_is_not_run_and_says_what_to_do() -> None:
    no_fixtures = results(
        "stage",
        "no known-good fixtures: capture them with `workbench fixtures capture --env stage --release R`",
        response_fixture_replay=(Outcome.SKIP, Symptom.NONE),
    )
    readiness = assess("stage", Evidence(no_fixtures, embedded=True))
    assert (
        statuses(readiness)[5] is StepStatus.NOT_RUN
        and "workbench fixtures capture" in readiness.steps[4].evidence
    )
    assert statuses(readiness)[6] is StepStatus.NOT_RUN
    assert (
        statuses(readiness)[7] is StepStatus.NOT_RUN
        and "workbench bundle capture" in readiness.steps[6].evidence
    )
    assert statuses(readiness)[9] is StepStatus.NOT_RUN


def test_a_leaked_secret_a_bad_bundle_and_a_fired_trigger_fail_their_steps() -> None:
    evidence = Evidence(
        results(),
        embedded=True,
        bundle=BundleEvidence("stage/r1", ("prompt_template: missing",)),
        scan=ScanEvidence(3, ("reports/x.html:4: bearer token (abcd…[40 chars])",)),
        triggers=TriggerEvidence(7, ("parser-consecutive: 5 consecutive -> roll back parser",)),
    )
    readiness = assess("stage", evidence)
    assert {n: statuses(readiness)[n] for n in (6, 7, 9, 10)} == dict.fromkeys((6, 7, 9, 10), StepStatus.FAIL)


def test_production_borrows_negative_tests_from_staging() -> None:
    negatives = {
        p.replace(".", "_"): (Outcome.SKIP, Symptom.NONE) for p in ALL_PROBES if p[:4] in ("auth", "erro")
    }
    guarded = results("prod", "production environment: negative probes run only with ...", **negatives)
    alone = assess("prod", Evidence(guarded, embedded=True, **GOOD))
    assert statuses(alone)[4] is StepStatus.NOT_RUN and "negatives_from" in alone.steps[3].evidence
    borrowed = assess(
        "prod",
        Evidence(
            guarded, embedded=True, negatives_from="stage", negative_results=results(env="stage"), **GOOD
        ),
    )
    assert statuses(borrowed)[4] is StepStatus.PASS and borrowed.steps[3].evidence.startswith("from stage")


def test_an_expired_confirmation_counts_as_missing(tmp_path: Path) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=40)
    with HistoryStore(f"sqlite:///{tmp_path / 'h.sqlite'}") as store:
        store.add_confirmation(new_confirmation("stage", "billing", by="ops", expires_days=30, now=long_ago))
        store.add_confirmation(
            new_confirmation("stage", "rate-limits", by="ops", expires_days=90, now=long_ago)
        )
        current = current_by_item(store.confirmations(["stage"]))
    assert set(current) == {"rate-limits"}
    assert current["rate-limits"].is_current() and current["rate-limits"].describe().startswith(
        "rate-limits confirmed by ops (declared; OS user "
    )


def test_a_newer_expired_confirmation_replaces_an_older_current_one() -> None:
    now = datetime.now(UTC)
    older = new_confirmation("stage", "billing", by="a", now=now - timedelta(days=10))
    newer = new_confirmation("stage", "billing", by="b", expires_days=1, now=now - timedelta(days=2))
    assert current_by_item([older, newer]) == {}


@pytest.mark.parametrize(
    ("item", "by", "days", "message"),
    [
        ("vibes", "ops", None, "unknown confirmation item"),
        ("billing", "  ", None, "--by must name who confirms"),
        ("billing", "ops", 0, "--expires must be a positive number"),
    ],
)
def test_bad_confirmations_are_refused(item: str, by: str, days: float | None, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        new_confirmation("stage", item, by=by, expires_days=days)


def test_the_app_contract_probes_gate_steps_3_and_5_and_hold_nothing_when_they_do_not_apply() -> None:
    """Issue 19: a broken tool call fails the app-realistic step and parser compatibility; a probe
    skipped because the app's contract has nothing it judges (no tools, no stream) holds no step."""
    from dataclasses import replace

    broken = results(request_tool_call=(Outcome.FAIL, Symptom.PARSER))
    steps = {step.number: step for step in assess("stage", Evidence(broken, embedded=True)).steps}
    assert steps[3].status is StepStatus.FAIL and "request.tool_call: parser" in steps[3].evidence
    assert steps[5].status is StepStatus.FAIL and "request.tool_call" in steps[5].evidence
    contract = {
        "request.tool_call",
        "request.tool_round_trip",
        "request.structured_output",
        "streaming.sse",
        "streaming.tool_call",
    }
    plain = [
        replace(r, outcome=Outcome.SKIP, facts={"applicable": False}) if r.probe in contract else r
        for r in results()
    ]
    steps = {step.number: step for step in assess("stage", Evidence(plain, embedded=True)).steps}
    assert steps[3].status is StepStatus.PASS, steps[3].evidence
    assert "request.tool_call" not in steps[3].evidence
    waiting = [replace(r, outcome=Outcome.SKIP) if r.probe == "streaming.tool_call" else r for r in results()]
    steps = {step.number: step for step in assess("stage", Evidence(waiting, embedded=True)).steps}
    assert steps[3].status is StepStatus.NOT_RUN and "streaming.tool_call" in steps[3].evidence
