"""The recipes in data/schedules/ run for real, without cron, systemd, GitHub or Airflow.

Each recipe is parsed the way its scheduler parses it, and its commands run the way that scheduler
runs them (cron's minimal environment and `%` rule, systemd's `$$`/`-` rules and ExecStopPost
variables, GitHub's `if:` and `bash -e` steps, papermill's call by the PapermillOperator), in a
temporary project: the repository's data/ without a history, plus an environment whose key comes
from the recipe's key mechanism (a canary that must never be written anywhere).

Three real audits (cron, systemd, GitHub Actions) start together, once for the module; the other
exit codes are checked with a stub `workbench` that only exits with a given code.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import types
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.util import find_spec, module_from_spec, spec_from_file_location
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml

from tests.canary import canary_key
from tests.paths import REPO
from tests.render.test_junit import assert_valid_junit

ROOT = REPO
SCHEDULES = ROOT / "data" / "schedules"
VENV = Path(sys.executable).parent.parent
KEY_VARIABLE = "COMETAPI_STAGING_KEY"  # the variable the recipes' examples name
KEY = canary_key("schedules")
PLACEHOLDER = "/srv/contract-workbench"  # the project folder the recipes name

pytestmark = pytest.mark.slow


# --- temporary projects ----------------------------------------------------------------------------


def make_project(path: Path, *, keyed: bool = True) -> Path:
    """A project folder as the recipes expect it: data/, notebooks/, .venv/ (the installed workbench)."""
    path.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "data", path / "data", ignore=shutil.ignore_patterns("*.sqlite*"))
    (path / "notebooks").symlink_to(ROOT / "notebooks", target_is_directory=True)
    (path / ".venv").symlink_to(VENV, target_is_directory=True)
    if keyed:
        with (path / "data" / "environments.toml").open("a") as config:
            config.write(f'\n[environments.keyed]\nbase_url = "embedded"\napi_key_env = "{KEY_VARIABLE}"\n')
    return path


def make_stub_project(path: Path, exit_code: int) -> Path:
    """A project whose `workbench` only records its arguments, writes reports/ and exits `exit_code`."""
    (path / ".venv" / "bin").mkdir(parents=True)
    stub = path / ".venv" / "bin" / "workbench"
    stub.write_text(
        "#!/bin/sh\n"
        'echo "$*" >> "$PWD/calls.txt"\n'
        "mkdir -p reports && echo '<html></html>' > reports/index.html\n"
        f'echo "stub workbench: exit {exit_code}"\n'
        f"exit {exit_code}\n"
    )
    stub.chmod(0o755)
    return path


def keys_file(path: Path) -> Path:
    path.write_text(f"# key variables\n{KEY_VARIABLE}={KEY}\n")
    path.chmod(0o600)
    return path


def base_environment() -> dict[str, str]:
    """What every scheduler provides: a home and a login name; plus the test session's cache folder
    (the vega bundle, built once) so each audit does not rebuild it."""
    return {
        "HOME": os.environ.get("HOME", "/root"),
        "LOGNAME": os.environ.get("LOGNAME", "root"),
        "XDG_CACHE_HOME": os.environ["XDG_CACHE_HOME"],
        "LANG": "C.UTF-8",
    }


def files_under(path: Path) -> Iterator[Path]:
    for item in path.rglob("*"):
        if item.is_file() and ".venv" not in item.relative_to(path).parts and "notebooks" not in item.parts:
            yield item


def assert_no_key_written(project: Path, *texts: str) -> None:
    for text in texts:
        assert KEY not in text
    for item in files_under(project):
        if item.name != "keys.env":
            assert KEY.encode() not in item.read_bytes(), item


# --- cron ------------------------------------------------------------------------------------------

_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_CRON_NAMES = {
    3: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
    4: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
}


@dataclass(frozen=True)
class CronJob:
    schedule: tuple[str, ...]
    command: str  # as /bin/sh receives it: `\%` unescaped
    stdin: str  # what followed the first unescaped `%` (cron feeds it to the command)


def _check_cron_field(position: int, text: str) -> None:
    low, high = _CRON_RANGES[position]
    for item in text.split(","):
        base, _, step = item.partition("/")
        assert not step or step.isdigit(), text
        if base == "*":
            continue
        for bound in base.split("-"):
            names = _CRON_NAMES.get(position, [])
            value = (
                names.index(bound.lower()) + (1 if position == 3 else 0) if bound.lower() in names else None
            )
            if value is None:
                assert bound.isdigit(), f"field {position + 1}: {text!r}"
                value = int(bound)
            assert low <= value <= high, f"field {position + 1}: {text!r} out of {low}-{high}"


def parse_crontab(text: str) -> tuple[dict[str, str], list[CronJob]]:
    """Variables and jobs, the way cron reads a crontab (five time fields, `%` rules)."""
    variables: dict[str, str] = {}
    jobs: list[CronJob] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        assignment = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)", stripped)
        if assignment:
            value = assignment.group(2)
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            variables[assignment.group(1)] = value
            continue
        fields = stripped.split(None, 5)
        assert len(fields) == 6, f"not a cron job line: {line!r}"
        for position, value in enumerate(fields[:5]):
            _check_cron_field(position, value)
        command, stdin = _cron_percent(fields[5])
        jobs.append(CronJob(tuple(fields[:5]), command, stdin))
    return variables, jobs


def _cron_percent(raw: str) -> tuple[str, str]:
    """cron: `\\%` is a literal %, the first bare % ends the command, later ones become new lines."""
    command: list[str] = []
    index = 0
    while index < len(raw):
        char = raw[index]
        if char == "\\" and raw[index + 1 : index + 2] == "%":
            command.append("%")
            index += 2
            continue
        if char == "%":
            return "".join(command), raw[index + 1 :].replace("%", "\n")
        command.append(char)
        index += 1
    return "".join(command), ""


CRONTAB = (SCHEDULES / "crontab").read_text()
CRON_VARIABLES, CRON_JOBS = parse_crontab(CRONTAB)
AUDIT_JOB = next(job for job in CRON_JOBS if "workbench audit" in job.command)
PRUNE_JOB = next(job for job in CRON_JOBS if "workbench reports prune" in job.command)


def run_cron_job(job: CronJob, project: Path, keys: Path) -> subprocess.CompletedProcess[str]:
    """As cron runs it: /bin/sh -c, from $HOME, cron's environment plus the crontab's variables
    (set up for this machine: the project and key file paths)."""
    env = {**base_environment(), "SHELL": "/bin/sh", "PATH": "/usr/bin:/bin", **CRON_VARIABLES}
    env |= {"WORKBENCH_PROJECT": str(project), "WORKBENCH_KEYS": str(keys)}
    return subprocess.run(
        [env["SHELL"], "-c", job.command],
        input=job.stdin,
        cwd=env["HOME"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


# --- systemd ---------------------------------------------------------------------------------------


def read_unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((SCHEDULES / name).read_text(), source=name)
    return parser


SERVICE = read_unit("contract-audit.service")
TIMER = read_unit("contract-audit.timer")
SYSTEMD_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def systemd_command(line: str, project: Path) -> tuple[list[str], bool]:
    """An Exec line as systemd runs it: the project path set, `-` prefix (failure ignored), `%%`
    and `$$`; any other specifier or variable would need systemd, so the recipe must not use one."""
    line = line.replace(PLACEHOLDER, str(project))
    ignore_failure = line.startswith("-")
    line = line.lstrip("-@:+!")
    assert not re.search(r"%[^%]", line.replace("%%", "")), f"unexpected specifier in {line!r}"
    words = shlex.split(line.replace("%%", "%"))
    for word in words:
        assert not re.search(r"\$(?!\$)", word.replace("$$", "")), (
            f"systemd would substitute a variable: {word}"
        )
    return [word.replace("$$", "$") for word in words], ignore_failure


@dataclass
class ServiceRun:
    pre: list[subprocess.CompletedProcess[str]] = field(default_factory=list)
    start: subprocess.CompletedProcess[str] | None = None
    post: list[subprocess.CompletedProcess[str]] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.start is None or self.start.returncode != 0


def run_service(project: Path, keys: Path, alert_dir: Path) -> ServiceRun:
    """contract-audit.service as a Type=oneshot start: ExecStartPre, ExecStart, then ExecStopPost with
    the EXIT_* variables; `logger` is replaced by a stub that records its arguments."""
    section = SERVICE["Service"]
    workdir = Path(section["WorkingDirectory"].replace(PLACEHOLDER, str(project)))
    env = {**base_environment(), "PATH": f"{alert_dir}:{SYSTEMD_DEFAULT_PATH}"}
    env_file = section["EnvironmentFile"]
    assert env_file.startswith("-/")  # optional, absolute
    for line in keys.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name] = value
    alert_log = alert_dir / "alerts.txt"
    logger = alert_dir / "logger"
    logger.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {shlex.quote(str(alert_log))}\n')
    logger.chmod(0o755)

    def run(line: str, extra: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str], bool]:
        argv, ignore = systemd_command(line, project)
        assert Path(argv[0]).is_absolute(), argv[0]
        done = subprocess.run(
            argv, cwd=workdir, env={**env, **(extra or {})}, capture_output=True, text=True, timeout=600
        )
        return done, ignore

    service = ServiceRun()
    for line in section["ExecStartPre"].splitlines():
        done, ignore = run(line)
        service.pre.append(done)
        assert ignore or done.returncode == 0
    service.start, _ = run(section["ExecStart"])
    code = service.start.returncode
    exit_env = {
        "SERVICE_RESULT": "success" if code == 0 else "exit-code",
        "EXIT_CODE": "exited",
        "EXIT_STATUS": str(code),
    }
    for line in section["ExecStopPost"].splitlines():
        service.post.append(run(line, exit_env)[0])
    service.alerts = alert_log.read_text().splitlines() if alert_log.exists() else []
    return service


# --- GitHub Actions --------------------------------------------------------------------------------

WORKFLOW = yaml.safe_load((SCHEDULES / "github-actions.yml").read_text())
JOB = WORKFLOW["jobs"]["audit"]
SECRET_REF = re.compile(r"\$\{\{\s*secrets\.([A-Za-z0-9_]+)\s*\}\}")


@dataclass
class StepRun:
    name: str
    ran: bool
    returncode: int = 0
    output: str = ""
    uploaded: list[Path] = field(default_factory=list)


@dataclass
class JobRun:
    steps: list[StepRun]

    @property
    def failed(self) -> bool:
        return any(step.ran and step.returncode != 0 for step in self.steps)

    def step(self, step_id: str) -> StepRun:
        for spec, run in zip(JOB["steps"], self.steps, strict=True):
            if spec.get("id") == step_id or spec.get("name") == step_id:
                return run
        raise KeyError(step_id)


def _condition(expression: str | None, failed: bool) -> bool:
    text = (expression or "success()").strip()
    text = text.removeprefix("${{").removesuffix("}}").strip()
    verdicts = {"success()": not failed, "always()": True, "failure()": failed, "!cancelled()": True}
    assert text in verdicts, f"the emulator does not know `if: {expression}`"
    return verdicts[text]


def run_workflow(project: Path, secrets: dict[str, str]) -> JobRun:
    """The job's steps in order, on `project` (already checked out and installed): `run:` steps as
    GitHub runs them (`bash -e`, step env with secrets substituted, GITHUB_OUTPUT), `if:` honoured."""
    runner_temp = project.parent / f"{project.name}-runner"
    runner_temp.mkdir()
    steps: list[StepRun] = []
    failed = False
    for spec in JOB["steps"]:
        name = spec.get("name") or spec.get("uses") or spec.get("id")
        if not _condition(spec.get("if"), failed):
            steps.append(StepRun(name, ran=False))
            continue
        if "uses" in spec:
            action = spec["uses"].split("@")[0]
            run = StepRun(name, ran=True)
            if action == "actions/upload-artifact":
                run.uploaded = [p for p in (project / spec["with"]["path"]).rglob("*") if p.is_file()]
                run.returncode = 0 if run.uploaded or spec["with"].get("if-no-files-found") != "error" else 1
            else:
                assert action in {"actions/checkout", "actions/setup-python"}, action
            steps.append(run)
            failed = failed or run.returncode != 0
            continue
        if spec.get("id") == "install":  # the venv is there already (a link to the one under test)
            steps.append(StepRun(name, ran=False))
            continue
        assert "shell" not in spec
        env = {
            **base_environment(),
            "PATH": SYSTEMD_DEFAULT_PATH,
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(project),
            "GITHUB_OUTPUT": str(runner_temp / "output"),
            "GITHUB_STEP_SUMMARY": str(runner_temp / "summary"),
            "RUNNER_TEMP": str(runner_temp),
        }
        for variable, value in (spec.get("env") or {}).items():
            reference = SECRET_REF.fullmatch(str(value))
            assert reference, f"{variable}: only secrets are templated into the environment"
            env[variable] = secrets.get(reference.group(1), "")  # an undefined secret is empty
        script = runner_temp / f"step-{len(steps)}.sh"
        script.write_text(spec["run"])
        done = subprocess.run(
            ["bash", "-e", str(script)], cwd=project, env=env, capture_output=True, text=True, timeout=600
        )
        steps.append(StepRun(name, ran=True, returncode=done.returncode, output=done.stdout + done.stderr))
        failed = failed or done.returncode != 0
    return JobRun(steps)


# --- the real runs, started together once ----------------------------------------------------------


@dataclass(frozen=True)
class RealRuns:
    cron: Future[subprocess.CompletedProcess[str]]
    cron_project: Path
    service: Future[ServiceRun]
    service_project: Path
    workflow: Future[JobRun]
    workflow_project: Path


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealRuns]:
    base = tmp_path_factory.mktemp("schedules")
    cron_project = make_project(base / "cron")
    cron_keys = keys_file(base / "cron-keys.env")
    service_project = make_project(base / "systemd")
    service_keys = keys_file(base / "systemd-keys.env")
    (base / "alerts").mkdir()
    workflow_project = make_project(base / "github")
    with ThreadPoolExecutor(max_workers=3) as pool:
        yield RealRuns(
            pool.submit(run_cron_job, AUDIT_JOB, cron_project, cron_keys),
            cron_project,
            pool.submit(run_service, service_project, service_keys, base / "alerts"),
            service_project,
            pool.submit(run_workflow, workflow_project, {KEY_VARIABLE: KEY}),
            workflow_project,
        )


def dated_reports(project: Path) -> list[Path]:
    return sorted(project.glob("reports/[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]/*-contract_audit.html"))


# --- crontab ---------------------------------------------------------------------------------------


def test_crontab_parses_as_cron_reads_it() -> None:
    assert CRON_VARIABLES["SHELL"] == "/bin/sh"
    assert {"MAILTO", "WORKBENCH_PROJECT", "WORKBENCH_KEYS", "PATH"} <= set(CRON_VARIABLES)
    assert CRON_VARIABLES["WORKBENCH_PROJECT"] == PLACEHOLDER
    assert len(CRON_JOBS) == 2
    assert AUDIT_JOB.schedule[2:] == ("*", "*", "*")  # daily
    assert PRUNE_JOB.schedule[2:4] == ("*", "*") and PRUNE_JOB.schedule[4] != "*"  # weekly
    assert "--keep-days 90" in PRUNE_JOB.command
    for job in CRON_JOBS:
        assert job.stdin == "", "a bare % would cut the command short"
        assert 'cd "$WORKBENCH_PROJECT"' in job.command
        assert "date -u +%Y-%m-%dT%H:%M:%SZ" in job.command  # written \% in the file
    assert KEY not in CRONTAB and not re.search(r"KEY\s*=", CRONTAB)  # keys live in their own file


def test_cron_audit_logs_alerts_and_exits_1_when_not_rollback_ready(real: RealRuns) -> None:
    done = real.cron.result()
    assert done.returncode == 1, done.stdout + done.stderr
    mail = done.stdout.splitlines()  # cron mails what the job prints
    assert mail == [
        "contract audit: an environment is NOT READY or WAITING FOR AN OPERATOR (exit 1); "
        f"see {real.cron_project}/reports/index.html and logs/audit.log"
    ]
    assert done.stderr == ""
    log = (real.cron_project / "logs" / "audit.log").read_text()
    assert re.match(r"== \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ workbench audit\n", log)
    assert log.rstrip().endswith("== exit 1")
    assert "reference: READY" in log
    assert "keyed: " in log  # the key file was read: the keyed environment was audited
    assert len(dated_reports(real.cron_project)) == 1
    assert (real.cron_project / "reports" / "index.html").exists()
    assert_no_key_written(real.cron_project, done.stdout, done.stderr)


def test_cron_prune_job_removes_old_folders_and_keeps_the_index(real: RealRuns) -> None:
    real.cron.result()
    project = real.cron_project
    old = project / "reports" / "2001-01-01"
    old.mkdir()
    (old / "060000-audit.json").write_text('{"run_id": "ancient", "time": "06:00:00", "reports": []}')
    done = run_cron_job(PRUNE_JOB, project, project / "no-keys.env")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")  # nothing printed: no mail
    assert not old.exists()
    assert len(dated_reports(project)) == 1
    index = (project / "reports" / "index.html").read_text()
    assert "ancient" not in index and dated_reports(project)[0].name in index
    log = (project / "logs" / "prune.log").read_text()
    assert "workbench reports prune" in log and "removed reports/2001-01-01" in log and "freed" in log


def test_cron_audit_without_the_key_file_alerts_could_not_audit(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    done = run_cron_job(AUDIT_JOB, project, tmp_path / "missing.env")
    assert done.returncode == 2
    assert done.stdout.splitlines() == [
        f"contract audit: could not audit (exit 2); see {project}/logs/audit.log"
    ]
    log = (project / "logs" / "audit.log").read_text()
    assert f"environment variable {KEY_VARIABLE} is not set" in log and log.rstrip().endswith("== exit 2")


@pytest.mark.parametrize(
    ("code", "mailed"), [(0, None), (1, "NOT READY or WAITING FOR AN OPERATOR (exit 1)"), (2, "(exit 2)")]
)
def test_cron_exit_code_handling(tmp_path: Path, code: int, mailed: str | None) -> None:
    project = make_stub_project(tmp_path / "project", code)
    done = run_cron_job(AUDIT_JOB, project, tmp_path / "none.env")
    assert done.returncode == code
    if mailed is None:
        assert done.stdout == "" and done.stderr == ""
    else:
        assert len(done.stdout.splitlines()) == 1 and mailed in done.stdout
    assert (project / "calls.txt").read_text() == "audit\n"
    assert f"stub workbench: exit {code}\n== exit {code}" in (project / "logs" / "audit.log").read_text()


def test_cron_prune_failure_is_mailed(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", keyed=False)  # no reports/ yet: prune exits 2
    done = run_cron_job(PRUNE_JOB, project, tmp_path / "none.env")
    assert done.stdout.strip() == (
        f"contract audit: pruning reports failed (exit 2); see {project}/logs/prune.log"
    )
    assert "error: no reports folder at reports" in (project / "logs" / "prune.log").read_text()


def test_cron_job_from_an_unreachable_project_exits_2_and_mails_why(tmp_path: Path) -> None:
    done = run_cron_job(AUDIT_JOB, tmp_path / "nowhere", tmp_path / "none.env")
    assert done.returncode == 2 and "nowhere" in done.stderr  # cron mails stderr too


# --- systemd ---------------------------------------------------------------------------------------


def test_systemd_units_parse_and_agree() -> None:
    service = SERVICE["Service"]
    assert service["Type"] == "oneshot"
    assert service["WorkingDirectory"] == PLACEHOLDER
    start, _ = systemd_command(service["ExecStart"], Path(PLACEHOLDER))
    assert start[:2] == [f"{PLACEHOLDER}/.venv/bin/workbench", "audit"]
    assert "--junit" in start
    pre, ignored = systemd_command(service["ExecStartPre"], Path(PLACEHOLDER))
    assert pre[1:] == ["reports", "prune", "--keep-days", "90"] and ignored
    assert "SuccessExitStatus" not in service  # exit 1 must fail the unit
    timer = TIMER["Timer"]
    assert timer["Unit"] == "contract-audit.service"
    assert timer["Persistent"] == "true"
    assert TIMER["Install"]["WantedBy"] == "timers.target"
    for unit in ("contract-audit.service", "contract-audit.timer"):  # keys only via EnvironmentFile=
        assert not re.search(r"^Environment=", (SCHEDULES / unit).read_text(), re.M)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_accepts_the_units_and_the_calendar(tmp_path: Path) -> None:
    project = make_stub_project(tmp_path / "project", 0)
    for unit in ("contract-audit.service", "contract-audit.timer"):
        (tmp_path / unit).write_text((SCHEDULES / unit).read_text().replace(PLACEHOLDER, str(project)))
    done = subprocess.run(
        [
            "systemd-analyze",
            "verify",
            "--man=no",
            *(str(tmp_path / u) for u in ("contract-audit.service", "contract-audit.timer")),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Unknown" not in done.stderr and "ignoring" not in done.stderr, done.stderr
    calendar = subprocess.run(
        ["systemd-analyze", "calendar", TIMER["Timer"]["OnCalendar"]],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert calendar.returncode == 0 and "Next elapse" in calendar.stdout, calendar.stderr


def test_systemd_service_audits_writes_junit_fails_the_unit_and_alerts(real: RealRuns) -> None:
    run = real.service.result()
    assert run.start is not None
    assert run.pre[0].returncode == 2  # no reports/ yet on the first run: ignored ("-")
    assert run.start.returncode == 1, run.start.stdout + run.start.stderr
    assert run.failed
    assert run.alerts == [
        "-p user.err -t contract-audit an environment is NOT READY or WAITING FOR AN OPERATOR (exit 1); "
        f"see {real.service_project}/reports/index.html"
    ]
    assert "reference-drifted: NOT READY" in run.start.stdout
    root = assert_valid_junit(real.service_project / "reports" / "junit.xml")
    assert root.get("name") == "workbench audit"
    assert [suite.get("name") for suite in root] == ["reference", "reference-drifted", "keyed"]
    assert len(dated_reports(real.service_project)) == 1
    assert_no_key_written(real.service_project, run.start.stdout, run.start.stderr)


@pytest.mark.parametrize(
    ("code", "alert"),
    [(0, None), (1, "NOT READY or WAITING FOR AN OPERATOR (exit 1)"), (2, "could not audit (exit 2)")],
)
def test_systemd_exit_code_handling(tmp_path: Path, code: int, alert: str | None) -> None:
    project = make_stub_project(tmp_path / "project", code)
    (tmp_path / "alerts").mkdir()
    run = run_service(project, keys_file(tmp_path / "keys.env"), tmp_path / "alerts")
    assert run.start is not None and run.start.returncode == code
    assert run.failed is (code != 0)
    if alert is None:
        assert run.alerts == []
    else:
        assert len(run.alerts) == 1 and alert in run.alerts[0] and run.alerts[0].startswith("-p user.err")
    assert (project / "calls.txt").read_text().splitlines() == [
        "reports prune --keep-days 90",
        "audit --junit reports/junit.xml",
    ]


# --- GitHub Actions --------------------------------------------------------------------------------


def test_workflow_triggers_permissions_and_secrets() -> None:
    triggers = WORKFLOW.get("on", WORKFLOW.get(True))  # YAML 1.1 reads a bare `on` as true
    (schedule,) = triggers["schedule"]
    fields = schedule["cron"].split()
    assert len(fields) == 5
    for position, value in enumerate(fields):
        _check_cron_field(position, value)
    assert "workflow_dispatch" in triggers
    assert WORKFLOW["permissions"] == {"contents": "read"}
    steps = JOB["steps"]
    audit = next(step for step in steps if step.get("id") == "audit")
    assert "workbench audit" in audit["run"] and "--junit reports/" in audit["run"]
    # secrets reach the audit only as environment variables of the same name, and nowhere else
    for name, value in audit["env"].items():
        assert SECRET_REF.fullmatch(value) and SECRET_REF.fullmatch(value).group(1) == name  # type: ignore[union-attr]
    for step in steps:
        if step is not audit:
            assert "secrets." not in json.dumps(step)
        assert "${{" not in step.get("run", ""), "no expression inside a script (injection)"
    # every key variable the repository's config names (the examples included) has its secret
    named = set(
        re.findall(r'api_key_env\s*=\s*"([A-Z0-9_]+)"', (ROOT / "data" / "environments.toml").read_text())
    )
    assert named and named <= set(audit["env"])
    upload = next(step for step in steps if str(step.get("uses", "")).startswith("actions/upload-artifact@"))
    assert _condition(upload["if"], failed=True) and upload["with"]["path"] == "reports/"
    assert steps.index(upload) > steps.index(audit)
    install = next(step for step in steps if step.get("id") == "install")
    assert (
        "pip install" in install["run"] and "-e ." in install["run"] and "workbench kernel" in install["run"]
    )


def test_workflow_audits_uploads_reports_and_fails_the_job(real: RealRuns) -> None:
    job = real.workflow.result()
    audit = job.step("audit")
    assert audit.ran and audit.returncode == 1, audit.output
    assert job.failed  # the gate holds
    upload = job.step("Upload the reports (also when the audit failed)")
    assert upload.ran  # ... and the evidence is still published
    project = real.workflow_project
    uploaded = {path.relative_to(project).as_posix() for path in upload.uploaded}
    assert "reports/index.html" in uploaded and "reports/junit.xml" in uploaded
    assert any(name.endswith("-contract_audit.html") for name in uploaded)
    root = assert_valid_junit(project / "reports" / "junit.xml")
    readiness = [case for case in root.iter("testcase") if case.get("name", "").startswith("readiness: ")]
    assert len(readiness) == 30  # ten steps, three environments
    step5 = root.find(
        "testsuite[@name='reference-drifted']/testcase[@name='readiness: 5. Verify parser compatibility']"
    )
    assert step5 is not None and step5.find("failure") is not None
    assert "keyed: " in audit.output  # the secret arrived as the variable the config names
    assert_no_key_written(project, audit.output)


@pytest.mark.parametrize("code", [0, 1, 2])
def test_workflow_exit_code_propagates_and_reports_upload_anyway(tmp_path: Path, code: int) -> None:
    project = make_stub_project(tmp_path / "project", code)
    job = run_workflow(project, {})
    assert job.step("audit").returncode == code
    assert job.failed is (code != 0)
    assert job.step("Upload the reports (also when the audit failed)").ran
    assert (project / "calls.txt").read_text() == "audit --junit reports/junit.xml\n"


# --- Airflow ---------------------------------------------------------------------------------------


def load_dag_module(name: str = "contract_audit_dag") -> types.ModuleType:
    spec = spec_from_file_location(name, SCHEDULES / "airflow_dag.py")
    assert spec is not None and spec.loader is not None
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def dag() -> types.ModuleType:
    """The recipe's logic (`workbench.recipes.airflow`), as the DAG file finds it."""
    assert find_spec("airflow") is None, "these tests prove the DAG file imports without Airflow"
    module = load_dag_module()
    assert not hasattr(module, "contract_audit_papermill") and not hasattr(module, "contract_audit_cli")
    recipe: types.ModuleType = module.recipe
    return recipe


def test_the_dag_file_imports_nothing_heavy_at_parse_time() -> None:
    """Issue 21: the DAG file used to load SQLAlchemy (0.36-0.48 s); `make bench` times it now."""
    script = (
        "import importlib.util, json, sys\n"
        f"spec = importlib.util.spec_from_file_location('dag', {str(SCHEDULES / 'airflow_dag.py')!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        "heavy = ('sqlalchemy', 'pydantic', 'pandas', 'httpx', 'typer')\n"
        "print(json.dumps(sorted(name for name in heavy if name in sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


@pytest.fixture(scope="module")
def probed(dag: types.ModuleType, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The DAG's probe task, run for real (it calls `workbench probe --format json`)."""
    project = make_project(tmp_path_factory.mktemp("airflow") / "project")
    saved = os.environ.get(KEY_VARIABLE)
    os.environ[KEY_VARIABLE] = KEY  # the worker's environment holds the key
    try:
        return project, dag.probe_task(project=project, now=datetime(2026, 11, 27, 6, 17, 0, tzinfo=UTC))
    finally:
        if saved is None:
            os.environ.pop(KEY_VARIABLE, None)
        else:
            os.environ[KEY_VARIABLE] = saved


def test_the_dag_module_imports_without_airflow(dag: types.ModuleType) -> None:
    assert not hasattr(dag, "contract_audit_papermill") and not hasattr(dag, "contract_audit_cli")
    assert callable(dag.probe_task) and callable(dag.notebook_parameters) and callable(dag.gate)


def test_probe_task_returns_the_run_id_and_exactly_the_notebooks_parameters(
    dag: types.ModuleType, probed: tuple[Path, dict[str, Any]]
) -> None:
    import papermill

    project, result = probed
    assert result["exit_code"] == 1  # reference-drifted fails: a finding, the task itself succeeds
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{6}", result["run_id"])
    parameters = result["parameters"]
    declared = papermill.inspect_notebook(str(ROOT / "notebooks" / "contract_audit.ipynb"))
    assert set(parameters) == set(declared) == set(dag.PARAMETERS)
    assert parameters == {
        "run_id": result["run_id"],
        "environments": ["reference", "reference-drifted", "keyed"],
        "config_path": str((project / "data" / "environments.toml").resolve()),
        "store_url": f"sqlite:///{(project / 'data' / 'history.sqlite').resolve()}",
    }
    assert result["output_nb"] == str(project / "reports" / "2026-11-27" / "061700-contract_audit.ipynb")
    assert KEY not in json.dumps(result)  # what goes to XCom and into the notebook


def test_papermill_runs_the_notebook_with_exactly_those_parameters(
    dag: types.ModuleType,
    probed: tuple[Path, dict[str, Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What PapermillOperator.execute calls, from a worker whose working folder is not the project."""
    import papermill

    project, result = probed
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(KEY_VARIABLE, KEY)
    output = Path(result["output_nb"])
    papermill.execute_notebook(
        str(project / "notebooks" / "contract_audit.ipynb"),
        str(output),
        parameters=result["parameters"],
        progress_bar=False,
        report_mode=True,
        log_output=False,
        kernel_name=dag.KERNEL,
        language=None,
        engine_name=None,
    )
    notebook = nbformat.read(output, as_version=4)
    assert notebook.metadata["papermill"]["parameters"] == result["parameters"]
    errors = [
        o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert not errors
    text = output.read_text()
    assert "**reference-drifted**: NOT READY: contract probes" in text and result["run_id"] in text
    assert not (tmp_path / "data").exists()  # nothing was probed or stored from the worker's folder
    assert KEY not in text
    with pytest.raises(RuntimeError, match="not ready"):
        dag.gate(result["exit_code"])
    dag.gate(0)
    html = Path(dag.html_task(project, str(output)))  # the next task: the offline HTML beside it
    assert html == output.with_suffix(".html") and "reference-drifted" in html.read_text()


@pytest.mark.parametrize("in_query", [False, True], ids=["userinfo", "query"])
def test_a_store_password_never_becomes_a_parameter(
    dag: types.ModuleType, tmp_path: Path, in_query: bool
) -> None:
    password = canary_key("store")
    url = (
        f"postgresql+psycopg://audit@db.internal:5432/workbench?password={password}"
        if in_query
        else f"postgresql+psycopg://audit:{password}@db.internal:5432/workbench"
    )
    env = {"WORKBENCH_STORE": url}
    assert dag.store_url(tmp_path, env) == url  # the probe uses it (from its environment) ...
    parameters = dag.notebook_parameters("r", environments=[], config_path="", store_url=url)
    assert parameters["store_url"] == ""  # ... the kernel reads it from WORKBENCH_STORE, not a parameter
    assert password not in json.dumps(parameters)
    assert "--store" not in dag.probe_command(tmp_path)  # nor on a command line (ps shows those)
    plain = "postgresql+psycopg://audit@db.internal/workbench"
    assert (
        dag.notebook_parameters("r", environments=[], config_path="", store_url=plain)["store_url"] == plain
    )
    relative = dag.store_url(tmp_path, {"WORKBENCH_STORE": "sqlite:///data/h.sqlite"})
    assert relative == f"sqlite:///{(tmp_path / 'data' / 'h.sqlite').resolve()}"


def test_probe_task_fails_when_nothing_could_run(dag: types.ModuleType, tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")  # the keyed environment's variable is unset
    with pytest.raises(RuntimeError, match=rf"could not run \(exit 2\).*{KEY_VARIABLE} is not set"):
        dag.probe_task(project=project)


def test_the_notebook_task_finds_the_project_kernel_and_renders_for_html(
    dag: types.ModuleType, tmp_path: Path
) -> None:
    """The kernel `make install` registers lives in the project's .venv, not in Airflow's Python."""
    added = dag.kernel_environment(
        tmp_path, {"JUPYTER_PATH": f"/elsewhere{os.pathsep}{tmp_path}/.venv/share/jupyter"}
    )
    assert added == {
        "WORKBENCH_RENDER": "report",
        "JUPYTER_PATH": f"{tmp_path}/.venv/share/jupyter{os.pathsep}/elsewhere",
    }
    assert dag.kernel_environment(tmp_path, {})["JUPYTER_PATH"] == f"{tmp_path}/.venv/share/jupyter"
    assert (VENV / "share" / "jupyter" / "kernels" / dag.KERNEL / "kernel.json").is_file()


def test_the_html_task_fails_when_the_export_fails(dag: types.ModuleType, tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    (project / "not-a-notebook.ipynb").write_text("{")
    with pytest.raises(RuntimeError, match=r"`workbench reports html` failed \(exit 2\)"):
        dag.html_task(project, str(project / "not-a-notebook.ipynb"))


@pytest.mark.parametrize("code", [0, 1, 2])
def test_the_bash_alternative_propagates_the_exit_code(
    dag: types.ModuleType, tmp_path: Path, code: int
) -> None:
    project = make_stub_project(tmp_path / "project", code)
    command = dag.audit_bash_command(project, ["staging"])
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == code  # BashOperator fails the task on any non-zero code
    assert (project / "calls.txt").read_text() == "audit --env staging --junit reports/junit.xml\n"


# --- the README ------------------------------------------------------------------------------------


def test_the_readme_explains_each_recipe() -> None:
    readme = (SCHEDULES / "README.md").read_text()
    for recipe in (
        "crontab",
        "contract-audit.service",
        "contract-audit.timer",
        "github-actions.yml",
        "airflow_dag.py",
    ):
        assert f"`{recipe}`" in readme, recipe
    for fact in ("exit code", "--keep-days 90", "--junit", "WORKBENCH_STORE", "PapermillOperator"):
        assert fact in readme, fact


def test_the_readme_path_from_cron_to_airflow_names_what_the_tests_run() -> None:
    """Each step's command or file, and the Airflow versions the lock (what CI installs) pins."""
    readme = (SCHEDULES / "README.md").read_text()
    path = readme[readme.index("## From cron on one machine to Airflow") :]
    for command in (
        "crontab data/schedules/crontab",
        "WORKBENCH_STORE=postgresql://",
        "pip install -r .ci/airflow-requirements.txt",
        "airflow db migrate",
        "$AIRFLOW_HOME/dags/",
        "airflow dags test contract_audit_papermill -c",
        "airflow tasks states-for-dag-run",
        "airflow dags unpause contract_audit_papermill",
    ):
        assert command in path, command
    lock = (ROOT / ".ci" / "airflow-requirements.txt").read_text().splitlines()
    for package in ("apache-airflow", "apache-airflow-providers-papermill"):
        (pinned,) = [line for line in lock if line.startswith(f"{package}==")]
        assert f"`{package}` {pinned.split('==')[1]}" in " ".join(readme.split()), pinned
    main = (ROOT / "README.md").read_text()
    assert "data/schedules/README.md" in main and "airflow dags unpause contract_audit_papermill" in main
