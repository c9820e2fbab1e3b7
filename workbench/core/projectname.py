"""Whose evidence a run reads and writes: the project *name*, `[workbench] project`, configured or derived.

A project name is an identity, not a place. It is never the project *folder* (`core.locations`,
where a project's files are): two teams sharing one store are told apart by their names, whatever
folders their configurations sit in, and one team's Airflow workers with different mounts are
still one project. Confirmations, baselines, bundles' known-good runs, trigger series and
readiness evidence are read and written per project name (`history.store`).

On a PostgreSQL store (the shared one) the name must be configured: a name derived from a folder
would differ between workers and change with a move. On a SQLite store (one machine) it defaults
to the project folder's name, and reports say it was derived. Rows written before names existed
belong to `legacy` until `workbench store claim` adopts them; no configuration may take that name.
Standard library only: the scheduler's recipes read it too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

KEY = "workbench.project"  # where it is configured: `[workbench] project = "..."`
LEGACY = "legacy"  # rows from before project names; `workbench store claim` adopts them
MAX_LENGTH = 64
_NAME = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9_.-]{{0,{MAX_LENGTH - 1}}}$")
_NOT_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
NEEDS_NAME_BACKENDS = ("postgresql",)  # shared stores: a derived name would differ between workers


class ProjectNameError(ValueError):
    """A project name that cannot be used, or none where one is required: the message says why."""


@dataclass(frozen=True, slots=True)
class ProjectName:
    """A project name and whether it was derived from the project folder (no `[workbench] project`)."""

    name: str
    derived: bool = False

    def __str__(self) -> str:
        return self.name

    def describe(self) -> str:
        """The name as reports show it: a derived one says so, and how to set it."""
        if not self.derived:
            return self.name
        return f"{self.name} (derived from the project folder's name; set [workbench] project to name it)"


def check_name(value: str) -> str:
    """A configured or claimed name: letters, digits, '.', '_' or '-', at most 64; never `legacy`."""
    if not _NAME.match(value):
        raise ProjectNameError(
            f"a project name is letters, digits, '.', '_' or '-' (at most {MAX_LENGTH}), got {value!r}"
        )
    if value == LEGACY:
        raise ProjectNameError(
            f"{LEGACY!r} holds the rows written before project names: choose your own name "
            f"(`workbench store claim --project NAME` adopts them)"
        )
    return value


def resolve(configured: str | None, *, backend: str, folder: Path) -> ProjectName:
    """The project name of a run: `configured`, else (SQLite only) the project folder's name.

    `backend` is the store's (`locations.store_backend`); on a shared one (PostgreSQL) a missing
    name is an error naming the key, because a derived one differs across workers.
    """
    if configured is not None:
        return ProjectName(check_name(configured))
    if backend in NEEDS_NAME_BACKENDS:
        raise ProjectNameError(
            f"a {backend} store is shared: name whose evidence this is with "
            f'[workbench] project = "NAME" in the environments file (required for a shared store; '
            "the same name on every machine that audits this project)"
        )
    derived = _NOT_NAME.sub("-", folder.resolve().name).strip("-._")[:MAX_LENGTH].strip("-._")
    if not derived or derived == LEGACY:
        raise ProjectNameError(
            f"cannot derive a project name from the folder {folder.resolve()}: "
            f'set [workbench] project = "NAME" in the environments file'
        )
    return ProjectName(derived, derived=True)
