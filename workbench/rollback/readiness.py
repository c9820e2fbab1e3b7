"""Rollback readiness over the checklist's ten-step validation sequence, with the evidence for each step.

An environment is rollback-ready only when every automated step passes and every operator item
is confirmed and current. The steps take evidence gathered elsewhere (probe results, operator
confirmations, bundle checks, the secret scan, trigger evaluation), so this module only judges.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from workbench.core.models import NOT_SENT, Outcome, ProbeResult
from workbench.history.confirmations import OPERATOR_ITEMS, Confirmation
from workbench.probes.catalog import steps_of


class StepStatus(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    NEEDS_OPERATOR = "needs_operator"
    NOT_RUN = "not_run"


@dataclass(frozen=True, slots=True)
class Step:
    number: int
    title: str
    status: StepStatus
    evidence: str
    # what moves the step forward, as `workbench` arguments (the advisor adds the person's options)
    commands: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class BundleEvidence:
    """The environment's latest rollback bundle and what `bundle verify` said of it."""

    label: str  # ENV/RELEASE
    problems: tuple[str, ...]  # failed checks, each saying what to do


@dataclass(frozen=True, slots=True)
class ScanEvidence:
    """The secret scan of what the workbench wrote (history, bundles, fixtures, reports)."""

    files: int
    findings: tuple[str, ...]  # "path:line: kind (masked)"
    store: str = ""  # a history store searched in its own tables (no local file), as displayed


@dataclass(frozen=True, slots=True)
class TriggerEvidence:
    """Trigger rules evaluated over this environment's history."""

    rules: int
    fired: tuple[str, ...]  # "rule: evidence -> action"


@dataclass(frozen=True, slots=True)
class DriftEvidence:
    """This run against the environment's baseline (its newest complete passing run), judged by
    `probes.drift`: only contract drift is listed; information never blocks a step."""

    baseline: str  # run id; "" when there is no baseline yet
    contract_drift: tuple[str, ...] = ()  # "probe: what changed"
    response_drift: tuple[str, ...] = ()  # the part of it in response shapes (parser compatibility)
    origin: str = ""  # where the baseline came from (`RunRecord.origin`): project, host, config

    @property
    def described(self) -> str:
        """The baseline as evidence shows it: its run id, and where it came from when known."""
        return f"{self.baseline} ({self.origin})" if self.origin else self.baseline


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything the ten steps are judged on, for one environment."""

    results: Sequence[ProbeResult]
    confirmations: Mapping[str, Confirmation] = field(default_factory=dict)  # current ones, by item
    bundle: BundleEvidence | None = None
    scan: ScanEvidence | None = None
    triggers: TriggerEvidence | None = None
    embedded: bool = False
    negatives_from: str | None = None  # the environment whose negative tests stand for this one
    negative_results: Sequence[ProbeResult] = ()
    drift: DriftEvidence | None = None


@dataclass(frozen=True, slots=True)
class Readiness:
    env: str
    steps: tuple[Step, ...]

    @property
    def ready(self) -> bool:
        return all(step.status is StepStatus.PASS for step in self.steps)

    @property
    def summary(self) -> str:
        passed = sum(step.status is StepStatus.PASS for step in self.steps)
        state = "rollback-ready" if self.ready else "not rollback-ready"
        return f"{state} ({passed} of {len(self.steps)} steps pass)"

    def blocking(self) -> list[Step]:
        return [step for step in self.steps if step.status is not StepStatus.PASS]

    def to_json(self) -> str:
        return json.dumps([asdict(step) for step in self.steps])

    @classmethod
    def from_json(cls, env: str, text: str) -> Readiness:
        steps = tuple(
            Step(
                int(s["number"]),
                str(s["title"]),
                StepStatus(s["status"]),
                str(s["evidence"]),
                tuple(tuple(str(arg) for arg in args) for args in s.get("commands") or ()),
            )
            for s in json.loads(text)
        )
        return cls(env, steps)


# Which probes are each step's evidence: the catalog's traits (every probe declares its steps).
STEP_PROBES = steps_of()
NEGATIVE_PROBES = STEP_PROBES[4]
TITLES = (
    "Read the current API page",
    "Run the minimal valid request",
    "Run the app-realistic request",
    "Run negative tests",
    "Verify parser compatibility",
    "Check logging safety",
    "Confirm rollback bundle",
    "Perform a small traffic shift",
    "Watch symptom classes",
    "Rollback and re-probe if triggered",
)


def assess(env: str, evidence: Evidence) -> Readiness:
    """Judge the ten steps for `env` from `evidence`."""
    by_probe = {result.probe: result for result in evidence.results}
    steps = (
        _operator(1, env, evidence, ("docs-reviewed",)),
        _probes(2, by_probe, STEP_PROBES[2]),
        _probes(3, by_probe, STEP_PROBES[3]),
        _negatives(evidence, by_probe),
        _parser_compatibility(env, by_probe, evidence.drift),
        _scan(evidence.scan),
        _bundle(env, evidence.bundle),
        _operator(8, env, evidence, ("rate-limits", "billing", "traffic-shift")),
        _watch(evidence.triggers),
        _reprobe(evidence.triggers, evidence.results, evidence.drift),
    )
    return Readiness(env, steps)


def _listed(items: Sequence[str], shown: int = 5) -> str:
    """The first few items whole, and how many more there are (never an item cut short)."""
    more = f"; and {len(items) - shown} more" if len(items) > shown else ""
    return "; ".join(items[:shown]) + more


def _step(number: int, status: StepStatus, evidence: str, commands: Sequence[tuple[str, ...]] = ()) -> Step:
    return Step(number, TITLES[number - 1], status, evidence, tuple(commands))


def _operator(number: int, env: str, evidence: Evidence, items: Sequence[str]) -> Step:
    if evidence.embedded:
        return _step(
            number, StepStatus.PASS, "embedded reference endpoint: nothing for an operator to confirm"
        )
    missing = [item for item in items if item not in evidence.confirmations]
    if missing:
        asks = "; ".join(
            f"`workbench confirm {item} --env {env} --by NAME` ({OPERATOR_ITEMS[item]})" for item in missing
        )
        commands = [("confirm", item, "--env", env, "--by", "NAME") for item in missing]
        return _step(number, StepStatus.NEEDS_OPERATOR, f"missing or expired: {asks}", commands)
    return _step(
        number, StepStatus.PASS, "; ".join(evidence.confirmations[item].describe() for item in items)
    )


def _probes(number: int, by_probe: Mapping[str, ProbeResult], probes: Sequence[str]) -> Step:
    """Pass when every probe passed; a failure fails the step; a skipped probe leaves it not run (its
    skip detail already says what to do: capture fixtures, ...), unless the app's contract has nothing
    it judges (no tools offered, the app does not stream)."""
    probes = [p for p in probes if p not in by_probe or by_probe[p].facts.get("applicable") is not False]
    results = [by_probe[probe] for probe in probes if probe in by_probe]
    failed = [r for r in results if r.outcome in (Outcome.FAIL, Outcome.ERROR)]
    if failed:
        return _step(number, StepStatus.FAIL, "; ".join(_failure(r) for r in failed))
    not_run = [probe for probe in probes if probe not in by_probe or by_probe[probe].outcome is Outcome.SKIP]
    if not_run:
        unsent = [p for p in not_run if p in by_probe and by_probe[p].detail.startswith(NOT_SENT)]
        reasons = [
            f"{probe}: {by_probe[probe].detail if probe in by_probe else 'not in this run'}"
            for probe in not_run
            if probe not in unsent
        ]
        if unsent:  # one line for the host, not one per probe: the cause is the same
            host = by_probe[unsent[0]].detail.removeprefix(NOT_SENT).split(" (")[0]
            reasons.append(f"{', '.join(unsent)}: not sent, the host was unreachable ({host})")
        return _step(number, StepStatus.NOT_RUN, "; ".join(reasons))
    run_id = results[0].run_id if results else "?"
    return _step(number, StepStatus.PASS, f"{', '.join(probes)} passed in run {run_id}")


def _failure(result: ProbeResult) -> str:
    """A failed probe as step evidence; an unreachable host says what to check first."""
    text = f"{result.probe}: {result.symptom} - {result.detail}"
    if result.facts.get("unreachable"):
        text += f" ({result.action})"
    return text


def _negatives(evidence: Evidence, by_probe: Mapping[str, ProbeResult]) -> Step:
    if evidence.negatives_from:
        borrowed = {r.probe: r for r in evidence.negative_results}
        step = _probes(4, borrowed, NEGATIVE_PROBES)
        return _step(4, step.status, f"from {evidence.negatives_from}: {step.evidence}")
    step = _probes(4, by_probe, NEGATIVE_PROBES)
    if step.status is StepStatus.NOT_RUN and any(
        "production" in by_probe[p].detail for p in NEGATIVE_PROBES if p in by_probe
    ):
        return _step(
            4,
            StepStatus.NOT_RUN,
            "production: negative tests belong in staging; set "
            'negatives_from = "STAGING_ENV" so its results stand for this environment',
        )
    return step


def _scan(scan: ScanEvidence | None) -> Step:
    if scan is None:
        return _step(6, StepStatus.NOT_RUN, "no secret scan ran (`workbench audit` scans what it wrote)")
    if scan.findings:
        return _step(6, StepStatus.FAIL, f"{len(scan.findings)} secret(s) found: " + _listed(scan.findings))
    where = f"{scan.files} file(s) scanned" + (f" and the history store {scan.store}" if scan.store else "")
    return _step(6, StepStatus.PASS, f"no key, bearer token or provider key in {where}")


def _bundle(env: str, bundle: BundleEvidence | None) -> Step:
    if bundle is None:
        return _step(
            7,
            StepStatus.NOT_RUN,
            f"no rollback bundle: `workbench bundle capture --env {env} --release R "
            "--manifest FILE` once the release is known-good",
            [("bundle", "capture", "--env", env, "--release", "R", "--manifest", "FILE")],
        )
    if bundle.problems:
        return _step(7, StepStatus.FAIL, f"{bundle.label}: " + _listed(bundle.problems))
    return _step(7, StepStatus.PASS, f"{bundle.label}: every part present, resolvable and free of secrets")


def _watch(triggers: TriggerEvidence | None) -> Step:
    if triggers is None:
        return _step(9, StepStatus.NOT_RUN, "trigger rules were not evaluated")
    if triggers.fired:
        return _step(9, StepStatus.FAIL, "; ".join(triggers.fired))
    return _step(
        9, StepStatus.PASS, f"{triggers.rules} trigger rule(s) evaluated over the history: none fired"
    )


def _parser_compatibility(env: str, by_probe: Mapping[str, ProbeResult], drift: DriftEvidence | None) -> Step:
    """The parser probes pass, and no response shape drifted from the baseline's."""
    step = _probes(5, by_probe, STEP_PROBES[5])
    if drift is not None and drift.response_drift and step.status is not StepStatus.FAIL:
        run_id = next(iter(by_probe.values())).run_id if by_probe else "RUN"
        return _step(
            5,
            StepStatus.FAIL,
            f"response shapes drifted from the baseline {drift.described}: "
            + "; ".join(drift.response_drift)
            + "; check the parser against them, or roll back the release that changed them",
            [("compare", drift.baseline, run_id)],
        )
    fixtures = by_probe.get("response.fixture_replay")
    skipped = fixtures is not None and fixtures.outcome is Outcome.SKIP
    if (
        step.status is StepStatus.NOT_RUN
        and skipped
        and fixtures
        and not fixtures.detail.startswith(NOT_SENT)
    ):
        # no known-good fixtures yet: capture them
        return _step(5, step.status, step.evidence, [("fixtures", "capture", "--env", env, "--release", "R")])
    return step


def _reprobe(
    triggers: TriggerEvidence | None, results: Sequence[ProbeResult], drift: DriftEvidence | None
) -> Step:
    if triggers is not None and triggers.fired:
        return _step(
            10,
            StepStatus.FAIL,
            "triggered: roll back what the fired rule names, then re-run "
            "`workbench audit` and compare the runs (`workbench compare`)",
        )
    run_id = results[0].run_id if results else "?"
    if drift is not None and drift.contract_drift:
        return _step(
            10,
            StepStatus.FAIL,
            f"contract drift since the baseline {drift.described}: "
            + "; ".join(drift.contract_drift)
            + f"; roll back the part its symptom class names, or confirm the change, then re-probe "
            f"(`workbench compare {drift.baseline} {run_id}` lists it)",
            [("compare", drift.baseline, run_id)],
        )
    since = f"; no contract drift since the baseline {drift.described}" if drift and drift.baseline else ""
    return _step(10, StepStatus.PASS, f"not triggered; this run ({run_id}) is the re-probe{since}")


def step_rows(readiness: Readiness) -> list[dict[str, Any]]:
    return [
        {"step": s.number, "title": s.title, "status": str(s.status), "evidence": s.evidence}
        for s in readiness.steps
    ]
