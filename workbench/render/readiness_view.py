"""What `rollback_readiness.ipynb` shows: can each environment be rolled back safely, and would a
rollback restore the whole contract? The ten-step sequence with evidence, the latest bundle, what
changed since it, and the operator confirmations.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from pandas.io.formats.style import Styler

from workbench.core import clock
from workbench.core.config import Config, load_config
from workbench.core.errors import WorkbenchError
from workbench.history.confirmations import Confirmation
from workbench.history.store import HistoryStore
from workbench.probes.engine import run_probes
from workbench.probes.verdict import verdicts_for
from workbench.render import theme
from workbench.render.display import Md, join, markdown, md, table
from workbench.render.frames import verdict_frame
from workbench.render.grouping import fold, group_rows, named
from workbench.rollback.bundle import KINDS, Bundle, latest_bundle
from workbench.rollback.evidence import assess_run, stored_readiness
from workbench.rollback.headline import LISTED, WORDS, Headline, State, counts, headlines, status_words
from workbench.rollback.manifest import capture_bundle
from workbench.rollback.plan import PartChange, describe_part, diff_bundles
from workbench.rollback.readiness import Readiness, StepStatus

_STATUS_STYLE = {
    status_words(StepStatus.PASS): theme.GOOD,
    status_words(StepStatus.FAIL): theme.css(theme.BAD, theme.BOLD),
    status_words(StepStatus.NEEDS_OPERATOR): theme.ATTENTION,
    status_words(StepStatus.NOT_RUN): theme.NOT_RUN,
}
_VERDICT_STYLE = {WORDS[state]: theme.state_css(state) for state in State}


@dataclass(frozen=True)
class ReadinessView:
    """Readiness per environment of one run, with the bundles and confirmations it rests on."""

    run_id: str
    readiness: Mapping[str, Readiness]
    bundles: Mapping[str, Bundle | None]
    changes: Mapping[str, list[PartChange] | str]  # since the latest bundle, or why not computed
    confirmations: tuple[Confirmation, ...] = field(default_factory=tuple)
    headlines: tuple[Headline, ...] = ()  # each environment's one verdict (`rollback.headline`)

    @classmethod
    def load(
        cls, *, run_id: str = "", environments: Sequence[str] = (), config_path: str = "", store_url: str = ""
    ) -> ReadinessView:
        """Read run `run_id`'s stored assessment, or probe and assess now (interactive use)."""
        config = load_config(Path(config_path) if config_path else None)
        with HistoryStore.for_config(config, store_url or None) as store:
            if run_id:
                readiness = dict(stored_readiness(store, run_id))
            else:
                summary = run_probes(config, environments, store=store, command="notebook")
                run_id, readiness = summary.run_id, assess_run(config, summary, store)
            envs = [env for env in (environments or readiness) if env in readiness]
            bundles = {env: latest_bundle(env, config.settings.bundles_dir) for env in envs}
            changes = {env: _changes_since(config, env, bundles[env], store) for env in envs}
            confirmations = tuple(store.confirmations(envs))
            results = store.results([run_id], envs=envs)
            lines = headlines(
                verdicts_for(envs, results), results, readiness, complete=store.run(run_id).complete
            )
        return cls(
            run_id,
            {env: readiness[env] for env in envs},
            bundles,
            changes,
            confirmations,
            tuple(lines),
        )

    @property
    def many(self) -> bool:
        """More environments than are listed one by one: tables show those alike as one."""
        return len(self.readiness) > LISTED

    def verdict(self) -> Styler:
        """The counts, then each environment's one verdict and what blocks it, worst first; past
        twelve environments, those that are fine are one row."""
        frame = verdict_frame(self.headlines, listed=LISTED)
        return (
            table(frame)
            .set_caption(html.escape(counts(self.headlines)))
            .map(lambda label: _VERDICT_STYLE.get(label, ""), subset=["verdict"])
            .set_properties(subset=["what blocks it"], **{"white-space": "pre-wrap", "text-align": "left"})
        )

    def sequence(self) -> Styler:
        """The ten steps (rows) by environment (columns); past twelve environments, those alike share
        a column (`grouping.fold`)."""
        data = {env: [status_words(step.status) for step in r.steps] for env, r in self.readiness.items()}
        first = next(iter(self.readiness.values()), None)
        index = [f"{s.number}. {s.title}" for s in first.steps] if first else []
        frame = fold(pd.DataFrame(data, index=pd.Index(index, name="validation step")), value="status")
        if "environments" in frame.columns and isinstance(frame.index, pd.RangeIndex):
            return table(frame).map(lambda value: _STATUS_STYLE.get(value, ""), subset=["status"])
        return table(frame).map(lambda value: _STATUS_STYLE.get(value, ""))

    def evidence(self) -> Any:
        """Each step's evidence per environment; past twelve environments, by exception: the steps
        that pass everywhere counted, the others grouped by step, status and evidence, naming the
        environments each applies to (a passing row of such a step, with how many it holds)."""
        rows = [
            {
                "env": env,
                "step": f"{s.number}. {s.title}",
                "status": status_words(s.status),
                "evidence": s.evidence,
            }
            for env, r in self.readiness.items()
            for s in r.steps
        ]
        frame = pd.DataFrame(rows, columns=["env", "step", "status", "evidence"])
        caption = ""
        if self.many:
            passing = status_words(StepStatus.PASS)
            everywhere = [
                step
                for step, statuses in frame.groupby("step", sort=False)["status"]
                if (statuses == passing).all()
            ]
            caption = (
                f"{len(everywhere)} of {len(set(frame['step']))} steps pass in every environment: "
                + ", ".join(step.split(".")[0] for step in everywhere)
                + ". The others, by step and reason:"
            )
            frame = frame[~frame["step"].isin(everywhere)].copy()
            frame.loc[frame["status"] == passing, "evidence"] = "-"  # a pass is counted, not explained
            rank = {words: place for place, words in enumerate(_STATUS_STYLE)}  # pass first, then the rest
            frame["order"] = [
                (int(step.split(".")[0]), rank[status])
                for step, status in zip(frame["step"], frame["status"], strict=True)
            ]
            frame = frame.sort_values("order", kind="stable").drop(columns=["order"])
            frame = group_rows(frame, "env", total=len(self.readiness)).rename(
                columns={"env": "environments"}
            )
            frame = frame[["step", "status", "evidence", "environments"]]
        styled = (
            table(frame)
            .hide(axis="index")
            .map(lambda v: _STATUS_STYLE.get(v, ""), subset=["status"])
            .set_properties(subset=["evidence"], **{"text-align": "left"})
        )
        return styled.set_caption(html.escape(caption)) if caption else styled

    def bundle_parts(self) -> Any:
        rows = [
            {
                "env": env,
                "bundle": bundle.label,
                "part": part,
                "kind": KINDS.get(part, "evidence"),
                "recorded": recorded(part, value),
            }
            for env, bundle in self.bundles.items()
            if bundle is not None
            for part, value in bundle.parts.items()
        ]
        if not rows:
            return markdown(
                md(
                    "No rollback bundle yet. Once a release is known-good: "
                    "`workbench bundle capture --env ENV --release R --manifest FILE`."
                )
            )
        frame = pd.DataFrame(rows)
        if self.many:  # each environment's bundle of one release, part by part: alike parts are one row
            frame["bundle"] = [label.partition("/")[2] or label for label in frame["bundle"]]
            frame = group_rows(frame.rename(columns={"bundle": "release"}), "env", total=len(self.readiness))
            frame = frame.rename(columns={"env": "environments"})
        return table(frame)

    def changes_since_bundle(self) -> Any:
        """Per environment, the deployed contract against its latest bundle; environments that read
        the same (one release, the same changes) are one line."""
        said: dict[Md, list[str]] = {}
        for env, changes in self.changes.items():
            bundle = self.bundles[env]
            if isinstance(changes, str) or bundle is None:
                why = changes if isinstance(changes, str) else "no bundle"
                sentence = md("{why}", why=why)
            elif not changes:
                sentence = md(
                    "the deployed contract matches its bundle of release {release} part for part.",
                    release=bundle.release,
                )
            else:
                sentence = md(
                    "has moved on from its bundle of release {release}: {parts}. A rollback to "
                    "{release} must restore every one of these, not only the deployable artifact.",
                    release=bundle.release,
                    parts="; ".join(change.summary for change in changes),
                )
            said.setdefault(sentence, []).append(env)
        total = len(self.changes)
        lines = [
            md("- **{envs}**: {sentence}", envs=named(envs, total, examples=True), sentence=sentence)
            for sentence, envs in said.items()
        ]
        return markdown(join("\n", lines) or md("No environment."))

    def confirmations_table(self) -> Any:
        if not self.confirmations:
            return markdown(
                md(
                    "No operator confirmation recorded. Record one with "
                    "`workbench confirm ITEM --env ENV --by NAME [--expires DAYS]`."
                )
            )
        rows = [
            {
                "env": c.env,
                "item": c.item,
                "by (declared)": c.by,
                "OS user": c.os_user or "-",
                "host": c.host or "-",
                "config sha256": c.config_digest[:12] or "-",
                "confirmed (UTC)": clock.readable(c.confirmed_at),
                "expires (UTC)": clock.readable(c.expires_at) or "-",
                "current": "yes" if c.is_current() else "EXPIRED",
                "note": c.note,
            }
            for c in self.confirmations
        ]
        frame = pd.DataFrame(rows)
        if self.many:
            frame = group_rows(frame, "env", total=len(self.readiness))
        expired = theme.css(theme.BAD, theme.BOLD)
        return (
            table(frame)
            .hide(axis="index")
            .map(lambda v: expired if v == "EXPIRED" else "", subset=["current"])
        )


_SUMMARISED = ("client", "endpoint", "parser", "known_good")  # parts `describe_part` puts in words


def recorded(part: str, value: Mapping[str, Any] | None) -> str | dict[str, Any]:
    """What a bundle recorded for a part, readable: a few words for the parts that have them, a
    file's hash, else every setting as its own `key: value` line (never raw JSON)."""
    if value is None or value.get("missing") or part in _SUMMARISED or isinstance(value.get("sha256"), str):
        return describe_part(part, value)
    return _flat(value) or "-"


def _flat(value: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested settings as dotted keys: `labels.service: chat`."""
    flat: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, Mapping) and item:
            flat.update(_flat(item, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = item
    return flat


def _changes_since(
    config: Config, env: str, bundle: Bundle | None, store: HistoryStore
) -> list[PartChange] | str:
    """The deployed contract (the environment's manifest, resolved now) against its latest bundle."""
    if bundle is None:
        return "no bundle to compare with"
    manifest = config.environments[env].manifest
    if manifest is None:
        return "no `manifest` configured for this environment, so the deployed contract cannot be resolved"
    try:
        current = capture_bundle(
            config,
            env,
            "deployed-now",
            manifest=manifest,
            store=store,
            bundles_dir=config.settings.bundles_dir,
            write=False,
        )
    except WorkbenchError as exc:
        return f"the deployed contract could not be resolved: {exc}"
    return [
        change
        for change in diff_bundles(bundle, current)
        if change.part not in ("known_good", "operator_notes")
    ]
