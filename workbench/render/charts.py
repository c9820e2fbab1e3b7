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
import uuid
from typing import Any

import altair as alt
import pandas as pd
import vl_convert

from workbench.render.reportnames import RENDER_ENV_VAR
from workbench.render.theme import OUTCOME_COLOURS, SYMPTOM_COLOURS

RENDERER = "workbench"
LAB_MIMETYPE = "application/vnd.vegalite.v5+json"  # what JupyterLab 4 renders natively


def symptom_scale() -> alt.Scale:
    return alt.Scale(domain=list(SYMPTOM_COLOURS), range=list(SYMPTOM_COLOURS.values()))


def outcome_scale() -> alt.Scale:
    return alt.Scale(domain=list(OUTCOME_COLOURS), range=list(OUTCOME_COLOURS.values()))


def outcomes_chart(counts: pd.DataFrame) -> alt.Chart:
    """Results per environment stacked by symptom class (`none` is what passed). Input: `symptom_counts`."""
    chart: alt.Chart = (
        alt.Chart(counts, title="Outcomes by symptom class and environment")
        .mark_bar()
        .encode(
            x=alt.X("count:Q", title="probes"),
            y=alt.Y("env:N", title=None),
            color=alt.Color("symptom:N", scale=symptom_scale(), title="symptom class"),
            order=alt.Order("symptom:N"),
            tooltip=["env:N", "symptom:N", "outcome:N", "count:Q"],
        )
        .properties(width=520)
    )
    return chart


def latency_chart(latency: pd.DataFrame) -> alt.Chart:
    """Latency per probe, one bar per environment. Input: `latency_frame`."""
    chart: alt.Chart = (
        alt.Chart(latency, title="Latency per probe and environment")
        .mark_bar()
        .encode(
            x=alt.X("latency_ms:Q", title="latency (ms)"),
            y=alt.Y("probe:N", title=None),
            yOffset=alt.YOffset("env:N"),
            color=alt.Color("env:N", title="environment"),
            tooltip=["env:N", "probe:N", alt.Tooltip("latency_ms:Q", format=".1f"), "outcome:N"],
        )
        .properties(width=520)
    )
    return chart


def static_svg(spec: dict[str, Any]) -> str:
    """The chart as SVG, rendered in-process (no browser, no network)."""
    version = alt.SCHEMA_VERSION.lstrip("v").rsplit(".", 1)[0]
    return str(vl_convert.vegalite_to_svg(spec, vl_version=version))


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
