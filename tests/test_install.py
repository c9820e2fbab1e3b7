"""Installed in a team's own repository (issue 21): the wheel built from this checkout, installed
with its dependencies into a fresh virtualenv outside the checkout, then `workbench init` and
`workbench audit` in an empty folder, nothing of the checkout on the path.

Observed before the fix: the wheel held only the package's Python, `py.typed` and the nbconvert
templates, so the audit exited 2, "no report notebooks found". Measured here (2 cores, dependencies
from the configured index): the base install takes about 1-3 minutes, the audit about 10 s.
"""

from __future__ import annotations

import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.install import Installed, build_wheel, install
from tests.paths import REPO

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    wheel = build_wheel(tmp_path_factory.mktemp("dist"))
    names = zipfile.ZipFile(wheel).namelist()
    for shipped in (
        "workbench/shipped/notebooks/contract_audit.ipynb",
        "workbench/shipped/data/bundles/reference/2026.11.0.json",
        "workbench/render/templates/nbconvert/wb-offline/index.html.j2",
        "workbench/recipes/templates/environments.toml",
    ):
        assert shipped in names, shipped
    assert not any(name.startswith(("tests/", "notebooks/", "data/")) for name in names)
    return install(wheel, tmp_path_factory.mktemp("venv") / "venv")


def run(installed: Installed, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    environment["PATH"] = f"{installed.bin}{os.pathsep}{environment.get('PATH', '')}"
    return subprocess.run(
        [str(installed.bin / "workbench"), *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_the_installed_tool_inits_and_audits_an_empty_folder(installed: Installed, tmp_path: Path) -> None:
    where = subprocess.run(
        [str(installed.bin / "python"), "-c", "import workbench; print(workbench.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env={key: value for key, value in os.environ.items() if key != "PYTHONPATH"},
    ).stdout.strip()
    assert str(installed.venv) in where and str(REPO) not in where  # not the checkout
    project = tmp_path / "team-repo"
    project.mkdir()
    init = run(installed, "init", cwd=project)
    assert init.returncode == 0, init.stdout + init.stderr
    assert "next: `workbench audit`" in init.stdout
    assert (project / ".github" / "workflows" / "contract-audit.yml").is_file()
    assert (project / "dags" / "contract_audit_dag.py").is_file()
    audit = run(installed, "audit", cwd=project)
    assert audit.returncode == 0, audit.stdout[-4000:] + audit.stderr[-4000:]
    assert "1 of 1 READY" in audit.stdout and "reference: READY" in audit.stdout
    reports = sorted(path.name.split("-", 1)[1] for path in project.glob("reports/*/*.html"))
    assert reports == sorted(
        f"{name}.html"
        for name in ("contract_audit", "rollback_readiness", "symptom_trends", "drift_explorer")
    )
    assert (project / "reports" / "index.html").is_file()
    again = run(installed, "init", cwd=project)  # never overwrites
    assert again.returncode == 2 and "never overwrites" in again.stderr


def test_the_installed_dag_file_finds_the_package_in_the_projects_venv(
    installed: Installed, tmp_path: Path
) -> None:
    """What a scheduler's own Python sees: the system interpreter, without the workbench, imports
    the DAG file that `workbench init` wrote, from the project's .venv, and loads nothing heavy."""
    project = tmp_path / "project"
    project.mkdir()
    assert run(installed, "init", cwd=project).returncode == 0
    (project / ".venv").symlink_to(installed.venv, target_is_directory=True)
    dag_file = str(project / "dags" / "contract_audit_dag.py")
    script = (
        "import importlib.util, json, sys\n"
        f"spec = importlib.util.spec_from_file_location('dag', {dag_file!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        "heavy = [name for name in ('sqlalchemy', 'pydantic', 'pandas', 'httpx') if name in sys.modules]\n"
        "print(json.dumps([module.recipe.__file__, heavy]))\n"
    )
    done = subprocess.run(
        ["/usr/bin/python3", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "WORKBENCH_PROJECT": str(project)},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"{project}/.venv/lib/" in done.stdout and "[]]" in done.stdout
