"""What `rollback_readiness.ipynb` shows: can each environment be rolled back safely, and would a
rollback restore the whole contract? The ten-step sequence with evidence, the latest bundle, what
changed since it, and the operator confirmations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from pandas.io.formats.style import Styler

from workbench.core.config import Config, load_config
from workbench.core.errors import WorkbenchError
from workbench.history.confirmations import Confirmation
from workbench.history.store import HistoryStore
from workbench.probes.engine import run_probes
from workbench.render import theme
from workbench.render.display import Md, join, markdown, md, table
from workbench.rollback.bundle import KINDS, Bundle, latest_bundle
from workbench.rollback.evidence import assess_run, stored_readiness
from workbench.rollback.manifest import capture_bundle
from workbench.rollback.plan import PartChange, describe_part, diff_bundles
from workbench.rollback.readiness import Readiness, StepStatus

_STATUS_STYLE = {
    "pass": theme.GOOD,
    "fail": theme.css(theme.BAD, theme.BOLD),
    "needs_operator": theme.ATTENTION,
    "not_run": theme.NOT_RUN,
}


@dataclass(frozen=True)
class ReadinessView:
    """Readiness per environment of one run, with the bundles and confirmations it rests on."""

    run_id: str
    readiness: Mapping[str, Readiness]
    bundles: Mapping[str, Bundle | None]
    changes: Mapping[str, list[PartChange] | str]  # since the latest bundle, or why not computed
    confirmations: tuple[Confirmation, ...] = field(default_factory=tuple)

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
        return cls(run_id, {env: readiness[env] for env in envs}, bundles, changes, confirmations)

    def verdict(self) -> Styler:
        rows = [
            {
                "environment": env,
                "rollback readiness": "ready" if r.ready else "not ready",
                "steps passing": f"{sum(s.status is StepStatus.PASS for s in r.steps)} of {len(r.steps)}",
                "blocking": "\n".join(f"{s.number}. {s.title} ({s.status})" for s in r.blocking()) or "-",
            }
            for env, r in self.readiness.items()
        ]
        frame = pd.DataFrame(rows, columns=["environment", "rollback readiness", "steps passing", "blocking"])
        colours = {"ready": _STATUS_STYLE["pass"], "not ready": _STATUS_STYLE["fail"]}
        return (
            table(frame)
            .hide(axis="index")
            .map(lambda v: colours.get(v, ""), subset=["rollback readiness"])
            .set_properties(subset=["blocking"], **{"white-space": "pre-wrap", "text-align": "left"})
        )

    def sequence(self) -> Styler:
        """The ten steps (rows) by environment (columns)."""
        data = {env: [str(step.status) for step in r.steps] for env, r in self.readiness.items()}
        first = next(iter(self.readiness.values()), None)
        index = [f"{s.number}. {s.title}" for s in first.steps] if first else []
        frame = pd.DataFrame(data, index=pd.Index(index, name="validation step"))
        return table(frame).map(lambda value: _STATUS_STYLE.get(value, ""))

    def evidence(self) -> Styler:
        rows = [
            {"env": env, "step": f"{s.number}. {s.title}", "status": str(s.status), "evidence": s.evidence}
            for env, r in self.readiness.items()
            for s in r.steps
        ]
        frame = pd.DataFrame(rows, columns=["env", "step", "status", "evidence"])
        return (
            table(frame)
            .hide(axis="index")
            .map(lambda v: _STATUS_STYLE.get(v, ""), subset=["status"])
            .set_properties(subset=["evidence"], **{"text-align": "left"})
        )

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
        return table(pd.DataFrame(rows))

    def changes_since_bundle(self) -> Any:
        lines: list[Md] = []
        for env, changes in self.changes.items():
            bundle = self.bundles[env]
            if isinstance(changes, str) or bundle is None:
                why = changes if isinstance(changes, str) else "no bundle"
                lines.append(md("- **{env}**: {why}", env=env, why=why))
            elif not changes:
                lines.append(
                    md(
                        "- **{env}**: the deployed contract matches {label} part for part.",
                        env=env,
                        label=bundle.label,
                    )
                )
            else:
                lines.append(
                    md(
                        "- **{env}** has moved on from {label}: {parts}. A rollback to {label} "
                        "must restore every one of these, not only the deployable artifact.",
                        env=env,
                        label=bundle.label,
                        parts="; ".join(change.summary for change in changes),
                    )
                )
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
                "confirmed": c.confirmed_at,
                "expires": c.expires_at or "-",
                "current": "yes" if c.is_current() else "EXPIRED",
                "note": c.note,
            }
            for c in self.confirmations
        ]
        return (
            table(pd.DataFrame(rows))
            .hide(axis="index")
            .map(lambda v: _STATUS_STYLE["fail"] if v == "EXPIRED" else "", subset=["current"])
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
