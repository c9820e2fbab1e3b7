"""`workbench probe` and `workbench audit`: probe the environments, then (audit) judge readiness and
write the reports."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from workbench.cli.options import (
    Common,
    ConfigOption,
    EnvOption,
    Format,
    FormatOption,
    JunitOption,
    ProjectDirOption,
    ReportsOption,
    StoreOption,
    WordsCommand,
    examples,
)
from workbench.cli.terminal import (
    Detail,
    Progress,
    err,
    out,
    print_headlines,
    print_next_steps,
    print_requests,
    print_results,
    shown,
    stops_cleanly,
)

if TYPE_CHECKING:
    from workbench.core.config import Config

commands = typer.Typer()


@commands.command(
    cls=WordsCommand,
    epilog=examples(
        "workbench probe",
        "workbench probe --env staging --probe endpoint.minimal -v",
        "workbench probe --env staging --dry-run",
        "workbench probe --format json > results.json",
    ),
)
def probe(
    env: EnvOption = None,
    probe: Annotated[
        list[str] | None,
        typer.Option("--probe", metavar="ID", help="Probe id to run (repeatable; default: all)."),
    ] = None,
    output_format: FormatOption = Format.table,
    config: ConfigOption = None,
    store: StoreOption = None,
    allow_production_negatives: Annotated[
        bool, typer.Option("--allow-production-negatives", help="Also run negative probes on production.")
    ] = False,
    junit: JunitOption = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="List what each environment would be sent (probes, requests, token budget, caps); "
            "send nothing.",
        ),
    ] = False,
    project_dir: ProjectDirOption = None,
) -> None:
    """Run probes against the environments (no notebooks); exit 0 pass, 1 failure, 2 could not run."""
    from workbench.history.store import HistoryStore
    from workbench.probes.engine import plan_run, run_probes
    from workbench.render.junit import JunitFile
    from workbench.rollback.advice import RunState, advise, hint, store_withheld
    from workbench.rollback.headline import headlines

    common = Common(config, store, project_dir, tuple(env or ()))
    settings = common.load()
    if dry_run:
        _print_dry_run(settings, env or (), probe or (), allow_production_negatives, output_format)
        if output_format is Format.table:
            out.print(
                f"nothing was sent. next: `{hint(common.options(), 'probe', *_env_args(env))}` without "
                "--dry-run to send these requests"
            )
        return
    plan_run(settings, env or (), probe or ())  # bad names fail here, before the store is created
    _warn_plain_http(settings, env or ())
    junit_file = JunitFile.prepare(junit, name="workbench probe")  # unwritable: fails before any request
    with stops_cleanly(), HistoryStore.for_config(settings, store) as history, Progress() as progress:
        summary = run_probes(
            settings,
            env or (),
            probe or (),
            store=history,
            progress=progress.update,
            allow_production_negatives=allow_production_negatives,
        )
    lines = headlines(summary.verdicts, summary.results, complete=not probe)
    if output_format is Format.json:
        verdicts = {line.env: str(line.state) for line in lines}
        records = [{**result.to_dict(), "verdict": verdicts[result.env]} for result in summary.results]
        sys.stdout.write(json.dumps(records, indent=2) + "\n")
    else:
        if Detail.everything:
            print_results(summary)
        print_headlines(lines, summary.results, common.options())
        print_requests(summary)
        state = RunState(
            "probe",
            summary.run_id,
            not probe,
            summary.verdicts,
            summary.results,
            common=common.options(),
            selected=tuple(env or ()),
            store_withheld=store_withheld(store),
        )
        print_next_steps(advise(state))
    junit_file.write_for(summary, settings, complete=not probe)
    raise typer.Exit(summary.exit_code)


def _env_args(envs: Sequence[str] | None) -> tuple[str, ...]:
    return tuple(part for name in envs or () for part in ("--env", name))


def _print_dry_run(
    settings: Config, envs: Sequence[str], probes: Sequence[str], allow_negatives: bool, output_format: Format
) -> None:
    from rich.table import Table

    from workbench.probes.engine import dry_run

    plans = dry_run(settings, envs, probes, allow_negatives=allow_negatives)
    if output_format is Format.json:
        sys.stdout.write(json.dumps([plan.to_json() for plan in plans], indent=2) + "\n")
        return
    for plan in plans:
        table = Table(title=f"{shown(plan.env)}: {shown(plan.endpoint)}", title_justify="left")
        for column in ("probe", "requests", "requested tokens", "note"):
            table.add_column(column, overflow="fold")
        for planned in plan.probes:
            table.add_row(planned.probe, str(planned.requests), str(planned.tokens), shown(planned.skipped))
        out.print(table)
        key = "no key" if plan.key_variable is None else f"key from ${plan.key_variable}"
        key += "" if plan.key_set else " (NOT SET: export it before a real run)"
        out.print(
            f"{shown(plan.env)}: {plan.requests} request(s), {plan.tokens} requested tokens "
            f"({plan.token_param} = {plan.max_tokens} each; an empty answer cut there is asked once more "
            f"with {plan.max_tokens_retry}); caps this run: {plan.max_requests} requests, "
            f"{plan.max_requested_tokens} tokens; {shown(key)}"
        )


@commands.command(
    cls=WordsCommand,
    epilog=examples("workbench audit", "workbench audit --env staging --env production --junit audit.xml"),
)
def audit(
    env: EnvOption = None,
    reports: ReportsOption = None,
    config: ConfigOption = None,
    store: StoreOption = None,
    notebooks: Annotated[
        Path | None, typer.Option("--notebooks", metavar="DIR", help="Folder of report notebooks.")
    ] = None,
    timeout: Annotated[
        int,
        typer.Option("--timeout", metavar="SECONDS", help="Execution timeout per notebook cell, seconds."),
    ] = 600,
    junit: JunitOption = None,
    project_dir: ProjectDirOption = None,
) -> None:
    """Probe, then write a dated report (executed notebook + offline HTML) and update reports/index.html."""
    from workbench.history.store import HistoryStore
    from workbench.probes.engine import plan_run
    from workbench.render.audit import check_audit_inputs, notebooks_dir, run_audit
    from workbench.render.junit import JunitFile
    from workbench.render.reportstore import open_report_store
    from workbench.rollback.advice import RunState, advise, store_withheld, with_options
    from workbench.rollback.headline import headlines, status_words

    common = Common(config, store, project_dir, tuple(env or ()))
    settings = common.load()
    plan_run(settings, env or ())  # bad names fail here, before the store or a report is created
    _warn_plain_http(settings, env or ())
    place = open_report_store(settings.reports(reports))
    check_audit_inputs(settings, place)  # the triggers and where reports go (a bucket too), likewise
    notebooks = notebooks_dir(notebooks, project=settings.project)
    junit_file = JunitFile.prepare(junit, name="workbench audit")  # unwritable: fails now, not after
    with stops_cleanly(), HistoryStore.for_config(settings, store) as history, Progress() as progress:
        outcome = run_audit(
            settings,
            env or (),
            store=history,
            reports_dir=place,
            notebooks=notebooks,
            progress=progress.update,
            on_stage=progress.stage,
            timeout_s=timeout,
        )
    summary = outcome.summary
    lines = headlines(summary.verdicts, summary.results, outcome.readiness)
    print_headlines(lines, summary.results, common.options())
    if Detail.everything:  # the steps are the evidence under each headline; by default it names them
        for name, readiness in outcome.readiness.items():
            for step in readiness.blocking():
                evidence = with_options(step.evidence, common.options())
                status = status_words(step.status)
                out.print(f"  {shown(name)} step {step.number}. {step.title}: {status}: {shown(evidence)}")
    print_requests(summary)
    for leak in outcome.leaks:
        err.print(
            f"error: a secret was written: {shown(leak)} (the value is not shown); delete that file and "
            "report a bug"
        )
    for report in outcome.failed_reports:
        err.print(f"error: {shown(report.error)}")
    for location in outcome.published:
        out.print(f"report: {shown(location)}")
    out.print(f"index:  {shown(outcome.index)}")
    state = RunState(
        "audit",
        outcome.summary.run_id,
        True,
        outcome.summary.verdicts,
        outcome.summary.results,
        readiness=outcome.readiness,
        leaks=tuple(str(leak) for leak in outcome.leaks),
        failed_reports=tuple(str(report.notebook) for report in outcome.failed_reports),
        common=common.options(),
        selected=tuple(env or ()),
        store_withheld=store_withheld(store),
    )
    print_next_steps(advise(state))
    if junit_file.write_for(outcome.summary, settings, readiness=outcome.readiness) is not None:
        out.print(f"junit:  {shown(junit)}")
    raise typer.Exit(outcome.exit_code)


def _warn_plain_http(settings: Config, names: Sequence[str]) -> None:
    """Once per run, before anything is sent: a real endpoint over plain http:// off this machine."""
    from workbench.wire.client import plain_http_warning

    selected = {env.name: env.base_url for env in settings.select(names) if not env.is_embedded}
    line = plain_http_warning(selected)
    if line:
        err.print(shown(line))
