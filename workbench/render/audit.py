"""`workbench audit`: probe, then render the report notebooks into a dated folder and update the index.

The probes run here, in the calling process, with progress on the terminal; the notebooks then
read that run from the store by its id. Nothing secret is a notebook parameter: a store URL that
carries a password reaches the kernel through its environment instead.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from workbench import __version__
from workbench.core import clock
from workbench.core.config import Config
from workbench.core.errors import ConfigError, ReportError, UsageError
from workbench.core.files import write_atomic
from workbench.core.locations import AUDIT_NOTEBOOK, STORE_ENV_VAR, ProjectFolder
from workbench.core.secrets import SecretFinding, scan_paths
from workbench.history.store import HistoryStore
from workbench.probes.engine import ProgressCallback, RunSummary, run_probes
from workbench.render.kernel import KernelSession
from workbench.render.notebooks import (
    ReportFiles,
    ReportHeader,
    ensure_kernel,
    execute_notebook,
    export_html,
    write_index,
)
from workbench.render.reportnames import (
    REPORT_KERNEL_ENV,
    REPORT_NOTEBOOKS,
    audit_manifest,
    day_folder,
    report_notebook,
    stems,
    time_stem,
)
from workbench.rollback.evidence import assess_run
from workbench.rollback.readiness import Readiness
from workbench.signals.triggers import load_rules

StageCallback = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class AuditOutcome:
    """The run, the readiness verdicts, the reports written, and the exit code a scheduler should see."""

    summary: RunSummary
    readiness: Mapping[str, Readiness]
    reports: tuple[ReportFiles, ...]
    manifest: Path
    index: Path
    leaks: tuple[SecretFinding, ...] = ()  # secrets found in what this audit wrote (never expected)

    @property
    def failed_reports(self) -> tuple[ReportFiles, ...]:
        return tuple(report for report in self.reports if report.error)

    @property
    def exit_code(self) -> int:
        """0 every environment rollback-ready; 1 one is not, or a secret leaked; 2 could not audit."""
        if self.failed_reports or self.summary.exit_code == 2:
            return 2
        if self.leaks:
            return 1
        return 0 if self.readiness and all(r.ready for r in self.readiness.values()) else 1


def notebooks_dir(explicit: Path | None = None, *, project: Path | None = None) -> Path:
    """`--notebooks`, else the project's own `notebooks/`, else the ones the package ships."""
    if explicit is None:
        return ProjectFolder(project or Path(), None).notebooks
    if not (explicit / AUDIT_NOTEBOOK).exists():
        raise UsageError(f"no report notebooks in {explicit} (no {AUDIT_NOTEBOOK}): check --notebooks DIR")
    return explicit


def run_audit(
    config: Config,
    env_names: Sequence[str] = (),
    *,
    store: HistoryStore,
    reports_dir: Path = Path("reports"),
    notebooks: Path | None = None,
    progress: ProgressCallback | None = None,
    on_stage: StageCallback | None = None,
    timeout_s: int = 600,
) -> AuditOutcome:
    """Probe, judge readiness, write the dated reports and the index, then scan what was written."""
    check_audit_inputs(config, reports_dir)
    source_dir = notebooks_dir(notebooks, project=config.project)
    kernel_env = _kernel_env(store)
    # The report kernel starts and imports everything while the probes run: paid once per audit.
    # the kernel works from the project folder, as a notebook opened in JupyterLab does
    with KernelSession(ensure_kernel(), cwd=config.project.resolve(), env=kernel_env) as session:
        summary = run_probes(config, env_names, store=store, command="audit", progress=progress)
        # The report machinery loads while readiness is judged and the kernel finishes warming up
        # (not earlier: importing competes for this process's CPU with the probes' timing).
        preload = threading.Thread(target=_preload_reporting, name="workbench-preload", daemon=True)
        preload.start()
        if on_stage is not None:
            on_stage("judging rollback readiness")
        readiness = assess_run(config, summary, store)
        now = clock.now()
        day_dir = day_folder(reports_dir, now)
        stem, manifest = _reserve(day_dir, time_stem(now))
        parameters = report_parameters(config, summary, store)
        reports: list[ReportFiles] = []
        try:
            for name, title, declared in REPORT_NOTEBOOKS:
                if on_stage is not None:
                    on_stage(f"rendering {title}")
                output = report_notebook(day_dir, stem, name)
                arguments = {k: parameters[k] for k in declared}
                header = ReportHeader(
                    title,
                    tuple(summary.environments),
                    now,
                    summary.run_id,
                    str(config.source) if config.source else "",
                    __version__,
                )
                reports.append(
                    _render(
                        source_dir / f"{name}.ipynb",
                        output,
                        header,
                        arguments,
                        timeout_s=timeout_s,
                        session=session,
                        project=config.project.resolve(),
                    )
                )
        except KeyboardInterrupt:  # Ctrl-C: the manifest and the index say so, then the command stops
            _write_manifest(
                manifest, summary, readiness, reports, time=f"{now:%H:%M:%S}", status="interrupted"
            )
            write_index(reports_dir)
            raise
    written = [
        path for report in reports for path in (report.notebook, report.html) if path and path.exists()
    ]
    leaks = tuple(scan_paths(written, secrets=config.key_values()))
    failed = any(report.error for report in reports)
    status = "failed" if failed else ("secret found" if leaks else summary.status)
    _write_manifest(manifest, summary, readiness, reports, time=f"{now:%H:%M:%S}", status=status)
    index = write_index(reports_dir)
    return AuditOutcome(summary, readiness, tuple(reports), manifest, index, leaks)


def check_audit_inputs(config: Config, reports_dir: Path) -> None:
    """Fail before the first request, and before anything is written, on what would fail after it.

    The trigger rules (read for step 9 once every probe has run) and the reports folder (written
    last) are checked now; each error names its file.
    """
    load_rules(config.settings.triggers)
    _check_writable_folder(reports_dir, option="--reports")


def _check_writable_folder(folder: Path, *, option: str) -> None:
    """`folder`, or the nearest part of it that exists, is a folder this process may write in."""
    existing = folder
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        where = "is" if existing == folder else f"is under {existing}, which is"
        raise ConfigError(f"{where} a file, not a folder", path=folder, field=option)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"not writable (by this user): {existing}", path=folder, field=option)


def _preload_reporting() -> None:
    import nbconvert  # noqa: F401
    import papermill  # noqa: F401

    from workbench.render.notebooks import html_exporter, vega_bundle_gz

    html_exporter()
    vega_bundle_gz()


def _render(
    notebook: Path,
    output: Path,
    header: ReportHeader,
    parameters: Mapping[str, object],
    *,
    timeout_s: int,
    session: KernelSession,
    project: Path,
) -> ReportFiles:
    """Execute one report notebook and export its HTML; a failure is recorded, not raised."""
    try:
        execute_notebook(notebook, output, parameters, cwd=project, timeout_s=timeout_s, session=session)
        return ReportFiles(header.report, output, export_html(output, output.with_suffix(".html"), header))
    except ReportError as exc:
        return ReportFiles(header.report, output, None, str(exc))


def report_parameters(config: Config, summary: RunSummary, store: HistoryStore) -> dict[str, object]:
    """What the audit can give a report notebook: run, environments, paths; never a secret (`_kernel_env`)."""
    return {
        "run_id": summary.run_id,
        "run_b": summary.run_id,
        "environments": list(summary.environments),
        "config_path": str(config.source.resolve()) if config.source else "",
        "store_url": "" if store.has_password else store.absolute_url,
        "triggers_path": str(config.settings.triggers.resolve()) if config.settings.triggers else "",
    }


def _kernel_env(store: HistoryStore) -> dict[str, str]:
    """What the report kernel gets through its environment: a store URL with a password (never a
    parameter, so never in a notebook), and the report chart renderer."""
    environment = {STORE_ENV_VAR: store.absolute_url} if store.has_password else {}
    return {**environment, **REPORT_KERNEL_ENV}


def _reserve(day_dir: Path, hhmmss: str) -> tuple[str, Path]:
    """A report stem no other run in this second has taken, claimed by creating its manifest."""
    day_dir.mkdir(parents=True, exist_ok=True)
    for stem in stems(hhmmss):
        manifest = audit_manifest(day_dir, stem)
        try:
            descriptor = os.open(manifest, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            continue
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            placeholder = {
                "status": "running",
                "time": f"{hhmmss[:2]}:{hhmmss[2:4]}:{hhmmss[4:]}",
                "host": socket.gethostname(),
                "pid": os.getpid(),
            }
            json.dump(placeholder, handle)
        return stem, manifest
    raise ReportError(f"cannot reserve a report name in {day_dir}")  # pragma: no cover


def _write_manifest(
    path: Path,
    summary: RunSummary,
    readiness: Mapping[str, Readiness],
    reports: Sequence[ReportFiles],
    *,
    time: str,
    status: str,
) -> None:
    manifest = {
        "run_id": summary.run_id,
        "time": time,
        "status": status,
        "verdicts": {verdict.env: str(verdict.status) for verdict in summary.verdicts},
        "readiness": {env: "ready" if r.ready else "not_ready" for env, r in readiness.items()},
        "reports": [
            {
                "title": report.title,
                "notebook": report.notebook.name,
                "html": report.html.name if report.html else "",
                "error": report.error,
            }
            for report in reports
        ],
    }
    write_atomic(path, json.dumps(manifest, indent=2) + "\n")
