"""`workbench init [DIR]`: a team's starter project, written whole or not at all.

The files a project needs to audit at once and to grow from: `data/environments.toml` (the embedded
reference, and a real environment to fill in, commented), `data/triggers.toml`, the integration
manifest with its templates (`data/integration/`, the reference's, a model for the team's own), the
reference's known-good fixtures and rollback bundle (so `workbench audit` finds it ready), a GitHub
Actions workflow running `workbench audit --junit`, and the Airflow DAG file. Templates come from
the package (`recipes/templates/`, and what the wheel ships from the repository's top level).

Nothing is overwritten: when any file exists, nothing is written and the error names it. Files are
created exclusively, and a failure half-way removes what this call created.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from workbench import __version__
from workbench.core.errors import UsageError
from workbench.core.locations import CONFIG_FILE, TRIGGERS_FILE, shipped

TEMPLATES = Path(__file__).parent / "templates"
WORKFLOW = Path(".github/workflows/contract-audit.yml")
DAG_FILE = Path("dags/contract_audit_dag.py")
# (destination in the project, what the package ships there): a folder is copied file by file
_SHIPPED: tuple[tuple[Path, Path], ...] = (
    (TRIGGERS_FILE, TRIGGERS_FILE),
    (Path("data/integration"), Path("data/integration")),
    (Path("data/fixtures/reference"), Path("data/fixtures/reference")),
    (Path("data/bundles/reference"), Path("data/bundles/reference")),
    (DAG_FILE, Path("data/schedules/airflow_dag.py")),
)


@dataclass(frozen=True, slots=True)
class Scaffold:
    """What `init_project` wrote: the project folder and each file, relative to it."""

    folder: Path
    files: tuple[Path, ...]


def starter_files() -> dict[Path, bytes]:
    """Every file of a starter project, by its path in the project, read before anything is written."""
    files = {
        CONFIG_FILE: (TEMPLATES / "environments.toml").read_bytes(),
        WORKFLOW: (TEMPLATES / "github-actions.yml").read_text().replace("__VERSION__", __version__).encode(),
    }
    for destination, source in _SHIPPED:
        origin = shipped(source)
        if origin.is_file():
            files[destination] = origin.read_bytes()
            continue
        for path in sorted(origin.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                files[destination / path.relative_to(origin)] = path.read_bytes()
    return files


def init_project(folder: Path) -> Scaffold:
    """Write a starter project into `folder` (created if missing); refuse, writing nothing, when any
    of its files exists."""
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder} is a file: `workbench init` writes a project folder")
    files = starter_files()
    existing = [
        relative for relative in files if (folder / relative).exists() or (folder / relative).is_symlink()
    ]
    if existing:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise UsageError(
            f"{folder / existing[0]} exists{more}: `workbench init` never overwrites; nothing was written "
            "(pick an empty folder, or move those files away)"
        )
    created: list[Path] = []
    try:
        for relative, data in files.items():
            target = folder / relative
            for parent in reversed(target.parents):
                if not parent.exists():
                    parent.mkdir()
                    created.append(parent)
            with target.open("xb") as handle:
                created.append(target)
                handle.write(data)
    except BaseException as exc:
        for path in reversed(created):  # files before their folders
            with contextlib.suppress(OSError):
                path.rmdir() if path.is_dir() else path.unlink()
        if isinstance(exc, OSError):
            raise UsageError(
                f"cannot write the starter project in {folder}: {exc}; nothing was written"
            ) from None
        raise
    return Scaffold(folder, tuple(files))
