"""Charts (altair) and the renderers that make them work offline and without JavaScript.

altair's default renderers load vega from a CDN, and its mimetype output fails nbformat
validation. Two renderers instead, chosen by `enable_renderer`:

- reports (`WORKBENCH_RENDER=report`, set by `workbench audit` for the kernel): one `text/html`
  block, a static SVG rendered in the kernel by vl-convert (shown in e-mail, print, untrusted
  JupyterLab) plus the spec as inert JSON, which the report page's loader draws as the interactive
  vega-embed view (the report template inlines vega, compressed, once per page with a chart);
- JupyterLab: the Vega-Lite v5 mimetype JupyterLab renders interactively, with the static SVG
  beside it for anything that cannot.

Charts are built from pre-aggregated frames, never raw history.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import uuid
from typing import Any

import altair as alt
import pandas as pd
import vl_convert

from workbench.render.frames import latency_outliers
from workbench.render.reportnames import RENDER_ENV_VAR
from workbench.render.theme import (
    ENVIRONMENT_COLOURS,
    OUTCOME_COLOURS,
    REST_COLOUR,
    RESULT_COLOURS,
    SYMPTOM_COLOURS,
)
from workbench.rollback.headline import LISTED

RENDERER = "workbench"
LAB_MIMETYPE = "application/vnd.vegalite.v5+json"  # what JupyterLab 4 renders natively


def symptom_scale() -> alt.Scale:
    return alt.Scale(domain=list(SYMPTOM_COLOURS), range=list(SYMPTOM_COLOURS.values()))


def outcome_scale() -> alt.Scale:
    return alt.Scale(domain=list(OUTCOME_COLOURS), range=list(OUTCOME_COLOURS.values()))


def result_scale(results: list[str] | None = None) -> alt.Scale:
    """Passes green, skipped grey, needs an operator amber, could not run dark grey, failures by
    symptom class (`theme.RESULT_COLOURS`); `results`: only these, in that order (a shorter legend)."""
    domain = list(RESULT_COLOURS) if results is None else results
    return alt.Scale(domain=domain, range=[RESULT_COLOURS.get(result, REST_COLOUR) for result in domain])


def environment_scale(envs: list[str]) -> alt.Scale:
    """A distinct colour for each of `envs` (at most `len(ENVIRONMENT_COLOURS)`): never one colour
    for two environments."""
    if len(envs) > len(ENVIRONMENT_COLOURS):
        raise ValueError(f"{len(envs)} environments, {len(ENVIRONMENT_COLOURS)} distinct colours")
    return alt.Scale(domain=envs, range=list(ENVIRONMENT_COLOURS[: len(envs)]))


def milliseconds_axis(title: str = "latency (ms)") -> alt.Axis:
    """A latency axis with a few round ticks, thousands separated: never `380400` (labels of a
    dense axis run together)."""
    return alt.Axis(title=title, tickCount=5, format=",.0f", labelOverlap=True)


def outcomes_chart(counts: pd.DataFrame) -> alt.Chart:
    """Probes per environment (or group of environments alike), stacked by result: skipped grey,
    never green like a pass; failures by symptom class. Input: `outcome_counts`, worst first."""
    order = list(RESULT_COLOURS)
    data = counts.assign(rank=[order.index(r) if r in order else len(order) for r in counts["result"]])
    shown = [result for result in order if result in set(counts["result"])]  # a legend of what is there
    chart: alt.Chart = (
        alt.Chart(data, title="Outcomes by symptom class and environment")
        .mark_bar()
        .encode(
            x=alt.X("count:Q", title="probes", axis=alt.Axis(tickMinStep=1, format="d")),
            y=alt.Y("environment:N", title=None, sort=list(dict.fromkeys(counts["environment"]))),
            color=alt.Color("result:N", scale=result_scale(shown), title="result (failures by class)"),
            order=alt.Order("rank:Q"),
            tooltip=["environment:N", "result:N", "count:Q"],
        )
        .properties(width=520)
    )
    return chart


def latency_chart(latency: pd.DataFrame, *, listed: int = LISTED) -> alt.Chart | alt.LayerChart:
    """Latency per probe. Up to `listed` environments, a bar each in its own colour; past it, the
    environments that are not outliers as one grey range with a median tick per probe, and each
    outlier named in its own colour (`frames.latency_outliers`). Input: `latency_frame`."""
    envs = list(dict.fromkeys(latency["env"]))
    probes = list(dict.fromkeys(latency["probe"]))
    y = alt.Y("probe:N", title=None, sort=probes)
    if len(envs) <= listed:
        chart: alt.Chart = (
            alt.Chart(latency, title="Latency per probe and environment")
            .mark_bar()
            .encode(
                x=alt.X("latency_ms:Q", axis=milliseconds_axis()),
                y=y,
                yOffset=alt.YOffset("env:N", sort=envs),
                color=alt.Color("env:N", title="environment", scale=environment_scale(envs)),
                tooltip=["env:N", "probe:N", alt.Tooltip("latency_ms:Q", format=".1f"), "outcome:N"],
            )
            .properties(width=520)
        )
        return chart
    spread, outliers = latency_outliers(latency)
    named = list(dict.fromkeys(outliers["env"]))[: len(ENVIRONMENT_COLOURS)]
    outliers = outliers[outliers["env"].isin(named)]
    x = alt.X("low:Q", axis=milliseconds_axis())
    rest = alt.Chart(spread).encode(
        y=y,
        tooltip=[
            "probe:N",
            alt.Tooltip("environments:Q", title="environments"),
            alt.Tooltip("low:Q", format=".0f"),
            alt.Tooltip("median:Q", format=".0f"),
            alt.Tooltip("high:Q", format=".0f"),
        ],
    )
    ranges = rest.mark_bar(color=REST_COLOUR, opacity=0.45, height=10).encode(x=x, x2="high:Q")
    medians = rest.mark_tick(color="#222", thickness=2, size=14).encode(x=alt.X("median:Q"))
    points = alt.Chart(outliers).encode(
        x=alt.X("latency_ms:Q"),
        y=y,
        tooltip=["env:N", "probe:N", alt.Tooltip("latency_ms:Q", format=".0f"), "outcome:N"],
    )
    marks = points.mark_point(filled=True, size=70, opacity=1).encode(
        color=alt.Color("env:N", title="outliers", scale=environment_scale(named))
    )
    labels = points.mark_text(align="left", dx=7, fontSize=10).encode(text="env:N")
    return alt.LayerChart(
        layer=[ranges, medians, *((marks, labels) if named else ())],
        width=520,
        title=alt.TitleParams(
            "Latency per probe",
            subtitle=[
                f"{len(envs)} environments: grey, the range of those that are not outliers; black, their",
                "median; named, each outlier (twice the probe's median and 50 ms over it)",
            ],
        ),
    )


# What vega writes for its live, interactive view and a static image never uses: ARIA roles and labels
# (an <img> exposes its alt text, not its content), pointer events and class names (no stylesheet in
# it refers to them). Without them a chart's image is about half the bytes (a 76 KB chart of sixty
# environments' rates is 32 KB), in the HTML and in the executed notebook alike.
_LIVE_ONLY = re.compile(r' (?:role|aria-[a-z]+|pointer-events|class)="[^"]*"')


def static_svg(spec: dict[str, Any]) -> str:
    """The chart as SVG, rendered in-process (no browser, no network), without what only the live
    view uses (`_LIVE_ONLY`)."""
    version = alt.SCHEMA_VERSION.lstrip("v").rsplit(".", 1)[0]
    svg = str(vl_convert.vegalite_to_svg(spec, vl_version=version))
    head, _, body = svg.partition(">")  # the root keeps its class ("marks"), as vega drew it
    return head + ">" + _LIVE_ONLY.sub("", body)


def script_json(value: Any) -> str:
    """`value` as JSON safe inside an inline <script>: no `<`, `>` or `&` at all (so neither `</script>`
    nor `<!--` in a label from elsewhere can end or bend the script element), the same value to JavaScript.
    """
    text = json.dumps(value, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_html(spec: dict[str, Any]) -> str:
    """Static image plus the spec as inert JSON: the `text/html` block the renderer emits.

    No script runs here: the report page's loader (nbconvert template) unpacks vega once and draws
    every `script.wb-chart-spec` into its chart, hiding the image; without JavaScript, or in a page
    without vega, the image stays.
    """
    chart_id = f"wb-chart-{uuid.uuid4().hex[:12]}"
    svg = base64.b64encode(static_svg(spec).encode("utf-8")).decode("ascii")
    title = spec.get("title")
    if isinstance(title, dict):
        title = title.get("text")
    alt_text = html.escape(title if isinstance(title, str) else "chart", quote=True)
    return (
        f'<div class="wb-chart" id="{chart_id}"><div class="wb-chart-live"></div>'
        f'<img class="wb-chart-static" alt="{alt_text}" src="data:image/svg+xml;base64,{svg}"></div>'
        f'<script type="application/json" class="wb-chart-spec" data-chart="{chart_id}">'
        f"{script_json(spec)}</script>"
    )


def _report_renderer(spec: dict[str, Any], **_metadata: Any) -> dict[str, Any]:
    return {"text/html": render_html(spec), "text/plain": "<chart: static SVG with interactive upgrade>"}


def _lab_renderer(spec: dict[str, Any], **_metadata: Any) -> dict[str, Any]:
    lab_spec = {**spec, "$schema": "https://vega.github.io/schema/vega-lite/v5.json"}
    return {LAB_MIMETYPE: lab_spec, "image/svg+xml": static_svg(spec), "text/plain": "<chart>"}


def enable_renderer(mode: str | None = None) -> str:
    """Make altair emit offline charts: "report" for exported HTML, "lab" for JupyterLab (the default)."""
    chosen = mode or os.environ.get(RENDER_ENV_VAR) or "lab"
    name = f"{RENDERER}-{chosen}"
    if name not in alt.renderers.names():
        alt.renderers.register(name, _report_renderer if chosen == "report" else _lab_renderer)
    alt.renderers.enable(name)
    return chosen
