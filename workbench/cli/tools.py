"""`workbench init`, `serve`, `scan`, `classify`, `kernel` and `reports prune|html`: the tools around
an audit."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from workbench.cli.options import (
    Common,
    ConfigOption,
    Format,
    FormatOption,
    ProjectDirOption,
    ReportsOption,
    StoreOption,
    WordsCommand,
    examples,
)
from workbench.cli.terminal import err, out, shown
from workbench.core.terminaltext import printable

commands = typer.Typer()


def _scenario_list() -> str:
    """`serve --help`: what each scenario of the reference endpoint does, one line each."""
    from workbench.core.scenarios import SCENARIO_HELP

    lines = [f"  {scenario}: {text}" for scenario, text in SCENARIO_HELP.items()]
    return (
        "\b\nScenarios (--scenario, repeatable; they compose):\n"
        + "\n".join(lines)
        + "\n\n\b\nExamples:\n  export WORKBENCH_REFERENCE_KEY="
        + "$(python -c 'import secrets; print(secrets.token_urlsafe())')"
        + "\n  workbench serve --scenario missing-usage --scenario slow --port 8000"
    )


@commands.command(cls=WordsCommand, epilog=_scenario_list())
def serve(
    scenario: Annotated[
        list[str] | None,
        typer.Option("--scenario", metavar="NAME", help="Scenario (repeatable: they compose)."),
    ] = None,
    port: Annotated[int, typer.Option("--port", metavar="PORT", help="Port on 127.0.0.1.")] = 8000,
    latency_ms: Annotated[
        float, typer.Option("--latency-ms", metavar="MS", help="Delay before every response.")
    ] = 0.0,
    api_key_env: Annotated[
        str,
        typer.Option("--api-key-env", metavar="VARIABLE", help="Variable holding the key clients must send."),
    ] = "WORKBENCH_REFERENCE_KEY",
) -> None:
    """Run the embedded reference endpoint in the foreground (Ctrl-C stops it)."""
    from workbench.reference.endpoint import ForegroundEndpoint

    endpoint = ForegroundEndpoint(scenario or (), api_key_env=api_key_env, latency_ms=latency_ms, port=port)
    for line in endpoint.banner():
        err.print(shown(line))
    endpoint.run()


@commands.command(
    cls=WordsCommand,
    epilog=examples(
        'workbench classify body.json --status 429 --header "Retry-After: 20"',
        "workbench classify page.html --status 502",
    ),
)
def classify(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="A saved response body: JSON, SSE, HTML or plain text.")
    ],
    status: Annotated[
        int, typer.Option("--status", metavar="CODE", help="The HTTP status it came with.")
    ] = 200,
    content_type: Annotated[
        str | None,
        typer.Option(
            "--content-type", metavar="TYPE", help="Its Content-Type (default: guessed from the extension)."
        ),
    ] = None,
    header: Annotated[
        list[str] | None,
        typer.Option(
            "--header", metavar="'NAME: VALUE'", help="A response header, 'Name: value' (repeatable)."
        ),
    ] = None,
) -> None:
    """Classify a saved response: prints JSON {symptom, retryable, action, content, detail}."""
    from workbench.wire.classify import classify_file

    result = classify_file(file, status, content_type=content_type, headers=header or ())
    sys.stdout.write(printable(json.dumps(result.to_dict(), indent=2, ensure_ascii=False)) + "\n")


@commands.command(cls=WordsCommand, epilog=examples("workbench scan", "workbench scan reports/ logs/app.log"))
def scan(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(metavar="PATH...", help="Files or folders (default: reports/ and data/)."),
    ] = None,
    config: ConfigOption = None,
    store: StoreOption = None,
    project_dir: ProjectDirOption = None,
) -> None:
    """Look for secrets in artifacts and the history store, and for personal data in probe prompts;
    exit 1 on any finding. The store (every project's rows; a PostgreSQL store in its own tables) is
    searched unless PATHs are given without --store."""
    from workbench.core.errors import StoreError
    from workbench.core.locations import store_backend, store_url
    from workbench.history.store import HistoryStore
    from workbench.rollback.evidence import scan_with_store

    settings = Common(config, store, project_dir).load()
    history: HistoryStore | None = None
    if not paths or store is not None:
        try:
            history = HistoryStore.for_maintenance(store, project=settings.project)
        except StoreError:
            if store_backend(store_url(store, project=settings.project)) != "sqlite":
                raise  # a server that cannot be searched must not read as "no secret"
            history = None  # no SQLite file yet: nothing stored to search (scan creates none)
    try:
        targets, findings = scan_with_store(settings, paths or (), history)
    finally:
        if history is not None:
            history.close()
    for finding in findings:
        out.print(f"[bold red]found[/] {shown(finding)}")
    checked = ", ".join(targets) or "nothing"
    if findings:
        out.print(
            f"{len(findings)} finding(s) in {shown(checked)} and the probe prompts; next: remove each value "
            "(rotate a key that was written anywhere), then scan again."
        )
    else:
        out.print(f"no secret in {shown(checked)}; no personal data in the probe prompts.")
    raise typer.Exit(1 if findings else 0)


@commands.command(cls=WordsCommand)
def kernel() -> None:
    """Register this environment's Python as the `contract-workbench` Jupyter kernel (make does this)."""
    from workbench.render.notebooks import install_kernel

    out.print(f"kernel registered: {shown(install_kernel())}")


reports = typer.Typer(no_args_is_help=True, help="Dated report folders under reports/.")
commands.add_typer(reports, name="reports")


@reports.command(
    "prune", cls=WordsCommand, epilog=examples("workbench reports prune --keep-days 30 --dry-run")
)
def reports_prune(
    keep_days: Annotated[
        int,
        typer.Option(
            "--keep-days", metavar="N", min=0, help="Keep folders dated within N days (UTC); 0: only today."
        ),
    ],
    reports_dir: ReportsOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only print what would be removed.")] = False,
    config: ConfigOption = None,
    store: StoreOption = None,
    project_dir: ProjectDirOption = None,
) -> None:
    """Delete dated report folders (YYYY-MM-DD) older than N days, then rebuild reports/index.html."""
    from workbench.render.prune import prune_reports
    from workbench.render.reportstore import open_report_store

    # --reports, else [workbench] reports, else the project's reports/
    place = open_report_store(Common(config, store, project_dir).load().reports(reports_dir))
    if place.local_root is None:
        place.check_writable()
    result = prune_reports(place, keep_days, dry_run=dry_run)
    for line in result.lines():
        (err if line.startswith("error: ") else out).print(shown(line))
    raise typer.Exit(2 if result.failed else 0)


@reports.command(
    "html",
    cls=WordsCommand,
    epilog=examples("workbench reports html reports/2026-11-27/051953-contract_audit.ipynb"),
)
def reports_html(
    notebooks: Annotated[
        list[str],
        typer.Argument(
            metavar="NOTEBOOK...",
            help="Executed report notebooks (.ipynb): files, or s3://BUCKET/PREFIX/DAY/NAME.ipynb objects.",
        ),
    ],
) -> None:
    """Write the offline HTML of executed report notebooks beside them (what a scheduler's papermill
    task needs after executing one); exit 2 when a notebook is missing or cannot be read."""
    from workbench.render.notebooks import export_notebooks_html

    for html in export_notebooks_html(notebooks):
        out.print(f"report: {shown(html)}")


@reports.command(
    "render",
    cls=WordsCommand,
    epilog=examples(
        "workbench reports render --run 20261207T061700Z-1a2b3c --run 20261207T061702Z-4d5e6f",
        "workbench reports render --run RUN_ID --reports s3://team-reports/contract-audit --format json",
    ),
)
def reports_render(
    run: Annotated[
        list[str],
        typer.Option("--run", metavar="RUN_ID", help="A stored run to judge and render (repeatable)."),
    ],
    reports_dir: ReportsOption = None,
    output_format: FormatOption = Format.table,
    timeout: Annotated[
        int,
        typer.Option("--timeout", metavar="SECONDS", help="Execution timeout per notebook cell, seconds."),
    ] = 600,
    config: ConfigOption = None,
    store: StoreOption = None,
    project_dir: ProjectDirOption = None,
) -> None:
    """Judge runs already probed (`workbench probe`, a scheduler's mapped tasks) and write their
    reports and index, one audit per run, as `workbench audit` does after probing; sends nothing.
    Exit as `workbench audit`: 0 every environment READY, 1 one is not, 2 could not render."""
    from workbench.history.store import HistoryStore
    from workbench.render.audit import render_runs
    from workbench.render.reportstore import open_report_store
    from workbench.rollback.headline import headlines

    common = Common(config, store, project_dir)
    settings = common.load()
    place = open_report_store(settings.reports(reports_dir))
    with HistoryStore.for_config(settings, store, create=False) as history:
        outcomes = render_runs(settings, run, store=history, reports_dir=place, timeout_s=timeout)
    code = max(outcome.exit_code for outcome in outcomes)
    if output_format is Format.json:
        audits = [
            {
                "run_id": outcome.summary.run_id,
                "verdicts": {verdict.env: str(verdict.status) for verdict in outcome.summary.verdicts},
                "readiness": {
                    env: "ready" if ready.ready else "not_ready" for env, ready in outcome.readiness.items()
                },
                "headlines": [
                    line.to_json()
                    for line in headlines(
                        outcome.summary.verdicts, outcome.summary.results, outcome.readiness
                    )
                ],
                "reports": list(outcome.published),
                "errors": [report.error for report in outcome.failed_reports],
                "leaks": [str(leak) for leak in outcome.leaks],
                "exit_code": outcome.exit_code,
            }
            for outcome in outcomes
        ]
        index = str(outcomes[-1].index) if outcomes else ""
        sys.stdout.write(json.dumps({"audits": audits, "index": index, "exit_code": code}, indent=2) + "\n")
        raise typer.Exit(code)
    for outcome in outcomes:
        out.print(f"run {shown(outcome.summary.run_id)}:")
        for line in headlines(outcome.summary.verdicts, outcome.summary.results, outcome.readiness):
            out.print(f"  {shown(line.line())}")
        for report in outcome.failed_reports:
            err.print(f"error: {shown(report.error)}")
        for leak in outcome.leaks:
            err.print(f"error: a secret was written: {shown(leak)} (the value is not shown)")
        for location in outcome.published:
            out.print(f"report: {shown(location)}")
    if outcomes:
        out.print(f"index:  {shown(outcomes[-1].index)}")
    raise typer.Exit(code)


@commands.command(
    "init",
    cls=WordsCommand,
    epilog=examples("workbench init", "workbench init contract-audit"),
)
def init(
    folder: Annotated[
        Path, typer.Argument(metavar="DIR", help="The project folder to create or fill (default: here).")
    ] = Path(),
) -> None:
    """Write a starter project (environments, triggers, manifest, CI workflow, Airflow DAG); never
    overwrites a file."""
    from workbench.recipes.scaffold import WORKFLOW, init_project
    from workbench.rollback.advice import hint

    scaffold = init_project(folder)
    for relative in scaffold.files:
        out.print(f"wrote {shown(folder / relative)}")
    here = folder.resolve() == Path.cwd().resolve()
    common = () if here else ("--project-dir", str(folder))
    out.print(
        f"next: `{shown(hint(common, 'audit'))}` (the embedded reference: ready at once, no key, no network)"
    )
    config_file = shown(folder / "data" / "environments.toml")
    out.print(
        f"next: uncomment {shown('[environments.staging]')} in {config_file}, set its model id and export "
        f"its key, then `{shown(hint(common, 'probe', '--env', 'staging', '--dry-run'))}`"
    )
    out.print(
        f"next: `{shown(hint(common, 'audit', '--env', 'staging', '--junit', 'reports/junit.xml'))}`, what "
        f"{shown(WORKFLOW)} runs daily once the key is a repository secret"
    )
