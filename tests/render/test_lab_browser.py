"""JupyterLab in a real browser: the report notebooks run from the UI, as a person runs them after `make lab`.

JupyterLab serves a copy of the project (the notebooks write data/history.sqlite) on loopback with a
token and the project kernel; Debian's Chromium, driven by Playwright, opens `contract_audit.ipynb`
and then `drift_explorer.ipynb`, edits the parameters cell, runs all cells from the Run menu and
checks what a person would see: no error output, every chart drawn, and the latency chart's legend
isolating one side as the notebook says. Everything started here is stopped here, kernels included.

How JupyterLab 4.6's DOM was observed (a scratch server and Playwright, screenshots viewed):
- The kernel is ready when the status bar reads "Contract Workbench | Idle". Running cells before that
  (while it reads "Connecting") opens a "Select Kernel" dialog instead of running them.
- Run > Run All Cells: each code cell's `.jp-InputPrompt` goes "[ ]:" -> "[*]:" -> "[n]:". After an
  error the rest go back to "[ ]:" (Run All stops). Cells outside the viewport have
  `content-visibility: auto`: their `innerText` is empty, so prompts are read with `textContent`.
  With a workspace holding several notebooks each panel has its own `.jp-Notebook-ExecutionIndicator`;
  the hidden panels carry `lm-mod-hidden`, so every selector is scoped to the visible panel.
- Output on stderr and tracebacks both render as
  `.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]` (observed with
  `print(..., file=sys.stderr)` and `1/0`).
- Charts (`application/vnd.vegalite.v5+json`) render in `.jp-RenderedVegaLite` (no data-mime-type
  attribute) as vega-embed with the canvas renderer: `<canvas class="marks">`; the only `<svg>` inside
  is the actions menu's icon. Marks are therefore counted as pixels of the canvas (getImageData).
- The drift explorer's latency chart, before a click: bars of side A in #4c78a8, side B in #f58518,
  each legend symbol a 10x10 square right of the plot. A click on A's legend symbol left every
  #4c78a8 pixel in place and no #f58518 pixel (B drawn at opacity 0.2): "click a legend entry to
  isolate one side", as the notebook says.
- The news pop-up ("Would you like to get notified about official Jupyter news?") appeared a few
  seconds after load with default settings; a user settings file with `fetchNews: "false"` turns it off.
- Every request of the page went to the JupyterLab server on 127.0.0.1 (JupyterLab serves its assets).

Each check was seen failing before it was trusted: with the default news setting (the pop-up's text
in the failure), with the legend binding removed from the drift explorer ("the other side is not
faded"), with a warning in an audit cell (its stderr output), and without chromium under
WORKBENCH_REQUIRE_BROWSER=1 (a failure; a skip without it).

Measured on this 2-core machine with other test runs beside it (load 5-6): 48-75 s for the whole test,
of which set-up (JupyterLab answering) ~5 s, teardown (kernels and server stopped) ~3-4 s, and in the
browser 39-55 s: loading JupyterLab ~7 s per notebook, the audit's kernel start, imports and probes.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.browser import chromium, loopback_page, pids_mentioning, require_playwright
from tests.paths import REPO

pytestmark = [pytest.mark.slow, pytest.mark.third_party, pytest.mark.timeout(600)]

PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
STDERR = '.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]'
NEWS = "Jupyter news"


@dataclass(frozen=True)
class Lab:
    url: str
    token: str
    project: Path
    log: Path
    runtime: Path  # kernels' connection files: finds the kernels this server started


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str, token: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return int(response.status)


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lab]:
    """`make lab` on a copy of the project: the project kernel, a token, loopback, no news pop-up."""
    from workbench.render.notebooks import KERNEL_NAME, ensure_kernel

    chromium()  # the browser's absence skips (fails in CI) before anything starts
    require_playwright()
    project = tmp_path / "project"
    shutil.copytree(REPO / "notebooks", project / "notebooks")
    shutil.copytree(REPO / "data", project / "data", ignore=shutil.ignore_patterns("history.sqlite*"))
    jupyter = tmp_path / "jupyter"
    for name in ("config", "data", "runtime"):  # nothing of the developer's ~/.jupyter, nothing left there
        monkeypatch.setenv(f"JUPYTER_{name.upper()}_DIR", str(jupyter / name))
    assert ensure_kernel() == KERNEL_NAME  # what `make lab` relies on (`workbench kernel`)
    settings = jupyter / "settings"
    news = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))

    token, port = secrets.token_hex(24), _free_port()
    command = [
        str(Path(sys.executable).with_name("jupyter")),
        "lab",
        "--notebook-dir=notebooks",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={jupyter / 'workspaces'}",
    ]
    if os.getuid() == 0:
        command.append("--allow-root")
    # The kernel imports this checkout's workbench, and keeps its IPython history out of ~/.ipython.
    env = {**os.environ, "PYTHONPATH": str(REPO), "IPYTHONDIR": str(jupyter / "ipython")}
    env.pop("WORKBENCH_RENDER", None)  # the lab renderer, as in `make lab`
    log = tmp_path / "lab.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(
            command, cwd=project, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, f"JupyterLab exited: {log.read_text()[-3000:]}"
            try:
                if _get(f"{url}/api/status", token) == 200:
                    break
            except (OSError, urllib.error.URLError):
                pass
            assert time.monotonic() < deadline, f"JupyterLab did not answer: {log.read_text()[-3000:]}"
            time.sleep(0.25)
        yield Lab(url, token, project, log, jupyter / "runtime")
    finally:
        # Kernels first (the server's shutdown stops them), then the server and its process group.
        # Observed: with the server killed (SIGKILL) its kernels still exited within the wait below
        # (ipykernel leaves when orphaned), so what is killed here is a kernel that hangs.
        kernels = pids_mentioning(str(jupyter / "runtime"))
        try:
            request = urllib.request.Request(
                f"{url}/api/shutdown", method="POST", headers={"Authorization": f"token {token}"}
            )
            urllib.request.urlopen(request, timeout=10).close()
            server.wait(timeout=30)
        except (OSError, urllib.error.URLError, subprocess.TimeoutExpired):
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        deadline = time.monotonic() + 10
        while (left := [pid for pid in pids_mentioning(str(jupyter / "runtime")) if pid in kernels]) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.1)
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):  # anything else the server started in its group
            os.killpg(server.pid, signal.SIGKILL)
        assert not left, f"kernels outlived JupyterLab's shutdown: {left}"


# The pixels of a canvas, counted in JavaScript (a 790x519 canvas is 1.6 MB of RGBA).
_SATURATED = """(canvas) => {
  const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const counts = {};
  for (let i = 0; i < d.length; i += 4) {
    const spread = Math.max(d[i], d[i + 1], d[i + 2]) - Math.min(d[i], d[i + 1], d[i + 2]);
    if (d[i + 3] !== 255 || spread < 60) continue;
    const key = [d[i], d[i + 1], d[i + 2]].join(',');
    counts[key] = (counts[key] || 0) + 1;
  }
  return counts;
}"""
# Where one colour is, by column: [x, count, min y, max y] for each column holding it.
_COLUMNS = """(canvas, rgb) => {
  const {width, height} = canvas;
  const d = canvas.getContext('2d').getImageData(0, 0, width, height).data;
  const columns = new Map();
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    const i = (y * width + x) * 4;
    if (d[i] !== rgb[0] || d[i + 1] !== rgb[1] || d[i + 2] !== rgb[2] || d[i + 3] !== 255) continue;
    const c = columns.get(x) || [x, 0, y, y];
    c[1] += 1; c[2] = Math.min(c[2], y); c[3] = Math.max(c[3], y);
    columns.set(x, c);
  }
  return Array.from(columns.values()).sort((a, b) => a[0] - b[0]);
}"""


def _open(page: Any, lab: Lab, notebook: str) -> None:
    """Open `notebook` alone (`?reset`: a fresh workspace) and wait for its kernel, the project's."""
    page.goto(f"{lab.url}/lab/tree/{notebook}?reset&token={lab.token}")
    page.wait_for_selector(f"{PANEL} .jp-CodeCell", timeout=90_000)
    page.wait_for_selector(
        ".jp-StatusBar-TextItem:text-matches('Contract Workbench \\\\| Idle')", timeout=90_000
    )


def _edit_parameters(page: Any, line: str) -> None:
    """Type `line` at the end of the parameters cell (the first code cell), as a person would."""
    editor = page.locator(f"{PANEL} .jp-CodeCell").first.locator(".cm-content")
    assert editor.get_attribute("contenteditable") == "true"
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.press("Enter")
    page.keyboard.insert_text(line)
    page.keyboard.press("Escape")
    assert line in editor.text_content(), "the parameters cell did not take the edit"


def _run_all(page: Any) -> list[str]:
    """Run > Run All Cells; wait until nothing is pending and something ran; the prompts."""
    page.click(".lm-MenuBar-itemLabel:text-is('Run')")
    page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
    page.wait_for_function(
        """(panel) => {
          const prompts = Array.from(document.querySelectorAll(panel + ' .jp-CodeCell .jp-InputPrompt'))
            .map((e) => e.textContent.trim());
          const status = document.querySelector(panel + ' .jp-Notebook-ExecutionIndicator');
          return prompts.some((p) => /^\\[\\d+\\]:$/.test(p)) && !prompts.some((p) => p.includes('*'))
            && status && status.dataset.status === 'idle';
        }""",
        arg=PANEL,
        timeout=300_000,
    )
    return [p.strip() for p in page.locator(f"{PANEL} .jp-CodeCell .jp-InputPrompt").all_text_contents()]


def _check_ran_cleanly(page: Any, notebook: str, prompts: list[str]) -> None:
    errors = page.locator(f"{PANEL} {STDERR}").all_text_contents()
    assert not errors, f"{notebook}: error output:\n" + "\n---\n".join(e[-1500:] for e in errors)
    assert all(re.fullmatch(r"\[\d+\]:", p) for p in prompts), f"{notebook}: not every cell ran: {prompts}"
    toasts = page.locator(".Toastify__toast").all_text_contents()
    assert not [t for t in toasts if NEWS in t], f"the news pop-up is on: {toasts}"


def _charts_drawn(page: Any, notebook: str) -> list[Any]:
    """Every chart cell of the notebook has a Vega view in its output with marks drawn."""
    source = json.loads((REPO / "notebooks" / notebook).read_text())
    expected = sum(
        1 for cell in source["cells"] if cell["cell_type"] == "code" and "_chart()" in "".join(cell["source"])
    )
    views = page.locator(f"{PANEL} .jp-OutputArea-output.jp-RenderedVegaLite")
    assert views.count() == expected > 0, f"{notebook}: {views.count()} charts rendered, {expected} expected"
    canvases = []
    for index in range(expected):
        view = views.nth(index)
        view.scroll_into_view_if_needed()
        svg_marks = view.locator("svg.marks path, svg.marks rect").count()
        if svg_marks:  # vega's SVG renderer
            continue
        canvas = view.locator("canvas.marks")
        assert canvas.count() == 1, f"{notebook}: chart {index} has neither SVG nor canvas marks"
        coloured = sum(canvas.evaluate(_SATURATED).values())
        assert coloured > 500, f"{notebook}: chart {index} drew {coloured} coloured pixels"
        canvases.append(canvas)
    return canvases


def _side(canvas: Any, rgb: list[int]) -> tuple[int, int, tuple[float, float]]:
    """Pixels of one side's colour in the plot, where its legend symbol starts, and the symbol's centre:
    the legend symbol is the rightmost run of columns holding the colour."""
    columns = canvas.evaluate(_COLUMNS, rgb)
    assert columns, f"no pixel of colour {rgb}"
    first = len(columns) - 1
    while first > 0 and columns[first][0] - columns[first - 1][0] <= 1:
        first -= 1
    symbol = columns[first:]
    assert len(symbol) < 30, f"no legend symbol of colour {rgb} right of the bars"
    top, bottom = min(c[2] for c in symbol), max(c[3] for c in symbol)
    centre = ((symbol[0][0] + symbol[-1][0]) / 2, (top + bottom) / 2)
    in_plot = sum(c[1] for c in columns[:first])
    return in_plot, symbol[0][0], centre


def _plot_pixels(canvas: Any, rgb: list[int], legend_x: int) -> int:
    return sum(c[1] for c in canvas.evaluate(_COLUMNS, rgb) if c[0] < legend_x - 5)


def _state(path: Path) -> tuple[int, int] | None:
    return (path.stat().st_mtime_ns, path.stat().st_size) if path.exists() else None


def test_report_notebooks_run_in_jupyterlab(lab: Lab) -> None:
    started = time.monotonic()
    repository_history = REPO / "data" / "history.sqlite"
    untouched = _state(repository_history)
    requests: list[str] = []
    with loopback_page() as page:
        page.on("request", lambda request: requests.append(request.url))

        # The audit probes the embedded reference endpoints (no key) and stores the run the explorer reads.
        _open(page, lab, "contract_audit.ipynb")
        _edit_parameters(page, 'config_path = "data/environments.toml"  # typed in the browser')
        prompts = _run_all(page)
        _check_ran_cleanly(page, "contract_audit.ipynb", prompts)
        headline = page.locator(f"{PANEL} .jp-OutputArea-output").first.text_content()
        assert "reference-drifted: NOT READY: contract probes" in headline, headline
        _charts_drawn(page, "contract_audit.ipynb")
        assert (lab.project / "data" / "history.sqlite").is_file()  # the copy's, never the repository's
        assert _state(repository_history) == untouched

        # The explorer, with sides chosen in the parameters cell: the edit must reach the kernel.
        _open(page, lab, "drift_explorer.ipynb")
        _edit_parameters(page, 'env_a, env_b = "reference-drifted", "reference"  # typed in the browser')
        prompts = _run_all(page)
        _check_ran_cleanly(page, "drift_explorer.ipynb", prompts)
        overview = page.locator(f"{PANEL} .jp-OutputArea-output").first.text_content()
        assert "A: reference-drifted in run" in overview and "B: reference in run" in overview, overview
        (latency,) = _charts_drawn(page, "drift_explorer.ipynb")

        # The two sides' colours: the two most frequent saturated colours (bars and legend symbols).
        colours = sorted(latency.evaluate(_SATURATED).items(), key=lambda item: -item[1])[:2]
        sides = [[int(v) for v in key.split(",")] for key, _ in colours]
        measured = {tuple(rgb): _side(latency, rgb) for rgb in sides}
        sides.sort(key=lambda rgb: measured[tuple(rgb)][2][1])  # legend order: A above B
        a, b = sides
        legend_x = min(m[1] for m in measured.values())
        before = {tuple(rgb): _plot_pixels(latency, rgb, legend_x) for rgb in sides}
        assert all(before.values()), f"a side without bars: {before}"

        for keep, fade in ((a, b), (b, a)):
            latency.click(position=dict(zip("xy", measured[tuple(keep)][2], strict=True)))
            page.wait_for_timeout(500)  # vega re-renders on the next animation frame
            kept, faded = _plot_pixels(latency, keep, legend_x), _plot_pixels(latency, fade, legend_x)
            assert kept == before[tuple(keep)], f"the clicked side changed: {kept} of {before[tuple(keep)]}"
            assert faded < 0.02 * before[tuple(fade)], f"the other side is not faded: {faded} pixels left"

    # Each notebook kept its kernel (JupyterLab does not stop one when another opens): the fixture must
    # stop both.
    assert len(pids_mentioning(str(lab.runtime))) == 2

    hosts = {
        re.sub(r"^\w+://([^/]+)/.*$", r"\1", url) for url in requests if re.match(r"^(https?|wss?)://", url)
    }
    assert hosts == {lab.url.removeprefix("http://")}, f"the page reached beyond JupyterLab: {hosts}"
    print(f"JupyterLab browser test: {time.monotonic() - started:.1f} s in the browser")
