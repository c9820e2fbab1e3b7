"""The `workbench` command: a thin layer that parses arguments and calls one library function per verb.

Exit codes (interface): 0 every environment passes, 1 a contract failure, 2 a usage or
configuration error, or nothing could run. Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import __version__
from ._errors import WorkbenchError

if TYPE_CHECKING:  # the heavy modules load only when a command needs them
    from rich.progress import Progress, TaskID

    from ._engine import RunSummary
    from ._models import ProbeResult

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_show_locals=False,  # locals may hold a key read for a request: never print them
    help="Prove rollback readiness of chat-completions integrations: probe, classify, report.",
)

# Logs (cron, CI) are not terminals: give tables room instead of rich's 80-column default.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 132)
err = Console(stderr=True, highlight=False, soft_wrap=True, width=None if sys.stderr.isatty() else 132)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Environments TOML (default: $WORKBENCH_CONFIG, data/environments.toml, "
        "or the built-in embedded default).",
    ),
]
EnvOption = Annotated[
    list[str] | None, typer.Option("--env", help="Environment to audit (repeatable; default: all).")
]
StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store", help="History store URL (default: $WORKBENCH_STORE or sqlite:///data/history.sqlite)."
    ),
]


class Format(StrEnum):
    table = "table"
    json = "json"


def _show_version(value: bool) -> None:
    if value:
        out.print(f"contract-workbench {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", help="Show the version and exit.", callback=_show_version, is_eager=True),
    ] = False,
) -> None:
    """Prove rollback readiness of chat-completions integrations: probe, classify, report."""


@app.command()
def probe(
    env: EnvOption = None,
    probe: Annotated[
        list[str] | None, typer.Option("--probe", help="Probe id to run (repeatable; default: all).")
    ] = None,
    output_format: Annotated[
        Format, typer.Option("--format", help="table for people, json for machines.")
    ] = Format.table,
    config: ConfigOption = None,
    store: StoreOption = None,
    allow_production_negatives: Annotated[
        bool, typer.Option("--allow-production-negatives", help="Also run negative probes on production.")
    ] = False,
) -> None:
    """Run probes against the environments (no notebooks); exit 0 pass, 1 failure, 2 could not run."""
    from ._config import load_config
    from ._engine import plan_run, run_probes
    from ._store import HistoryStore

    settings = load_config(config)
    plan_run(settings, env or (), probe or ())  # bad names fail here, before the store is created
    with HistoryStore(store) as history, _Progress() as progress:
        summary = run_probes(
            settings,
            env or (),
            probe or (),
            store=history,
            progress=progress.update,
            allow_production_negatives=allow_production_negatives,
        )
    if output_format is Format.json:
        sys.stdout.write(json.dumps([result.to_dict() for result in summary.results], indent=2) + "\n")
    else:
        _print_results(summary)
        _print_verdicts(summary)
        out.print(f"next: {_next_hint(summary.exit_code, 'probe')}")
    raise typer.Exit(summary.exit_code)


@app.command()
def audit(
    env: EnvOption = None,
    reports: Annotated[
        Path, typer.Option("--reports", help="Folder for dated reports and index.html.")
    ] = Path("reports"),
    config: ConfigOption = None,
    store: StoreOption = None,
    notebooks: Annotated[Path | None, typer.Option("--notebooks", help="Folder of report notebooks.")] = None,
    timeout: Annotated[
        int, typer.Option("--timeout", help="Execution timeout per notebook cell, seconds.")
    ] = 600,
) -> None:
    """Probe, then write a dated report (executed notebook + offline HTML) and update reports/index.html."""
    from ._audit import notebooks_dir, run_audit
    from ._config import load_config
    from ._engine import plan_run
    from ._store import HistoryStore

    settings = load_config(config)
    plan_run(settings, env or ())  # bad names fail here, before the store or a report is created
    notebooks = notebooks_dir(notebooks)
    with HistoryStore(store) as history, _Progress() as progress:
        outcome = run_audit(
            settings,
            env or (),
            store=history,
            reports_dir=reports,
            notebooks=notebooks,
            progress=progress.update,
            on_stage=progress.stage,
            timeout_s=timeout,
        )
    _print_verdicts(outcome.summary)
    for report in outcome.reports:
        if report.error:
            err.print(f"error: {escape(report.error)}")
        else:
            out.print(f"report: {report.html}")
    out.print(f"index:  {outcome.index}")
    out.print(f"next: {_next_hint(outcome.exit_code, 'audit')}")
    raise typer.Exit(outcome.exit_code)


@app.command()
def serve(
    scenario: Annotated[
        list[str] | None, typer.Option("--scenario", help="Scenario (repeatable: they compose).")
    ] = None,
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1.")] = 8000,
    latency_ms: Annotated[float, typer.Option("--latency-ms", help="Delay before every response.")] = 0.0,
    api_key_env: Annotated[
        str, typer.Option("--api-key-env", help="Variable holding the key clients must send.")
    ] = "WORKBENCH_REFERENCE_KEY",
) -> None:
    """Run the embedded reference endpoint in the foreground (Ctrl-C stops it)."""
    from ._errors import ConfigError
    from ._scenarios import SCENARIO_HELP, parse_scenarios

    try:
        scenarios = parse_scenarios(scenario or ["conformant"])
    except ValueError as exc:
        raise ConfigError(str(exc), field="--scenario") from None
    key = os.environ.get(api_key_env)
    if not key:
        raise ConfigError(
            f"environment variable {api_key_env} is not set: export the key clients must send, e.g. "
            f"export {api_key_env}=$(python -c 'import secrets; print(secrets.token_urlsafe())')",
            field="--api-key-env",
        )
    from ._reference import serve_forever

    names = ", ".join(sorted(str(s) for s in scenarios))
    err.print(f"serving the reference endpoint on http://127.0.0.1:{port}/v1 (scenarios: {names})")
    for item in sorted(scenarios):
        err.print(f"  {item}: {SCENARIO_HELP[item]}")
    err.print(f"clients authenticate with the value of ${api_key_env}; Ctrl-C stops")
    serve_forever(scenarios, api_key=key, latency_ms=latency_ms, port=port)


@app.command()
def classify(
    file: Annotated[Path, typer.Argument(help="A saved response body: JSON, SSE, HTML or plain text.")],
    status: Annotated[int, typer.Option("--status", help="The HTTP status it came with.")] = 200,
    content_type: Annotated[
        str | None,
        typer.Option("--content-type", help="Its Content-Type (default: guessed from the extension)."),
    ] = None,
    header: Annotated[
        list[str] | None, typer.Option("--header", help="A response header, 'Name: value' (repeatable).")
    ] = None,
) -> None:
    """Classify a saved response: prints JSON {symptom, retryable, action, content, detail}."""
    from ._classify import classify as classify_body
    from ._errors import ConfigError

    try:
        body = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=file) from None
    headers = {}
    for item in header or ():
        name, separator, value = item.partition(":")
        if not separator or not name.strip():
            raise ConfigError(f"expected 'Name: value', got {item!r}", field="--header")
        headers[name.strip().lower()] = value.strip()
    guessed = {
        ".sse": "text/event-stream",
        ".html": "text/html",
        ".htm": "text/html",
        ".json": "application/json",
        ".txt": "text/plain",
    }.get(file.suffix.lower(), "")
    result = classify_body(status, body, content_type=content_type or guessed, headers=headers)
    sys.stdout.write(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n")


@app.command()
def compare(
    run_a: Annotated[str, typer.Argument(help="The earlier run id (e.g. the known-good one).")],
    run_b: Annotated[str, typer.Argument(help="The later run id.")],
    store: StoreOption = None,
) -> None:
    """Compare two runs: outcomes, symptom classes, shapes, latency bands (never text). Exit 1 on drift."""
    from ._drift import compare_runs
    from ._store import HistoryStore

    with HistoryStore(store) as history:
        first, second = history.run(run_a), history.run(run_b)
        drifts = compare_runs(
            history.results([run_a]), history.results([run_b]), first.environments, second.environments
        )
    changed = [drift for drift in drifts if drift.changed]
    table = Table(title=f"{run_a} -> {run_b}", title_justify="left")
    for column in ("env", "probe", "change"):
        table.add_column(column, overflow="fold")
    for drift in changed:
        env = drift.env_a if drift.env_a == drift.env_b else f"{drift.env_a} -> {drift.env_b}"
        table.add_row(env, drift.probe, escape(drift.summary()))
    if changed:
        out.print(table)
        out.print(
            f"{len(changed)} of {len(drifts)} probe results drifted; next: check each change against the "
            "release notes, and roll back the part its symptom class names."
        )
    else:
        out.print(
            f"no drift across {len(drifts)} probe results: outcomes, classes, shapes and latency bands match."
        )
    raise typer.Exit(1 if changed else 0)


@app.command()
def confirm(
    item: Annotated[str, typer.Argument(help="rate-limits, billing, docs-reviewed or traffic-shift.")],
    env: Annotated[str, typer.Option("--env", help="The environment confirmed.")],
    by: Annotated[str, typer.Option("--by", help="Who confirms (name or handle).")],
    note: Annotated[str, typer.Option("--note", help="Where it was checked, ticket, limits seen...")] = "",
    expires: Annotated[
        float | None, typer.Option("--expires", help="Days until it must be confirmed again.")
    ] = None,
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """Record an operator confirmation of what software must not infer (quota, billing, a traffic shift)."""
    from ._config import load_config
    from ._confirm import new_confirmation
    from ._store import HistoryStore

    load_config(config).select([env])
    confirmation = new_confirmation(env, item, by=by, note=note, expires_days=expires)
    with HistoryStore(store) as history:
        history.add_confirmation(confirmation)
    out.print(f"recorded: {confirmation.describe()} ({env})")


fixtures_app = typer.Typer(no_args_is_help=True, help="Known-good response fixtures of a release.")
app.add_typer(fixtures_app, name="fixtures")


@fixtures_app.command("capture")
def fixtures_capture(
    env: Annotated[str, typer.Option("--env", help="The environment to capture from (it must pass now).")],
    release: Annotated[str, typer.Option("--release", help="The release these responses belong to.")],
    force: Annotated[bool, typer.Option("--force", help="Replace this release's fixtures.")] = False,
    config: ConfigOption = None,
) -> None:
    """Save sanitized known-good responses under data/fixtures/ENV/RELEASE for replay and ablation."""
    from ._capture import capture_fixtures
    from ._config import load_config

    captured = capture_fixtures(load_config(config), env, release, force=force)
    out.print(f"captured {len(captured.files)} fixture(s) of {captured.label} in {captured.directory}")
    out.print(
        f'next: commit them; `response.fixture_replay` replays them (set baseline = "{release}" to pin).'
    )


@app.command()
def kernel() -> None:
    """Register this environment's Python as the `contract-workbench` Jupyter kernel (make does this)."""
    from ._report import install_kernel

    out.print(f"kernel registered: {install_kernel()}")


class _Progress:
    """Progress on stderr: a live bar on a terminal, one line per result in logs (cron, CI)."""

    def __init__(self) -> None:
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> _Progress:
        if err.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err,
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task("probing", total=None)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def update(self, result: ProbeResult, done: int, total: int) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.update(
                self._task, completed=done, total=total, description=f"probing ({result.env} {result.probe})"
            )
            return
        latency = f" {result.latency_ms:.0f} ms" if result.latency_ms is not None else ""
        symptom = "" if result.symptom == "none" else f" ({result.symptom})"
        err.print(f"[{done}/{total}] {result.env} {result.probe}: {result.outcome}{symptom}{latency}")

    def stage(self, description: str) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, description=description, total=None)
        else:
            err.print(description)


_OUTCOME_STYLE = {
    "pass": "green",
    "fail": "bold red",
    "skip": "dim",
    "needs_operator": "yellow",
    "error": "magenta",
}
_VERDICT_STYLE = {
    "ready": "bold green",
    "needs_operator": "bold yellow",
    "not_ready": "bold red",
    "could_not_run": "bold yellow",
}


def _print_results(summary: RunSummary) -> None:
    """One compact row per result; the details of failures follow under the verdicts."""
    table = Table(title=f"run {summary.run_id}", title_justify="left")
    for column, justify in (
        ("env", "left"),
        ("probe", "left"),
        ("outcome", "left"),
        ("symptom", "left"),
        ("retry", "left"),
        ("status", "right"),
        ("ms", "right"),
    ):
        table.add_column(column, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for result in summary.results:
        table.add_row(
            result.env,
            result.probe,
            f"[{_OUTCOME_STYLE.get(result.outcome, '')}]{result.outcome}[/]",
            "" if result.symptom == "none" else str(result.symptom),
            "yes" if result.retryable else "",
            "" if result.http_status is None else str(result.http_status),
            "" if result.latency_ms is None else f"{result.latency_ms:.0f}",
        )
    out.print(table)


def _print_verdicts(summary: RunSummary) -> None:
    for verdict in summary.verdicts:
        style = _VERDICT_STYLE.get(verdict.status, "")
        out.print(f"[{style}]{verdict.env}: {verdict.label}[/]")
        if verdict.status != "ready" or verdict.reasons != ("every probe passed",):
            for reason in verdict.reasons:
                out.print(f"  - {escape(reason)}")
    counts = ", ".join(f"{env}: {n}" for env, n in summary.requests.items())
    out.print(
        f"requests sent: {counts}; run id {summary.run_id}"
        + (f" ({summary.status})" if summary.status != "complete" else "")
    )


def _next_hint(code: int, verb: str) -> str:
    if code == 0:
        return "every environment passed; record this run id as the known-good probe result."
    if code == 1:
        return (
            "fix or roll back what the failures name (each has the checklist's action), then re-run "
            f"`workbench {verb}`" + ("; open the report for details." if verb == "audit" else ".")
        )
    return "the audit could not complete; fix the errors above and re-run."


def main() -> None:
    """Entry point: one-line errors and interface exit codes, never a traceback for bad input.

    Usage errors are click's (exit 2, usage shown); a `WorkbenchError` is one line with its exit code.
    """
    try:
        app()
    except WorkbenchError as exc:
        err.print(f"error: {escape(str(exc))}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted: results stored so far are kept; re-run to complete")
        sys.exit(130)
