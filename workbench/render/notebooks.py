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
import random
import re
import socket
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, overload

from workbench.core import clock
from workbench.core.errors import ConfigError, ReportError
from workbench.core.files import write_atomic
from workbench.core.process import process_alive
from workbench.render.kernel import KernelSession, register_engine
from workbench.render.reportnames import (
    MANIFEST_SUFFIX,
    environment_set,
    folder_day,
    manifest_key,
    report_of,
)
from workbench.render.reportstore import LocalReportStore, ReportStore, is_remote, open_report_store
from workbench.rollback.headline import LISTED, WORDS

KERNEL_NAME = "contract-workbench"
KERNEL_DISPLAY_NAME = "Contract Workbench"
TEMPLATES = Path(__file__).parent / "templates"
TEMPLATE_NAME = "wb-offline"
INDEX = "index.html"
_INDEX_ATTEMPTS = 20
_MANIFEST_KEY = re.compile(r"[^/]+/[^/]*" + re.escape(MANIFEST_SUFFIX))


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
    def envs(self) -> str:
        """The environments, named up to twelve and counted past that (sixty names would fill the
        first screen)."""
        if len(self.environments) > LISTED:
            return f"{len(self.environments)} environments"
        return ", ".join(self.environments)

    @property
    def title(self) -> str:
        """The page title: report, environments and date."""
        return (
            f"{self.report} \u2014 {self.envs or 'no environment'} \u2014 {clock.utc(self.moment):%Y-%m-%d}"
        )

    def rows(self) -> list[tuple[str, str]]:
        """The header block's items, label and value (escaped by the template)."""
        return [
            ("date", f"{clock.utc(self.moment):%Y-%m-%d %H:%M:%S} UTC"),
            ("project", self.project or "-"),
            ("environments", self.envs or "-"),
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


def export_notebooks_html(notebooks: Sequence[str | Path]) -> list[str]:
    """`workbench reports html`: the offline HTML of executed report notebooks, beside each, in a
    folder or a bucket (`s3://bucket/prefix/DAY/NAME.ipynb`: read, exported here, written back).
    All are checked first, so a typo is a `ConfigError` before any file is written, never a
    half-done batch. Returns where each HTML is."""
    located = [_report_file(notebook) for notebook in notebooks]
    written = []
    for (store, key), given in zip(located, notebooks, strict=True):
        html_key = key.removesuffix(".ipynb") + ".html"
        try:
            with tempfile.TemporaryDirectory(prefix="workbench-html-") as scratch:
                local = store.local_root
                source = local / key if local is not None else Path(scratch) / Path(key).name
                if local is None:
                    stored = store.read(key)
                    assert stored is not None  # checked by _report_file
                    source.write_bytes(stored.body)
                html = export_html(source, source.with_suffix(".html"))
                if local is None:
                    store.write(html_key, html.read_bytes())
        except (OSError, ValueError) as exc:  # unreadable, or not a notebook (nbformat's errors)
            raise ConfigError(f"cannot export: {exc}", path=str(given)) from None
        written.append(store.url(html_key))
        record_report(store, key, html_key)
    return written


def _report_file(notebook: str | Path) -> tuple[ReportStore, str]:
    """The store of an executed report (the folder or prefix above its dated folder) and its key."""
    text = str(notebook)
    if is_remote(text):
        head, _, name = text.rpartition("/")
        root, _, day = head.rpartition("/")
        store = open_report_store(root + "/") if "://" in root else None
        if store is None or not name.endswith(".ipynb") or store.read(f"{day}/{name}") is None:
            raise ConfigError("not an executed notebook (.ipynb object) under a dated folder", path=text)
        return store, f"{day}/{name}"
    path = Path(notebook)
    if path.suffix != ".ipynb" or not path.is_file():
        raise ConfigError("not an executed notebook (.ipynb file)", path=path)
    return LocalReportStore(path.parent.parent), f"{path.parent.name}/{path.name}"


def record_report(store: ReportStore, notebook: str, html: str) -> str | Path | None:
    """The index stage for a report rendered by a scheduler task: when its name was claimed
    (`reportnames.claim_stem`), add it to that manifest, mark it complete and rebuild the index of
    its reports root; returns the index (None: the name was never claimed, nothing to list)."""
    day, _, name = notebook.rpartition("/")
    named = report_of(Path(name))
    if named is None:
        return None
    key = manifest_key(day, named[0])
    for _attempt in range(_INDEX_ATTEMPTS):
        stored = store.read(key)
        if stored is None:
            return None
        try:
            record = json.loads(stored.body)
        except ValueError:
            return None
        entries = [entry for entry in record.get("reports", []) if entry.get("notebook") != name]
        entries.append({"title": named[2], "notebook": name, "html": html.rpartition("/")[2], "error": ""})
        record.update(status="complete", reports=entries)
        if store.replace(key, (json.dumps(record, indent=2) + "\n").encode("utf-8"), etag=stored.etag):
            local = store.local_root
            return write_index(local) if local is not None else write_index(store)
    raise ReportError(f"{store.url(key)} kept changing; run `workbench reports html` again")


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


@overload
def write_index(reports: Path) -> Path: ...
@overload
def write_index(reports: ReportStore) -> str: ...
def write_index(reports: Path | ReportStore) -> Path | str:
    """Rebuild `index.html` from every audit manifest in the reports folder or bucket prefix.

    Audits finishing at once each rebuild it: each replaces the index only over the version it read
    before listing the manifests (`ReportStore.replace`: an ETag check in a bucket, a lock here),
    and reads again when another writer came first, so the index that stays lists every audit
    whose manifest was written before its writer read the index.
    """
    store = open_report_store(reports)
    for attempt in range(_INDEX_ATTEMPTS):
        current = store.read(INDEX)
        page = _index_page(store).encode("utf-8")
        if store.replace(INDEX, page, etag=current.etag if current is not None else None):
            return reports / INDEX if isinstance(reports, Path) else store.url(INDEX)
        time.sleep(random.uniform(0.05, 0.2) * (attempt + 1))  # another writer came first: read again
    raise ReportError(f"{store.url(INDEX)} kept changing over {_INDEX_ATTEMPTS} rebuilds; run it again")


def _link(day: str, name: object, suffix: str) -> str:
    """A relative link to report `name` of folder `day`, in percent-encoded segments; "" unless `name`
    is a file name the workbench gives a report (`HHMMSS[-N]-<notebook>` + `suffix`)."""
    if not isinstance(name, str) or not name.endswith(suffix) or Path(name).name != name:
        return ""
    if report_of(Path(name.removesuffix(suffix) + ".ipynb")) is None:
        return ""
    return f"{urllib.parse.quote(day, safe='')}/{urllib.parse.quote(name, safe='')}"


def _index_page(store: ReportStore) -> str:
    import jinja2

    audits = []
    manifests = [  # dated folders only (`YYYY-MM-DD`): a folder or file by any other name is never listed
        item.key
        for item in store.listing()
        if _MANIFEST_KEY.fullmatch(item.key) and folder_day(item.key.split("/", 1)[0]) is not None
    ]
    for key in sorted(manifests, reverse=True):
        stored = store.read(key)
        try:
            manifest = json.loads(stored.body) if stored is not None else None
        except ValueError:
            manifest = None
        if not isinstance(manifest, dict):
            continue  # a manifest being written or damaged: skip it rather than lose the index
        day = key.split("/", 1)[0]
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
    page: str = environment.get_template("index.html.j2").render(audits=audits, words=words)
    return page
