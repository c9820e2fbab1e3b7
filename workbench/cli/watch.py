"""`workbench watch`: an application's own request log after a traffic shift, judged by the same
symptom classes and trigger rules as the probes."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from workbench.cli.options import (
    Common,
    ConfigOption,
    ProjectDirOption,
    StoreOption,
    TriggersOption,
    WordsCommand,
    examples,
)
from workbench.cli.terminal import err, out, print_firings, shown

commands = typer.Typer()


class LogFormat(StrEnum):
    auto = "auto"
    jsonl = "jsonl"
    csv = "csv"


@commands.command(
    cls=WordsCommand,
    epilog=examples(
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
    env: Annotated[
        str | None,
        typer.Option(
            "--env",
            metavar="NAME",
            help="The environment whose traffic this log holds (named in the verdict and the next step).",
        ),
    ] = None,
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
    config: ConfigOption = None,
    store: StoreOption = None,
    project_dir: ProjectDirOption = None,
) -> None:
    """Classify an application's own request log into symptom classes and apply the trigger rules."""
    from workbench.rollback.advice import hint
    from workbench.signals.triggers import default_rules, load_rules
    from workbench.signals.watch import LogColumns
    from workbench.signals.watch import watch as watch_log

    columns = LogColumns.parse(column or ())
    common = Common(config, store, project_dir, (env,) if env else ())
    settings = common.load()
    if env is not None:
        settings.select([env])  # an unknown name: one line naming the file, before the log is read
    rules_file = triggers or settings.settings.triggers
    rules = load_rules(rules_file) if rules_file is not None else default_rules()
    report = watch_log(logfile, rules=rules, columns=columns, fmt=log_format.value, env=env)
    counts = ", ".join(f"{symptom}: {count}" for symptom, count in sorted(report.counts.items()))
    judged = f"{shown(env)}: " if env else ""
    out.print(f"{judged}{shown(logfile)}: {report.samples} request(s) read ({counts or 'none'})")
    for line, reason in report.malformed[:20]:
        err.print(f"  line {line}: not read: {shown(reason)}")
    if report.malformed:
        err.print(f"  {len(report.malformed)} malformed line(s) skipped; the rest was read")
    if report.misnamed:
        err.print(f"  {shown(_column_hint(report.fields_seen))}")
    if report.samples == 0:  # an empty or rotated log must not pass a gate: nothing was judged
        err.print(
            f"error: {shown(logfile)}: no request in this log (empty, rotated, or no line readable): "
            "nothing could be judged; point watch at the log that holds the traffic"
        )
        raise typer.Exit(2)
    print_firings(
        report.firings,
        source=str(logfile),
        triggers_file=None if rules_file is None else str(rules_file),
        reprobe=hint(common.options(), "audit", *(("--env", env) if env else ())),
    )
    if not report.fired:
        confirm = hint(common.options(), "confirm", "traffic-shift", "--env", env or "ENV", "--by", "NAME")
        where = "" if env else " (ENV: the environment this traffic is)"
        out.print(
            f"next: the traffic shift held on {report.samples} request(s): record it with `{shown(confirm)}`"
            f"{where}, then widen the shift and watch again"
        )
    raise typer.Exit(1 if report.fired else 0)


def _column_hint(seen: tuple[str, ...]) -> str:
    """What to pass when the log names its fields otherwise than the defaults."""
    return (
        f"this log's fields ({', '.join(seen)}) are not the default names (timestamp, status, error, "
        "exception, latency_ms): name them with --column FIELD=NAME, e.g. --column timestamp=when"
    )
