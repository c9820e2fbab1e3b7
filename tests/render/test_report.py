"""`workbench audit` end to end: papermill executes the notebook, the HTML is rendered and opened offline."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup

from tests.browser import dump_dom, measure
from tests.canary import canary_key
from tests.paths import REPO
from workbench import __version__
from workbench.render.reportnames import REPORT_NOTEBOOKS

ROOT = REPO
NOTEBOOKS = ROOT / "notebooks"
KEY_CANARY = canary_key("report")

pytestmark = pytest.mark.slow


REPORTS = ("contract_audit", "rollback_readiness", "symptom_trends", "drift_explorer")


@dataclass(frozen=True)
class Audit:
    workdir: Path
    done: subprocess.CompletedProcess[str]

    def path(self, report: str = "contract_audit", suffix: str = ".html") -> Path:
        (path,) = self.workdir.glob(f"reports/*/*-{report}{suffix}")
        return path

    @property
    def html(self) -> Path:
        return self.path()

    @property
    def notebook(self) -> Path:
        return self.path(suffix=".ipynb")


def copy_project_data(workdir: Path) -> None:
    """The repository's data/ (config, integration manifest, fixtures, bundles), without a history."""
    shutil.copytree(ROOT / "data", workdir / "data", ignore=shutil.ignore_patterns("*.sqlite*"))


def run_audit(
    workdir: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "workbench", "audit", "--notebooks", str(NOTEBOOKS), *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Audit]:
    """One real audit of the embedded default (plus a keyed environment, to prove no key leaks)."""
    workdir = tmp_path_factory.mktemp("audit")
    copy_project_data(workdir)
    config = (ROOT / "data" / "environments.toml").read_text()
    config += '\n[environments.keyed]\nbase_url = "embedded"\napi_key_env = "WB_CANARY_KEY"\n'
    (workdir / "data" / "environments.toml").write_text(config)
    yield Audit(workdir, run_audit(workdir, env={"WB_CANARY_KEY": KEY_CANARY}))


def test_audit_exits_1_and_prints_verdicts_readiness_and_paths(audit: Audit) -> None:
    assert audit.done.returncode == 1, audit.done.stderr
    out = audit.done.stdout
    assert "1 of 3 READY; 2 NOT READY" in out
    assert "reference: READY" in out and "reference-drifted: NOT READY: contract probes: " in out
    # the repository ships fixtures and a bundle for `reference` only: keyed's steps 5 and 7 block it
    assert (
        "keyed: NOT READY: step 5 not run (verify parser compatibility); "
        "step 7 not run (confirm rollback bundle)" in out
    )
    assert "not_run" not in out and "rollback-ready" not in out, "one verdict, in words"
    for report in REPORTS:
        assert f"report: {audit.path(report).relative_to(audit.workdir)}" in out
    assert "index:  reports/index.html" in out


def test_a_fresh_clone_audit_of_the_reference_alone_is_ready_and_exits_0(tmp_path: Path) -> None:
    copy_project_data(tmp_path)
    done = run_audit(tmp_path, "--env", "reference")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 of 1 READY" in done.stdout and "reference: READY" in done.stdout


def test_report_lands_in_a_dated_folder(audit: Audit) -> None:
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", audit.html.parent.name)
    assert re.fullmatch(r"\d{6}-contract_audit\.html", audit.html.name)
    assert audit.notebook.with_suffix(".html") == audit.html


def test_output_notebook_carries_parameters_but_no_secret(audit: Audit) -> None:
    notebook = nbformat.read(audit.notebook, as_version=4)
    parameters = notebook.metadata["papermill"]["parameters"]
    assert set(parameters) == {"run_id", "environments", "config_path", "store_url"}
    assert parameters["environments"] == ["reference", "reference-drifted", "keyed"]
    errors = [
        o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert not errors


def test_no_key_in_anything_the_audit_wrote_or_printed(audit: Audit) -> None:
    assert KEY_CANARY not in audit.done.stdout + audit.done.stderr
    for path in audit.workdir.rglob("*"):
        if path.is_file():
            assert KEY_CANARY.encode() not in path.read_bytes(), path


def test_html_has_no_code_and_no_external_resource(audit: Audit) -> None:
    soup = BeautifulSoup(audit.html.read_text(), "html.parser")
    assert not soup.select(".jp-CodeCell .jp-InputArea, .jp-InputPrompt, .jp-OutputPrompt, div.highlight")
    assert "import workbench" not in soup.get_text()
    for tag, attribute in (
        ("script", "src"),
        ("link", "href"),
        ("img", "src"),
        ("iframe", "src"),
        ("source", "src"),
        ("video", "src"),
        ("audio", "src"),
    ):
        for element in soup.find_all(tag):
            value = element.get(attribute)
            assert value is None or value.startswith("data:"), f"<{tag} {attribute}={value!r}>"
    for style in soup.find_all("style"):
        assert not re.search(r"@import|url\(\s*['\"]?(https?:)?//", style.get_text()), "external CSS resource"


def test_html_headline_gives_one_verdict_per_environment_worst_first(audit: Audit) -> None:
    soup = BeautifulSoup(audit.html.read_text(), "html.parser")
    assert "1 of 3 READY; 2 NOT READY" in soup.get_text()
    headline = [" ".join(item.get_text(" ").split()) for item in soup.find("ul").find_all("li")]
    assert [line.split(" : ")[0] for line in headline] == ["reference-drifted", "keyed", "reference"]
    assert headline[1] == (
        "keyed : NOT READY: step 5 not run (verify parser compatibility); "
        "step 7 not run (confirm rollback bundle)"
    )
    assert headline[2] == "reference : READY"


def test_html_shows_the_verdict_table(audit: Audit) -> None:
    soup = BeautifulSoup(audit.html.read_text(), "html.parser")
    headings = [h.get_text(strip=True) for h in soup.find_all(["h1", "h2"])]
    expected = ["Contract audit", "Verdict per environment", "Contract areas \u00d7 environments"]
    assert [heading.rstrip("¶") for heading in headings[:3]] == expected
    heading = soup.find(lambda tag: tag.name == "h2" and "Verdict per environment" in tag.get_text())
    table = heading.find_next("table")
    rows = {
        cells[0]: cells[1]
        for cells in ([td.get_text(strip=True) for td in tr.find_all("td")] for tr in table.find_all("tr"))
        if cells
    }
    assert rows == {"reference": "READY", "reference-drifted": "NOT READY", "keyed": "NOT READY"}
    for symptom in ("parser", "auth", "validation", "transport"):
        assert symptom in table.get_text()


def section_after(soup: BeautifulSoup, title: str) -> str:
    heading = soup.find(lambda tag: tag.name == "h2" and title in tag.get_text())
    assert heading is not None, f"no section {title!r}"
    texts = []
    for sibling in heading.find_all_next():
        if sibling.name == "h2":
            break
        texts.append(sibling.get_text(" ", strip=True))
    return " ".join(texts)


def test_html_shows_every_section_of_the_whole_contract(audit: Audit) -> None:
    soup = BeautifulSoup(audit.html.read_text(), "html.parser")
    headings = [h.get_text(strip=True).rstrip("\u00b6") for h in soup.find_all("h2")]
    assert headings == [
        "Verdict per environment",
        "Contract areas \u00d7 environments",
        "What your app uses",
        "Failures",
        "Symptom classes \u00d7 environments",
        "Outcomes by symptom class",
        "Streaming",
        "Parser robustness",
        "Drift",
        "Latency per probe",
        "What to do next",
        "Provenance",
    ]
    streaming = section_after(soup, "Streaming")
    assert "reference-drifted" in streaming and "chunks" in streaming and "first token (ms)" in streaming
    robustness = section_after(soup, "Parser robustness")
    assert "usage" in robustness and "removed" in robustness and "extracted" in robustness
    assert "choices[0].message.content" in robustness and "classified failure" in robustness
    crosstab = section_after(soup, "Symptom classes")
    for symptom in ("transport", "auth", "validation", "parser"):
        assert symptom in crosstab
    drift = section_after(soup, "Drift")
    assert "reference-drifted" in drift and "removed" in drift  # the drifted gateway lost fields


def test_html_charts_have_a_static_rendering(audit: Audit) -> None:
    soup = BeautifulSoup(audit.html.read_text(), "html.parser")
    charts = soup.select("div.wb-chart")
    assert len(charts) == 2
    for chart in charts:
        image = chart.select_one("img.wb-chart-static")
        assert image is not None and image["src"].startswith("data:image/svg+xml;base64,")


def test_reports_are_small_and_carry_vega_only_with_a_chart(audit: Audit) -> None:
    """Issue 13: ~1.2 MB per report (vega and JupyterLab's CSS in each), 4.9 MB an audit (observed)."""
    sizes = {report: audit.path(report).stat().st_size for report in REPORTS}
    assert sizes["rollback_readiness"] <= 200_000, sizes
    assert sum(sizes.values()) <= 2_000_000, sizes
    for report in REPORTS:
        text = audit.path(report).read_text()
        assert ('id="wb-vega-gz"' in text) == ('class="wb-chart"' in text), report
    assert 'class="wb-chart"' not in audit.path("rollback_readiness").read_text()


def test_index_lists_the_report_with_its_verdicts(audit: Audit) -> None:
    soup = BeautifulSoup((audit.workdir / "reports" / "index.html").read_text(), "html.parser")
    link = soup.find("a", href=re.compile(r"contract_audit\.html$"))
    assert link is not None and (audit.workdir / "reports" / link["href"]).exists()
    text = soup.get_text(" ")
    assert "1 of 3 READY; 2 NOT READY" in text
    assert "reference: READY" in text and "reference-drifted: NOT READY" in text


def test_a_real_browser_draws_the_charts_offline(audit: Audit) -> None:
    dom = dump_dom(audit.html)
    soup = BeautifulSoup(dom, "html.parser")
    drawn = soup.select("div.wb-chart svg.marks")
    assert len(drawn) == 2, "vega-embed did not draw the charts (offline, from the inlined bundle)"
    for svg in drawn:
        assert svg.select("path, rect"), "a chart with no marks"
    assert "Error loading script" not in soup.get_text()


def test_a_failing_notebook_keeps_its_output_and_names_the_cell(tmp_path: Path) -> None:
    broken = tmp_path / "notebooks"
    broken.mkdir()
    notebook = nbformat.read(NOTEBOOKS / "contract_audit.ipynb", as_version=4)
    notebook.cells.insert(3, nbformat.v4.new_code_cell("raise RuntimeError('deliberate failure')"))
    nbformat.write(notebook, broken / "contract_audit.ipynb")
    done = subprocess.run(
        [sys.executable, "-m", "workbench", "audit", "--env", "reference", "--notebooks", str(broken)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    match = re.search(r"cell (\d+) of (\S+) .*RuntimeError: deliberate failure", done.stderr)
    assert match, done.stderr
    (output,) = tmp_path.glob("reports/*/*-contract_audit.ipynb")
    assert match.group(2) == str(output.relative_to(tmp_path))
    failed_cell = nbformat.read(output, as_version=4).cells[int(match.group(1))]
    assert "deliberate failure" in failed_cell.source and failed_cell.outputs[0].output_type == "error"
    manifest = json.loads(next(tmp_path.glob("reports/*/*-audit.json")).read_text())
    assert manifest["status"] == "failed" and manifest["reports"][0]["error"]
    assert "failed" in (tmp_path / "reports" / "index.html").read_text()


def test_the_notebook_runs_top_to_bottom_with_its_defaults(tmp_path: Path) -> None:
    """As in JupyterLab: no parameters injected, so it probes the embedded default itself."""
    import papermill

    from workbench.render.notebooks import ensure_kernel

    output = tmp_path / "out.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOKS / "contract_audit.ipynb"),
        str(output),
        kernel_name=ensure_kernel(),
        cwd=str(tmp_path),
        progress_bar=False,
    )
    text = output.read_text()
    assert "**reference-drifted**: NOT READY: contract probes" in text
    assert (tmp_path / "data" / "history.sqlite").exists()


def test_the_project_kernel_is_registered() -> None:
    listed = subprocess.run(
        [str(Path(sys.executable).parent / "jupyter"), "kernelspec", "list", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    specs = json.loads(listed.stdout)["kernelspecs"]
    assert "contract-workbench" in specs
    assert specs["contract-workbench"]["spec"]["argv"][0] == sys.executable


@pytest.mark.parametrize("report", REPORTS)
def test_every_report_executed_without_error_and_is_offline(audit: Audit, report: str) -> None:
    notebook = nbformat.read(audit.path(report, ".ipynb"), as_version=4)
    errors = [
        o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert not errors
    assert "papermill" in notebook.metadata
    soup = BeautifulSoup(audit.path(report).read_text(), "html.parser")
    assert not soup.select(".jp-CodeCell .jp-InputArea, .jp-InputPrompt, div.highlight")
    for element in soup.find_all(["script", "img", "link", "iframe"]):
        value = element.get("src") or element.get("href")
        assert value is None or value.startswith("data:"), f"{report}: {element.name} {value!r}"


def test_readiness_report_shows_the_sequence_bundle_and_confirmations(audit: Audit) -> None:
    soup = BeautifulSoup(audit.path("rollback_readiness").read_text(), "html.parser")
    sequence = section_after(soup, "The validation sequence")
    for step in (
        "1. Read the current API page",
        "5. Verify parser compatibility",
        "10. Rollback and re-probe",
    ):
        assert step in sequence
    assert "not run" in sequence and "fails" in sequence  # in words (issue 22): never `not_run`
    assert "not_run" not in sequence and "needs_operator" not in sequence
    bundle = section_after(soup, "Rollback bundle")
    assert "reference/2026.11.0" in bundle and "prompt_template" in bundle and "sha256" in bundle
    assert "Operator confirmations" in soup.get_text()


def test_trends_report_charts_aggregates_and_lists_the_rules(audit: Audit) -> None:
    soup = BeautifulSoup(audit.path("symptom_trends").read_text(), "html.parser")
    assert len(soup.select("div.wb-chart")) == 3
    rules = section_after(soup, "Trigger rules")
    assert "parser-consecutive" in rules and "transport-rate" in rules


@pytest.mark.parametrize("report", REPORTS)
def test_every_report_draws_its_charts_in_a_real_browser_offline(audit: Audit, report: str) -> None:
    soup = BeautifulSoup(audit.path(report).read_text(), "html.parser")
    expected = len(soup.select("div.wb-chart"))
    drawn = BeautifulSoup(dump_dom(audit.path(report)), "html.parser").select("div.wb-chart svg.marks")
    assert len(drawn) == expected
    assert all(svg.select("path, rect, line") for svg in drawn)


RAW = ("True", "False", "None", "nan", "NaN", "<NA>", "NaT")


@pytest.mark.parametrize("width", [800, 1400])
@pytest.mark.parametrize("report", REPORTS)
def test_a_reviewer_sees_the_title_the_header_and_tables_that_fit(
    audit: Audit, report: str, width: int
) -> None:
    """Issue 13, as a reviewer saw it from screenshots at 800 and 1400 px: every tab titled "Notebook",
    no header, `True`/`False` and a 0..N index column shown, the Failures table cut at 800 px.
    Measured by Chromium's layout (tests/measure.js): a table overflows when it reaches past the page's
    content or its own container (which would then scroll or clip it)."""
    page = audit.path(report)
    seen = measure(page, width)
    title = dict((name, title) for name, title, _ in REPORT_NOTEBOOKS)[report]
    assert seen["title"] == f"{title} \u2014 reference, reference-drifted, keyed \u2014 {page.parent.name}"
    run_id = json.loads(next(page.parent.glob("*-audit.json")).read_text())["run_id"]
    header = seen["header"]
    for shown in (title, run_id, "UTC", page.parent.name, "environments.toml", __version__):
        assert shown in header, f"{shown!r} not in the header of {report}: {header!r}"
    assert seen["pageOverflow"] <= 0
    assert seen["tables"]
    cut = [(table["heading"], round(table["overflow"])) for table in seen["tables"] if table["overflow"] > 1]
    assert not cut, f"{report} at {width} px: tables wider than the page: {cut}"
    raw = [(table["heading"], cell) for table in seen["tables"] for cell in table["cells"] if cell in RAW]
    assert not raw, f"{report}: Python values shown: {raw}"
    numbered = [
        table["heading"]
        for table in seen["tables"]
        if table["firsts"] and table["firsts"] == [str(n) for n in range(len(table["firsts"]))]
    ]
    assert not numbered, f"{report}: a 0..N index column in {numbered}"
    assert all(chart["drawn"] for chart in seen["charts"]), f"{report}: a chart was not drawn"
    assert all(chart["overflow"] <= 1 for chart in seen["charts"]), f"{report}: a chart wider than the page"


@pytest.mark.parametrize("report", REPORTS)
def test_no_report_mentions_parameters_its_reader_cannot_see(audit: Audit, report: str) -> None:
    """Issue 13: the drift explorer said "Set the parameters below and run all" (and "Change the
    parameters (`run_a`, ...)") in HTML, where the parameters cell is never shown."""
    soup = BeautifulSoup(audit.path(report).read_text(), "html.parser")
    for hidden in soup(["script", "style"]):
        hidden.decompose()
    text = soup.get_text(" ")
    for phrase in ("parameters below", "run all", "Change the parameters", "run_a", "env_b", "since_days"):
        assert phrase not in text, f"{report} mentions {phrase!r}"


@pytest.mark.parametrize("report", REPORTS)
def test_every_report_names_whose_evidence_it_shows_and_that_the_name_was_derived(
    audit: Audit, report: str
) -> None:
    """Issue 20: a report on a shared store must say whose evidence it is; this project sets no
    `[workbench] project`, so its name is the project folder's, and the header says so."""
    soup = BeautifulSoup(audit.path(report).read_text(), "html.parser")
    header = soup.select_one("header.wb-header")
    assert header is not None
    items = {dt.get_text(): dd.get_text() for dt, dd in zip(header("dt"), header("dd"), strict=True)}
    assert items["project"].startswith(f"{audit.workdir.name} (derived from the project folder's name")
    if report == "contract_audit":
        assert f"project {audit.workdir.name} (derived" in section_after(soup, "Provenance").replace(
            "\n", " "
        )
