"""One project folder for every path, and hints that run as printed (issue 21, part 3).

Observed before the fix: from `notebooks/`, `workbench audit --env reference` read "not rollback-ready
(9 of 10)" because step 7 looked for `data/integration/request.json` in the shell's folder; with
`--config /path/environments.toml` the next step `workbench confirm billing --env local-staging --by
NAME` failed as printed with "unknown environment"; `workbench runs --config X` was refused; and
`cd /tmp && workbench runs` created `/tmp/data/history.sqlite`.
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

from tests.canary import canary_key
from tests.commands import NOTICE, cli
from tests.paths import REPO
from workbench import EmbeddedEndpoint, HistoryStore, load_config, run_probes
from workbench.rollback.advice import RunState, advise, common_options, with_options
from workbench.rollback.evidence import assess_run

KEY = canary_key("hints")
KEY_VARIABLE = "WB_HINT_KEY"
# Every verb that works on a project; the others (classify, serve, kernel, reports html, init) name
# their files themselves.
PROJECT_VERBS = (
    ("probe",),
    ("audit",),
    ("runs",),
    ("compare",),
    ("trends",),
    ("confirm",),
    ("fixtures", "capture"),
    ("bundle", "capture"),
    ("bundle", "verify"),
    ("bundle", "diff"),
    ("bundle", "plan"),
    ("watch",),
    ("scan",),
    ("reports", "prune"),
)


def make_project(path: Path, extra: str = "") -> Path:
    """The repository's data/ (environments, integration manifest, reference fixtures and bundle,
    triggers) without a history, and a notebooks/ folder to run from."""
    shutil.copytree(REPO / "data", path / "data", ignore=shutil.ignore_patterns("*.sqlite*", "schedules"))
    (path / "notebooks").mkdir()
    if extra:
        with (path / "data" / "environments.toml").open("a") as config:
            config.write(extra)
    return path


def test_every_project_verb_takes_the_common_options() -> None:
    from typer.main import get_command

    from workbench.cli import app

    root = get_command(app)
    for path in PROJECT_VERBS:
        command = root
        for name in path:
            command = command.commands[name]  # type: ignore[attr-defined]
        options = {opt for param in command.params for opt in getattr(param, "opts", ())}
        assert {"--config", "--store", "--project-dir"} <= options, path


def test_runs_in_a_folder_with_no_project_says_so_and_creates_nothing(tmp_path: Path) -> None:
    done = cli("runs", cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    notice, error = done.stderr.strip().splitlines()
    assert notice.startswith(NOTICE) and str(tmp_path) in notice
    assert error.startswith("error: no history store at data/history.sqlite")
    assert list(tmp_path.iterdir()) == []  # no data/history.sqlite, silently or otherwise


def test_runs_and_compare_take_the_config_on_either_side(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    config = str(project / "data" / "environments.toml")
    probed = cli("probe", "--env", "reference", "--format", "json", "--config", config, cwd=elsewhere)
    assert probed.returncode == 0, probed.stderr
    run_id = re.search(r'"run_id": "([^"]+)"', probed.stdout).group(1)  # type: ignore[union-attr]
    for args in (("--config", config, "runs"), ("runs", "--config", config)):
        listed = cli(*args, cwd=elsewhere)
        assert listed.returncode == 0 and run_id in listed.stdout, listed.stderr
    compared = cli("compare", run_id, run_id, "--config", config, cwd=elsewhere)
    assert compared.returncode == 0, compared.stderr
    assert list(elsewhere.iterdir()) == []


def test_a_store_of_another_database_is_refused_in_one_line_naming_the_supported(tmp_path: Path) -> None:
    done = cli("probe", "--store", "mysql://audit@db.internal/workbench", cwd=tmp_path)
    assert done.returncode == 2
    (line,) = done.error_lines
    assert "a mysql store is not supported" in line and "sqlite, postgresql" in line, line


def _readiness(config_path: Path | None, project_dir: Path | None, store: Path) -> tuple[object, object]:
    config = load_config(config_path, project_dir=project_dir)
    with HistoryStore(f"sqlite:///{store}") as history:
        summary = run_probes(config, ["reference", "reference-drifted"], store=history)
        readiness = assess_run(config, summary, history)
    verdicts = {verdict.env: str(verdict.status) for verdict in summary.verdicts}
    steps = {env: [(step.number, str(step.status)) for step in r.steps] for env, r in readiness.items()}
    return verdicts, steps


def test_three_working_folders_give_identical_verdicts_and_readiness(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(tmp_path / "project")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    seen = []
    for index, (cwd, config, project_dir) in enumerate(
        [
            (project, None, None),  # the project folder, the config found there
            (project / "notebooks", None, None),  # below it: found in the folder above
            (elsewhere, project / "data" / "environments.toml", None),  # elsewhere, --config
        ]
    ):
        monkeypatch.chdir(cwd)
        seen.append(_readiness(config, project_dir, tmp_path / f"run{index}.sqlite"))
    monkeypatch.chdir(elsewhere)
    seen.append(_readiness(None, project, tmp_path / "run3.sqlite"))  # elsewhere, --project-dir
    assert seen[0] == seen[1] == seen[2] == seen[3]
    verdicts, steps = seen[0]
    assert verdicts == {"reference": "ready", "reference-drifted": "not_ready"}
    assert all(status == "pass" for _number, status in steps["reference"])  # step 7 included
    assert list(elsewhere.iterdir()) == []


def test_a_bundle_captured_by_the_current_version_verifies_from_any_folder(tmp_path: Path) -> None:
    """data/bundles/reference/2026.11.0.json records its manifest as `data/integration/manifest.toml`,
    relative to the folder it was captured from (the repository's root)."""
    project = make_project(tmp_path / "project")
    config = str(project / "data" / "environments.toml")
    for cwd, args in (
        (project, ()),
        (project / "notebooks", ()),
        (tmp_path, ("--config", config)),
        (tmp_path, ("--project-dir", str(project))),
    ):
        done = cli("bundle", "verify", "reference/2026.11.0", *args, cwd=cwd)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "FAIL" not in done.stdout
    assert not (tmp_path / "data").exists()


# --- every printed hint, run as printed ------------------------------------------------------------

HINT = re.compile(r"`(workbench [^`]+)`")
PLACEHOLDERS = {"NAME": "alice", "WHO": "alice", "R": "r-hint", "RELEASE": "r-hint"}


def hints(text: str) -> list[str]:
    return [match for line in text.splitlines() for match in HINT.findall(line)]


def run_hint(line: str, *, cwd: Path, run_ids: tuple[str, str], manifest: Path) -> None:
    words = shlex.split(line)
    assert words[0] == "workbench", line
    values = {**PLACEHOLDERS, "RUN_A": run_ids[0], "RUN_B": run_ids[1], "FILE": str(manifest)}
    args = [values.get(word, word) for word in words[1:]]
    done = cli(*args, cwd=cwd, env={KEY_VARIABLE: KEY})
    shown = done.stdout + done.stderr
    for refusal in ("unknown environment", "No such option", "no such option", "unexpected extra", "Missing"):
        assert refusal not in shown, f"{line}: {shown[-2000:]}"
    assert done.returncode in (0, 1), f"{line} (exit {done.returncode}): {shown[-2000:]}"


def test_every_printed_hint_runs_as_printed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_VARIABLE, KEY)
    with EmbeddedEndpoint(api_key=KEY) as endpoint:
        project = make_project(
            tmp_path / "project",
            f'\n[environments.keyed]\nbase_url = "{endpoint.base_url}"\napi_key_env = "{KEY_VARIABLE}"\n'
            'model = "wb-reference-1"\n\n[environments.fresh]\nbase_url = "embedded"\n'
            'manifest = "integration/manifest.toml"\n',
        )
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        config = project / "data" / "environments.toml"
        store = f"sqlite:///{project / 'data' / 'hints.sqlite'}"
        common = ("--config", str(config), "--store", store)
        env = {KEY_VARIABLE: KEY}
        printed: list[str] = []
        first = cli("probe", *common, cwd=elsewhere, env=env)
        second = cli("probe", "--env", "reference-drifted", *common, cwd=elsewhere, env=env)
        printed += hints(first.stdout) + hints(second.stdout)
        printed += hints(cli("probe", "--dry-run", "--env", "keyed", *common, cwd=elsewhere, env=env).stdout)
        printed += hints(cli("runs", *common, cwd=elsewhere).stdout)
        printed += hints(cli("trends", *common, cwd=elsewhere).stdout)
        captured = cli(
            "bundle", "capture", "--env", "reference", "--release", "r-new", *common, cwd=elsewhere
        )
        assert captured.returncode == 0, captured.stdout + captured.stderr
        printed += hints(captured.stdout)
        # what `workbench audit` prints after its readiness verdicts (the advisor, without notebooks)
        settings = load_config(config)
        with HistoryStore(store) as history:
            summary = run_probes(settings, store=history, command="audit")
            readiness = assess_run(settings, summary, history)
        state = RunState(
            "probe",  # the audit's own re-run hint is `workbench audit`: run as probe to skip notebooks
            summary.run_id,
            True,
            summary.verdicts,
            summary.results,
            readiness=readiness,
            common=common_options(config, store),
        )
        printed += [command for step in advise(state) for command in step.commands]
        printed += [  # the readiness steps `workbench audit` prints, their evidence as printed
            with_options(f"`workbench {' '.join(args)}`", state.common)[1:-1]
            for r in readiness.values()
            for step in r.blocking()
            for args in step.commands
        ]
        assert any(line.startswith("workbench confirm ") for line in printed), printed
        assert any(line.startswith("workbench bundle capture --env fresh") for line in printed), printed
        assert [line for line in printed if f"--config {config}" not in line] == []
        run_ids = tuple(re.findall(r"run id (\S+?)[;\s]", first.stdout + second.stdout)[:2])
        assert len(run_ids) == 2
        for line in dict.fromkeys(printed):
            run_hint(
                line,
                cwd=elsewhere,
                run_ids=run_ids,
                manifest=project / "data" / "integration" / "manifest.toml",
            )
    assert list(elsewhere.iterdir()) == []


def test_a_store_url_with_a_password_is_never_repeated_the_variable_is_named() -> None:
    url = "postgresql://audit:s3cret@db.internal/workbench"
    assert common_options("c.toml", url) == ("--config", "c.toml")
    from workbench.rollback.advice import STORE_STEP

    state = RunState("probe", "r", True, (), (), common=("--config", "c.toml"), store_withheld=True)
    steps = advise(state)
    assert steps[0] == STORE_STEP and "WORKBENCH_STORE" in steps[0].what
    assert "s3cret" not in " ".join(step.line() for step in steps)
