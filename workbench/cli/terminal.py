"""Terminal output: the two consoles, text from outside made safe to print, tables, progress, and
what an interrupt prints.

Every verb prints through here, so a result reads the same way from any verb: text from servers,
logs, files and the store goes through `shown` (control characters escaped, rich markup printed,
not applied), lines wrap at the terminal's width, and logs (cron, CI) get room for tables instead
of rich's 80-column default.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer
from rich.console import Console, ConsoleDimensions
from rich.markup import escape
from rich.table import Table

from workbench.core.terminaltext import printable

if TYPE_CHECKING:  # the heavy modules load only when a command needs them
    from rich.progress import Progress as RichProgress
    from rich.progress import TaskID

    from workbench.core.models import ProbeResult
    from workbench.probes.engine import RunSummary
    from workbench.rollback.advice import NextStep
    from workbench.rollback.headline import Headline
    from workbench.signals.triggers import Firing

LOG_WIDTH = 132  # logs (cron, CI) are not terminals: tables get room instead of rich's 80 columns


class _Console(Console):
    """A console fitted to where it writes, looked up at each print: on a terminal, lines wrap at
    its width; in a log or a pipe, tables are `LOG_WIDTH` wide and a line is never broken (one
    message, one line to grep). Rich would take the width of any terminal the process has."""

    @property
    def soft_wrap(self) -> bool:
        return not self.is_terminal

    @soft_wrap.setter
    def soft_wrap(self, _value: bool) -> None:
        pass

    @property
    def size(self) -> ConsoleDimensions:
        if not self.is_terminal:
            return ConsoleDimensions(LOG_WIDTH, 25)
        return super().size

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size


out = _Console(highlight=False)
err = _Console(stderr=True, highlight=False)


def shown(text: object) -> str:
    """Text from outside (servers, logs, files, the store) as the consoles must print it: control
    characters escaped (`printable`), rich markup such as `[bold]` printed, not applied."""
    return escape(printable(str(text)))


OUTCOME_STYLE = {
    "pass": "green",
    "fail": "bold red",
    "skip": "dim",
    "needs_operator": "yellow",
    "error": "magenta",
}
VERDICT_STYLE = {
    "ready": "bold green",
    "needs_operator": "bold yellow",
    "not_ready": "bold red",
    "could_not_run": "bold yellow",
}


def print_results(summary: RunSummary) -> None:
    """One compact row per result (`-v`: everything); the details of failures follow the verdicts."""
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
            shown(result.env),
            result.probe,
            f"[{OUTCOME_STYLE.get(result.outcome, '')}]{result.outcome}[/]",
            "" if result.symptom == "none" else str(result.symptom),
            retry_cell(result),
            "" if result.http_status is None else str(result.http_status),
            "" if result.latency_ms is None else f"{result.latency_ms:.0f}",
        )
    out.print(table)


def retry_cell(result: ProbeResult) -> str:
    """Retry advice where there is something to retry (a failure or an error): yes or no, never blank."""
    if result.outcome in ("fail", "error"):
        return "yes" if result.retryable else "no"
    return ""


class Detail:
    """How much a verb prints: by exception (counts, what needs attention), or everything with `-v`."""

    everything = False


# How a headline state is styled on the terminal: the same colours as the reports' chips.
STATE_STYLE = {
    "ready": "bold green",
    "contract_passes": "bold green",
    "waiting_for_operator": "bold yellow",
    "not_ready": "bold red",
    "could_not_judge": "bold magenta",
}
LISTED = 12  # up to this many environments, each is listed; past it, the ones that are fine are counted


def print_headlines(
    lines: Sequence[Headline], results: Sequence[ProbeResult], common: Sequence[str] = ()
) -> None:
    """The verdicts by exception: the counts, then every environment that needs attention with what
    blocks it and its first reason, then the rest (each, or counted when there are many). With `-v`,
    every reason of every environment."""
    from workbench.rollback.advice import with_options
    from workbench.rollback.headline import State, counts, worst_first

    out.print(counts(lines))
    fine = [h for h in lines if h.state in (State.READY, State.CONTRACT_PASSES)]
    for line in worst_first(h for h in lines if h not in fine):
        out.print(f"[{STATE_STYLE[line.state]}]{shown(line.line())}[/]")
        reasons = [with_options(reason, common) for reason in _reasons(line.env, results)]
        if reasons and not Detail.everything:
            more = f" (and {len(reasons) - 1} more: `-v` lists them)" if len(reasons) > 1 else ""
            reasons = [reasons[0] + more]
        for reason in reasons:
            out.print(f"  - {shown(reason)}")
    if len(lines) <= LISTED or Detail.everything:
        for line in fine:
            out.print(f"[{STATE_STYLE[line.state]}]{shown(line.line())}[/]")
    elif fine:
        out.print(
            f"[{STATE_STYLE[fine[0].state]}]{len(fine)} environments: {fine[0].words}[/] "
            "(every one not named above; `-v` lists them)"
        )


def _reasons(env: str, results: Sequence[ProbeResult]) -> list[str]:
    """An environment's failing or unjudged probes, each as a line: the evidence under its headline."""
    return [
        f"{r.probe}: {r.symptom if r.outcome == 'fail' else 'could not run'} - {r.detail}"
        for r in results
        if r.env == env and r.outcome in ("fail", "error")
    ]


def print_requests(summary: RunSummary) -> None:
    """How many requests reached each server: one line however many environments."""
    counts = summary.requests
    values = set(counts.values())
    if len(counts) > LISTED and len(values) == 1 and not Detail.everything:
        where = f"{values.pop()} to each of {len(counts)} environments"
    else:
        where = ", ".join(f"{env}: {n}" for env, n in counts.items())
    out.print(
        f"requests that reached a server: {shown(where)}; run id {summary.run_id}"
        + (f" ({summary.status})" if summary.status != "complete" else "")
    )


def print_next_steps(steps: Sequence[NextStep]) -> None:
    """The advisor's steps, one `next:` line each, whole."""
    for step in steps:
        out.print(f"next: {shown(step.line())}")


def print_firings(
    firings: Sequence[Firing], *, source: str, triggers_file: str | None, reprobe: str = "workbench audit"
) -> None:
    """What the trigger rules said, fired ones first with their action, then what to do next."""
    source = shown(source)
    fired = [firing for firing in firings if firing.fired]
    for firing in fired:
        where = shown(f"{firing.env} ({firing.series})")
        out.print(f"[bold red]FIRED[/] {shown(firing.rule.name)} on {where}: {shown(firing.evidence)}")
        out.print(f"      action: {firing.action}")
    quiet = len(firings) - len(fired)
    if fired:
        out.print(
            f"{len(fired)} trigger(s) fired over {source}; next: roll back what each action names, then "
            f"re-probe (`{shown(reprobe)}`) and compare structure with the known-good run."
        )
    else:
        tune = (
            f"the thresholds are examples: tune {shown(triggers_file)} for your traffic"
            if triggers_file
            else "the thresholds are the built-in examples: set your own for your traffic with --triggers "
            "FILE (README, 'Triggers and watching traffic')"
        )
        out.print(f"no trigger fired over {source} ({quiet} rule evaluation(s)); {tune}.")


class _Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler's timeout, `systemctl stop`): stop the way Ctrl-C does."""


def _on_sigterm(_signum: int, _frame: object) -> None:
    raise _Terminated


@contextmanager
def stops_cleanly() -> Iterator[None]:
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


class Progress:
    """Progress on stderr: one updating line on a terminal; in a log (cron, CI) a line at every tenth
    of the run and one for each probe that failed or could not run, never one per probe (660 lines for
    60 environments before)."""

    def __init__(self) -> None:
        self._bar: RichProgress | None = None
        self._task: TaskID | None = None
        self._tenth = 0

    def __enter__(self) -> Progress:
        if err.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
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
                self._task,
                completed=done,
                total=total,
                description=f"probing ({shown(result.env)} {result.probe})",
            )
            return
        if result.outcome in ("fail", "error") or Detail.everything:
            latency = f" {result.latency_ms:.0f} ms" if result.latency_ms is not None else ""
            symptom = "" if result.symptom == "none" else f" ({result.symptom})"
            err.print(
                f"[{done}/{total}] {shown(result.env)} {result.probe}: {result.outcome}{symptom}{latency}"
            )
        tenth = done * 10 // max(total, 1)
        if tenth > self._tenth:
            self._tenth = tenth
            err.print(f"[{done}/{total}] probes done")

    def stage(self, description: str) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, description=description, total=None)
        else:
            err.print(description)
