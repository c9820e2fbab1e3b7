"""What `symptom_trends.ipynb` shows: symptom classes, failure rate and latency over time, and the triggers.

Every chart is drawn from aggregates the store computes in SQL (`signals.trends.trend_rows`), so a
history of a million rows gives a chart of a few hundred points and a small report. The data frames
of those rows are made here, the one layer that speaks pandas.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
from workbench.render.charts import environment_scale, milliseconds_axis, result_scale
from workbench.render.display import markdown, md, table
from workbench.render.frames import OUTLIER_MARGIN_MS, OUTLIER_RATIO
from workbench.render.grouping import alike, group_rows, named
from workbench.render.theme import RESULT_COLOURS
from workbench.rollback.headline import LISTED, status_words
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


OTHERS = "other environments"  # the series a rate chart draws grey, unnamed, past its colours
PERCENTILE_SHAPES = ("circle", "triangle-up", "square", "diamond")  # p50, p95, ...: never the same mark
PERCENTILE_DASHES = ((1, 0), (6, 3), (2, 2), (8, 2, 2, 2))


def _panels(
    data: pd.DataFrame, measure: str, *, failing: Callable[[pd.DataFrame], pd.Series]
) -> tuple[pd.DataFrame, list[str]]:
    """`data` (bucket, env, ...) with `env` relabelled for its panel, and the panels, worst first:
    up to twelve environments a panel each; past that, environments whose rows are the same share
    one ("55 environments, each"), and past twelve such panels the rest are added up in one."""
    envs = list(dict.fromkeys(data["env"]))
    if len(envs) <= LISTED:
        return data, envs
    groups = alike(data, "env")
    worst = {
        members[0]: data.loc[(data["env"] == members[0]) & failing(data), measure].sum() for members in groups
    }
    groups.sort(key=lambda members: -worst[members[0]])
    kept, rest = (groups, []) if len(groups) <= LISTED else (groups[: LISTED - 1], groups[LISTED - 1 :])
    panels = [f"{named(members, len(envs))}, each" if len(members) > 1 else members[0] for members in kept]
    frames = [
        data[data["env"] == members[0]].assign(env=panel) for members, panel in zip(kept, panels, strict=True)
    ]
    if rest:
        others = [env for members in rest for env in members]
        panels.append(f"{len(others)} other environments, together")
        summed = (
            data[data["env"].isin(others)]
            .groupby([c for c in data.columns if c not in ("env", measure)], sort=False)[measure]
            .sum()
        )
        frames.append(summed.reset_index().assign(env=panels[-1]))
    return pd.concat(frames, ignore_index=True)[list(data.columns)], panels


def _series(rates: pd.DataFrame) -> tuple[dict[str, str], set[str]]:
    """Environment -> the series a rate chart draws it in, and the environments whose rows draw
    it: itself (up to twelve environments); past that, environments whose rates are the same share
    a series, named and drawn once; past the distinct colours, the calmest series are drawn grey
    and unnamed (`OTHERS`)."""
    envs = [str(env) for env in dict.fromkeys(rates["env"])]
    if len(envs) <= LISTED:
        return {env: env for env in envs}, set(envs)
    groups = alike(rates[["env", "bucket", "symptom", "rate"]], "env")
    peak = rates.groupby("env")["rate"].max().to_dict()
    groups.sort(key=lambda members: -peak.get(members[0], 0.0))
    colours = len(theme.ENVIRONMENT_COLOURS)
    named_groups = groups if len(groups) <= colours else groups[: colours - 1]
    series = {env: OTHERS for env in envs}
    drawn = set(envs)
    for members in named_groups:
        label = f"{named(members, len(envs))}, each" if len(members) > 1 else members[0]
        series.update(dict.fromkeys(members, label))
        drawn -= set(members[1:])
    return series, drawn


def _latency_outliers(long: pd.DataFrame) -> list[str]:
    """Environments whose latency, in some bucket and percentile, is at least twice the median of
    all environments there and 50 ms over it; the slowest first, at most one colour each."""
    median = long.groupby(["bucket", "percentile"], sort=False)["latency_ms"].transform("median")
    slow = (long["latency_ms"] >= OUTLIER_RATIO * median) & (long["latency_ms"] >= median + OUTLIER_MARGIN_MS)
    ratio = (long["latency_ms"] / median)[slow].groupby(long["env"][slow]).max().sort_values(ascending=False)
    return [str(env) for env in ratio.index[: len(theme.ENVIRONMENT_COLOURS)]]


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
        """Samples per time bucket stacked by result (passes, or the symptom class of a failure), a
        panel per environment; past twelve environments, environments with the same counts share a
        panel ("55 environments, each"), worst first, and past twelve panels the rest are added up
        in one ("8 other environments, together")."""
        data = self.symptoms.assign(
            symptom=[status_words("pass") if s == str(Symptom.NONE) else s for s in self.symptoms["symptom"]]
        )
        data, panels = _panels(data, "count", failing=lambda frame: frame["symptom"] != status_words("pass"))
        shown = [r for r in RESULT_COLOURS if r in set(data["symptom"])]
        chart: alt.Chart = (
            alt.Chart(data, title="Symptom classes over time")
            .mark_bar()
            .encode(
                x=alt.X("bucket:N", title=self.bucket, sort=None),
                y=alt.Y("count:Q", title="probe results", stack="zero"),
                color=alt.Color("symptom:N", scale=result_scale(shown), title="result (failures by class)"),
                row=alt.Row(
                    "env:N", title=None, sort=panels, header=alt.Header(labelAngle=0, labelAlign="left")
                ),
                tooltip=["env:N", "bucket:N", "symptom:N", "count:Q"],
            )
            .properties(width=560, height=110)
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
        data = pd.DataFrame(layers, columns=_LAYER_COLUMNS)
        series, drawn = _series(rates)
        data["series"] = [series.get(env, "") if isinstance(env, str) else "" for env in data["env"]]
        data = data[(data["kind"] != "rate") | data["env"].isin(drawn)]  # a shared series drawn once
        named = [label for label in dict.fromkeys(series.values()) if label != OTHERS]
        x = alt.X("bucket:N", title=self.bucket, sort=None)
        y = alt.Y("rate:Q", title="share", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1]))
        tooltip = [
            "series:N",
            "symptom:N",
            "bucket:N",
            alt.Tooltip("rate:Q", format=".0%"),
            "failures:Q",
            "samples:Q",
        ]
        lines = (
            alt.Chart()
            .transform_filter((alt.datum.kind == "rate") & (alt.datum.series != OTHERS))
            .mark_line(point=True)
            .encode(
                x=x,
                y=y,
                color=alt.Color(
                    "series:N",
                    title="environment",
                    scale=environment_scale(named) if named else alt.Undefined,
                ),
                tooltip=tooltip,
            )
        )
        others = (
            alt.Chart()
            .transform_filter((alt.datum.kind == "rate") & (alt.datum.series == OTHERS))
            .mark_line(point=True, color=theme.REST_COLOUR, opacity=0.5)
            .encode(x=x, y=y, detail="env:N", tooltip=["env:N", *tooltip[1:]])
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
        layers_drawn = [lines, others] if OTHERS in series.values() else [lines]
        chart = alt.layer(*layers_drawn, thresholds, labels, fired, data=data).properties(
            width=440, height=90
        )
        return chart.facet(
            row=alt.Row(
                "symptom:N", title=None, sort=classes, header=alt.Header(labelAngle=0, labelAlign="left")
            ),
            title="Rate of each symptom class, against that class's trigger",
        ).resolve_scale(x="shared")

    def latency_chart(self) -> alt.Chart | alt.LayerChart:
        """Latency percentiles (nearest rank) per environment over time, each percentile its own
        mark (p50 a circle on a solid line, p95 a triangle on a dashed one). Past twelve
        environments: the environments that are not outliers as a grey range per percentile with
        their median, and each outlier (`frames.OUTLIER_RATIO`) in its own colour."""
        long = self.latency.melt(id_vars=["bucket", "env"], var_name="percentile", value_name="latency_ms")
        long["percentile"] = long["percentile"].str.removesuffix("_ms")
        percentiles = list(dict.fromkeys(long["percentile"]))
        marks = {
            "shape": alt.Shape(
                "percentile:N",
                title="percentile",
                sort=percentiles,
                scale=alt.Scale(domain=percentiles, range=list(PERCENTILE_SHAPES[: len(percentiles)])),
            ),
            "strokeDash": alt.StrokeDash(
                "percentile:N",
                title="percentile",
                sort=percentiles,
                scale=alt.Scale(
                    domain=percentiles, range=[list(dash) for dash in PERCENTILE_DASHES[: len(percentiles)]]
                ),
            ),
        }
        x = alt.X("bucket:N", title=self.bucket, sort=None)
        y = alt.Y("latency_ms:Q", axis=milliseconds_axis())
        tooltip = ["env:N", "bucket:N", "percentile:N", alt.Tooltip("latency_ms:Q", format=".0f")]
        envs = list(dict.fromkeys(long["env"]))
        if len(envs) <= LISTED:
            chart: alt.Chart = (
                alt.Chart(long, title="Latency percentiles over time")
                .mark_line(point=alt.OverlayMarkDef(filled=True, size=60))
                .encode(
                    x=x,
                    y=y,
                    color=alt.Color("env:N", title="environment", scale=environment_scale(envs)),
                    detail="percentile:N",
                    tooltip=tooltip,
                    **marks,
                )
                .properties(width=560, height=220)
            )
            return chart
        outlying = _latency_outliers(long)
        rest = long[~long["env"].isin(outlying)].groupby(["bucket", "percentile"], sort=False)["latency_ms"]
        spread = pd.DataFrame({"low": rest.min(), "median": rest.median(), "high": rest.max()}).reset_index()
        band = (
            alt.Chart(spread)
            .mark_rule(color=theme.REST_COLOUR, opacity=0.5, strokeWidth=8)
            .encode(
                x=x,
                y=alt.Y("low:Q", axis=milliseconds_axis()),
                y2="high:Q",
                detail="percentile:N",
                tooltip=[
                    "bucket:N",
                    "percentile:N",
                    alt.Tooltip("low:Q", format=".0f"),
                    alt.Tooltip("high:Q", format=".0f"),
                ],
            )
        )
        middle = (
            alt.Chart(spread)
            .mark_line(color="#222", point=alt.OverlayMarkDef(filled=True, size=50, color="#222"))
            .encode(
                x=x,
                y=alt.Y("median:Q"),
                tooltip=["bucket:N", "percentile:N", alt.Tooltip("median:Q", format=".0f")],
                **marks,
            )
        )
        layers: list[alt.Chart] = [band, middle]
        if outlying:
            layers.append(
                alt.Chart(long[long["env"].isin(outlying)])
                .mark_line(point=alt.OverlayMarkDef(filled=True, size=60))
                .encode(
                    x=x,
                    y=alt.Y("latency_ms:Q"),
                    color=alt.Color("env:N", title="outliers", scale=environment_scale(outlying)),
                    detail="percentile:N",
                    tooltip=tooltip,
                    **marks,
                )
            )
        return alt.LayerChart(
            layer=layers,
            width=560,
            height=220,
            title=alt.TitleParams(
                "Latency percentiles over time",
                subtitle=[
                    f"{len(envs)} environments: grey, the range of those that are not outliers; black,",
                    "their median; in colour, each outlier (twice the median and 50 ms over it)",
                ],
            ),
        )

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
        envs = set(frame["env"])
        if len(envs) > LISTED:  # one row per rule and what it found, with the environments it found it in
            frame = group_rows(frame, "env", total=len(envs)).rename(columns={"env": "environments"})
        fired_style = theme.css(theme.BAD_FILL, theme.BAD_TEXT, theme.BOLD)
        return table(frame).map(lambda fired: fired_style if fired is True else "", subset=["fired"])
