"""Every exception the workbench raises on purpose.

Exceptions mean "could not audit" (bad input, a notebook that failed); a broken contract is a
finding, never an exception. The one exception to that rule is `ParserError`, which parsers raise
to say "I recognise this response is not mine to map" (a classified parser failure).

    WorkbenchError
    ├── ConfigError        bad configuration or input file: names the file and the field or line
    ├── UsageError         a command-line request that cannot be honoured (unknown probe, ...)
    ├── StoreError         the history store cannot be opened or written
    ├── ReportError        a notebook failed: names the cell, points at the output notebook
    ├── CaptureRefused     fixtures asked of an endpoint that is not known-good now (exit 1)
    └── ParserError        a parser could not map a response (a finding, class `parser`)

Messages are one line and say what to do next. They never contain a secret value.
"""

from __future__ import annotations

from pathlib import Path


class WorkbenchError(Exception):
    """Base class: the command prints the message as one line and exits with `exit_code`."""

    exit_code = 2


class ConfigError(WorkbenchError):
    """A configuration or input file is missing or invalid."""

    def __init__(self, message: str, *, path: Path | str | None = None, field: str | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.field = field
        where = ""
        if self.path is not None:
            where = f"{self.path}"
            if field:
                where += f": {field}"
            where += ": "
        elif field:
            where = f"{field}: "
        super().__init__(f"{where}{message}")


class UsageError(WorkbenchError):
    """The request on the command line cannot be honoured."""


class StoreError(WorkbenchError):
    """The history store cannot be opened or written."""


class ReportError(WorkbenchError):
    """A report notebook failed to execute or render; the output notebook is kept for inspection."""

    def __init__(
        self, message: str, *, output_path: Path | None = None, cell_index: int | None = None
    ) -> None:
        self.output_path = output_path
        self.cell_index = cell_index
        super().__init__(message)


class CaptureRefused(WorkbenchError):
    """Fixtures are evidence of a known-good contract: a failing endpoint's responses are not saved."""

    exit_code = 1


class ParserError(WorkbenchError):
    """A parser could not map a response: the classified failure a safe parser reports."""

    exit_code = 1
