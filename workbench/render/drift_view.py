"""The drift explorer: two runs, or two environments, side by side, for interactive work in JupyterLab.

Structure and operations only: outcomes, symptom classes, response shapes, latency. By default it
compares the newest run with the previous complete run of the same environment; two environments
named without runs come from one run (see `DriftExplorer.load`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import altair as alt
import pandas as pd

from workbench.core import clock
from workbench.core.errors import UsageError
from workbench.core.models import ProbeResult
from workbench.history.store import HistoryStore, RunRecord, open_for_report
from workbench.probes.drift import (
    ProbeDrift,
    compare,
    configured_reference,
    pair_environments,
    reference_environment,
)
from workbench.render.charts import milliseconds_axis
from workbench.render.display import code, markdown, md, shown
from workbench.render.frames import catalog_order, outcome_said
from workbench.render.grouping import named
from workbench.render.reportnames import RENDER_ENV_VAR


@dataclass(frozen=True)
class DriftExplorer:
    """Side A (`run_a`/`env_a`) against side B (`run_b`/`env_b`)."""

    run_a: str
    run_b: str
    env_a: str
    env_b: str
    results_a: tuple[ProbeResult, ...]
    results_b: tuple[ProbeResult, ...]

    note: str = ""  # why there is nothing to compare, when there is not

    @classmethod
    def load(
        cls,
        *,
        run_a: str = "",
        run_b: str = "",
        env_a: str = "",
        env_b: str = "",
        store_url: str = "",
        config_path: str = "",
    ) -> DriftExplorer:
        """Which two sides to compare, when the parameters leave it open:

        - no environment and no `run_a` (what an audit gives it: only its run, as `run_b`): the most
          interesting pair of run B (the newest run, if not given), the one with the most contract
          drift of either kind: an environment against the drift reference in the same run
          (`[workbench] drift_reference` of `config_path`, else `reference`, else the first), or an
          environment against its previous complete run; a tie goes to the run against its
          baseline. Without any drift: the reference against its previous run, else against the
          next environment, never an environment against itself in one run;
        - two environments and no run: both from the newest run that holds both;
        - otherwise B is `run_b`, else the newest run (holding `env_b`, if named), and A is `run_a`,
          else the previous *complete* run of the same environment (a `--probe` selection never
          stands for a release);
        - a single run with one environment and nothing before it: a note, nothing to compare.

        An environment or a run the history does not hold is an error that lists what it holds.
        """
        with open_for_report(config_path, store_url) as store:
            runs = store.runs(limit=500)
            if not runs:
                raise UsageError("the history is empty: run `workbench probe` or `workbench audit` first")
            known = sorted({env for run in runs for env in run.environments})
            for name in (env_a, env_b):
                if name and name not in known:
                    raise UsageError(f"no environment {name!r} in the history (it holds: {', '.join(known)})")
            if not (run_a or env_a or env_b):
                newest = store.run(run_b) if run_b else runs[0]
                picked = _most_interesting(store, runs, newest, configured_reference(config_path))
                if picked is not None:
                    (run_a, env_a), (run_b, env_b) = picked
                    return cls._sides(store, run_a, run_b, env_a, env_b)
            if env_a and env_b and env_a != env_b and not (run_a or run_b):
                both = [run for run in runs if {env_a, env_b} <= set(run.environments)]
                if not both:
                    raise UsageError(
                        f"no run holds both {env_a} and {env_b}: pass run_a and run_b "
                        "(`workbench runs` lists them)"
                    )
                run_a = run_b = both[0].run_id
            if not run_b:
                run_b = next(run.run_id for run in runs if not env_b or env_b in run.environments)
            second = store.run(run_b)
            side_b = env_b or (env_a if env_a in second.environments else second.environments[0])
            if not run_a:
                earlier = [
                    run
                    for run in runs
                    if run.started_at < second.started_at
                    and run.complete
                    and run.status == "complete"
                    and (env_a or side_b) in run.environments
                ]
                run_a = earlier[0].run_id if earlier else run_b
            first = store.run(run_a)
            if run_a == run_b and not (env_a and env_b):
                if len(first.environments) < 2:
                    note = (
                        f"nothing to compare yet: run {run_b} has one environment and no complete run "
                        "of it came before; run the audit again, or pass run_a/run_b"
                    )
                    return cls(run_a, run_b, side_b, side_b, (), (), note)
                env_a, env_b = env_a or first.environments[0], env_b or first.environments[1]
            elif not (env_a and env_b):
                pairs = pair_environments(first.environments, second.environments)
                partner = {b: a for a, b in pairs}  # B's environment -> A's
                env_b = env_b or side_b
                env_a = env_a or (env_b if env_b in first.environments else partner.get(env_b, pairs[0][0]))
            return cls._sides(store, run_a, run_b, env_a, env_b)

    @classmethod
    def _sides(cls, store: HistoryStore, run_a: str, run_b: str, env_a: str, env_b: str) -> DriftExplorer:
        """The two sides once chosen: each environment's results of its run, in catalog order."""
        return cls(
            run_a,
            run_b,
            env_a,
            env_b,
            catalog_order(store.results([run_a], envs=[env_a]), [env_a]),
            catalog_order(store.results([run_b], envs=[env_b]), [env_b]),
        )

    @property
    def drifts(self) -> list[ProbeDrift]:
        return compare(self.results_a, self.results_b, self.env_a, self.env_b)

    def overview(self) -> Any:
        if self.note:
            return markdown(md("**Nothing to compare yet.** {note}.", note=self.note))
        changed = [d for d in self.drifts if d.changed]
        drifted = [d for d in changed if d.drifted]
        return markdown(
            md(
                "**A**: {env_a} in run {run_a}  \n**B**: {env_b} in run {run_b}  \n"
                "{changed} of {probes} probes differ, {drifted} of them by contract drift (the rest is "
                "information: new fields, nullability, latency).{howto}",
                howto=md("")
                if os.environ.get(RENDER_ENV_VAR) == "report"  # a report's reader sees no parameters
                else md(" Change `run_a`, `run_b`, `env_a` or `env_b` and re-run to compare others."),
                env_a=self.env_a,
                run_a=code(self.run_a),
                env_b=self.env_b,
                run_b=code(self.run_b),
                changed=len(changed),
                probes=len(self.drifts),
                drifted=len(drifted),
            )
        )

    def outcomes(self) -> Any:
        return shown(
            pd.DataFrame(
                [
                    {
                        "probe": d.probe,
                        "A": outcome_said(d.outcome_a, d.symptom_a),
                        "B": outcome_said(d.outcome_b, d.symptom_b),
                        "latency A": d.band_a,
                        "latency B": d.band_b,
                        "change": d.summary() if d.changed else "",
                    }
                    for d in self.drifts
                ],
                columns=["probe", "A", "B", "latency A", "latency B", "change"],
            ),
            md("No probe ran on both sides."),
        )

    def shape_drift(self) -> Any:
        rows = [
            {"probe": d.probe, "kind": kind, "field": entry}
            for d in self.drifts
            for kind, entries in (
                ("added in B", d.shape.added),
                ("removed in B", d.shape.removed),
                ("retyped", d.shape.retyped),
            )
            for entry in entries
        ]
        return shown(
            pd.DataFrame(rows, columns=["probe", "kind", "field"]),
            md("No field appeared, disappeared or changed type between A and B."),
        )

    def recent_runs(self, history: Any, limit: int = 10) -> Any:
        """The last runs of the store (`wb.History.runs`), as a report table."""
        runs = history.runs(limit=limit)[
            ["run_id", "started_at", "status", "scope", "command", "environments"]
        ].copy()
        runs["started_at"] = runs["started_at"].map(clock.readable)
        runs["environments"] = [named(str(envs).split(", ")) for envs in runs["environments"]]
        return shown(runs.rename(columns={"run_id": "run", "started_at": "started (UTC)"}), md("No run yet."))

    def latency_frame(self) -> pd.DataFrame:
        def side(label: str, results: Sequence[ProbeResult]) -> list[dict[str, Any]]:
            return [
                {
                    "side": label,
                    "probe": r.probe,
                    "latency_ms": r.latency_ms,
                    "outcome": str(r.outcome),
                    "symptom": str(r.symptom),
                }
                for r in results
                if r.latency_ms is not None
            ]

        rows = side(f"A: {self.env_a}", self.results_a) + side(f"B: {self.env_b}", self.results_b)
        return pd.DataFrame(rows, columns=["side", "probe", "latency_ms", "outcome", "symptom"])

    def latency_chart(self) -> alt.Chart:
        """Latency per probe, A against B; click a legend entry to isolate a side, hover for details."""
        pick = alt.selection_point(fields=["side"], bind="legend")
        chart: alt.Chart = (
            alt.Chart(self.latency_frame(), title="Latency per probe: A against B")
            .mark_bar()
            .encode(
                x=alt.X("latency_ms:Q", axis=milliseconds_axis()),
                y=alt.Y("probe:N", title=None),
                yOffset="side:N",
                color=alt.Color("side:N", title=None),
                opacity=alt.condition(pick, alt.value(1.0), alt.value(0.2)),
                tooltip=[
                    "side:N",
                    "probe:N",
                    alt.Tooltip("latency_ms:Q", format=".1f"),
                    "outcome:N",
                    "symptom:N",
                ],
            )
            .add_params(pick)
            .properties(width=520)
        )
        return chart


Side = tuple[str, str]  # (run id, environment)


def _most_interesting(
    store: HistoryStore, runs: Sequence[RunRecord], newest: RunRecord, configured: str
) -> tuple[Side, Side] | None:
    """The pair of sides with the most contract drift in run `newest` (see `DriftExplorer.load`),
    or None when it has one environment and no complete run of it came before."""
    envs = newest.environments
    results = store.results([newest.run_id])
    reference = reference_environment(envs, configured)
    cached: dict[str, list[ProbeResult]] = {}

    def baseline(env: str) -> str:
        earlier = [
            run
            for run in runs
            if run.started_at < newest.started_at
            and run.complete
            and run.status == "complete"
            and env in run.environments
        ]
        return earlier[0].run_id if earlier else ""

    candidates: list[tuple[int, int, int, Side, Side]] = []  # (-drift, kind, place, A, B)
    for place, env in enumerate(envs):
        before = baseline(env)
        if before:
            if before not in cached:
                cached[before] = store.results([before])
            drift = sum(d.drifted for d in compare(cached[before], results, env, env))
            candidates.append((-drift, 0, place, (before, env), (newest.run_id, env)))
        if env != reference:
            drift = sum(d.drifted for d in compare(results, results, reference, env))
            candidates.append((-drift, 1, place, (newest.run_id, reference), (newest.run_id, env)))
    if not candidates:
        return None
    best = min(candidates, key=lambda c: c[:3])
    if best[0] == 0:  # no drift anywhere: the reference since its previous run, else the next environment
        calm = [c for c in candidates if c[4][1] == reference and c[1] == 0] or candidates
        best = min(calm, key=lambda c: c[1:3])
    return best[3], best[4]
