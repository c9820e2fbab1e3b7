"""One verdict per environment, said the same way everywhere: the CLI, the index, every report, JSON
and JUnit.

After `workbench audit` an environment is `READY`, `NOT READY` (naming what blocks it: contract
probes, drift, or readiness steps), `WAITING FOR AN OPERATOR` (only what an operator must confirm is
missing) or `COULD NOT JUDGE` (nothing reached a server, or the audit itself failed). The contract
result and the ten steps are the evidence under it, never a rival headline. `workbench probe` judges
no readiness: its passing contract says `CONTRACT PASSES` (never ready), and a `--probe` selection is
partial, never a baseline. These are labels over the stored values (`VerdictStatus`, `StepStatus`);
neither they nor the exit codes change meaning.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from workbench.core.models import Outcome, ProbeResult, Verdict, VerdictStatus
from workbench.rollback.readiness import Readiness, StepStatus


class State(StrEnum):
    """The headline states (interface: JSON's `verdict`, JUnit's `verdict` property)."""

    READY = "ready"
    NOT_READY = "not_ready"
    WAITING = "waiting_for_operator"
    COULD_NOT_JUDGE = "could_not_judge"
    CONTRACT_PASSES = "contract_passes"  # after `probe`: the contract holds, readiness not judged


WORDS: Mapping[State, str] = {
    State.READY: "READY",
    State.NOT_READY: "NOT READY",
    State.WAITING: "WAITING FOR AN OPERATOR",
    State.COULD_NOT_JUDGE: "COULD NOT JUDGE",
    State.CONTRACT_PASSES: "CONTRACT PASSES",
}
FINE: frozenset[State] = frozenset({State.READY, State.CONTRACT_PASSES})


# Worst first: the order a summary lists environments in.
SEVERITY: tuple[State, ...] = (
    State.COULD_NOT_JUDGE,
    State.NOT_READY,
    State.WAITING,
    State.CONTRACT_PASSES,
    State.READY,
)


@dataclass(frozen=True, slots=True)
class Headline:
    """One environment's verdict: its state, what blocks it (one short phrase each), whether the run
    was partial, and the evidence it was read from."""

    env: str
    state: State
    blockers: tuple[str, ...] = ()
    partial: bool = False

    @property
    def words(self) -> str:
        text = WORDS[self.state]
        return f"{text} (partial: not a baseline)" if self.partial else text

    @property
    def reason(self) -> str:
        """What blocks it, in one line ("" when nothing does)."""
        return "; ".join(self.blockers)

    def line(self) -> str:
        """`env: NOT READY: contract probes: streaming.sse (parser)`: the line every surface prints."""
        return f"{self.env}: {self.words}" + (f": {self.reason}" if self.reason else "")

    def to_json(self) -> dict[str, object]:
        return {
            "env": self.env,
            "verdict": str(self.state),
            "blockers": list(self.blockers),
            "partial": self.partial,
        }


def headline(
    verdict: Verdict,
    results: Sequence[ProbeResult] = (),
    readiness: Readiness | None = None,
    *,
    complete: bool = True,
) -> Headline:
    """The one verdict of `verdict.env` from its contract verdict, its results and (after an audit)
    its ten-step readiness."""
    env = verdict.env
    failed = [r for r in results if r.outcome is Outcome.FAIL and r.env == env]
    if verdict.status is VerdictStatus.COULD_NOT_RUN:
        return Headline(
            env, State.COULD_NOT_JUDGE, verdict.reasons[:1] or ("no probe could judge it",), not complete
        )
    if failed and all(r.facts.get("unreachable") for r in failed):
        # nothing reached a server: the network between (ours, as much as the endpoint's) is not a
        # verdict on the contract; stored as not_ready, exit code 1, as ever
        return Headline(env, State.COULD_NOT_JUDGE, ("nothing reached its server",), not complete)
    blockers: list[str] = []
    if failed:
        blockers.append(_contract_blocker(failed))
    asked = [
        item
        for r in results
        if r.env == env and r.outcome is Outcome.NEEDS_OPERATOR
        for item in r.facts.get("missing") or ()
    ]
    if readiness is None:
        if blockers:
            return Headline(env, State.NOT_READY, tuple(blockers), not complete)
        if verdict.status is VerdictStatus.NEEDS_OPERATOR:
            return Headline(env, State.WAITING, _confirm(asked), not complete)
        return Headline(env, State.CONTRACT_PASSES, (), not complete)
    for step in readiness.blocking():
        if step.status is StepStatus.NEEDS_OPERATOR:
            asked += [args[1] for args in step.commands if args[:1] == ("confirm",) and len(args) > 1]
        elif not any(f"{r.probe}:" in step.evidence for r in failed):  # the contract line names it
            blockers.append(_step_blocker(step.number, step.title, step.status, step.evidence))
    if blockers:
        return Headline(env, State.NOT_READY, _merge(blockers), not complete)
    if asked or verdict.status is VerdictStatus.NEEDS_OPERATOR:
        return Headline(env, State.WAITING, _confirm(asked), not complete)
    return Headline(env, State.READY, (), not complete)


def headlines(
    verdicts: Iterable[Verdict],
    results: Sequence[ProbeResult],
    readiness: Mapping[str, Readiness] | None = None,
    *,
    complete: bool = True,
) -> list[Headline]:
    """Every environment's headline, in the order given (after an audit, with its readiness)."""
    return [
        headline(v, results, None if readiness is None else readiness.get(v.env), complete=complete)
        for v in verdicts
    ]


def worst_first(lines: Iterable[Headline]) -> list[Headline]:
    """The headlines by severity, then in the order given: what needs attention comes first."""
    return sorted(lines, key=lambda h: SEVERITY.index(h.state))


def counts(lines: Sequence[Headline]) -> str:
    """`55 of 60 READY; 3 NOT READY; 2 WAITING FOR AN OPERATOR`: the count every summary opens with."""
    present = [state for state in reversed(SEVERITY) if any(h.state is state for h in lines)]
    parts = [f"{sum(h.state is state for h in lines)} {WORDS[state]}" for state in present]
    if parts:
        parts[0] = parts[0].replace(" ", f" of {len(lines)} ", 1)
    return "; ".join(parts)


NAMED_PROBES = 3  # failed probes a headline names; past it, the first two and how many more


def _contract_blocker(failed: Sequence[ProbeResult]) -> str:
    """`contract probes: streaming.sse (parser)`: each failed probe with its class, the first few when
    many failed (the reports and `-v` list every one)."""
    named = [f"{r.probe} ({r.symptom})" for r in failed]
    if len(named) > NAMED_PROBES:
        classes = ", ".join(dict.fromkeys(str(r.symptom) for r in failed[2:]))
        named = [*named[:2], f"and {len(failed) - 2} more ({classes})"]
    return "contract probes: " + ", ".join(named)


STATUS_WORDS: Mapping[str, str] = {
    "pass": "passes",
    "fail": "fails",
    "needs_operator": "needs an operator",
    "not_run": "not run",
    "skip": "skipped",
    "error": "could not run",
}
"""A stored step status or probe outcome as a person reads it (`not_run` is "not run")."""


def status_words(value: str) -> str:
    return STATUS_WORDS.get(str(value), str(value).replace("_", " "))


def _confirm(items: Sequence[str]) -> tuple[str, ...]:
    unique = list(dict.fromkeys(items))
    return (f"confirm {', '.join(unique)}",) if unique else ("operator confirmations",)


def _step_blocker(number: int, title: str, status: StepStatus, evidence: str) -> str:
    if "drift" in evidence and number in (5, 10):
        return f"drift (step {number})"
    return f"step {number} {status_words(status)} ({title.lower()})"


def _merge(blockers: list[str]) -> tuple[str, ...]:
    """One phrase per kind of blocker: drift named once whichever steps show it."""
    return tuple(dict.fromkeys("drift" if item.startswith("drift") else item for item in blockers))
