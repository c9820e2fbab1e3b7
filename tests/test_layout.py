"""The README's Layout is the package's map: every module listed with its job, nothing listed that is gone.

Also: each subpackage says in its docstring what it may import, and import-linter (the contracts in
pyproject.toml) holds the layers the README draws.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.paths import REPO

PACKAGE = REPO / "workbench"


def layout_block() -> list[str]:
    """The lines of the fenced block under the README's `## Layout` heading."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Layout\n", 1)[1]
    return section.split("```\n", 2)[1].splitlines()


def listed_entries() -> dict[str, str]:
    """Path (relative to the repository, folders ending in '/') -> the job the README gives it."""
    entries: dict[str, str] = {}
    parents: list[tuple[int, str]] = []  # (indent, folder path) of the enclosing folders
    for line in layout_block():
        indent = len(line) - len(line.lstrip(" "))
        name, _, job = line.strip().partition(" ")
        while parents and parents[-1][0] >= indent:
            parents.pop()
        path = (parents[-1][1] if parents else "") + name
        entries[path] = job.strip()
        if name.endswith("/"):
            parents.append((indent, path))
    return entries


def package_modules() -> set[str]:
    """Every module and subpackage of workbench/, as the README names them (`__init__.py` aside)."""
    found = {f"{p.relative_to(REPO)}" for p in PACKAGE.rglob("*.py") if p.name != "__init__.py"}
    found |= {f"{p.parent.relative_to(REPO)}/" for p in PACKAGE.rglob("__init__.py")}
    return found


def test_every_module_is_listed_with_its_job_and_nothing_listed_is_gone() -> None:
    entries = listed_entries()
    listed = {path for path in entries if path.startswith("workbench/") and not _is_data(path)}
    missing, gone = package_modules() - listed, listed - package_modules()
    assert not missing, f"add these to the README's Layout with their job: {sorted(missing)}"
    assert not gone, f"the README's Layout lists modules that no longer exist: {sorted(gone)}"
    assert not [path for path, job in entries.items() if not job], "every Layout entry says its job"
    for path in entries:
        assert (REPO / path).exists(), f"README Layout lists {path}, which does not exist"


def _is_data(path: str) -> bool:
    """A data file or folder the package ships (templates, vendored schemas): listed, but no module."""
    if path.endswith("/"):
        return not (REPO / path / "__init__.py").exists() and (REPO / path).is_dir()
    return not path.endswith(".py")


def subpackages() -> list[Path]:
    return sorted(p.parent for p in PACKAGE.glob("*/__init__.py"))


def layers() -> list[list[str]]:
    """The package's layers contract in pyproject.toml, top first, each layer's (independent) packages
    (the command line's own layers are another contract, inside `workbench.cli`)."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    (layered,) = [c for c in contracts if c["type"] == "layers" and c["containers"] == ["workbench"]]
    return [[name.strip() for name in layer.split("|")] for layer in layered["layers"]]


def test_every_subpackage_is_a_layer_and_says_its_job_and_what_it_may_import() -> None:
    ordered = [name for layer in layers() for name in layer]
    below = {
        name: {n for layer in layers()[i + 1 :] for n in layer}
        for i, layer in enumerate(layers())
        for name in layer
    }
    for package in subpackages():
        assert package.name in ordered, f"workbench/{package.name}/ is in no layer of pyproject.toml"
        doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text(encoding="utf-8")))
        assert doc and "May import" in doc, (
            f"workbench/{package.name}/__init__.py: say its job and what it may import"
        )
        named = set(re.findall(r"`workbench\.(\w+)`", doc.split("May import", 1)[1]))
        assert named <= below[package.name], (
            f"workbench/{package.name}/__init__.py says it may import {sorted(named - below[package.name])}, "
            "which the layers contract forbids"
        )


def test_the_readme_draws_the_layers_of_the_contract() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    drawn = " → ".join(" | ".join(f"`{name}`" for name in layer) for layer in layers())
    assert drawn in readme, f"the README's Layout should draw the layers as: {drawn}"


def test_import_linter_fails_a_change_that_imports_upwards(tmp_path: Path) -> None:
    """The contracts are live: a copy of the package with one upward import breaks the layers contract."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    if not lint_imports.exists():
        pytest.skip("import-linter is not installed (make install installs it)")
    copy = tmp_path / "project"
    copy.mkdir()
    subprocess.run(["cp", "-r", str(PACKAGE), str(REPO / "pyproject.toml"), str(copy)], check=True)

    def layers_contract() -> str:
        done = subprocess.run(
            [str(lint_imports), "--no-cache"],
            cwd=copy,
            capture_output=True,
            text=True,
            env={"PYTHONPATH": str(copy)},
        )
        return next(line for line in done.stdout.splitlines() if line.startswith("Layers:"))

    assert layers_contract().endswith(" KEPT")
    models = copy / "workbench" / "core" / "models.py"
    models.write_text(models.read_text(encoding="utf-8") + "from workbench.render.audit import run_audit\n")
    assert layers_contract().endswith(" BROKEN")
