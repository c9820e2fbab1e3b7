"""The `workbench` command: a thin layer that parses arguments and calls one library function per verb.

Exit codes (interface): 0 every environment passes, 1 a contract failure, 2 a usage or
configuration error, or nothing could run. Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from workbench import __version__
from workbench.core.errors import WorkbenchError
from workbench.core.startup import skip_slow_optional_imports
from workbench.core.terminaltext import printable

if TYPE_CHECKING:  # the heavy modules load only when a command needs them
    from collections.abc import Sequence

    from rich.progress import Progress, TaskID

    from workbench.core.config import Config
    from workbench.core.models import ProbeResult
    from workbench.probes.engine import RunSummary
    from workbench.render.audit import AuditOutcome
    from workbench.signals.triggers import Firing

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_show_locals=False,  # locals may hold a key read for a request: never print them
    help="Prove rollback readiness of chat-completions integrations: probe, classify, report.",
    epilog="\b\nCommon options go before or after the verb: --config PATH, --env NAME, --store URL,\n"
    "--junit FILE (probe, audit) and -v/--verbose (every request logged to stderr, credentials\n"
    "redacted). `workbench VERB --help` shows each verb's options and examples.",
)

# Logs (cron, CI) are not terminals: give tables room instead of rich's 80-column default.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 132)
err = Console(stderr=True, highlight=False, soft_wrap=True, width=None if sys.stderr.isatty() else 132)


def _shown(text: object) -> str:
    """Text from outside (servers, logs, files, the store) as the consoles must print it: control
    characters escaped (`printable`), rich markup such as `[bold]` printed, not applied."""
    return escape(printable(str(text)))


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        metavar="PATH",
        help="Environments TOML (default: $WORKBENCH_CONFIG, data/environments.toml here or in a "
        "folder above, or the built-in embedded default).",
    ),
]
EnvOption = Annotated[
    list[str] | None,
    typer.Option("--env", metavar="NAME", help="Environment to use (repeatable; default: all configured)."),
]
StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        metavar="URL",
        help="History store URL (default: $WORKBENCH_STORE, else data/history.sqlite in the project "
        "folder: the one holding the config file's data/).",
    ),
]

JunitOption = Annotated[
    Path | None,
    typer.Option(
        "--junit", metavar="FILE", help="Also write the results as JUnit XML to FILE (for CI test reports)."
    ),
]


class _WordsArgument(typer.core.TyperArgument):
    """An argument shown in words: `FILE`, not typer's `{FILE}` in the usage and `FILE <path>` below."""

    def display_type(self, ctx: Any) -> str:
        return ""

    def _usage_display_name(self) -> str:
        name = self.display_name_raw
        return name if self.required else f"[{name}]"


class _Command(typer.core.TyperCommand):
    """Every verb: its arguments shown in words (see `_WordsArgument`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if type(param) is typer.core.TyperArgument:
                param.__class__ = _WordsArgument


def _project_of(config: Path | None) -> Path:
    """The project folder (its data/ and reports/) of the configuration `--config` or the defaults
    pick, for verbs that need no environment (see `project_folder`)."""
    from workbench.core.config import project_folder, resolve_config_path

    return project_folder(resolve_config_path(config))


def _project_triggers() -> Path | None:
    """The project's data/triggers.toml when it exists (else the built-in example rules)."""
    from workbench.core.config import DEFAULT_TRIGGERS

    path = _project_of(None) / DEFAULT_TRIGGERS
    return path if path.is_file() else None


def _examples(*commands: str) -> str:
    """A help epilog of example command lines, kept as written (`\\b`: click does not rewrap it)."""
    return "\b\nExamples:\n" + "\n".join(f"  {command}" for command in commands)


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


class Format(StrEnum):
    table = "table"
    json = "json"


class LogFormat(StrEnum):
    auto = "auto"
    jsonl = "jsonl"
    csv = "csv"


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
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log every request (credentials redacted) to stderr.")
    ] = False,
) -> None:
    """Prove rollback readiness of chat-completions integrations: probe, classify, report."""
    if verbose:
        import logging

        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
        logger = logging.getLogger("workbench")
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)


@app.command(
    cls=_Command,
    epilog=_examples(
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
    output_format: Annotated[
        Format, typer.Option("--format", metavar="table|json", help="table for people, json for machines.")
    ] = Format.table,
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
) -> None:
    """Run probes against the environments (no notebooks); exit 0 pass, 1 failure, 2 could not run."""
    from workbench.core.config import load_config
    from workbench.history.store import HistoryStore
    from workbench.probes.engine import plan_run, run_probes
    from workbench.render.junit import JunitFile

    settings = load_config(config)
    if dry_run:
        _print_dry_run(settings, env or (), probe or (), allow_production_negatives, output_format)
        return
    plan_run(settings, env or (), probe or ())  # bad names fail here, before the store is created
    junit_file = JunitFile.prepare(junit, name="workbench probe")  # unwritable: fails before any request
    with _stops_cleanly(), HistoryStore(store, project=settings.project) as history, _Progress() as progress:
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
        out.print(f"next: {_next_hint(summary, 'probe')}")
    junit_file.write_for(summary, settings)
    raise typer.Exit(summary.exit_code)


def _print_dry_run(
    settings: Config, envs: Sequence[str], probes: Sequence[str], allow_negatives: bool, output_format: Format
) -> None:
    from workbench.probes.engine import dry_run

    plans = dry_run(settings, envs, probes, allow_negatives=allow_negatives)
    if output_format is Format.json:
        sys.stdout.write(json.dumps([plan.to_json() for plan in plans], indent=2) + "\n")
        return
    for plan in plans:
        table = Table(title=f"{_shown(plan.env)}: {_shown(plan.endpoint)}", title_justify="left")
        for column in ("probe", "requests", "requested tokens", "note"):
            table.add_column(column, overflow="fold")
        for planned in plan.probes:
            table.add_row(planned.probe, str(planned.requests), str(planned.tokens), _shown(planned.skipped))
        out.print(table)
        key = "no key" if plan.key_variable is None else f"key from ${plan.key_variable}"
        key += "" if plan.key_set else " (NOT SET: export it before a real run)"
        out.print(
            f"{_shown(plan.env)}: {plan.requests} request(s), {plan.tokens} requested tokens "
            f"({plan.token_param} = {plan.max_tokens} each; an empty answer cut there is asked once more "
            f"with {plan.max_tokens_retry}); caps this run: {plan.max_requests} requests, "
            f"{plan.max_requested_tokens} tokens; {_shown(key)}"
        )
    out.print("nothing was sent. next: `workbench probe` without --dry-run to send these requests")


@app.command(
    cls=_Command,
    epilog=_examples("workbench audit", "workbench audit --env staging --env production --junit audit.xml"),
)
def audit(
    env: EnvOption = None,
    reports: Annotated[
        Path | None,
        typer.Option(
            "--reports",
            metavar="DIR",
            help="Folder for dated reports and index.html (default: the project's reports/).",
        ),
    ] = None,
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
) -> None:
    """Probe, then write a dated report (executed notebook + offline HTML) and update reports/index.html."""
    from workbench.core.config import load_config
    from workbench.history.store import HistoryStore
    from workbench.probes.engine import plan_run
    from workbench.render.audit import check_audit_inputs, notebooks_dir, run_audit
    from workbench.render.junit import JunitFile

    settings = load_config(config)
    plan_run(settings, env or ())  # bad names fail here, before the store or a report is created
    reports = reports or settings.project / "reports"
    check_audit_inputs(settings, reports)  # the triggers and the reports folder, likewise
    notebooks = notebooks_dir(notebooks, project=settings.project)
    junit_file = JunitFile.prepare(junit, name="workbench audit")  # unwritable: fails now, not after
    with _stops_cleanly(), HistoryStore(store, project=settings.project) as history, _Progress() as progress:
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
    for name, readiness in outcome.readiness.items():
        style = "bold green" if readiness.ready else "bold red"
        out.print(f"[{style}]{_shown(name)}: {_shown(readiness.summary)}[/]")
        for step in readiness.blocking():
            out.print(f"  {step.number}. {step.title}: {step.status}: {_shown(step.evidence)}")
    for leak in outcome.leaks:
        err.print(
            f"error: a secret was written: {leak} (the value is not shown); delete that file and report a bug"
        )
    for report in outcome.reports:
        if report.error:
            err.print(f"error: {_shown(report.error)}")
        else:
            out.print(f"report: {_shown(report.html)}")
    out.print(f"index:  {_shown(outcome.index)}")
    out.print(f"next: {_audit_hint(outcome)}")
    if junit_file.write_for(outcome.summary, settings, readiness=outcome.readiness) is not None:
        out.print(f"junit:  {_shown(junit)}")
    raise typer.Exit(outcome.exit_code)


@app.command(cls=_Command, epilog=_scenario_list())
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
    from workbench.core.errors import ConfigError
    from workbench.core.scenarios import SCENARIO_HELP, parse_scenarios

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
    from workbench.core.config import DEFAULT_PATH
    from workbench.reference.endpoint import DEFAULT_MODELS, serve_forever

    base_url = f"http://127.0.0.1:{port}"
    models = ", ".join(DEFAULT_MODELS)
    names = ", ".join(sorted(str(s) for s in scenarios))
    err.print(f"serving the reference endpoint: base URL {base_url} (chat completions at {DEFAULT_PATH})")
    err.print(f"model: {models} (a request naming another model gets 404)")
    err.print(f"key: clients send `Authorization: Bearer KEY`, KEY being the value of ${api_key_env}")
    err.print(f"scenarios: {names}")
    for item in sorted(scenarios):
        err.print(f"  {item}: {SCENARIO_HELP[item]}")
    err.print(
        f'try: curl -s {base_url}{DEFAULT_PATH} -H "Authorization: Bearer ${api_key_env}" '
        f"-H 'Content-Type: application/json' "
        f"""-d '{{"model": "{DEFAULT_MODELS[0]}", "messages": [{{"role": "user", "content": "hi"}}]}}'"""
    )
    err.print("Ctrl-C stops")
    serve_forever(scenarios, api_key=key, latency_ms=latency_ms, port=port)


@app.command(
    cls=_Command,
    epilog=_examples(
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


@app.command(
    cls=_Command, epilog=_examples("workbench runs", "workbench runs --env staging --limit 5 --format json")
)
def runs(
    env: Annotated[
        str | None, typer.Option("--env", metavar="NAME", help="Only runs that included this environment.")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", metavar="N", min=1, help="How many runs, newest first.")
    ] = 20,
    output_format: Annotated[
        Format, typer.Option("--format", metavar="table|json", help="table for people, json for machines.")
    ] = Format.table,
    store: StoreOption = None,
) -> None:
    """List the runs of the history, newest first: what `compare` and the drift explorer take."""
    from workbench.history.store import HistoryStore
    from workbench.probes.verdict import list_runs

    with HistoryStore(store, project=_project_of(None)) as history:
        listed = list_runs(history, env=env, limit=limit)
    if output_format is Format.json:
        sys.stdout.write(json.dumps([item.to_json() for item in listed], indent=2) + "\n")
        return
    if not listed:
        out.print("no runs in this store yet; next: `workbench audit` (or `workbench probe`) writes one.")
        return
    table = Table(title_justify="left")
    for column in ("run id", "started (UTC)", "status", "scope", "environments", "config"):
        table.add_column(column, overflow="fold")
    for item in listed:
        verdicts = ", ".join(f"{verdict.env}: {verdict.status}" for verdict in item.verdicts)
        table.add_row(
            item.run.run_id,
            item.run.started_at[:19].replace("T", " "),
            item.run.status,
            item.scope,
            _shown(verdicts),
            _shown(item.run.config_path or "built-in default"),
        )
    out.print(table)
    out.print(
        "next: `workbench compare RUN_A RUN_B` (a complete run is a baseline; a partial one, a --probe "
        "selection, never is)."
    )


@app.command(
    cls=_Command,
    epilog=_examples(
        "workbench runs   # pick two run ids",
        "workbench compare 20261127T051953Z-1a2b3c 20261202T110226Z-4d5e6f",
    ),
)
def compare(
    run_a: Annotated[
        str, typer.Argument(metavar="RUN_A", help="The earlier run id (e.g. the known-good one).")
    ],
    run_b: Annotated[str, typer.Argument(metavar="RUN_B", help="The later run id.")],
    store: StoreOption = None,
) -> None:
    """Compare two runs: outcomes, classes, shapes (never text); exit 1 on contract drift, not latency."""
    from workbench.history.drift import compare_runs
    from workbench.history.store import HistoryStore

    with HistoryStore(store, project=_project_of(None)) as history:
        first, second = history.run(run_a), history.run(run_b)
        drifts = compare_runs(
            history.results([run_a]), history.results([run_b]), first.environments, second.environments
        )
    changed = [drift for drift in drifts if drift.changed]
    drifted = [drift for drift in changed if drift.drifted]
    table = Table(title=f"{run_a} -> {run_b}", title_justify="left")
    for column in ("env", "probe", "judgement", "change"):
        table.add_column(column, overflow="fold")
    for drift in changed:
        env = drift.env_a if drift.env_a == drift.env_b else f"{drift.env_a} -> {drift.env_b}"
        judgement = "contract drift" if drift.drifted else "information"
        table.add_row(_shown(env), _shown(drift.probe), judgement, _shown(drift.summary()))
    if changed:
        out.print(table)
    if drifted:
        out.print(
            f"contract drift in {len(drifted)} of {len(drifts)} probe results; next: check each change "
            "against the release notes, and roll back the part its symptom class names."
        )
    elif changed:
        out.print(
            f"no contract drift across {len(drifts)} probe results; {len(changed)} changed in ways that keep "
            "the contract (new fields, nullability, latency): information, not a gate."
        )
    else:
        out.print(
            f"no drift across {len(drifts)} probe results: outcomes, classes, shapes and latency match."
        )
    raise typer.Exit(1 if drifted else 0)


@app.command(
    cls=_Command,
    epilog=_examples(
        'workbench confirm rate-limits --env production --by alice --note "TPM 90k seen" --expires 30'
    ),
)
def confirm(
    item: Annotated[
        str, typer.Argument(metavar="ITEM", help="rate-limits, billing, docs-reviewed or traffic-shift.")
    ],
    env: Annotated[str, typer.Option("--env", metavar="NAME", help="The environment confirmed.")],
    by: Annotated[str, typer.Option("--by", metavar="WHO", help="Who confirms (name or handle).")],
    note: Annotated[
        str, typer.Option("--note", metavar="TEXT", help="Where it was checked, ticket, limits seen...")
    ] = "",
    expires: Annotated[
        float | None, typer.Option("--expires", metavar="DAYS", help="Days until it must be confirmed again.")
    ] = None,
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """Record an operator confirmation of what software must not infer (quota, billing, a traffic shift)."""
    from workbench.core.config import load_config
    from workbench.history.confirmations import new_confirmation
    from workbench.history.store import HistoryStore

    settings = load_config(config)
    settings.select([env])
    confirmation = new_confirmation(env, item, by=by, note=note, expires_days=expires)
    with HistoryStore(store, project=settings.project) as history:
        history.add_confirmation(confirmation)
    out.print(f"recorded: {_shown(confirmation.describe())} ({_shown(env)})")


fixtures_app = typer.Typer(no_args_is_help=True, help="Known-good response fixtures of a release.")
app.add_typer(fixtures_app, name="fixtures")


@fixtures_app.command(
    "capture", cls=_Command, epilog=_examples("workbench fixtures capture --env staging --release 2026.12.1")
)
def fixtures_capture(
    env: Annotated[
        str, typer.Option("--env", metavar="NAME", help="The environment to capture from (it must pass now).")
    ],
    release: Annotated[
        str, typer.Option("--release", metavar="RELEASE", help="The release these responses belong to.")
    ],
    force: Annotated[bool, typer.Option("--force", help="Replace this release's fixtures.")] = False,
    config: ConfigOption = None,
) -> None:
    """Save sanitized known-good responses under data/fixtures/ENV/RELEASE for replay and ablation."""
    from workbench.core.config import load_config
    from workbench.probes.capture import capture_fixtures

    captured = capture_fixtures(load_config(config), env, release, force=force)
    where = f"{_shown(captured.label)} in {_shown(captured.directory)}"
    out.print(f"captured {len(captured.files)} fixture(s) of {where}")
    out.print(
        f'next: commit them; `response.fixture_replay` replays them (set baseline = "{release}" to pin).'
    )


TriggersOption = Annotated[
    Path | None,
    typer.Option(
        "--triggers", metavar="FILE", help="Trigger rules TOML (default: data/triggers.toml, else examples)."
    ),
]


@app.command(
    cls=_Command,
    epilog=_examples("workbench trends", "workbench trends --env production --triggers data/triggers.toml"),
)
def trends(
    env: EnvOption = None,
    triggers: TriggersOption = None,
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """Evaluate the trigger rules over the history; print what fired with its action; exit 1 if any did."""
    from workbench.core.config import load_config
    from workbench.history.store import HistoryStore
    from workbench.signals.trends import evaluate
    from workbench.signals.triggers import load_rules

    settings = load_config(config)
    if env:
        settings.select(env)
    rules = load_rules(triggers or settings.settings.triggers)
    with HistoryStore(store, project=settings.project) as history:
        firings = evaluate(history, rules, envs=env or ())
    _print_firings(firings, source="the history")
    raise typer.Exit(1 if any(firing.fired for firing in firings) else 0)


@app.command(
    cls=_Command,
    epilog=_examples(
        "workbench watch app-requests.jsonl",
        "workbench watch requests.csv --column status=http_code --column latency_ms=duration",
    ),
)
def watch(
    logfile: Annotated[
        Path,
        typer.Argument(
            metavar="LOGFILE", help="The application's request log: JSON lines or CSV with a header."
        ),
    ],
    triggers: TriggersOption = None,
    log_format: Annotated[
        LogFormat, typer.Option("--format", metavar="auto|jsonl|csv", help="The log's format.")
    ] = LogFormat.auto,
    column: Annotated[
        list[str] | None,
        typer.Option(
            "--column",
            metavar="FIELD=NAME",
            help="FIELD=NAME: the log's column for timestamp, status, error, exception or "
            "latency_ms (repeatable).",
        ),
    ] = None,
) -> None:
    """Classify an application's own request log into symptom classes and apply the trigger rules."""
    from workbench.signals.triggers import load_rules
    from workbench.signals.watch import LogColumns
    from workbench.signals.watch import watch as watch_log

    columns = LogColumns.parse(column or ())
    rules = load_rules(triggers or _project_triggers())
    report = watch_log(logfile, rules=rules, columns=columns, fmt=log_format.value)
    counts = ", ".join(f"{symptom}: {count}" for symptom, count in sorted(report.counts.items()))
    out.print(f"{_shown(logfile)}: {report.samples} request(s) read ({counts or 'none'})")
    for line, reason in report.malformed[:20]:
        err.print(f"  line {line}: not read: {_shown(reason)}")
    if report.malformed:
        err.print(f"  {len(report.malformed)} malformed line(s) skipped; the rest was read")
    if report.samples == 0:  # an empty or rotated log must not pass a gate: nothing was judged
        err.print(
            f"error: {_shown(logfile)}: no request in this log (empty, rotated, or no line readable): "
            "nothing could be judged; point watch at the log that holds the traffic"
        )
        raise typer.Exit(2)
    _print_firings(report.firings, source=str(logfile))
    raise typer.Exit(1 if report.fired else 0)


def _print_firings(firings: Sequence[Firing], *, source: str) -> None:
    source = _shown(source)
    fired = [firing for firing in firings if firing.fired]
    for firing in fired:
        where = _shown(f"{firing.env} ({firing.series})")
        out.print(f"[bold red]FIRED[/] {_shown(firing.rule.name)} on {where}: {_shown(firing.evidence)}")
        out.print(f"      action: {firing.action}")
    quiet = len(firings) - len(fired)
    if fired:
        out.print(
            f"{len(fired)} trigger(s) fired over {source}; next: roll back what each action names, then "
            "re-probe (`workbench audit`) and compare structure with the known-good run."
        )
    else:
        out.print(
            f"no trigger fired over {source} ({quiet} rule evaluation(s)); the thresholds are examples: "
            "tune data/triggers.toml to your traffic."
        )


bundle_app = typer.Typer(
    no_args_is_help=True, help="Rollback bundles: the whole integration contract of a release."
)
app.add_typer(bundle_app, name="bundle")


@bundle_app.command(
    "capture",
    cls=_Command,
    epilog=_examples(
        "workbench bundle capture --env staging --release 2026.12.1 --manifest data/integration/manifest.toml"
    ),
)
def bundle_capture(
    env: Annotated[str, typer.Option("--env", metavar="NAME", help="The environment whose release this is.")],
    release: Annotated[
        str, typer.Option("--release", metavar="RELEASE", help="The release name (e.g. a version or tag).")
    ],
    manifest: Annotated[
        Path | None,
        typer.Option(
            "--manifest", metavar="FILE", help="The integration manifest (default: the environment's)."
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace this release's bundle.")] = False,
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """Record the whole contract of a release in data/bundles/ENV/RELEASE.json (never with a secret)."""
    from workbench.core.config import load_config
    from workbench.core.errors import ConfigError
    from workbench.history.store import HistoryStore
    from workbench.rollback.manifest import capture_bundle, validate_manifest

    settings = load_config(config)
    (environment,) = settings.select([env])
    manifest = manifest or environment.manifest
    if manifest is None:  # a bundle of the config alone misses parts: `bundle verify` would reject it
        raise ConfigError(
            f"no integration manifest for environment {env!r}: pass --manifest FILE, or set manifest = "
            f'"FILE" in [environments.{env}] (README, "Rollback bundles"); nothing was written',
            path=settings.source or "<built-in default>",
            field=f"environments.{env}.manifest",
        )
    validate_manifest(manifest)  # a bad or missing manifest fails before the store is opened
    with HistoryStore(store, project=settings.project) as history:
        captured = capture_bundle(
            settings,
            env,
            release,
            manifest=manifest,
            store=history,
            bundles_dir=settings.settings.bundles_dir,
            force=force,
        )
    missing = [part for part, value in captured.parts.items() if value.get("missing")]
    out.print(f"bundle {_shown(captured.label)} written to {_shown(captured.path)}")
    if missing:
        out.print(
            f"[yellow]missing parts: {', '.join(missing)}[/]; next: describe them in a manifest "
            "(README, 'Rollback bundles') and capture again with --force."
        )
    else:
        out.print(
            f"next: commit it; `workbench bundle verify {_shown(captured.label)}` before you rely on it."
        )


@bundle_app.command("verify", cls=_Command, epilog=_examples("workbench bundle verify staging/2026.12.1"))
def bundle_verify(
    bundle: Annotated[str, typer.Argument(metavar="BUNDLE", help="ENV/RELEASE or a bundle file.")],
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """Check every part is present, resolvable and free of secret values; exit 1 if not."""
    from workbench.core.config import load_config
    from workbench.history.store import HistoryStore
    from workbench.rollback.bundle import Bundle, resolve_bundle
    from workbench.rollback.plan import verify_bundle

    settings = load_config(config)
    loaded = Bundle.load(resolve_bundle(bundle, settings.settings.bundles_dir))
    with HistoryStore(store, project=settings.project) as history:
        checks = verify_bundle(loaded, secrets=settings.key_values(), store=history)
    for check in checks:
        mark = "[green]ok[/]  " if check.ok else "[bold red]FAIL[/]"
        out.print(f"{mark} {_shown(check.part)}: {_shown(check.message)}")
    failed = [check for check in checks if not check.ok]
    out.print(
        f"{_shown(loaded.label)}: "
        + (
            "every part present, resolvable and free of secrets"
            if not failed
            else f"{len(failed)} problem(s); fix them and capture again with --force"
        )
    )
    raise typer.Exit(1 if failed else 0)


@bundle_app.command(
    "diff", cls=_Command, epilog=_examples("workbench bundle diff staging/2026.11.3 staging/2026.12.1")
)
def bundle_diff(
    a: Annotated[str, typer.Argument(metavar="A", help="ENV/RELEASE or a bundle file.")],
    b: Annotated[str, typer.Argument(metavar="B", help="ENV/RELEASE or a bundle file.")],
    config: ConfigOption = None,
) -> None:
    """List the parts that differ between two bundles (exit 1 when any does)."""
    from workbench.core.config import load_config
    from workbench.rollback.bundle import Bundle, resolve_bundle
    from workbench.rollback.plan import diff_bundles

    directory = load_config(config).settings.bundles_dir
    first = Bundle.load(resolve_bundle(a, directory))
    second = Bundle.load(resolve_bundle(b, directory))
    changes = diff_bundles(first, second)
    for change in changes:
        out.print(f"{change.kind:>13}  {_shown(change.summary)}")
    out.print(
        f"{len(changes)} part(s) differ between {_shown(first.label)} and {_shown(second.label)}"
        if changes
        else f"{_shown(first.label)} and {_shown(second.label)} record the same contract"
    )
    raise typer.Exit(1 if changes else 0)


@bundle_app.command(
    "plan",
    cls=_Command,
    epilog=_examples(
        "workbench bundle plan --current staging/2026.12.1 --target staging/2026.11.3",
        "workbench bundle plan --current staging/2026.12.1 --target staging/2026.11.3 --state deployed.toml",
    ),
)
def bundle_plan(
    current: Annotated[
        str,
        typer.Option("--current", metavar="RELEASE", help="The release deployed now (ENV/RELEASE or file)."),
    ],
    target: Annotated[str, typer.Option("--target", metavar="RELEASE", help="The release to roll back to.")],
    state: Annotated[
        Path | None,
        typer.Option(
            "--state",
            metavar="FILE",
            help="What is deployed now: a manifest (.toml) or a bundle file, to check a rollback.",
        ),
    ] = None,
    config: ConfigOption = None,
    store: StoreOption = None,
) -> None:
    """What a rollback to TARGET must restore; with --state, whether it was partial (exit 1)."""
    from workbench.core.config import load_config
    from workbench.rollback.bundle import Bundle, resolve_bundle
    from workbench.rollback.manifest import deployed_bundle
    from workbench.rollback.plan import plan_rollback

    settings = load_config(config)
    directory = settings.settings.bundles_dir
    first = Bundle.load(resolve_bundle(current, directory))
    second = Bundle.load(resolve_bundle(target, directory))
    deployed = None if state is None else deployed_bundle(state, settings, first.env, store=store)
    plan = plan_rollback(first, second, state=deployed)
    for line in plan.lines():
        out.print(_shown(line))
    raise typer.Exit(1 if plan.partial else 0)


reports_app = typer.Typer(no_args_is_help=True, help="Dated report folders under reports/.")
app.add_typer(reports_app, name="reports")


@reports_app.command(
    "prune", cls=_Command, epilog=_examples("workbench reports prune --keep-days 30 --dry-run")
)
def reports_prune(
    keep_days: Annotated[
        int,
        typer.Option(
            "--keep-days", metavar="N", min=0, help="Keep folders dated within N days (UTC); 0: only today."
        ),
    ],
    reports: Annotated[
        Path | None,
        typer.Option(
            "--reports",
            metavar="DIR",
            help="Folder of dated reports and index.html (default: the project's reports/).",
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only print what would be removed.")] = False,
) -> None:
    """Delete dated report folders (YYYY-MM-DD) older than N days, then rebuild reports/index.html."""
    from workbench.render.prune import prune_reports

    result = prune_reports(reports or _project_of(None) / "reports", keep_days, dry_run=dry_run)
    for line in result.lines():
        (err if line.startswith("error: ") else out).print(_shown(line))
    raise typer.Exit(2 if result.failed else 0)


@reports_app.command(
    "html",
    cls=_Command,
    epilog=_examples("workbench reports html reports/2026-11-27/051953-contract_audit.ipynb"),
)
def reports_html(
    notebooks: Annotated[
        list[Path], typer.Argument(metavar="NOTEBOOK...", help="Executed report notebooks (.ipynb).")
    ],
) -> None:
    """Write the offline HTML of executed report notebooks beside them (what a scheduler's papermill
    task needs after executing one); exit 2 when a notebook is missing or cannot be read."""
    from workbench.core.errors import ConfigError
    from workbench.render.notebooks import export_html

    for notebook in notebooks:  # all checked first: no half-done batch on a typo
        if notebook.suffix != ".ipynb" or not notebook.is_file():
            raise ConfigError("not an executed notebook (.ipynb file)", path=notebook)
    for notebook in notebooks:
        try:
            html = export_html(notebook, notebook.with_suffix(".html"))
        except (OSError, ValueError) as exc:  # unreadable, or not a notebook (nbformat's errors)
            raise ConfigError(f"cannot export: {exc}", path=notebook) from None
        out.print(f"report: {_shown(html)}")


@app.command(cls=_Command, epilog=_examples("workbench scan", "workbench scan reports/ logs/app.log"))
def scan(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(metavar="PATH...", help="Files or folders (default: reports/ and data/)."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Look for secrets in artifacts and for personal data in probe prompts; exit 1 on any finding."""
    from workbench.core.config import load_config
    from workbench.core.errors import ConfigError
    from workbench.core.secrets import personal_data_in_prompts, scan_paths

    for path in paths or ():  # a typo must not read as "no secret": nothing was scanned
        if not path.exists():
            raise ConfigError("not found: nothing to scan there", path=path)
    settings = load_config(config)
    defaults = (settings.project / "reports", settings.project / "data")
    targets = paths or [path for path in defaults if path.exists()]
    findings = scan_paths(targets, secrets=settings.key_values())
    findings += personal_data_in_prompts(settings)
    for finding in findings:
        out.print(f"[bold red]found[/] {_shown(str(finding))}")
    checked = ", ".join(str(path) for path in targets) or "nothing"
    if findings:
        out.print(
            f"{len(findings)} finding(s) in {_shown(checked)} and the probe prompts; next: remove each value "
            "(rotate a key that was written anywhere), then scan again."
        )
    else:
        out.print(f"no secret in {_shown(checked)}; no personal data in the probe prompts.")
    raise typer.Exit(1 if findings else 0)


@app.command(cls=_Command)
def kernel() -> None:
    """Register this environment's Python as the `contract-workbench` Jupyter kernel (make does this)."""
    from workbench.render.notebooks import install_kernel

    out.print(f"kernel registered: {install_kernel()}")


class _Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler's timeout, `systemctl stop`): stop the way Ctrl-C does."""


def _on_sigterm(_signum: int, _frame: object) -> None:
    raise _Terminated


@contextmanager
def _stops_cleanly() -> Iterator[None]:
    """Ctrl-C or SIGTERM: the run is marked interrupted and its results kept; say so, exit 130 or 143."""
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    except KeyboardInterrupt as stop:
        err.print(
            "interrupted: the results stored so far are kept and the run is marked interrupted; re-run it"
        )
        raise typer.Exit(143 if isinstance(stop, _Terminated) else 130) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


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
        err.print(f"[{done}/{total}] {_shown(result.env)} {result.probe}: {result.outcome}{symptom}{latency}")

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
            _retry_cell(result),
            "" if result.http_status is None else str(result.http_status),
            "" if result.latency_ms is None else f"{result.latency_ms:.0f}",
        )
    out.print(table)


def _retry_cell(result: ProbeResult) -> str:
    """Retry advice where there is something to retry (a failure or an error): yes or no, never blank."""
    if result.outcome in ("fail", "error"):
        return "yes" if result.retryable else "no"
    return ""


def _print_verdicts(summary: RunSummary) -> None:
    for verdict in summary.verdicts:
        style = _VERDICT_STYLE.get(verdict.status, "")
        out.print(f"[{style}]{_shown(verdict.env)}: {_shown(verdict.label)}[/]")
        if verdict.status != "ready" or verdict.reasons != ("every probe passed",):
            for reason in verdict.reasons:
                out.print(f"  - {_shown(reason)}")
    counts = ", ".join(f"{env}: {n}" for env, n in summary.requests.items())
    out.print(
        f"requests that reached a server: {counts}; run id {summary.run_id}"
        + (f" ({summary.status})" if summary.status != "complete" else "")
    )


def _next_hint(summary: RunSummary, verb: str) -> str:
    """What to do next for `probe`, fitted to what the verdicts say (not just the exit code)."""
    statuses = {str(verdict.status) for verdict in summary.verdicts}
    if summary.exit_code == 0:
        return "every environment passed; record this run id as the known-good probe result."
    steps: list[str] = []
    failures = [r for r in summary.results if r.outcome == "fail"]
    unreachable = _unreachable_envs(summary.results)
    if unreachable:
        steps.append(
            f"nothing reached {', '.join(unreachable)}: check the base_url, then this machine's DNS, "
            "network and proxy (the failure names the host and the cause)"
        )
    if any(not r.facts.get("unreachable") for r in failures):
        steps.append(
            "fix or roll back what the failures name (each has the checklist's action), then re-run "
            f"`workbench {verb}`"
        )
    if "needs_operator" in statuses:
        pending = sorted({v.env for v in summary.verdicts if str(v.status) == "needs_operator"})
        steps.append(
            f"an operator confirms what no response proves ({', '.join(pending)}): run each "
            "`workbench confirm ...` named above, then re-run"
        )
    if {v.env for v in summary.verdicts if str(v.status) == "could_not_run"} - set(unreachable):
        steps.append(f"`workbench {verb}` could not judge some environment: fix the errors above and re-run")
    return "; ".join(steps) + "."


def _unreachable_envs(results: Sequence[ProbeResult]) -> list[str]:
    """Environments whose host no request reached: a failure found it, or probes were not sent."""
    from workbench.core.models import NOT_SENT

    return sorted({r.env for r in results if r.facts.get("unreachable") or r.detail.startswith(NOT_SENT)})


def _audit_hint(outcome: AuditOutcome) -> str:
    """What to do next after `audit`: from the blocking steps' states, not just the exit code."""
    if outcome.exit_code == 0:
        return "every environment is rollback-ready; keep this report with the release."
    if outcome.exit_code == 2:
        return "`workbench audit` could not complete; fix the errors above and re-run."
    blocking = {str(step.status) for r in outcome.readiness.values() for step in r.blocking()}
    steps: list[str] = []
    unreachable = _unreachable_envs(outcome.summary.results)
    if unreachable:
        steps.append(
            f"nothing reached {', '.join(unreachable)}: check the base_url, then this machine's DNS, "
            "network and proxy"
        )
    elif "fail" in blocking or outcome.leaks:
        steps.append("fix or roll back what the failing steps name (each says how)")
    if "needs_operator" in blocking:
        steps.append("record the operator confirmations the steps name (`workbench confirm ...`)")
    if "not_run" in blocking:
        steps.append("do what each not-run step names (a bundle, fixtures, ...)")
    return "; ".join(steps) + ", then re-run `workbench audit`; open the report for the evidence."


# Common options (README "Commands") that work before or after the verb.
_ROOT_FLAGS = frozenset({"-v", "--verbose"})
_COMMON_WITH_VALUE = frozenset({"--config", "--env", "--store", "--junit"})


def hoist_common_options(argv: Sequence[str]) -> list[str]:
    """`workbench --config c.toml probe -v` means `workbench -v probe --config c.toml`.

    Click reads an option only at its own level; people put common options on either side of the
    verb. `-v/--verbose` (the root's) moves before the verb; `--config`, `--env`, `--store` and
    `--junit` given before the verb move after it. A token that is another option's value (`--note
    -v`) stays where it is: the verb's own options say which take a value.
    """
    group: Any = typer.main.get_command(app)  # typer's own click: read by duck typing
    front: list[str] = []  # the root's own options
    moved: list[str] = []  # common options met before the verb
    path: list[str] = []  # the verb (and its sub-verb)
    rest = list(argv)
    while rest and hasattr(group, "commands"):
        token = rest[0]
        if token == "--":
            break
        if token.split("=", 1)[0] in _COMMON_WITH_VALUE:
            moved.append(rest.pop(0))
            if "=" not in token and rest:
                moved.append(rest.pop(0))
        elif token.startswith("-"):
            (path if path else front).append(rest.pop(0))
        else:
            verb = group.commands.get(token)
            if verb is None:
                break  # click names the unknown verb
            path.append(rest.pop(0))
            group = verb
    if hasattr(group, "commands"):
        return [*front, *path, *moved, *rest]  # no complete verb: click says what is missing
    takes_value = {
        name
        for param in group.params
        if param.param_type_name == "option" and not param.is_flag and not getattr(param, "count", False)
        for name in param.opts
    }
    kept: list[str] = []
    tokens = iter(rest)
    for token in tokens:
        if token == "--":
            kept.extend([token, *tokens])
            break
        if token in _ROOT_FLAGS:
            front.append(token)
            continue
        kept.append(token)
        if token in takes_value:
            kept.extend(list(itertools.islice(tokens, 1)))
    return [*front, *path, *moved, *kept]


def main() -> None:
    """Entry point: one-line errors and interface exit codes, never a traceback for bad input.

    Usage errors are click's (exit 2, usage shown); a `WorkbenchError` is one line with its exit code.
    """
    skip_slow_optional_imports()
    try:
        app(args=hoist_common_options(sys.argv[1:]), prog_name="workbench")
    except WorkbenchError as exc:
        err.print(f"error: {_shown(str(exc))}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted: results stored so far are kept; re-run to complete")
        sys.exit(130)
