"""What `symptom_trends.ipynb` shows: symptom classes, failure rate and latency over time, and the triggers.

Every chart is drawn from aggregates the store computes in SQL (`signals.trends.trend_rows`), so a
history of a million rows gives a chart of a few hundred points and a small report. The data frames
of those rows are made here, the one layer that speaks pandas.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd

from workbench.core import clock
from workbench.history.store import HistoryStore
from workbench.render import theme
from workbench.render.charts import symptom_scale
from workbench.render.display import markdown, md, table
from workbench.signals.trends import Rows, evaluate, trend_rows
from workbench.signals.triggers import Firing, Rule, load_rules


@dataclass(frozen=True)
class TrendFrames:
    """Everything the trends report charts, from one read of the history."""

    bucket: str
    symptoms: pd.DataFrame  # bucket, env, symptom, count
    rates: pd.DataFrame  # bucket, env, samples, failures, rate
    latency: pd.DataFrame  # bucket, env, p50_ms, p95_ms, ...


def trend_frames(
    store: HistoryStore,
    *,
    envs: Sequence[str] = (),
    bucket: str | None = None,
    since: str | None = None,
    percentiles: Sequence[float] = (0.5, 0.95),
) -> TrendFrames:
    """`trend_rows` as data frames; each frame's `attrs["bucket"]` names its bucket."""
    rows = trend_rows(store, envs=envs, bucket=bucket, since=since, percentiles=percentiles)
    names = list(rows.percentile_columns)
    return TrendFrames(
        rows.bucket,
        _frame(rows.symptoms, ["bucket", "env", "symptom", "count"], {"count": "int64"}, rows.bucket),
        _frame(
            rows.rates,
            ["bucket", "env", "samples", "failures", "rate"],
            {"samples": "int64", "failures": "int64", "rate": "float64"},
            rows.bucket,
        ),
        _frame(rows.latency, ["bucket", "env", *names], dict.fromkeys(names, "float64"), rows.bucket),
    )


def symptom_counts_over_time(
    store: HistoryStore, *, envs: Sequence[str] = (), bucket: str | None = None, since: str | None = None
) -> pd.DataFrame:
    """Samples per (bucket, env, symptom), passes under "none"; `frame.attrs["bucket"]` names the bucket."""
    return trend_frames(store, envs=envs, bucket=bucket, since=since).symptoms


def failure_rate_over_time(
    store: HistoryStore, *, envs: Sequence[str] = (), bucket: str | None = None, since: str | None = None
) -> pd.DataFrame:
    """Samples, failures and their share per (bucket, env)."""
    return trend_frames(store, envs=envs, bucket=bucket, since=since).rates


def latency_percentiles_over_time(
    store: HistoryStore,
    *,
    envs: Sequence[str] = (),
    bucket: str | None = None,
    since: str | None = None,
    percentiles: Sequence[float] = (0.5, 0.95),
) -> pd.DataFrame:
    """Nearest-rank latency percentiles per (bucket, env): p50_ms, p95_ms, ... (see `trend_rows`)."""
    return trend_frames(store, envs=envs, bucket=bucket, since=since, percentiles=percentiles).latency


def _frame(rows: Rows, columns: list[str], types: dict[str, str], bucket: str) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=columns).astype(types)
    frame.attrs["bucket"] = bucket
    return frame


@dataclass(frozen=True)
class TrendsView:
    """The aggregated history of the selected environments, and the trigger rules judged over it."""

    symptoms: pd.DataFrame
    rates: pd.DataFrame
    latency: pd.DataFrame
    rules: tuple[Rule, ...]
    firings: tuple[Firing, ...]
    since: str
    bucket: str

    @classmethod
    def load(
        cls,
        *,
        environments: Sequence[str] = (),
        since_days: float = 30,
        store_url: str = "",
        triggers_path: str = "",
    ) -> TrendsView:
        since = clock.iso(clock.now() - timedelta(days=since_days), "seconds")
        rules = tuple(load_rules(Path(triggers_path) if triggers_path else None))
        with HistoryStore(store_url or None) as store:
            frames = trend_frames(store, envs=environments, since=since)  # one scan, however long the history
            firings = tuple(evaluate(store, rules, envs=environments))
        return cls(frames.symptoms, frames.rates, frames.latency, rules, firings, since, frames.bucket)

    def summary(self) -> Any:
        samples = int(self.symptoms["count"].sum()) if not self.symptoms.empty else 0
        fired = [f for f in self.firings if f.fired]
        verdict = (
            md(
                "**{fired} trigger(s) fired**: see the table at the end for the action each names.",
                fired=len(fired),
            )
            if fired
            else md("No trigger fired.")
        )
        return markdown(
            md(
                "{samples} probe results since {since}, by {bucket} (UTC). {verdict}",
                samples=f"{samples:,}",
                since=self.since[:10],
                bucket=self.bucket,
                verdict=verdict,
            )
        )

    def symptom_chart(self) -> alt.Chart:
        """Samples per time bucket stacked by symptom class (`none`: passed), one row per environment."""
        chart: alt.Chart = (
            alt.Chart(self.symptoms, title="Symptom classes over time")
            .mark_bar()
            .encode(
                x=alt.X("bucket:N", title=self.bucket, sort=None),
                y=alt.Y("count:Q", title="probe results", stack="zero"),
                color=alt.Color("symptom:N", scale=symptom_scale(), title="symptom class"),
                row=alt.Row("env:N", title=None),
                tooltip=["env:N", "bucket:N", "symptom:N", "count:Q"],
            )
            .properties(width=560, height=140)
        )
        return chart

    def failure_rate_chart(self) -> Any:
        """Failure rate per environment, with each rate rule's threshold drawn as a dashed line."""
        lines = (
            alt.Chart(self.rates)
            .mark_line(point=True)
            .encode(
                x=alt.X("bucket:N", title=self.bucket, sort=None),
                y=alt.Y("rate:Q", title="share of probes failing", axis=alt.Axis(format="%")),
                color=alt.Color("env:N", title="environment"),
                tooltip=["env:N", "bucket:N", alt.Tooltip("rate:Q", format=".0%"), "failures:Q", "samples:Q"],
            )
        )
        by_rate: dict[float, list[str]] = {}  # one line per threshold, naming every class that uses it
        for rule in self.rules:
            if rule.rate is not None:
                by_rate.setdefault(rule.rate, []).append(str(rule.symptom))
        thresholds = pd.DataFrame(
            [
                {"rule": f"{', '.join(classes)} > {rate:.0%}", "rate": rate}
                for rate, classes in by_rate.items()
            ],
            columns=["rule", "rate"],
        )
        rules = (
            alt.Chart(thresholds)
            .mark_rule(strokeDash=[6, 4], color=theme.THRESHOLD_COLOUR)
            .encode(y="rate:Q", tooltip=["rule:N"])
        )
        labels = (
            alt.Chart(thresholds)
            .mark_text(align="left", dx=4, dy=-6, color=theme.THRESHOLD_COLOUR, fontSize=10)
            .encode(y="rate:Q", text="rule:N", x=alt.value(0))
        )
        layered = alt.layer(lines, rules, labels)
        return layered.properties(
            title="Failure rate over time, with the trigger thresholds", width=560, height=220
        )

    def latency_chart(self) -> alt.Chart:
        """Latency percentiles (nearest rank) per environment over time."""
        long = self.latency.melt(id_vars=["bucket", "env"], var_name="percentile", value_name="latency_ms")
        chart: alt.Chart = (
            alt.Chart(long, title="Latency percentiles over time")
            .mark_line(point=True)
            .encode(
                x=alt.X("bucket:N", title=self.bucket, sort=None),
                y=alt.Y("latency_ms:Q", title="latency (ms)"),
                color=alt.Color("env:N", title="environment"),
                strokeDash=alt.StrokeDash("percentile:N", title="percentile"),
                tooltip=["env:N", "bucket:N", "percentile:N", alt.Tooltip("latency_ms:Q", format=".1f")],
            )
            .properties(width=560, height=220)
        )
        return chart

    def triggers(self) -> Any:
        rows = [
            {
                "rule": f.rule.name,
                "rule says": f.rule.describe(),
                "env": f.env,
                "fired": f.fired,
                "evidence": f.evidence,
                "action": f.action if f.fired else "",
            }
            for f in self.firings
        ]
        frame = pd.DataFrame(rows, columns=["rule", "rule says", "env", "fired", "evidence", "action"])
        fired_style = theme.css(theme.BAD_FILL, theme.BAD_TEXT, theme.BOLD)
        return (
            table(frame).hide(axis="index").map(lambda fired: fired_style if fired else "", subset=["fired"])
        )
