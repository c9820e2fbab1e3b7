"""`workbench runs`, `compare` and `trends`: reading the history store."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from workbench.cli.options import (
    Common,
    ConfigOption,
    EnvOption,
    Format,
    FormatOption,
    ProjectDirOption,
    StoreOption,
    TriggersOption,
    WordsCommand,
    examples,
)
from workbench.cli.terminal import out, print_firings, shown

commands = typer.Typer()


@commands.command(
    cls=WordsCommand,
    epilog=examples("workbench runs", "workbench runs --env staging --limit 5 --format json"),
)
def runs(
    env: Annotated[
        str | None, typer.Option("--env", metavar="NAME", help="Only runs that included this environment.")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", metavar="N", min=1, help="How many runs, newest first.")
    ] = 20,
    output_format: FormatOption = Format.table,
    store: StoreOption = None,
    config: ConfigOption = None,
    project_dir: ProjectDirOption = None,
) -> None:
    """List the runs of the history, newest first: what `compare` and the drift explorer take."""
    from workbench.history.store import HistoryStore
    from workbench.probes.verdict import list_runs
    from workbench.rollback.advice import hint

    common = Common(config, store, project_dir)
    with HistoryStore.for_config(common.load(), store, create=False) as history:
        listed = list_runs(history, env=env, limit=limit)
    if output_format is Format.json:
        sys.stdout.write(json.dumps([item.to_json() for item in listed], indent=2) + "\n")
        return
    if not listed:
        out.print(
            f"no runs in this store yet; next: `{hint(common.options(), 'audit')}` (or a `probe` run) "
            "writes one."
        )
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
            shown(verdicts),
            shown(item.run.config_path or "built-in default"),
        )
    out.print(table)
    out.print(
        f"next: `{hint(common.options(), 'compare', 'RUN_A', 'RUN_B')}` (a complete run is a baseline; "
        "a partial one, a --probe selection, never is)."
    )


@commands.command(
    cls=WordsCommand,
    epilog=examples(
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
    config: ConfigOption = None,
    project_dir: ProjectDirOption = None,
) -> None:
    """Compare two runs: outcomes, classes, shapes (never text); exit 1 on contract drift, not latency."""
    from workbench.history.store import HistoryStore
    from workbench.probes.drift import compare_stored_runs

    settings = Common(config, store, project_dir).load()
    with HistoryStore.for_config(settings, store, create=False) as history:
        drifts = compare_stored_runs(history, run_a, run_b)
    changed = [drift for drift in drifts if drift.changed]
    drifted = [drift for drift in changed if drift.drifted]
    table = Table(title=f"{shown(run_a)} -> {shown(run_b)}", title_justify="left")
    for column in ("env", "probe", "judgement", "change"):
        table.add_column(column, overflow="fold")
    for drift in changed:
        env = drift.env_a if drift.env_a == drift.env_b else f"{drift.env_a} -> {drift.env_b}"
        judgement = "contract drift" if drift.drifted else "information"
        table.add_row(shown(env), shown(drift.probe), judgement, shown(drift.summary()))
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


@commands.command(
    cls=WordsCommand,
    epilog=examples("workbench trends", "workbench trends --env production --triggers data/triggers.toml"),
)
def trends(
    env: EnvOption = None,
    triggers: TriggersOption = None,
    config: ConfigOption = None,
    store: StoreOption = None,
    project_dir: ProjectDirOption = None,
) -> None:
    """Evaluate the trigger rules over the history; print what fired with its action; exit 1 if any did."""
    from workbench.history.store import HistoryStore
    from workbench.rollback.advice import hint
    from workbench.signals.trends import evaluate
    from workbench.signals.triggers import load_rules

    common = Common(config, store, project_dir, tuple(env or ()))
    settings = common.load()
    if env:
        settings.select(env)
    rules_file = triggers or settings.settings.triggers
    rules = load_rules(rules_file)
    with HistoryStore.for_config(settings, store, create=False) as history:
        firings = evaluate(history, rules, envs=env or ())
    shown_file = str(rules_file) if rules_file is not None and rules_file.is_file() else None
    envs = tuple(part for name in env or () for part in ("--env", name))
    print_firings(
        firings,
        source="the history",
        triggers_file=shown_file,
        reprobe=hint(common.options(), "audit", *envs),
    )
    raise typer.Exit(1 if any(firing.fired for firing in firings) else 0)
