"""Notebooks to reports: execute with papermill, export self-contained HTML, keep the index current.

Execution and export run in this process (nbconvert's CLI costs seconds of start-up). The HTML
template drops every CDN loader and JupyterLab's theme (a compact stylesheet instead), and inlines
the vega bundle, compressed, only in a report with a chart, so a report opens offline and stays small. A
failed notebook still leaves its output notebook (papermill writes it with an error banner) and
the error names the cell.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import gzip
import json
import os
import socket
import sys
import tempfile
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from workbench.core import clock
from workbench.core.errors import ConfigError, ReportError
from workbench.core.files import write_atomic
from workbench.core.process import process_alive
from workbench.render.kernel import KernelSession, register_engine
from workbench.render.reportnames import (
    MANIFEST_SUFFIX,
    audit_manifest,
    environment_set,
    folder_day,
    report_of,
)
from workbench.rollback.headline import WORDS

KERNEL_NAME = "contract-workbench"
KERNEL_DISPLAY_NAME = "Contract Workbench"
TEMPLATES = Path(__file__).parent / "templates"
TEMPLATE_NAME = "wb-offline"


@dataclass(frozen=True, slots=True)
class ReportFiles:
    """One executed notebook and its HTML (None when execution failed)."""

    title: str
    notebook: Path
    html: Path | None
    error: str = ""


def install_kernel() -> Path:
    """Register this Python as the project kernel in this environment (`sys.prefix`), quietly.

    The kernel logs only critical messages: ipykernel otherwise writes a transport warning and a
    "KeyboardInterrupt caught" line (jupyter_client interrupts before every shutdown) into the
    stderr of every scheduled run.
    """
    from jupyter_client.kernelspec import KernelSpecManager

    with tempfile.TemporaryDirectory() as staging:
        spec = {
            "argv": [
                sys.executable,
                "-m",
                "ipykernel_launcher",
                "-f",
                "{connection_file}",
                "--IPKernelApp.log_level=CRITICAL",
            ],
            "display_name": KERNEL_DISPLAY_NAME,
            "language": "python",
            "metadata": {"debugger": True},
        }
        (Path(staging) / "kernel.json").write_text(json.dumps(spec, indent=1))
        destination = KernelSpecManager().install_kernel_spec(
            staging, KERNEL_NAME, prefix=sys.prefix, replace=True
        )
    return Path(destination)


def ensure_kernel() -> str:
    """The project kernel's name, registering it when missing; refuses a kernel of another Python."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    except NoSuchKernel:
        install_kernel()
        return KERNEL_NAME
    python = spec.argv[0] if spec.argv else ""
    if not Path(python).exists():
        raise ReportError(
            f"kernel {KERNEL_NAME!r} ({spec.resource_dir}) runs a Python that no longer exists ({python}); "
            "remove that folder or run `workbench kernel` to register this one"
        )
    return KERNEL_NAME


def execute_notebook(
    source: Path,
    output: Path,
    parameters: Mapping[str, Any],
    *,
    cwd: Path,
    timeout_s: int = 600,
    kernel_env: Mapping[str, str] | None = None,
    session: KernelSession | None = None,
) -> None:
    """Run `source` into `output` with papermill; on failure raise `ReportError` naming the cell.

    With a `session`, the notebook runs in that warm kernel (started with its own environment);
    without one, papermill starts a kernel that inherits `kernel_env`.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    kernel = ensure_kernel()
    with environment_set(kernel_env or {}):  # the kernel inherits these; they never enter the notebook
        try:
            shared = {"engine_name": register_engine(), "session": session} if session is not None else {}
            papermill.execute_notebook(
                str(source),
                str(output),
                parameters=dict(parameters),
                kernel_name=kernel,
                cwd=str(cwd),
                progress_bar=False,
                execution_timeout=timeout_s,
                report_mode=True,
                request_save_on_cell_execute=False,  # one write at the end (and on failure), not one per cell
                **shared,
            )
        except PapermillExecutionError as exc:
            first_line = str(exc.evalue).splitlines()[0][:200] if exc.evalue else ""
            cell = _failed_cell(output)
            where = f"cell {cell if cell is not None else '?'} of {output} (In [{exc.exec_count}])"
            raise ReportError(
                f"{source.name}: {where} failed: {exc.ename}: {first_line}; open it to see the traceback",
                output_path=output,
                cell_index=cell,
            ) from None
        except ReportError:
            raise
        except Exception as exc:  # kernel died, timeout, invalid notebook: still an audit failure
            raise ReportError(
                f"{source.name}: execution failed: {type(exc).__name__}: {exc}; see {output}",
                output_path=output,
            ) from None


def _failed_cell(output: Path) -> int | None:
    """Index of the failed cell in the written output notebook (papermill adds a banner cell first)."""
    import nbformat

    try:
        notebook = nbformat.read(output, as_version=4)
    except (OSError, ValueError):
        return None
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code" and any(o.get("output_type") == "error" for o in cell.get("outputs", ())):
            return index
    return None


@dataclass(frozen=True, slots=True)
class ReportHeader:
    """What the top of a report says before any finding: which report, of what, whose evidence,
    when, from which run, configuration and workbench version (four browser tabs must not all read
    "Notebook")."""

    report: str
    environments: tuple[str, ...]
    moment: datetime
    run_id: str
    config: str
    version: str
    project: str = ""  # the project name (`core.projectname`), as described: a derived one says so

    @property
    def title(self) -> str:
        """The page title: report, environments and date."""
        envs = ", ".join(self.environments) or "no environment"
        return f"{self.report} \u2014 {envs} \u2014 {clock.utc(self.moment):%Y-%m-%d}"

    def rows(self) -> list[tuple[str, str]]:
        """The header block's items, label and value (escaped by the template)."""
        return [
            ("date", f"{clock.utc(self.moment):%Y-%m-%d %H:%M:%S} UTC"),
            ("project", self.project or "-"),
            ("environments", ", ".join(self.environments) or "-"),
            ("run", self.run_id or "-"),
            ("config", self.config or "built-in default"),
            ("contract-workbench", self.version),
        ]


CHART_MARK = 'class="wb-chart"'  # what `charts.render_html` emits: a report with it gets the vega bundle


def has_charts(node: Any) -> bool:
    """Whether an executed notebook holds an interactive chart (only then is vega inlined)."""
    for cell in node.cells:
        for output in cell.get("outputs", ()):
            html = output.get("data", {}).get("text/html", "")
            if CHART_MARK in ("".join(html) if isinstance(html, list) else html):
                return True
    return False


def export_notebooks_html(notebooks: Sequence[Path]) -> list[Path]:
    """`workbench reports html`: the offline HTML of executed report notebooks, beside each. All are
    checked first, so a typo is a `ConfigError` before any file is written, never a half-done batch."""
    for notebook in notebooks:
        if notebook.suffix != ".ipynb" or not notebook.is_file():
            raise ConfigError("not an executed notebook (.ipynb file)", path=notebook)
    written = []
    for notebook in notebooks:
        try:
            written.append(export_html(notebook, notebook.with_suffix(".html")))
        except (OSError, ValueError) as exc:  # unreadable, or not a notebook (nbformat's errors)
            raise ConfigError(f"cannot export: {exc}", path=notebook) from None
        record_report(notebook, written[-1])
    return written


def record_report(notebook: Path, html: Path) -> Path | None:
    """The index stage for a report rendered by a scheduler task: when its name was claimed
    (`reportnames.reserve_stem`), add it to that manifest, mark it complete and rebuild the index
    of its reports folder; returns the index (None: the name was never claimed, nothing to list)."""
    named = report_of(notebook)
    manifest = audit_manifest(notebook.parent, named[0]) if named is not None else None
    if named is None or manifest is None or not manifest.is_file():
        return None
    try:
        record = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    entries = [entry for entry in record.get("reports", []) if entry.get("notebook") != notebook.name]
    entries.append({"title": named[2], "notebook": notebook.name, "html": html.name, "error": ""})
    record.update(status="complete", reports=entries)
    write_atomic(manifest, json.dumps(record, indent=2) + "\n")
    return write_index(notebook.parent.parent)


def export_html(notebook: Path, html_path: Path, header: ReportHeader | None = None) -> Path:
    """A self-contained HTML rendering of an executed notebook: code hidden, charts offline, vega
    (compressed) only when it has a chart, and the header block when one is given."""
    import nbformat

    node = nbformat.read(notebook, as_version=4)
    resources: dict[str, Any] = {
        "wb_vega_gz": vega_bundle_gz() if has_charts(node) else "",
        "inlining": {"css": []},  # no code is shown: no syntax-highlighting CSS (its preprocessor is off)
    }
    if header is not None:
        node.metadata["title"] = header.title  # the <title>; only in this export, not the notebook file
        resources["wb_header"] = {"report": header.report, "rows": header.rows()}
    body, _ = html_exporter().from_notebook_node(node, resources=resources)
    write_atomic(html_path, body)
    return html_path


@functools.cache
def html_exporter() -> Any:
    """One HTML exporter per process: building one (templates, preprocessors) costs ~0.3 s."""
    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
    from traitlets.config import Config

    class ReportExporter(HTMLExporter):
        """nbconvert's HTML exporter without its last step, a BeautifulSoup pass over the finished
        page (0.1-0.25 s a report, a third of an export, measured) that only gives an image without
        alt text a placeholder (every report image has its own) and makes cells focusable."""

        def from_notebook_node(  # type: ignore[override]  # as HTMLExporter's own (a page, not a node)
            self, nb: Any, resources: dict[str, Any] | None = None, **kw: Any
        ) -> tuple[str, dict[str, Any]]:
            # HTMLExporter.from_notebook_node (nbconvert 7.17) up to its BeautifulSoup pass.
            language = nb.metadata.get("language_info", {})
            lexer = language.get("pygments_lexer", language.get("name", None))
            self.register_filter(  # type: ignore[no-untyped-call]
                "highlight_code",
                self.filters.get("highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)),
            )
            resources = self._init_resources(resources)  # type: ignore[no-untyped-call]
            self.register_filter(  # type: ignore[no-untyped-call]
                "filter_data_type",
                WidgetsDataTypeFilter(notebook_metadata=self._nb_metadata, parent=self, resources=resources),
            )
            page: tuple[str, dict[str, Any]] = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
            return page

    return ReportExporter(  # type: ignore[no-untyped-call]
        config=Config({"CSSHTMLHeaderPreprocessor": {"enabled": False}}),
        extra_template_basedirs=[str(TEMPLATES / "nbconvert")],
        template_name=TEMPLATE_NAME,
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )


@functools.cache
def vega_bundle() -> str:
    """vega, vega-lite and vega-embed as one script; built once per vl-convert version and cached."""
    import vl_convert

    cache = _cache_dir() / f"vega-bundle-{_vega_versions()}.js"
    if cache.exists():
        return cache.read_text(encoding="utf-8")
    # The stub marks `snippet` required, but only the no-argument call returns the whole bundle.
    bundle = str(vl_convert.javascript_bundle())  # type: ignore[call-arg]
    script = bundle.replace("</script", "<\\/script")  # the same JavaScript, safe inline too
    with contextlib.suppress(OSError):  # a read-only home: rebuild next time
        write_atomic(cache, script)
    return script


@functools.cache
def vega_bundle_gz() -> str:
    """The vega bundle gzipped and base64-encoded (0.9 MB of JavaScript in ~0.4 MB of text): the page
    unpacks it with the browser's `DecompressionStream` (see the template's loader). Cached too."""
    cache = _cache_dir() / f"vega-bundle-{_vega_versions()}.js.gz.b64"
    if cache.exists():
        return cache.read_text(encoding="ascii")
    packed = base64.b64encode(gzip.compress(vega_bundle().encode("utf-8"), 9, mtime=0)).decode("ascii")
    with contextlib.suppress(OSError):
        write_atomic(cache, packed)
    return packed


def _vega_versions() -> str:
    import vl_convert

    return f"{vl_convert.get_vega_embed_version()}-{vl_convert.get_vega_version()}"


def _cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "contract-workbench"


def _alive(manifest: dict[str, object]) -> bool:
    """Whether the process that reserved a report still runs (on this host; on another, assume so)."""
    pid = manifest.get("pid")
    if manifest.get("host") != socket.gethostname() or not isinstance(pid, int):
        return True
    return process_alive(pid)


def write_index(reports_dir: Path) -> Path:
    """Rebuild `reports/index.html` from every audit manifest under `reports_dir`.

    Audits finishing at once each rebuild it; a lock makes the last writer the one that read last.
    """
    reports_dir.mkdir(parents=True, exist_ok=True)
    with _locked(reports_dir):
        return _write_index(reports_dir)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """An exclusive advisory lock on the folder itself (POSIX; no lock file left behind)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def _dated_manifests(reports_dir: Path) -> list[Path]:
    """The audit manifests of the dated folders (`YYYY-MM-DD`, real folders, not links), newest first:
    a folder or file by any other name, or a link out of the reports folder, is never listed."""
    days = [
        folder
        for folder in reports_dir.iterdir()
        if folder_day(folder.name) is not None and folder.is_dir() and not folder.is_symlink()
    ]
    manifests = [
        path
        for day in days
        for path in day.glob(f"*{MANIFEST_SUFFIX}")
        if path.is_file() and not path.is_symlink()
    ]
    return sorted(manifests, reverse=True)


def _link(day: str, name: object, suffix: str) -> str:
    """A relative link to report `name` of folder `day`, in percent-encoded segments; "" unless `name`
    is a file name the workbench gives a report (`HHMMSS[-N]-<notebook>` + `suffix`)."""
    if not isinstance(name, str) or not name.endswith(suffix) or Path(name).name != name:
        return ""
    if report_of(Path(name.removesuffix(suffix) + ".ipynb")) is None:
        return ""
    return f"{urllib.parse.quote(day, safe='')}/{urllib.parse.quote(name, safe='')}"


def _write_index(reports_dir: Path) -> Path:
    import jinja2

    audits = []
    for manifest_path in _dated_manifests(reports_dir):
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a manifest being written or damaged: skip it rather than lose the index
        day = manifest_path.parent.name
        if manifest.get("status") == "running" and not _alive(manifest):
            manifest["status"] = "incomplete"  # the audit that wrote it died (SIGKILL, power loss)
        audits.append(
            {
                "date": day,
                "time": manifest.get("time", ""),
                "run_id": manifest.get("run_id", ""),
                "status": manifest.get("status", "complete"),
                "verdicts": manifest.get("verdicts", {}),
                "readiness": manifest.get("readiness", {}),
                "counts": manifest.get("counts", ""),
                "headlines": manifest.get("headlines", []),
                "reports": [
                    {
                        "title": report.get("title", "report"),
                        "html": _link(day, report.get("html"), ".html"),
                        "notebook": _link(day, report.get("notebook"), ".ipynb"),
                        "error": report.get("error", ""),
                    }
                    for report in manifest.get("reports", [])
                    if isinstance(report, dict)
                ],
            }
        )
    audits.sort(key=lambda audit: (audit["date"], audit["time"]), reverse=True)
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True, keep_trailing_newline=True
    )
    words = {str(state): text for state, text in WORDS.items()}
    page = environment.get_template("index.html.j2").render(audits=audits, words=words)
    index = reports_dir / "index.html"
    write_atomic(index, page)
    return index
