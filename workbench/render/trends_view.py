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
from workbench.core.models import Symptom
from workbench.history.store import HistoryStore, open_for_report
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


_LAYER_COLUMNS = [
    *("kind", "bucket", "env", "symptom", "failures", "samples", "rate", "threshold", "rule"),
    *("evidence", "action"),
]


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
        config_path: str = "",
        triggers_path: str = "",
    ) -> TrendsView:
        since = clock.iso(clock.now() - timedelta(days=since_days), "seconds")
        rules = tuple(load_rules(Path(triggers_path) if triggers_path else None))
        with open_for_report(config_path, store_url) as store:
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

    def class_rates(self) -> pd.DataFrame:
        """Per bucket, environment and symptom class: that class's share of the samples (the rate its
        own rate rule reads), for every class with a rule or a failure in the history."""
        columns = ["bucket", "env", "symptom", "failures", "samples", "rate"]
        if self.symptoms.empty:
            return pd.DataFrame(columns=columns)
        totals = self.symptoms.groupby(["bucket", "env"], sort=False)["count"].sum()
        classes = self.watched_classes()
        wide = self.symptoms.pivot_table(
            index=["bucket", "env"],
            columns="symptom",
            values="count",
            aggfunc="sum",
            fill_value=0,
            sort=False,
        )
        rows = [
            {
                "bucket": bucket,
                "env": env,
                "symptom": symptom,
                "failures": int(wide.loc[(bucket, env)].get(symptom, 0)),
                "samples": int(totals.loc[(bucket, env)]),
                "rate": float(wide.loc[(bucket, env)].get(symptom, 0))
                / max(int(totals.loc[(bucket, env)]), 1),
            }
            for symptom in classes
            for bucket, env in wide.index
        ]
        return pd.DataFrame(rows, columns=columns)

    def watched_classes(self) -> list[str]:
        """Symptom classes in catalog order that a rule watches or the history shows failing."""
        failing = set(self.symptoms["symptom"]) if not self.symptoms.empty else set()
        watched = {str(rule.symptom) for rule in self.rules}
        return [str(s) for s in Symptom if s is not Symptom.NONE and (str(s) in watched or str(s) in failing)]

    def failure_rate_chart(self) -> Any:
        """One panel per symptom class: each environment's rate of that class against the class's own
        rate threshold (dashed); a rule that fired (rate or consecutive) is a red mark, with its action."""
        rates = self.class_rates()
        classes = self.watched_classes()
        last = rates.groupby("env", sort=False)["bucket"].max().to_dict() if not rates.empty else {}
        layers: list[dict[str, Any]] = [{**row, "kind": "rate"} for row in rates.to_dict("records")]
        for rule in self.rules:
            label = (
                f"{rule.name}: > {rule.rate:.0%} (at least {rule.min_samples} samples)"
                if rule.rate is not None
                else f"{rule.name}: {rule.consecutive} in a row"
            )
            layers.append(
                {"kind": "rule", "symptom": str(rule.symptom), "threshold": rule.rate, "rule": label}
            )
        for firing in self.firings:
            if not firing.fired or firing.env not in last:
                continue
            bucket = last[firing.env]
            here = rates[(rates["env"] == firing.env) & (rates["bucket"] == bucket)]
            here = here[here["symptom"] == str(firing.rule.symptom)]
            layers.append(
                {
                    "kind": "fired",
                    "symptom": str(firing.rule.symptom),
                    "env": firing.env,
                    "bucket": bucket,
                    "rate": float(here["rate"].iloc[0]) if not here.empty else 1.0,
                    "rule": firing.rule.name,
                    "evidence": firing.evidence,
                    "action": firing.action,
                }
            )
        data = pd.DataFrame(
            layers,
            columns=_LAYER_COLUMNS,
        )
        x = alt.X("bucket:N", title=self.bucket, sort=None)
        y = alt.Y("rate:Q", title="share", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1]))
        lines = (
            alt.Chart()
            .transform_filter(alt.datum.kind == "rate")
            .mark_line(point=True)
            .encode(
                x=x,
                y=y,
                color=alt.Color("env:N", title="environment"),
                tooltip=[
                    "env:N",
                    "symptom:N",
                    "bucket:N",
                    alt.Tooltip("rate:Q", format=".0%"),
                    "failures:Q",
                    "samples:Q",
                ],
            )
        )
        thresholds = (
            alt.Chart()
            .transform_filter((alt.datum.kind == "rule") & alt.expr.isValid(alt.datum.threshold))
            .mark_rule(strokeDash=[6, 4], color=theme.THRESHOLD_COLOUR)
            .encode(y="threshold:Q", tooltip=["rule:N"])
        )
        labels = (
            alt.Chart()
            .transform_filter(alt.datum.kind == "rule")
            .mark_text(align="left", baseline="top", dx=4, dy=4, color=theme.THRESHOLD_COLOUR, fontSize=10)
            .encode(text="rule:N", x=alt.value(0), y=alt.value(0))
        )
        fired = (
            alt.Chart()
            .transform_filter(alt.datum.kind == "fired")
            .mark_point(shape="triangle-up", size=180, filled=True, color=theme.THRESHOLD_COLOUR)
            .encode(x=x, y=y, tooltip=["rule:N", "env:N", "evidence:N", "action:N"])
        )
        chart = alt.layer(lines, thresholds, labels, fired, data=data).properties(width=440, height=90)
        return chart.facet(
            row=alt.Row(
                "symptom:N", title=None, sort=classes, header=alt.Header(labelAngle=0, labelAlign="left")
            ),
            title="Rate of each symptom class, against that class's trigger",
        ).resolve_scale(x="shared")

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
        order = {str(symptom): index for index, symptom in enumerate(Symptom)}
        firings = sorted(self.firings, key=lambda f: order.get(str(f.rule.symptom), len(order)))
        rows = [
            {
                "rule": f.rule.name,
                "rule says": f.rule.describe().removeprefix(f"{f.rule.name}: "),
                "env": f.env,
                "fired": f.fired,
                "evidence": f.evidence,
                "action": f.action,
            }
            for f in firings
        ]
        frame = pd.DataFrame(rows, columns=["rule", "rule says", "env", "fired", "evidence", "action"])
        if frame.empty:
            return markdown(md("No trigger rule to judge."))
        fired_style = theme.css(theme.BAD_FILL, theme.BAD_TEXT, theme.BOLD)
        return table(frame).map(lambda fired: fired_style if fired is True else "", subset=["fired"])
