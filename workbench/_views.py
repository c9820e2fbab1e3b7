"""What the audit notebook shows, as one object: the notebook only calls these methods in order.

`AuditView.load` probes now (interactive use, no `run_id`) or reads a stored run (headless
reports, where `workbench audit` probed first). Every table and chart comes from here, so the
notebook holds no logic and the CLI and notebooks agree.
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd
from pandas.io.formats.style import Styler

from . import __version__
from ._charts import enable_renderer, latency_chart, outcomes_chart
from ._config import load_config
from ._engine import run_probes
from ._frames import area_matrix, failures_frame, latency_frame, symptom_counts, verdict_frame
from ._models import ProbeResult, Verdict, VerdictStatus
from ._probes import areas_of
from ._store import HistoryStore, RunRecord
from ._verdict import verdicts_for

_VERDICT_STYLE = {
    "ready": "background-color:#e3f4e6;color:#1b5e20;font-weight:bold",
    "not ready": "background-color:#fde2e1;color:#b71c1c;font-weight:bold",
    "could not run": "background-color:#fff3cd;color:#7a5d00;font-weight:bold",
}


def setup_notebook() -> None:
    """Offline charts and readable tables; the first call of every report notebook."""
    enable_renderer()
    pd.set_option("display.max_colwidth", 400)
    pd.set_option("display.max_rows", 500)


@dataclass(frozen=True)
class AuditView:
    """One run's results, verdicts and provenance, ready to display."""

    run: RunRecord
    results: tuple[ProbeResult, ...]
    verdicts: tuple[Verdict, ...]
    store_url: str

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
        with HistoryStore(store_url or None) as store:
            if not run_id:
                config = load_config(Path(config_path) if config_path else None)
                run_id = run_probes(config, environments, store=store, command="notebook").run_id
            run = store.run(run_id)
            results = tuple(store.results([run_id], envs=environments))
            envs = tuple(environments) or run.environments
            return cls(run, results, tuple(verdicts_for(envs, results)), store.display_url)

    @property
    def environments(self) -> tuple[str, ...]:
        return tuple(verdict.env for verdict in self.verdicts)

    @property
    def complete(self) -> bool:
        return self.run.status == "complete"

    def headline(self) -> Any:
        """One line per environment, the verdict first; an incomplete run says so above all."""
        from IPython.display import Markdown

        lines = []
        if not self.complete:
            lines.append(
                f"> **Incomplete run** ({self.run.status}): results below are what was stored "
                "before it stopped. Re-run the audit before relying on them.\n"
            )
        for verdict in self.verdicts:
            lines.append(f"- **{verdict.env}**: {verdict.label.upper()}")
        return Markdown("\n".join(lines))

    def verdict_table(self) -> Styler:
        frame = verdict_frame(self.verdicts)
        return (
            frame.style.hide(axis="index")
            .map(lambda label: _VERDICT_STYLE.get(label, ""), subset=["verdict"])
            .set_properties(subset=["reasons"], **{"white-space": "pre-wrap", "text-align": "left"})
        )

    def area_matrix(self) -> Styler:
        frame = area_matrix(self.results, self.environments, areas_of())
        return frame.style.map(_area_style)

    def failures(self) -> Any:
        frame = failures_frame(self.results)
        if frame.empty:
            from IPython.display import Markdown

            return Markdown("No probe failed.")
        return frame.style.hide(axis="index").set_properties(
            subset=["detail", "action"], **{"text-align": "left"}
        )

    def outcomes_chart(self) -> alt.Chart:
        return outcomes_chart(symptom_counts(self.results))

    def latency_chart(self) -> alt.Chart:
        return latency_chart(latency_frame(self.results))

    def next_steps(self) -> Any:
        """What to do now, per environment, from the verdicts."""
        from IPython.display import Markdown

        lines = []
        for verdict in self.verdicts:
            if verdict.status is VerdictStatus.READY:
                lines.append(
                    f"- **{verdict.env}**: the contract holds; keep this run ({self.run.run_id}) "
                    "as the known-good probe result in the rollback bundle."
                )
            elif verdict.status is VerdictStatus.NOT_READY:
                actions = sorted({r.action for r in self.results if r.env == verdict.env and r.action})
                lines.append(
                    f"- **{verdict.env}**: do not ship; "
                    + " ".join(actions)
                    + " Then re-run `workbench audit --env "
                    + verdict.env
                    + "`."
                )
            else:
                lines.append(
                    f"- **{verdict.env}**: the audit could not run; fix the reasons above and re-run."
                )
        return Markdown("\n".join(lines))

    def provenance(self) -> pd.DataFrame:
        """Which software and configuration produced this report, and when."""
        rows = [
            ("run id", self.run.run_id),
            ("run status", self.run.status),
            ("started (UTC)", self.run.started_at),
            ("finished (UTC)", self.run.finished_at or "-"),
            (
                "requests sent",
                ", ".join(f"{env}: {n}" for env, n in (self.run.requests or {}).items()) or "-",
            ),
            ("config sha256", self.run.config_digest),
            ("history store", self.store_url),
            ("contract-workbench", __version__),
            *((name, _version(name)) for name in ("httpx", "papermill", "nbconvert", "pandas", "altair")),
            ("python", platform.python_version()),
        ]
        return pd.DataFrame(rows, columns=["item", "value"]).set_index("item")


def _area_style(value: str) -> str:
    if value.startswith("fail"):
        return "background-color:#fde2e1;color:#b71c1c"
    if value == "pass":
        return "background-color:#e3f4e6;color:#1b5e20"
    if value in ("needs operator", "could not run"):
        return "background-color:#fff3cd;color:#7a5d00"
    return "color:#6b6b6b"


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"
