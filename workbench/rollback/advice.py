"""What to do next after a run: one advisor for the command line and the report notebooks.

`advise` reads a run's verdicts, results and (after `workbench audit`) its readiness, and returns
structured next steps: what to do, why this run calls for it, and the exact commands. The CLI
prints them and the notebooks render them, so the two never give different advice. Commands carry
the common options the person gave (`--config`, `--project-dir`, `--store`, and the `--env`
selection when a command re-runs the verb) so they run as printed; every other hint the CLI prints
is built by `hint` from the same options.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from workbench.core.locations import STORE_ENV_VAR, url_has_password
from workbench.core.models import NOT_SENT, Outcome, ProbeResult, Verdict, VerdictStatus
from workbench.history.confirmations import OPERATOR_ITEMS
from workbench.rollback.readiness import Readiness, StepStatus

LIMITS_PROBE = "limits.operator_confirmation"


@dataclass(frozen=True, slots=True)
class NextStep:
    """One thing to do: the action, what in this run calls for it, and the commands that do it."""

    what: str
    why: str
    commands: tuple[str, ...] = ()  # whole command lines, `workbench ...`, to run as printed
    envs: tuple[str, ...] = ()

    def line(self) -> str:
        """The step as one line of plain text (the terminal's `next:` lines)."""
        text = f"{self.what} ({self.why})" if self.why else self.what
        return text + (": " + "; ".join(f"`{command}`" for command in self.commands) if self.commands else "")


@dataclass(frozen=True, slots=True)
class RunState:
    """What the advisor reads of one run."""

    verb: str  # the command that re-runs it: "probe" or "audit"
    run_id: str
    complete: bool  # every catalog probe planned (a baseline candidate); False: a --probe selection
    verdicts: Sequence[Verdict]
    results: Sequence[ProbeResult]
    readiness: Mapping[str, Readiness] | None = None  # judged by `workbench audit`; None after `probe`
    leaks: Sequence[str] = ()  # files the audit wrote that hold a secret (never expected)
    failed_reports: Sequence[str] = ()  # report notebooks that failed to render
    common: Sequence[str] = field(default_factory=tuple)  # the person's common options, repeated
    selected: Sequence[str] = ()  # the --env names the person gave (repeated when the verb is re-run)
    store_withheld: bool = False  # --store held a password: commands rely on $WORKBENCH_STORE instead


def common_options(
    config: str | Path | None, store: str | None, project_dir: str | Path | None = None
) -> tuple[str, ...]:
    """The common options a printed step repeats so it runs as printed: `--config` and
    `--project-dir` as given, and `--store` unless its URL holds a password (that one stays in
    $WORKBENCH_STORE, never printed: see `store_withheld`)."""
    options: list[str] = []
    if config:
        options += ["--config", str(config)]
    if project_dir:
        options += ["--project-dir", str(project_dir)]
    if store and not url_has_password(store):
        options += ["--store", store]
    return tuple(options)


def store_withheld(store: str | None) -> bool:
    """Whether `--store` was given a URL that a printed command must not repeat (it holds a password)."""
    return bool(store) and url_has_password(store or "")


STORE_STEP = NextStep(
    f"export {STORE_ENV_VAR} with the URL you gave --store before running the commands below",
    "its URL holds a password, so no printed command repeats it",
)


def hint(common: Sequence[str], *args: str) -> str:
    """`workbench ARGS` with the common options `common`, quoted so it runs as printed."""
    return shlex.join(("workbench", *args, *common))


_COMMAND_IN_TEXT = re.compile(r"`(workbench [^`]*)`")


def with_options(text: str, common: Sequence[str]) -> str:
    """Text that names `workbench ...` commands (a probe's detail, a readiness step's evidence, as
    stored in the history) with the person's common options added to each, so they run as printed."""
    if not common:
        return text
    return _COMMAND_IN_TEXT.sub(
        lambda found: f"`{shlex.join([*shlex.split(found.group(1)), *common])}`", text
    )


def command(state: RunState, *args: str) -> str:
    """`workbench ARGS` with the person's common options, quoted so it runs as printed."""
    return hint(state.common, *args)


def rerun(state: RunState, *envs: str) -> str:
    """The verb again, for `envs` (default, or when they are every environment of the run: the
    person's own --env selection)."""
    every = {verdict.env for verdict in state.verdicts}
    if set(envs) == every:
        envs = ()
    return command(state, state.verb, *_env_args(envs or state.selected))


def advise(state: RunState) -> tuple[NextStep, ...]:
    """The next steps for this run, most urgent first; one step when all is well."""
    steps: list[NextStep] = []
    if state.failed_reports:
        steps.append(
            NextStep(
                f"fix what stopped the report notebooks, then run {state.verb} again",
                "report notebooks failed: " + ", ".join(state.failed_reports),
                (rerun(state),),
            )
        )
    if state.leaks:
        steps.append(
            NextStep(
                "delete each file named above, rotate the key it held, and report a bug",
                f"a secret was written to {len(state.leaks)} file(s) (the values are not shown)",
            )
        )
    unreachable = unreachable_envs(state.results)
    if unreachable:
        steps.append(
            NextStep(
                "check the base_url, then this machine's DNS, network and proxy, before any rollback",
                f"nothing reached {', '.join(unreachable)}; the failure names the host and the cause",
                tuple(
                    command(state, "probe", "--env", env, "--probe", "endpoint.minimal", "-v")
                    for env in unreachable
                ),
                tuple(unreachable),
            )
        )
    steps += _failures(state, set(unreachable))
    # an environment nothing reached: the network first; its other steps wait until a request lands
    steps += [
        s
        for s in (*_failing_steps(state), *_operator(state), *_not_run_steps(state))
        if not set(s.envs) & set(unreachable)
    ]
    could_not = [
        v.env for v in state.verdicts if v.status is VerdictStatus.COULD_NOT_RUN and v.env not in unreachable
    ]
    if could_not:
        steps.append(
            NextStep(
                f"fix what the reasons above name, then run {state.verb} again",
                f"no probe could judge {', '.join(could_not)}",
                (rerun(state, *could_not),),
                tuple(could_not),
            )
        )
    steps = steps or [_all_well(state)]
    if state.store_withheld and any(step.commands for step in steps):
        steps.insert(0, STORE_STEP)
    return tuple(steps)


def unreachable_envs(results: Sequence[ProbeResult]) -> list[str]:
    """Environments whose host no request reached: a failure found it, or probes were not sent."""
    return sorted({r.env for r in results if r.facts.get("unreachable") or r.detail.startswith(NOT_SENT)})


def _env_args(envs: Sequence[str]) -> tuple[str, ...]:
    return tuple(part for env in envs for part in ("--env", env))


def _failures(state: RunState, unreachable: set[str]) -> list[NextStep]:
    """Environments whose probes failed, grouped by the symptom classes that failed: one class gets
    the checklist's action in full; several, a pointer to each failure's own action."""
    by_classes: dict[tuple[str, ...], list[str]] = {}
    failures: dict[tuple[str, ...], list[ProbeResult]] = {}
    for verdict in state.verdicts:
        failed = [
            r
            for r in state.results
            if r.env == verdict.env and r.outcome is Outcome.FAIL and not r.facts.get("unreachable")
        ]
        if verdict.status is not VerdictStatus.NOT_READY or not failed or verdict.env in unreachable:
            continue
        classes = tuple(dict.fromkeys(str(r.symptom) for r in failed))
        by_classes.setdefault(classes, []).append(verdict.env)
        failures.setdefault(classes, []).extend(failed)
    steps = []
    for classes, envs in by_classes.items():
        actions = list(dict.fromkeys(r.action for r in failures[classes] if r.action))
        if len(actions) == 1:
            what = "do not ship; " + actions[0][0].lower() + actions[0][1:].rstrip(".")
        else:
            what = (
                f"do not ship; fix or roll back what each failure's class names ({', '.join(classes)}): "
                "each failure carries the checklist's action for its class"
            )
        probes = sorted({r.probe for r in failures[classes]})
        where = _listed(envs)
        steps.append(
            NextStep(what, f"{where}: {', '.join(probes)} failed", (rerun(state, *envs),), tuple(envs))
        )
    return steps


def _listed(envs: Sequence[str], shown: int = 5) -> str:
    """Environment names, the first few whole and how many more (sixty names are no reading)."""
    more = f" and {len(envs) - shown} more" if len(envs) > shown else ""
    return ", ".join(envs[:shown]) + more


def _blocking(state: RunState, status: StepStatus) -> list[tuple[str, int, str, tuple[tuple[str, ...], ...]]]:
    """(env, step number, evidence, commands) of every step in `status`, in step order."""
    if state.readiness is None:
        return []
    return [
        (env, step.number, step.evidence, step.commands)
        for env, readiness in state.readiness.items()
        for step in readiness.steps
        if step.status is status
    ]


def _failing_steps(state: RunState) -> list[NextStep]:
    """Readiness steps that fail for reasons other than a failed probe: drift, triggers, the scan."""
    failed_probes = {(r.env, r.probe) for r in state.results if r.outcome in (Outcome.FAIL, Outcome.ERROR)}
    blocking = [
        (env, number, evidence, commands)
        for env, number, evidence, commands in _blocking(state, StepStatus.FAIL)
        if not any(f"{probe}:" in evidence for e, probe in failed_probes if e == env)
    ]  # a step naming a failed probe: the probe's own step above already says what to do
    return _grouped_steps(state, blocking, f"fails: do what it names, then run {state.verb} again")


def _operator(state: RunState) -> list[NextStep]:
    """Confirmations only an operator can record, from the limits probe and readiness steps 1 and 8."""
    asks: dict[str, list[str]] = {}  # env -> missing items, in the order they are asked
    for result in state.results:
        if result.probe == LIMITS_PROBE and result.outcome is Outcome.NEEDS_OPERATOR:
            asks.setdefault(result.env, []).extend(result.facts.get("missing") or ())
    for env, _number, _evidence, step_commands in _blocking(state, StepStatus.NEEDS_OPERATOR):
        for args in step_commands:
            if args[:1] == ("confirm",) and len(args) > 1:
                asks.setdefault(env, []).append(args[1])
    if not asks:
        return []
    if len(asks) > _PER_ENV_COMMANDS:  # one command per item, for each environment in turn
        items = list(
            dict.fromkeys(item for wanted in asks.values() for item in wanted if item in OPERATOR_ITEMS)
        )
        commands = tuple(command(state, "confirm", item, "--env", "ENV", "--by", "NAME") for item in items)
        why = (
            f"waiting for an operator: {len(asks)} environments ({_listed(list(asks))}); ENV is each of them"
        )
    else:
        commands = tuple(
            command(state, "confirm", item, "--env", env, "--by", "NAME")
            for env, items in asks.items()
            for item in dict.fromkeys(items)
            if item in OPERATOR_ITEMS
        )
        why = f"waiting for an operator: {', '.join(asks)}"
    return [
        NextStep(
            "an operator records what no response proves (quota, billing, docs, traffic shift), "
            f"then run {state.verb} again",
            why,
            commands,
            tuple(asks),
        )
    ]


_PER_ENV_COMMANDS = 3  # environments whose confirmations are spelled out one command each


def _not_run_steps(state: RunState) -> list[NextStep]:
    """Steps no evidence could judge yet: a bundle to capture, fixtures to save."""
    blocking = [
        item
        for item in _blocking(state, StepStatus.NOT_RUN)
        if not (item[2].startswith(NOT_SENT) or "not sent, the host was unreachable" in item[2])
    ]  # an unreachable host: the network step above covers it
    return _grouped_steps(state, blocking, "was not run: do what it names")


def _grouped_steps(
    state: RunState, blocking: Sequence[tuple[str, int, str, tuple[tuple[str, ...], ...]]], what: str
) -> list[NextStep]:
    """One next step per environment for a few; past `_PER_ENV_COMMANDS`, one per readiness step
    naming its environments, its commands with ENV in place of each name."""
    by_number: dict[int, list[tuple[str, str, tuple[tuple[str, ...], ...]]]] = {}
    for env, number, evidence, commands in blocking:
        by_number.setdefault(number, []).append((env, evidence, commands))
    steps: list[NextStep] = []
    for number, items in sorted(by_number.items()):
        if len(items) <= _PER_ENV_COMMANDS:
            steps += [
                NextStep(
                    f"step {number} {what}",
                    f"{env}: {evidence}",
                    tuple(command(state, *args) for args in commands) or (rerun(state, env),),
                    (env,),
                )
                for env, evidence, commands in items
            ]
            continue
        envs = [env for env, _evidence, _commands in items]
        env, evidence, commands = items[0]
        templated = tuple(
            dict.fromkeys(command(state, *_as_template(args, e)) for e, _v, cs in items for args in cs)
        )
        steps.append(
            NextStep(
                f"step {number} {what}",
                f"{len(envs)} environments ({_listed(envs)}), as for {env}: "
                f"{evidence.replace(f'--env {shlex.quote(env)}', '--env ENV')}; "
                "ENV is each of them",
                templated or (command(state, state.verb, "--env", "ENV"),),
                tuple(envs),
            )
        )
    return steps


def _as_template(args: tuple[str, ...], env: str) -> tuple[str, ...]:
    """A command's arguments with ENV after `--env`: one line for many environments."""
    return tuple("ENV" if i and args[i - 1] == "--env" and arg == env else arg for i, arg in enumerate(args))


def _all_well(state: RunState) -> NextStep:
    if state.readiness is not None:
        return NextStep(
            "keep this report with the release",
            f"every environment is READY in run {state.run_id}",
        )
    if not state.complete:
        return NextStep(
            f"run {state.verb} again without --probe for a complete run",
            f"run {state.run_id} passed, but a --probe selection is partial: not a baseline",
            (rerun(state),),
        )
    return NextStep(
        "judge rollback readiness with `workbench audit`",
        f"the contract passes in every environment in run {state.run_id}; probe judges no readiness",
        (command(state, "audit", *_env_args(state.selected)),),
    )
