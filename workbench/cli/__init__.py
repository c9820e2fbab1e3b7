"""The `workbench` command: each verb parses its arguments, calls one library function and prints.

Exit codes (interface): 0 every environment passes, 1 a contract failure, 2 a usage or
configuration error, or nothing could run. Errors are one line on stderr, never a traceback.

    options.py    the common options, and the root group that reads them on either side of the verb
    terminal.py   the consoles, tables, progress, next steps and interrupts: everything printed
    audit.py      probe, audit
    history.py    runs, compare, trends
    rollback.py   confirm, fixtures capture, bundle capture|verify|diff|plan
    watch.py      watch
    tools.py      serve, scan, classify, kernel, reports prune|html
    store.py      store claim|scrub

May import every other layer (`workbench.render`, `workbench.rollback`, `workbench.probes`,
`workbench.signals`, `workbench.history`, `workbench.wire`, `workbench.reference`, `workbench.core`);
none imports it. It is the only home of typer and rich.
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated, Any

import typer

from workbench import __version__
from workbench.cli import audit, history, rollback, store, tools, watch
from workbench.cli.options import RootGroup
from workbench.cli.terminal import Detail, out
from workbench.core.startup import skip_slow_optional_imports

app = typer.Typer(
    cls=RootGroup,
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_show_locals=False,  # locals may hold a key read for a request: never print them
    help="Prove rollback readiness of chat-completions integrations: probe, classify, report.",
    epilog="\b\nCommon options go before or after the verb: --config PATH, --project-dir DIR, --env NAME,\n"
    "--store URL, --junit FILE (probe, audit) and -v/--verbose (every request logged to stderr,\n"
    "credentials redacted). `workbench init` writes a starter project. `workbench VERB --help` shows\n"
    "each verb's options and examples.",
)
for _group in (audit, history, rollback, watch, tools, store):
    app.add_typer(_group.commands)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """`-v` logging to whatever `sys.stderr` is when a record is written (a test runner swaps it)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


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
    Detail.everything = verbose
    logger = logging.getLogger("workbench")
    for handler in [h for h in logger.handlers if isinstance(h, _StderrHandler)]:
        logger.removeHandler(handler)  # one invocation's choice, not the last one's (in-process runs)
    handler = _StderrHandler()  # warnings (a malformed store row skipped) are one line on stderr
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s" if verbose else "%(message)s"))
    handler.setLevel(logging.DEBUG if verbose else logging.WARNING)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.NOTSET)  # NOTSET: as the host program says


def main() -> None:
    """Entry point (`workbench`, `python -m workbench`)."""
    skip_slow_optional_imports()
    app(prog_name="workbench")


__all__ = ["app", "main"]
