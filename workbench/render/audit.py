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
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from workbench import __version__
from workbench.core import clock
from workbench.core.config import Config
from workbench.core.errors import ReportError, UsageError
from workbench.core.locations import AUDIT_NOTEBOOK, STORE_ENV_VAR, ProjectFolder
from workbench.core.secrets import SecretFinding, scan_paths
from workbench.history.store import HistoryStore
from workbench.probes.engine import ProgressCallback, RunSummary, run_probes, stored_summary
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
    claim_stem,
    day_folder,
    parameter_values,
    parameters_for,
    report_notebook,
    time_stem,
)
from workbench.render.reportstore import ReportStore, open_report_store
from workbench.rollback.evidence import assess_run, stored_readiness
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
    manifest: Path | str  # the audit's manifest: a file, or an object's URL in object storage
    index: Path | str
    leaks: tuple[SecretFinding, ...] = ()  # secrets found in what this audit wrote (never expected)
    published: tuple[str, ...] = ()  # each report's HTML where readers find it (a file or a URL)

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
    reports_dir: Path | ReportStore = Path("reports"),
    notebooks: Path | None = None,
    progress: ProgressCallback | None = None,
    on_stage: StageCallback | None = None,
    timeout_s: int = 600,
) -> AuditOutcome:
    """The four stages in one process: probe, judge readiness, render every report, index (with a
    scan of what was written). Each stage is callable alone: `run_probes`, `assess_run`,
    `render_reports`, `finish_reports`. `reports_dir` is a folder or a `ReportStore` (a bucket)."""
    reports = open_report_store(reports_dir)
    check_audit_inputs(config, reports)
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
            reports_dir=reports,
            notebooks=source_dir,
            session=session,
            on_stage=on_stage,
            timeout_s=timeout_s,
        )
    return finish_reports(config, summary, readiness, rendered, reports_dir=reports)


def render_runs(
    config: Config,
    run_ids: Sequence[str],
    *,
    store: HistoryStore,
    reports_dir: Path | ReportStore,
    notebooks: Path | None = None,
    on_stage: StageCallback | None = None,
    timeout_s: int = 600,
) -> list[AuditOutcome]:
    """The judge, render and index stages for runs already probed and stored (a scheduler's mapped
    probe tasks, meeting in a shared store): one audit per run, in one warm kernel. A run already
    judged keeps its stored readiness."""
    reports = open_report_store(reports_dir)
    check_audit_inputs(config, reports)
    summaries = [stored_summary(store, run_id) for run_id in run_ids]  # an unknown id fails first
    source_dir = notebooks_dir(notebooks, project=config.project)
    outcomes = []
    with KernelSession(ensure_kernel(), cwd=config.project.resolve(), env=_kernel_env(store)) as session:
        for summary in summaries:
            if on_stage is not None:
                on_stage(f"judging rollback readiness of run {summary.run_id}")
            # judged once per run: a run rendered again (a retried task) keeps the verdict it was given
            judged = stored_readiness(store, summary.run_id)
            readiness = dict(judged) if judged else assess_run(config, summary, store)
            rendered = render_reports(
                config,
                summary,
                readiness,
                store=store,
                reports_dir=reports,
                notebooks=source_dir,
                session=session,
                on_stage=on_stage,
                timeout_s=timeout_s,
            )
            outcomes.append(finish_reports(config, summary, readiness, rendered, reports_dir=reports))
    return outcomes


@dataclass(frozen=True, slots=True)
class RenderedReports:
    """The render stage's result: the claimed manifest's key, its time, each report written, and
    the local folder they were rendered in (a temporary one when reports go to object storage)."""

    manifest: str
    time: str
    reports: tuple[ReportFiles, ...]
    staging: Path | None = None  # removed by `finish_reports` once its files are uploaded


def render_reports(
    config: Config,
    summary: RunSummary,
    readiness: Mapping[str, Readiness],
    *,
    store: HistoryStore,
    reports_dir: Path | ReportStore,
    notebooks: Path,
    session: KernelSession | None = None,
    on_stage: StageCallback | None = None,
    timeout_s: int = 600,
) -> RenderedReports:
    """The render stage: claim a report name, execute every report notebook on run `summary` and
    export its offline HTML; a failed notebook is recorded, not raised. Without a warm `session`,
    each notebook starts its own kernel. Reports bound for object storage are rendered in a
    temporary folder (`finish_reports` uploads them)."""
    target = open_report_store(reports_dir)
    now = clock.now()
    day = day_folder(Path(), now).name
    stem, manifest = claim_stem(target, day, time_stem(now))
    local = target.local_root
    staging = None if local is not None else Path(tempfile.mkdtemp(prefix="workbench-reports-"))
    day_dir = (local if local is not None else staging or Path()) / day
    day_dir.mkdir(parents=True, exist_ok=True)
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
        _write_manifest(
            target, manifest, summary, readiness, reports, time=f"{now:%H:%M:%S}", status="interrupted"
        )
        write_index(target)
        raise
    return RenderedReports(manifest, f"{now:%H:%M:%S}", tuple(reports), staging)


def finish_reports(
    config: Config,
    summary: RunSummary,
    readiness: Mapping[str, Readiness],
    rendered: RenderedReports,
    *,
    reports_dir: Path | ReportStore,
) -> AuditOutcome:
    """The index stage: scan what was written for secrets, upload it when reports go to object
    storage (a file holding a secret never is), complete the manifest, rebuild the index."""
    target = open_report_store(reports_dir)
    reports = rendered.reports
    written = [
        path for report in reports for path in (report.notebook, report.html) if path and path.exists()
    ]
    leaks = tuple(scan_paths(written, secrets=config.key_values()))
    published = tuple(str(report.html) for report in reports if report.html)
    if rendered.staging is not None:
        leaking = {Path(leak.path) for leak in leaks}
        for path in written:
            if path not in leaking:
                target.write(path.relative_to(rendered.staging).as_posix(), path.read_bytes())
        staged = [report.html.relative_to(rendered.staging) for report in reports if report.html]
        published = tuple(target.url(path.as_posix()) for path in staged)
    failed = any(report.error for report in reports)
    status = "failed" if failed else ("secret found" if leaks else summary.status)
    _write_manifest(target, rendered.manifest, summary, readiness, reports, time=rendered.time, status=status)
    local = target.local_root
    index = write_index(local) if local is not None else write_index(target)
    if rendered.staging is not None:
        shutil.rmtree(rendered.staging, ignore_errors=True)
    manifest = target.url(rendered.manifest)
    return AuditOutcome(
        summary,
        readiness,
        reports,
        Path(manifest) if local is not None else manifest,
        index,
        leaks,
        published,
    )


def check_audit_inputs(config: Config, reports_dir: Path | ReportStore) -> None:
    """Fail before the first request, and before anything is written, on what would fail after it.

    The trigger rules (read for step 9 once every probe has run) and the reports' place (written
    last: a folder this user may write in; a bucket that exists, credentials found, a write
    allowed) are checked now; each error is one line naming its file or URL.
    """
    load_rules(config.settings.triggers)
    open_report_store(reports_dir).check_writable()


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
    target: ReportStore,
    key: str,
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
    target.write(key, (json.dumps(manifest, indent=2) + "\n").encode("utf-8"))
