"""What the audit notebook shows, as one object: the notebook only calls these methods in order.

`AuditView.load` probes now (interactive use, no `run_id`) or reads a stored run (headless
reports, where `workbench audit` probed first). Every table and chart comes from here, so the
notebook holds no logic and the CLI and notebooks agree.
"""

from __future__ import annotations

import html
import os
import platform
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd
from pandas.io.formats.style import Styler

from workbench import __version__
from workbench.core.config import load_config
from workbench.core.models import Outcome, ProbeResult, Verdict
from workbench.core.terminaltext import printable
from workbench.history.store import HistoryStore, RunRecord
from workbench.probes.catalog import areas_of
from workbench.probes.drift import (
    ProbeDrift,
    against_reference,
    compare,
    configured_reference,
    reference_environment,
)
from workbench.probes.engine import run_probes
from workbench.probes.verdict import verdicts_for
from workbench.render import theme
from workbench.render.charts import enable_renderer, latency_chart, outcomes_chart
from workbench.render.display import Md, code, join, markdown, md, next_steps, shown, table
from workbench.render.frames import (
    APP_USES_COLUMNS,
    STREAM_TIMINGS,
    ablation_matrix,
    app_uses_frame,
    area_matrix,
    catalog_order,
    drift_frame,
    failures_frame,
    latency_frame,
    outcome_counts,
    outcome_said,
    streaming_frame,
    symptom_crosstab,
    verdict_frame,
)
from workbench.render.grouping import fold, group_rows, named
from workbench.rollback.advice import RunState, advise, common_options
from workbench.rollback.headline import (
    LISTED,
    WORDS,
    Headline,
    State,
    counts,
    headlines,
    status_words,
    worst_first,
)
from workbench.rollback.readiness import Readiness
from workbench.wire.shape import diff_shapes
from workbench.wire.spec import SPEC_COMMIT, SPEC_SOURCE

_VERDICT_STYLE = {WORDS[state]: theme.state_css(state) for state in State}


def setup_notebook() -> None:
    """Offline charts, readable tables, and the project folder as working folder; the first call of
    every report notebook."""
    enable_renderer()
    pd.set_option("display.max_colwidth", None)  # a cell keeps its whole text: an action is never cut
    pd.set_option("display.max_rows", 500)
    _work_from_project_folder()


def _work_from_project_folder() -> None:
    """JupyterLab starts a kernel in the notebook's folder (`notebooks/`); the defaults (data/,
    reports/) are relative to the project folder, so move there when the kernel started below it."""
    here = Path.cwd()
    if (here / "data").is_dir():
        return
    for folder in here.parents:
        if (folder / "data" / "environments.toml").is_file() and (folder / "notebooks").is_dir():
            os.chdir(folder)
            return


@dataclass(frozen=True)
class AuditView:
    """One run's results, verdicts and provenance, ready to display."""

    run: RunRecord
    results: tuple[ProbeResult, ...]
    verdicts: tuple[Verdict, ...]
    store_url: str
    # env -> (where its baseline came from: `RunRecord.origin`, the baseline's results)
    baselines: Mapping[str, tuple[str, tuple[ProbeResult, ...]]] = field(default_factory=dict)
    readiness: Mapping[str, str] = field(default_factory=dict)  # env -> stored ten-step assessment (JSON)
    config_path: str = ""  # the environments file the report was given: repeated in its next steps
    drift_reference: str = ""  # `[workbench] drift_reference`, when configured
    project: str = ""  # whose evidence (`core.projectname`), as described: a derived name says so

    @classmethod
    def load(
        cls,
        *,
        run_id: str = "",
        environments: Sequence[str] = (),
        config_path: str = "",
        store_url: str = "",
    ) -> AuditView:
        """Read run `run_id` from the store, or probe now when it is empty."""
        config = load_config(Path(config_path) if config_path else None)
        with HistoryStore.for_config(config, store_url or None) as store:
            if not run_id:
                run_id = run_probes(config, environments, store=store, command="notebook").run_id
            reference = configured_reference(config_path)
            run = store.run(run_id)
            results = tuple(store.results([run_id], envs=environments))
            envs = tuple(environments) or run.environments
            baselines = {}
            for env in envs:  # the last passing run of each environment: what "drift" is measured from
                baseline = store.last_passing_run(env, before=run.started_at)
                if baseline is not None:
                    baselines[env] = (
                        store.run(baseline).origin(),
                        tuple(store.results([baseline], envs=[env])),
                    )
            readiness = {env: text for env, text in store.readiness(run_id).items() if env in envs}
            results = catalog_order(results, envs)
            return cls(
                run,
                results,
                tuple(verdicts_for(envs, results)),
                store.display_url,
                baselines,
                readiness,
                config_path,
                reference,
                store.project_name.describe(),
            )

    @property
    def environments(self) -> tuple[str, ...]:
        return tuple(verdict.env for verdict in self.verdicts)

    @property
    def complete(self) -> bool:
        return self.run.status == "complete"

    def headlines(self) -> list[Headline]:
        """Every environment's one verdict (after an audit, with its readiness; else the contract's)."""
        readiness = {env: Readiness.from_json(env, text) for env, text in self.readiness.items()}
        return headlines(self.verdicts, self.results, readiness or None, complete=self.run.complete)

    def headline(self) -> Any:
        """The counts, then every environment that needs attention with what blocks it (worst first),
        then the rest, listed or counted; an incomplete run says so above all."""
        lines = []
        if not self.complete:
            lines.append(
                md(
                    "> **Incomplete run** ({status}): results below are what was stored "
                    "before it stopped. Re-run the audit before relying on them.\n",
                    status=self.run.status,
                )
            )
        every = self.headlines()
        lines.append(md("**{counts}**\n", counts=counts(every)))
        fine = [h for h in every if h.state in (State.READY, State.CONTRACT_PASSES)]
        for line in worst_first(h for h in every if h not in fine):
            lines.append(md("- **{env}**: {words}: {why}", env=line.env, words=line.words, why=line.reason))
        if len(every) <= LISTED:
            lines += [md("- **{env}**: {words}", env=line.env, words=line.words) for line in fine]
        elif fine:
            lines.append(md("- {n} environments: {words}", n=len(fine), words=fine[0].words))
        return markdown(join("\n", lines))

    def verdict_table(self) -> Styler:
        frame = verdict_frame(self.headlines(), listed=LISTED)
        return (
            table(frame)
            .hide(axis="index")
            .map(lambda label: _VERDICT_STYLE.get(label, ""), subset=["verdict"])
            .set_properties(subset=["what blocks it"], **{"white-space": "pre-wrap", "text-align": "left"})
        )

    def area_matrix(self) -> Styler:
        """Contract area x environment; past twelve environments, those alike share a column."""
        return _matrix(area_matrix(self.results, self.environments, areas_of()), _area_style)

    def app_uses(self) -> Styler:
        """What the app uses of the contract (tool calls, structured output, stream usage, reasoning)
        per environment, each judged; and the spec deviations seen (information unless consumed).
        Past twelve environments, those alike share a row."""
        frame = self._grouped(app_uses_frame(self.results, self.environments), "environment")
        return table(frame).hide(axis="index").map(_area_style, subset=list(APP_USES_COLUMNS))

    def failures(self) -> Any:
        """Every failure with its class, retry advice and action; past twelve environments, the same
        failure in several environments is one row naming them."""
        return shown(self._grouped(failures_frame(self.results), "env"), md("No probe failed."))

    def not_run(self) -> Any:
        """What was skipped or awaits an operator, and why (production guard, no fixtures, no stream):
        one row per probe and reason, with the environments it applies to."""
        rows = [
            {"environments": r.env, "probe": r.probe, "outcome": status_words(r.outcome), "why": r.detail}
            for r in self.results
            if r.outcome in (Outcome.SKIP, Outcome.NEEDS_OPERATOR)
        ]
        if not rows:
            return markdown(md("Every probe ran."))
        frame = group_rows(pd.DataFrame(rows), "environments", total=len(self.environments))
        return table(frame)

    def symptom_crosstab(self) -> Styler:
        """Symptom class x environment (failed probes); past twelve environments, those alike share a
        column."""
        return _matrix(
            symptom_crosstab(self.results, self.environments),
            lambda count: theme.css(theme.BAD_FILL, theme.BOLD) if count else theme.EMPTY_TEXT,
            value="failed probes",
        )

    def streaming(self) -> Any:
        frame = streaming_frame(self.results)
        if frame.empty or (frame["outcome"] == "skip").all():
            return markdown(
                md(
                    "No environment streams in production (`stream = false`), so streaming was not "
                    "probed; a non-streaming parser proves nothing about streams."
                )
            )
        frame["outcome"] = [
            outcome_said(o, s) for o, s in zip(frame["outcome"], frame["symptom"], strict=True)
        ]
        frame = frame.drop(columns=["symptom"])  # said with the outcome: one column fewer at 800 px
        if frame["probe"].nunique() == 1:  # one streaming probe ran: its name in every row says nothing
            frame = frame.drop(columns=["probe"])
        if len(self.environments) > LISTED:  # timings differ by environment: a group shows its median
            passed = frame["outcome"] == status_words("pass")
            frame["detail"] = frame["detail"].where(~passed, "-")  # what a pass says is in the columns
            frame = group_rows(frame, "env", total=len(self.environments), medians=STREAM_TIMINGS)
            frame = frame.rename(columns={column: f"{column[:-5]}, median (ms)" for column in STREAM_TIMINGS})
        return table(frame).map(_outcome_style, subset=["outcome"])

    def parser_robustness(self) -> Any:
        frame = ablation_matrix(self.results, self.environments)
        if frame.empty:
            return markdown(md("No optional-field ablation ran (no mappable response and no fixtures)."))
        return _matrix(frame, _ablation_style)

    def fixture_replay(self) -> Any:
        rows = [
            {
                "env": r.env,
                "outcome": status_words(r.outcome),
                "release": r.facts.get("release", "-"),
                "detail": r.detail,
            }
            for r in self.results
            if r.probe == "response.fixture_replay"
        ]
        if not rows:
            return markdown(md("Fixture replay was not run."))
        frame = self._grouped(pd.DataFrame(rows), "env")
        return table(frame).map(_outcome_style, subset=["outcome"])

    def drift_vs_baseline(self) -> Any:
        """Each environment against its last passing run, and its fresh response against its
        fixtures; environments that read the same are one line (contract drift first)."""
        since: dict[Md, list[str]] = {}
        for env in self.environments:
            baseline = self.baselines.get(env)
            if baseline is None:
                since.setdefault(md("no earlier passing run to compare with."), []).append(env)
                continue
            origin, results = baseline
            changed = [d for d in compare(results, self.results, env, env) if d.changed]
            drifted = any(d.drifted for d in changed)
            verdict = (
                md("**contract drift**") if drifted else md("no contract drift" if changed else "no drift.")
            )
            changes = join(
                "; ", (md("{probe} {change}", probe=code(d.probe), change=d.summary()) for d in changed)
            )
            sentence = md(
                "since the baseline, {origin}: {verdict}{sep}{changes}",
                origin=origin,
                verdict=verdict,
                sep=md("; " if changed else ""),
                changes=changes or md(""),
            )
            since.setdefault(sentence, []).append(env)
        fixtures: dict[Md, list[str]] = {}
        for env in self.environments:
            current = {r.probe: r for r in self.results if r.env == env}
            replay, fresh = current.get("response.fixture_replay"), current.get("endpoint.minimal")
            if replay is not None and replay.shape and fresh is not None and fresh.shape:
                diff = diff_shapes(replay.shape, fresh.shape)
                words = ProbeDrift("endpoint.minimal", env, env, "", "", "", "", "", "", diff).summary()
                release = replay.facts.get("release", "fixtures")
                sentence = md(
                    "fresh response vs known-good {release}: {words}.", release=release, words=words
                )
                fixtures.setdefault(sentence, []).append(env)
        total = len(self.environments)
        lines = [
            md("- **{envs}** {sentence}", envs=named(envs, total, examples=True), sentence=sentence)
            for groups in (since, fixtures)
            for sentence, envs in sorted(groups.items(), key=lambda item: "contract drift" not in item[0])
        ]
        return markdown(join("\n", lines))

    def drift_between_environments(self) -> Any:
        """Every environment against one reference environment (`[workbench] drift_reference`, else
        `reference`, else the first), never every pair: shapes and outcomes, latency aside (its own
        chart); environments with the same changes share a row."""
        if len(self.environments) < 2:
            return markdown(md("Only one environment in this run."))
        reference = reference_environment(self.environments, self.drift_reference)
        drifts = [
            d.without_latency()
            for d in against_reference(self.results, reference, self.environments)
            if d.without_latency().changed
        ]
        drifts.sort(key=lambda d: not d.drifted)  # contract drift first
        others = len(self.environments) - 1
        alike = others - len({d.env_b for d in drifts})
        intro = (
            f"Against {reference} (the drift reference): {alike} of {others} environments answer with "
            "the same shapes and outcomes" + ("." if not drifts else "; the others differ as follows.")
        )
        if not drifts:
            return markdown(md("{intro}", intro=intro))
        frame = group_rows(drift_frame(drifts), "to", total=others)
        frame = frame.drop(columns=["from"]).rename(columns={"to": "environments"})
        return table(frame).set_caption(html.escape(printable(intro)))

    def outcomes_chart(self) -> alt.Chart:
        return outcomes_chart(outcome_counts(self.results, self.environments))

    def latency_chart(self) -> alt.Chart | alt.LayerChart:
        return latency_chart(latency_frame(self.results))

    def _requests(self) -> str:
        """How many requests reached each server: `all 60 environments: 10 each`, or per environment."""
        by_count: dict[int, list[str]] = {}
        for env, sent in (self.run.requests or {}).items():
            by_count.setdefault(sent, []).append(env)
        total = len(self.run.requests or {})
        return (
            "; ".join(
                f"{named(envs, total, examples=True)}: {sent}" + (" each" if len(envs) > 1 else "")
                for sent, envs in by_count.items()
            )
            or "-"
        )

    def _grouped(self, frame: pd.DataFrame, column: str) -> pd.DataFrame:
        """`frame` with rows alike but for the environment grouped, past twelve environments."""
        if len(self.environments) <= LISTED:
            return frame
        return group_rows(frame, column, total=len(self.environments))

    def next_steps(self) -> Any:
        """What to do now: the advisor's steps, the same ones `workbench` prints after this run."""
        readiness = {env: Readiness.from_json(env, text) for env, text in self.readiness.items()}
        state = RunState(
            "audit" if readiness else "probe",
            self.run.run_id,
            self.run.complete,
            self.verdicts,
            self.results,
            readiness=readiness or None,
            common=common_options(self.config_path, None),
        )
        return next_steps(advise(state))

    def provenance(self) -> Styler:
        """Which software and configuration produced this report, and when."""
        rows = [
            ("project", self.project or "-"),
            ("run id", self.run.run_id),
            ("run status", self.run.status),
            ("started (UTC)", self.run.started_at),
            ("finished (UTC)", self.run.finished_at or "-"),
            ("requests that reached a server", self._requests()),
            ("config sha256", self.run.config_digest),
            ("chat-completions schema", f"{SPEC_SOURCE['repo']}@{SPEC_COMMIT} ({SPEC_SOURCE['path']})"),
            ("history store", self.store_url),
            ("contract-workbench", __version__),
            *((name, _version(name)) for name in ("httpx", "papermill", "nbconvert", "pandas", "altair")),
            ("python", platform.python_version()),
        ]
        return table(pd.DataFrame(rows, columns=["item", "value"]))


def _matrix(frame: pd.DataFrame, style: Callable[[Any], str], *, value: str = "result") -> Styler:
    """A table with a column per environment, folded past twelve (`grouping.fold`), each cell styled."""
    folded = fold(frame, value=value)
    if folded is not frame and "environments" in folded.columns and value in folded.columns:
        return table(folded).map(style, subset=[value])  # long form
    return table(folded).map(style)


def _outcome_style(value: str) -> str:
    styles = {
        status_words("pass"): theme.GOOD_TEXT,
        status_words("fail"): theme.css(theme.BAD_TEXT, theme.BOLD),
        status_words("skip"): theme.SKIPPED_TEXT,
    }
    return styles.get(value.split(" (")[0], "")  # `fails (parser)` is a failure


def _ablation_style(value: str) -> str:
    if value.startswith("unhandled"):
        return theme.css(theme.BAD, theme.BOLD)
    if value.startswith("classified"):
        return theme.ATTENTION_FILL
    return theme.GOOD_TEXT if value == "extracted" else ""


def _area_style(value: str) -> str:
    if value.startswith("fail"):
        return theme.BAD
    if value == "pass":
        return theme.GOOD
    if value in (status_words("needs_operator"), status_words("error")):
        return theme.ATTENTION
    return theme.MUTED_TEXT


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"
