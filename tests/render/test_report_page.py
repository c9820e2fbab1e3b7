"""The HTML page a report becomes (nbconvert in-process, no kernel): its title, header, stylesheet and
whether it carries vega. Issue 13: every page was titled "Notebook" and carried ~0.9 MB of vega and
~0.26 MB of JupyterLab CSS, even a page without a chart (observed on the code before: a
rollback_readiness page of 1,186,582 bytes; the lab template's `<title>` falls back to the resource
name nbconvert gives a node without one, "Notebook").
"""

from __future__ import annotations

import base64
import gzip
from datetime import UTC, datetime
from pathlib import Path

import altair as alt
import nbformat
import pandas as pd
from bs4 import BeautifulSoup

from workbench.render.charts import render_html
from workbench.render.notebooks import ReportHeader, export_html, vega_bundle, vega_bundle_gz

DERIVED = "team-<i>a</i> (derived from the project folder's name; set [workbench] project to name it)"
HEADER = ReportHeader(
    "Rollback readiness",
    ("reference", "staging<script>"),
    datetime(2026, 12, 2, 10, 39, 20, tzinfo=UTC),
    "20261202T103920Z-abc",
    "data/<b>environments</b>.toml",
    "0.1.0",
    DERIVED,
)


def notebook(tmp_path: Path, *, chart: bool) -> Path:
    cells = [nbformat.v4.new_markdown_cell("# Rollback readiness\n\nText.")]
    output: dict[str, str] = {"text/html": "<p>a table</p>", "text/plain": "table"}
    if chart:
        spec = alt.Chart(pd.DataFrame({"x": [1, 2]})).mark_bar().encode(x="x:Q").to_dict()
        output = {"text/html": render_html(spec), "text/plain": "<chart>"}
    cell = nbformat.v4.new_code_cell("view()")
    cell.outputs = [nbformat.v4.new_output("execute_result", data=output, execution_count=1)]
    cells.append(cell)
    node = nbformat.v4.new_notebook(cells=cells)
    path = tmp_path / "report.ipynb"
    nbformat.write(node, path)
    return path


def test_a_page_without_a_chart_carries_no_vega_and_stays_small(tmp_path: Path) -> None:
    page = export_html(notebook(tmp_path, chart=False), tmp_path / "r.html", HEADER)
    text = page.read_text()
    assert "wb-vega-gz" not in text and "vegaEmbed" not in text
    assert "jp-ThemeVariables" not in text and "--jp-" not in text  # no JupyterLab theme
    assert page.stat().st_size < 30_000


def test_a_page_with_a_chart_carries_vega_once_compressed(tmp_path: Path) -> None:
    text = export_html(notebook(tmp_path, chart=True), tmp_path / "r.html", HEADER).read_text()
    soup = BeautifulSoup(text, "html.parser")
    (packed,) = soup.select("script#wb-vega-gz")
    assert gzip.decompress(base64.b64decode(packed.get_text())).decode() == vega_bundle()
    assert len(vega_bundle_gz()) < len(vega_bundle()) / 2
    assert soup.select("script.wb-chart-spec") and soup.select("img.wb-chart-static")


def test_title_and_header_name_the_report_environments_date_run_config_and_version(tmp_path: Path) -> None:
    page = export_html(notebook(tmp_path, chart=False), tmp_path / "r.html", HEADER)
    soup = BeautifulSoup(page.read_text(), "html.parser")
    assert soup.title is not None
    assert soup.title.get_text() == "Rollback readiness \u2014 reference, staging<script> \u2014 2026-12-02"
    header = soup.select_one("header.wb-header")
    assert header is not None
    items = {
        dt.get_text(): dd.get_text()
        for dt, dd in zip(header.find_all("dt"), header.find_all("dd"), strict=True)
    }
    assert items == {
        "date": "2026-12-02 10:39:20 UTC",
        "project": DERIVED,
        "environments": "reference, staging<script>",
        "run": "20261202T103920Z-abc",
        "config": "data/<b>environments</b>.toml",
        "contract-workbench": "0.1.0",
    }
    assert not header.select("script, b")  # text from configuration stays text
