"""Writes land where the user expects (issue 13, item 8): the configuration's project, not the shell's folder.

Observed before the fix: `workbench probe --config PROJECT/data/environments.toml` run from another
folder created `data/history.sqlite` in that folder (the notebooks use the project folder); `--store
sqlite:////nonexistent/dir/x.sqlite` created the folders silently and a fresh, empty history.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.commands import cli
from tests.paths import REPO

CONFIG = '[environments.only]\nbase_url = "embedded"\n'
ONE_PROBE = ("--probe", "endpoint.minimal", "--format", "json")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "data").mkdir(parents=True)
    (root / "notebooks").mkdir()
    (root / "data" / "environments.toml").write_text(CONFIG)
    return root


def test_a_run_from_another_folder_writes_the_history_in_the_config_files_project(
    tmp_path: Path, project: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    config = str(project / "data" / "environments.toml")
    done = cli("probe", "--config", config, *ONE_PROBE, cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    assert (project / "data" / "history.sqlite").is_file()
    assert list(elsewhere.iterdir()) == []  # nothing written where the shell happened to be
    listed = cli("runs", "--format", "json", cwd=elsewhere, env={"WORKBENCH_CONFIG": config})
    assert '"only"' in listed.stdout  # `runs` reads the same project's history
    assert list(elsewhere.iterdir()) == []


def test_a_run_from_a_folder_inside_the_project_finds_its_configuration(project: Path) -> None:
    done = cli("probe", *ONE_PROBE, cwd=project / "notebooks")
    assert done.returncode == 0, done.stderr
    assert '"env": "only"' in done.stdout  # the project's environments, not the built-in default
    assert (project / "data" / "history.sqlite").is_file()
    assert list((project / "notebooks").iterdir()) == []


def test_a_store_folder_that_does_not_exist_is_an_error_naming_it(workdir: Path) -> None:
    missing = workdir / "no" / "such" / "dir"
    done = cli("probe", "--store", f"sqlite:///{missing}/x.sqlite", *ONE_PROBE, cwd=workdir)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.error_lines
    assert len(lines) == 1 and f"store folder {missing} does not exist" in lines[0], done.stderr
    assert not (workdir / "no").exists()
    from_env = cli("probe", *ONE_PROBE, cwd=workdir, env={"WORKBENCH_STORE": f"sqlite:///{missing}/x.sqlite"})
    assert from_env.returncode == 2 and "does not exist" in from_env.stderr
    assert not (workdir / "no").exists()


@pytest.mark.slow
def test_an_audit_from_another_folder_writes_its_reports_in_the_project(
    tmp_path: Path, project: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    repo_notebooks = REPO / "notebooks"
    done = cli(
        "audit",
        "--config",
        str(project / "data" / "environments.toml"),
        "--notebooks",
        str(repo_notebooks),
        cwd=elsewhere,
    )
    assert done.returncode in (0, 1), done.stdout + done.stderr
    assert (project / "reports" / "index.html").is_file()
    assert len(list((project / "reports").glob("*/*-contract_audit.html"))) == 1
    assert list(elsewhere.iterdir()) == []
