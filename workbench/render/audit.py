"""`workbench audit`: its four stages, each callable alone, and `run_audit`, the one orchestrator.

probe (`probes.engine.run_probes`), judge (`rollback.evidence.assess_run`), render
(`render_reports`: every report notebook into a dated folder, with its offline HTML) and index
(`finish_reports`: the secret scan, the manifest, `reports/index.html`). The CLI runs them through
`run_audit`; the Airflow recipe (`workbench.recipes.airflow`) runs them as tasks, through the
`workbench` command. The probes run in the calling process, with progress on the terminal; the
notebooks then read that run from the store by its id. Nothing secret is a notebook parameter: a
store URL that carries a password reaches the kernel through its environment instead.
"""

from __future__ import annotations

import json
import os
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
    day_folder,
    parameter_values,
    parameters_for,
    report_notebook,
    reserve_stem,
    time_stem,
)
from workbench.rollback.evidence import assess_run
from workbench.rollback.headline import counts, headlines, worst_first
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
        """0 every environment READY; 1 one NOT READY or WAITING FOR AN OPERATOR, or a secret leaked; 2 COULD
        NOT JUDGE (the audit could not run)."""
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
    """The four stages in one process: probe, judge readiness, render every report, index (with a
    scan of what was written). Each stage is callable alone: `run_probes`, `assess_run`,
    `render_reports`, `finish_reports`."""
    check_audit_inputs(config, reports_dir)
    source_dir = notebooks_dir(notebooks, project=config.project)
    # The report kernel starts and imports everything while the probes run: paid once per audit.
    # the kernel works from the project folder, as a notebook opened in JupyterLab does
    with KernelSession(ensure_kernel(), cwd=config.project.resolve(), env=_kernel_env(store)) as session:
        summary = run_probes(config, env_names, store=store, command="audit", progress=progress)
        # The report machinery loads while readiness is judged and the kernel finishes warming up
        # (not earlier: importing competes for this process's CPU with the probes' timing).
        preload = threading.Thread(target=_preload_reporting, name="workbench-preload", daemon=True)
        preload.start()
        if on_stage is not None:
            on_stage("judging rollback readiness")
        readiness = assess_run(config, summary, store)
        rendered = render_reports(
            config,
            summary,
            readiness,
            store=store,
            reports_dir=reports_dir,
            notebooks=source_dir,
            session=session,
            on_stage=on_stage,
            timeout_s=timeout_s,
        )
    return finish_reports(config, summary, readiness, rendered, reports_dir=reports_dir)


@dataclass(frozen=True, slots=True)
class RenderedReports:
    """The render stage's result: the claimed manifest, its time, and each report written."""

    manifest: Path
    time: str
    reports: tuple[ReportFiles, ...]


def render_reports(
    config: Config,
    summary: RunSummary,
    readiness: Mapping[str, Readiness],
    *,
    store: HistoryStore,
    reports_dir: Path,
    notebooks: Path,
    session: KernelSession | None = None,
    on_stage: StageCallback | None = None,
    timeout_s: int = 600,
) -> RenderedReports:
    """The render stage: claim a report name, execute every report notebook on run `summary` and
    export its offline HTML; a failed notebook is recorded, not raised. Without a warm `session`,
    each notebook starts its own kernel."""
    now = clock.now()
    day_dir = day_folder(reports_dir, now)
    stem, manifest = reserve_stem(day_dir, time_stem(now))
    parameters = report_parameters(config, summary, store)
    reports: list[ReportFiles] = []
    try:
        for name, title, _declared in REPORT_NOTEBOOKS:
            if on_stage is not None:
                on_stage(f"rendering {title}")
            output = report_notebook(day_dir, stem, name)
            header = ReportHeader(
                title,
                tuple(summary.environments),
                now,
                summary.run_id,
                str(config.source) if config.source else "",
                __version__,
                store.project_name.describe(),
            )
            reports.append(
                _render(
                    notebooks / f"{name}.ipynb",
                    output,
                    header,
                    parameters_for(name, parameters),
                    timeout_s=timeout_s,
                    session=session,
                    kernel_env=_kernel_env(store),
                    project=config.project.resolve(),
                )
            )
    except KeyboardInterrupt:  # Ctrl-C: the manifest and the index say so, then the command stops
        _write_manifest(manifest, summary, readiness, reports, time=f"{now:%H:%M:%S}", status="interrupted")
        write_index(reports_dir)
        raise
    return RenderedReports(manifest, f"{now:%H:%M:%S}", tuple(reports))


def finish_reports(
    config: Config,
    summary: RunSummary,
    readiness: Mapping[str, Readiness],
    rendered: RenderedReports,
    *,
    reports_dir: Path,
) -> AuditOutcome:
    """The index stage: scan what was written for secrets, complete the manifest, rebuild the index."""
    reports = rendered.reports
    written = [
        path for report in reports for path in (report.notebook, report.html) if path and path.exists()
    ]
    leaks = tuple(scan_paths(written, secrets=config.key_values()))
    failed = any(report.error for report in reports)
    status = "failed" if failed else ("secret found" if leaks else summary.status)
    _write_manifest(rendered.manifest, summary, readiness, reports, time=rendered.time, status=status)
    index = write_index(reports_dir)
    return AuditOutcome(summary, readiness, reports, rendered.manifest, index, leaks)


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
    session: KernelSession | None,
    kernel_env: Mapping[str, str],
    project: Path,
) -> ReportFiles:
    """Execute one report notebook and export its HTML; a failure is recorded, not raised."""
    try:
        execute_notebook(
            notebook,
            output,
            parameters,
            cwd=project,
            timeout_s=timeout_s,
            kernel_env=kernel_env,
            session=session,
        )
        return ReportFiles(header.report, output, export_html(output, output.with_suffix(".html"), header))
    except ReportError as exc:
        return ReportFiles(header.report, output, None, str(exc))


def report_parameters(config: Config, summary: RunSummary, store: HistoryStore) -> dict[str, object]:
    """What the audit can give a report notebook: run, environments, paths; never a secret (`_kernel_env`)."""
    return parameter_values(
        run_id=summary.run_id,
        environments=summary.environments,
        config_path=str(config.source.resolve()) if config.source else "",
        store_url=store.absolute_url,
        triggers_path=str(config.settings.triggers.resolve()) if config.settings.triggers else "",
    )


def _kernel_env(store: HistoryStore) -> dict[str, str]:
    """What the report kernel gets through its environment: a store URL with a password (never a
    parameter, so never in a notebook), and the report chart renderer."""
    environment = {STORE_ENV_VAR: store.absolute_url} if store.has_password else {}
    return {**environment, **REPORT_KERNEL_ENV}


def _write_manifest(
    path: Path,
    summary: RunSummary,
    readiness: Mapping[str, Readiness],
    reports: Sequence[ReportFiles],
    *,
    time: str,
    status: str,
) -> None:
    lines = headlines(summary.verdicts, summary.results, readiness)
    manifest = {
        "run_id": summary.run_id,
        "time": time,
        "status": status,
        # the one verdict per environment, worst first (what the index shows), and its counts
        "counts": counts(lines),
        "headlines": [line.to_json() for line in worst_first(lines)],
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
