"""One advisor (issue 18): every state the CLI's and the notebook's advice handled before, and the
two saying the same thing for the same run.

Before, `workbench probe`/`audit` (`_next_hint`, `_audit_hint` in cli.py) and the contract audit
notebook (`AuditView.next_steps`) each had their own rules: only the CLI knew about an unreachable
host, only the notebook named each environment's rollback actions. The states below are the union
of both; each test names the one it covers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.commands import cli
from tests.paths import REPO
from workbench.core.models import (
    NOT_SENT,
    UNREACHABLE_ACTION,
    Area,
    Outcome,
    ProbeResult,
    Symptom,
    Verdict,
    VerdictStatus,
    action_for,
)
from workbench.history.store import RunRecord
from workbench.probes.catalog import CATALOG
from workbench.probes.engine import RunSummary
from workbench.probes.verdict import verdicts_for
from workbench.render import audit as audit_module
from workbench.render.audit_view import AuditView
from workbench.rollback.advice import NextStep, RunState, advise, common_options
from workbench.rollback.readiness import (
    BundleEvidence,
    Evidence,
    Readiness,
    ScanEvidence,
    TriggerEvidence,
    assess,
)

RUN = "20261207T010000Z-abc123"


def result(
    env: str, probe: str, outcome: Outcome, symptom: Symptom = Symptom.NONE, **facts: object
) -> ProbeResult:
    detail = str(facts.pop("detail", f"{probe} {outcome}"))
    return ProbeResult(
        RUN,
        env,
        probe,
        CATALOG[probe].area if probe in CATALOG else Area.ENDPOINT,
        outcome,
        symptom,
        False,
        200,
        1.0,
        detail,
        str(facts.pop("action", action_for(symptom))),
        "2026-12-07T01:00:00.000Z",
        facts=facts,
    )


def passing(env: str) -> list[ProbeResult]:
    return [result(env, probe, Outcome.PASS) for probe in CATALOG]


def with_result(results: list[ProbeResult], replacement: ProbeResult) -> list[ProbeResult]:
    return [replacement if (r.env, r.probe) == (replacement.env, replacement.probe) else r for r in results]


def state(results: Sequence[ProbeResult], **kwargs: object) -> RunState:
    envs = list(dict.fromkeys(r.env for r in results))
    fields: dict[str, object] = {"verb": "probe", "run_id": RUN, "complete": True}
    fields.update(kwargs)
    return RunState(verdicts=tuple(verdicts_for(envs, results)), results=tuple(results), **fields)  # type: ignore[arg-type]


def lines(steps: Sequence[NextStep]) -> str:
    return "\n".join(step.line() for step in steps)


# -- after `workbench probe` (the CLI's old _next_hint) -------------------------------------------


def test_every_environment_passed_points_to_the_audit_for_readiness() -> None:
    """Issue 22: `probe` judges no readiness, so its passing run says so and sends to `audit`."""
    (step,) = advise(state(passing("stage")))
    assert "judge rollback readiness" in step.what and "probe judges no readiness" in step.why
    assert RUN in step.why and "ready" not in step.why.replace("readiness", "")
    assert step.commands == ("workbench audit",)


def test_a_partial_run_that_passed_is_never_called_a_baseline() -> None:
    (step,) = advise(state(passing("stage")[:2], complete=False))
    assert "known-good" not in step.what and "partial: not a baseline" in step.why
    assert step.commands == ("workbench probe",)


def test_an_unreachable_host_says_to_check_this_side_first_and_never_to_roll_back() -> None:
    results = with_result(
        passing("dead"),
        result(
            "dead",
            "endpoint.minimal",
            Outcome.FAIL,
            Symptom.TRANSPORT,
            unreachable=True,
            action=UNREACHABLE_ACTION,
        ),
    )
    results = [
        r
        if r.probe in ("endpoint.minimal", "limits.operator_confirmation")
        else result("dead", r.probe, Outcome.SKIP, detail=NOT_SENT + "could not connect to 127.0.0.1:9")
        for r in results
    ]
    steps = advise(state(results))
    assert len(steps) == 1, lines(steps)
    assert "DNS, network and proxy" in steps[0].what and "nothing reached dead" in steps[0].why
    assert "roll back" not in steps[0].line()
    assert steps[0].commands == ("workbench probe --env dead --probe endpoint.minimal -v",)


def test_an_unreachable_environments_other_steps_wait_for_the_network() -> None:
    results = [
        result("dead", "endpoint.minimal", Outcome.FAIL, Symptom.TRANSPORT, unreachable=True),
        *(
            result("dead", probe, Outcome.SKIP, detail=NOT_SENT + "could not connect to 127.0.0.1:9")
            for probe in CATALOG
            if probe not in ("endpoint.minimal", "limits.operator_confirmation")
        ),
        result("dead", "limits.operator_confirmation", Outcome.NEEDS_OPERATOR, missing=["billing"]),
    ]
    readiness = readiness_of(results, scan=ScanEvidence(3, ()), triggers=TriggerEvidence(4, ()))
    (step,) = advise(state(results, verb="audit", readiness=readiness))  # no bundle, no confirm yet
    assert "nothing reached dead" in step.why


def test_failures_say_do_not_ship_with_the_checklist_actions_and_the_rerun() -> None:
    results = with_result(passing("stage"), result("stage", "auth.missing_key", Outcome.FAIL, Symptom.AUTH))
    (step,) = advise(state(results))
    action = action_for(Symptom.AUTH)  # one class failed: its action in full
    assert step.what == "do not ship; " + action[0].lower() + action[1:].rstrip(".")  # the why follows
    assert "auth.missing_key" in step.why
    assert step.commands == ("workbench probe",)  # stage is the whole run: no --env to repeat


def test_several_classes_point_at_each_failures_own_action_and_rerun_only_those_environments() -> None:
    results = with_result(passing("stage"), result("stage", "auth.missing_key", Outcome.FAIL, Symptom.AUTH))
    results = with_result(results, result("stage", "streaming.sse", Outcome.FAIL, Symptom.PARSER))
    results += passing("prod")
    (step,) = advise(state(results))
    assert step.what.startswith(
        "do not ship; fix or roll back what each failure's class names (auth, parser)"
    )
    assert step.commands == ("workbench probe --env stage",)


def test_environments_failing_the_same_way_are_one_step() -> None:
    failing = [
        r
        for env in ("a", "b", "c")
        for r in with_result(passing(env), result(env, "streaming.sse", Outcome.FAIL, Symptom.PARSER))
    ]
    (step,) = advise(state([*failing, *passing("d")]))
    assert step.envs == ("a", "b", "c")
    assert step.commands == ("workbench probe --env a --env b --env c",)


def test_an_operator_confirmation_pending_asks_for_it_not_for_a_rollback() -> None:
    results = with_result(
        passing("stage"),
        result(
            "stage",
            "limits.operator_confirmation",
            Outcome.NEEDS_OPERATOR,
            missing=["rate-limits", "billing"],
        ),
    )
    (step,) = advise(state(results))
    assert "roll back" not in step.line()
    assert step.commands == (
        "workbench confirm rate-limits --env stage --by NAME",
        "workbench confirm billing --env stage --by NAME",
    )


def test_an_environment_that_could_not_be_judged_says_to_fix_and_rerun() -> None:
    results = [result("stage", "endpoint.minimal", Outcome.ERROR, detail="no key")]
    (step,) = advise(state(results))
    assert "no probe could judge stage" in step.why and step.commands == ("workbench probe",)


# -- after `workbench audit` (the CLI's old _audit_hint and the notebook's next_steps) --------------


def readiness_of(results: Sequence[ProbeResult], **evidence: object) -> dict[str, Readiness]:
    envs = dict.fromkeys(r.env for r in results)
    return {
        env: assess(env, Evidence([r for r in results if r.env == env], **evidence))  # type: ignore[arg-type]
        for env in envs
    }


READY_EVIDENCE: dict[str, object] = {
    "embedded": True,
    "scan": ScanEvidence(3, ()),
    "triggers": TriggerEvidence(4, ()),
}


def test_every_environment_rollback_ready_keeps_the_report() -> None:
    results = passing("stage")
    ready = readiness_of(results, bundle=BundleEvidence("stage/r1", ()), **READY_EVIDENCE)
    assert ready["stage"].ready
    (step,) = advise(state(results, verb="audit", readiness=ready))
    assert step.what == "keep this report with the release" and "every environment is READY" in step.why


def test_a_step_not_run_gives_the_command_that_runs_it() -> None:
    results = passing("stage")
    readiness = readiness_of(results, **READY_EVIDENCE)  # no bundle captured yet
    (step,) = advise(state(results, verb="audit", readiness=readiness))
    assert step.what.startswith("step 7 was not run")
    assert step.commands == ("workbench bundle capture --env stage --release R --manifest FILE",)


def test_no_fixtures_yet_gives_the_capture_command() -> None:
    results = with_result(
        passing("stage"), result("stage", "response.fixture_replay", Outcome.SKIP, detail="no fixtures yet")
    )
    readiness = readiness_of(results, bundle=BundleEvidence("stage/r1", ()), **READY_EVIDENCE)
    (step,) = advise(state(results, verb="audit", readiness=readiness))
    assert step.what.startswith("step 5 was not run")
    assert step.commands == ("workbench fixtures capture --env stage --release R",)


def test_a_report_that_failed_to_render_is_named_first() -> None:
    results = passing("stage")
    steps = advise(state(results, verb="audit", readiness={}, failed_reports=("x-contract_audit.ipynb",)))
    assert "x-contract_audit.ipynb" in steps[0].why and steps[0].commands == ("workbench audit",)


def test_a_leaked_secret_says_to_rotate_and_report() -> None:
    steps = advise(state(passing("stage"), verb="audit", readiness={}, leaks=("reports/x.html:3",)))
    assert "rotate the key" in steps[0].what


def test_failing_steps_that_are_not_probe_failures_are_each_named() -> None:
    results = passing("stage")
    readiness = readiness_of(
        results,
        embedded=True,
        scan=ScanEvidence(3, ("a.txt:1: key",)),
        triggers=TriggerEvidence(4, ("r: x",)),
    )
    text = lines(advise(state(results, verb="audit", readiness=readiness)))
    assert "step 6 fails" in text and "step 9 fails" in text and "step 10 fails" in text


def test_probe_failures_are_not_repeated_as_failing_steps() -> None:
    results = with_result(passing("stage"), result("stage", "endpoint.minimal", Outcome.FAIL, Symptom.PARSER))
    readiness = readiness_of(results, **READY_EVIDENCE)
    steps = advise(state(results, verb="audit", readiness=readiness))
    assert [s.what.split(";")[0] for s in steps if "fails" in s.what or "do not ship" in s.what] == [
        "do not ship"
    ]


def test_operator_steps_of_the_readiness_sequence_give_each_confirm_command() -> None:
    results = passing("prod")
    readiness = readiness_of(results, scan=ScanEvidence(3, ()), triggers=TriggerEvidence(4, ()))
    (step,) = [s for s in advise(state(results, verb="audit", readiness=readiness)) if "operator" in s.what]
    assert set(step.commands) == {
        f"workbench confirm {item} --env prod --by NAME"
        for item in ("docs-reviewed", "rate-limits", "billing", "traffic-shift")
    }


def test_commands_repeat_the_config_and_a_store_without_a_password() -> None:
    common = common_options("/srv/team/environments.toml", "sqlite:////srv/h.sqlite")
    (step,) = advise(state(passing("stage"), common=common))
    assert step.commands == (
        "workbench audit --config /srv/team/environments.toml --store sqlite:////srv/h.sqlite",
    )
    assert common_options(None, "postgresql://wb:secret@db/wb") == ()


# -- the CLI prints exactly the advisor's steps, and the notebook renders the same ones ---------


def states_to_agree_on() -> list[tuple[str, list[ProbeResult]]]:
    pending = result(
        "stage", "limits.operator_confirmation", Outcome.NEEDS_OPERATOR, missing=["rate-limits", "billing"]
    )
    return [
        ("ready", passing("stage")),
        (
            "failing",
            with_result(passing("stage"), result("stage", "streaming.sse", Outcome.FAIL, Symptom.PARSER)),
        ),
        ("operator", with_result(passing("stage"), pending)),
        ("error", [result("stage", "endpoint.minimal", Outcome.ERROR, detail="no key")]),
    ]


def _summary(results: list[ProbeResult]) -> RunSummary:
    envs = tuple(dict.fromkeys(r.env for r in results))
    return RunSummary(RUN, envs, tuple(results), tuple(verdicts_for(envs, results)), {e: 3 for e in envs})


def _notebook_text(results: list[ProbeResult], readiness: dict[str, Readiness] | None = None) -> str:
    envs = tuple(dict.fromkeys(r.env for r in results))
    view = AuditView(
        RunRecord(RUN, "2026-12-07T01:00:00.000Z", "complete", envs, "d", "audit", "0"),
        tuple(results),
        tuple(verdicts_for(envs, results)),
        "sqlite:///h.sqlite",
        readiness={env: r.to_json() for env, r in (readiness or {}).items()},
    )
    html = view.next_steps().data
    return re.sub(r"&#(\d+);", lambda m: chr(int(m.group(1))), re.sub(r"</?(code|strong)>", "", html))


def _printed_steps(stdout: str) -> list[str]:
    return [line.removeprefix("next: ") for line in stdout.splitlines() if line.startswith("next: ")]


@pytest.mark.parametrize(("name", "results"), states_to_agree_on(), ids=[s[0] for s in states_to_agree_on()])
def test_the_probe_command_and_the_notebook_give_the_same_steps(
    name: str, results: list[ProbeResult], workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench.probes import engine

    monkeypatch.setattr(engine, "run_probes", lambda *args, **kwargs: _summary(results))
    done = cli("probe", cwd=workdir)
    printed = _printed_steps(done.stdout)
    expected = advise(state(results))
    assert printed == [step.line() for step in expected], done.stdout
    notebook = _notebook_text(results)
    for step in expected:
        assert step.what in notebook, (step.what, notebook)
        for command in step.commands:
            assert command in notebook, (command, notebook)


def test_the_audit_command_and_the_notebook_give_the_same_steps(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = with_result(passing("stage"), result("stage", "streaming.sse", Outcome.FAIL, Symptom.PARSER))
    readiness = readiness_of(results, **READY_EVIDENCE)
    outcome = audit_module.AuditOutcome(
        _summary(results), readiness, (), workdir / "m.json", workdir / "reports" / "index.html"
    )
    monkeypatch.setattr(audit_module, "run_audit", lambda *args, **kwargs: outcome)
    monkeypatch.setattr(audit_module, "check_audit_inputs", lambda *args, **kwargs: None)
    done = cli("audit", "--notebooks", str(REPO / "notebooks"), cwd=workdir)
    assert done.returncode == 1, done.stdout + done.stderr
    expected = advise(state(results, verb="audit", readiness=readiness))
    assert len(expected) >= 2  # a probe failure and a step not run (no bundle)
    assert _printed_steps(done.stdout) == [step.line() for step in expected]
    notebook = _notebook_text(results, readiness)
    for step in expected:
        assert step.what in notebook and all(command in notebook for command in step.commands), notebook


def test_no_other_advice_code_is_left() -> None:
    """The notebooks' next steps and the CLI's `next:` lines come only from `advise`."""
    for path in (REPO / "workbench").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "_next_hint" not in text and "_audit_hint" not in text, path
        if path.name.endswith("_view.py") and "def next_steps" in text:
            assert "advise(" in text, f"{path}: next steps must come from the advisor"


def test_verdicts_are_built_the_way_the_advisor_reads_them() -> None:
    (verdict,) = verdicts_for(["stage"], passing("stage"))
    assert verdict == Verdict("stage", VerdictStatus.READY, ("every probe passed",), verdict.counts)
