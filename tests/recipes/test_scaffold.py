"""`workbench init` (issue 21, part 2): a starter project written whole or not at all, which audits
at once on the embedded reference (the real audit of an installed wheel: tests/test_install.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from tests.commands import cli
from workbench import __version__, load_config

STARTER = {
    "data/environments.toml",
    "data/triggers.toml",
    "data/integration/manifest.toml",
    "data/fixtures/reference/2026.11.0/manifest.json",
    "data/bundles/reference/2026.11.0.json",
    ".github/workflows/contract-audit.yml",
    "dags/contract_audit_dag.py",
}


def files(folder: Path) -> set[str]:
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()}


def test_init_writes_a_project_whose_reference_is_ready_from_any_folder(tmp_path: Path) -> None:
    project = tmp_path / "team"
    done = cli("init", str(project), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert files(project) >= STARTER
    hints = re.findall(r"`(workbench [^`]+)`", done.stdout)
    assert len(hints) == 3 and hints[0] == f"workbench audit --project-dir {project}"
    config = load_config(project / "data" / "environments.toml")
    assert list(config.environments) == ["reference"]  # the real one waits, commented, for its model id
    probed = cli("probe", "--format", "json", "--project-dir", str(project), cwd=tmp_path)
    assert probed.returncode == 0, probed.stderr
    assert {record["outcome"] for record in json.loads(probed.stdout)} <= {"pass", "skip"}
    verified = cli("bundle", "verify", "reference/2026.11.0", cwd=project / "data")
    assert verified.returncode == 0 and "FAIL" not in verified.stdout, verified.stdout


def test_the_real_environment_is_refused_until_its_model_is_set(tmp_path: Path) -> None:
    assert cli("init", cwd=tmp_path).returncode == 0
    config = tmp_path / "data" / "environments.toml"
    text = config.read_text()
    uncommented = re.sub(r"^# (\[environments\.staging|[a-z_]+ = )", r"\1", text, flags=re.MULTILINE)
    config.write_text(uncommented)
    refused = cli("probe", "--env", "staging", "--dry-run", cwd=tmp_path)
    assert refused.returncode == 2 and "is a placeholder, not a model id" in refused.stderr
    config.write_text(uncommented.replace("REPLACE_WITH_APPROVED_MODEL_ID", "approved-model-1"))
    planned = cli("probe", "--env", "staging", "--dry-run", cwd=tmp_path)  # init's second hint, as printed
    assert planned.returncode == 0 and "nothing was sent" in planned.stdout, planned.stderr


def test_init_never_overwrites_and_writes_nothing_when_a_file_exists(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "triggers.toml").write_text("# ours\n")
    done = cli("init", cwd=tmp_path)
    assert done.returncode == 2
    (line,) = done.error_lines
    assert "data/triggers.toml exists" in line and "nothing was written" in line
    assert (
        files(tmp_path) == {"data/triggers.toml"}
        and (tmp_path / "data" / "triggers.toml").read_text() == "# ours\n"
    )


def test_a_write_that_fails_half_way_leaves_nothing_behind(tmp_path: Path) -> None:
    (tmp_path / "dags").write_text("a file where init needs a folder\n")  # fails after most files are written
    done = cli("init", cwd=tmp_path)
    assert done.returncode == 2 and "nothing was written" in done.stderr, done.stdout + done.stderr
    assert files(tmp_path) == {"dags"}
    assert sorted(path.name for path in tmp_path.iterdir()) == ["dags"]


def test_the_ci_recipe_audits_with_junit_and_passes_keys_only_as_same_named_secrets(tmp_path: Path) -> None:
    assert cli("init", cwd=tmp_path).returncode == 0
    workflow = yaml.safe_load((tmp_path / ".github" / "workflows" / "contract-audit.yml").read_text())
    steps = workflow["jobs"]["audit"]["steps"]
    audit = next(step for step in steps if step.get("id") == "audit")
    assert audit["run"] == ".venv/bin/workbench audit --junit reports/junit.xml"
    for name, value in audit["env"].items():
        assert value == f"${{{{ secrets.{name} }}}}"
    install = next(step for step in steps if step.get("id") == "install")
    assert f'"contract-workbench=={__version__}"' in install["run"]
    upload = next(step for step in steps if str(step.get("uses", "")).startswith("actions/upload-artifact"))
    assert upload["if"] == "${{ always() }}" and upload["with"]["path"] == "reports/"
